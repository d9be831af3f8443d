/* Shared by qwen3vk run and qwen3vk chat: building requests and printing a generated reply. */
#ifndef QWEN3VK_CLI_GENERATION_H
#define QWEN3VK_CLI_GENERATION_H

#include <cjson/cJSON.h>

#include "cli/options.h"

/* The model's defaults overridden by the flags; thinking 0 switches to Qwen3's non-thinking
 * recommendation (temperature 0.7, top_p 0.8) unless flags set them. */
qvk_generate_options cli_generate_options(const qvk_model *model, const cli_options *options,
                                          int thinking);
/* {"messages": ..., "add_generation_prompt": true, "chat_template_kwargs": {"enable_thinking"}}
 * with enable_thinking left out when thinking is -1. */
cJSON *cli_chat_request(const cJSON *messages, int thinking);
void cli_add_message(cJSON *messages, const char *role, const char *content);
/* Print an error naming what (e.g. "the prompt") and return false if text is not UTF-8. */
bool cli_check_utf8(const char *what, const char *text);
/* Render, tokenize, generate and print (streamed text or --json). Returns 0 on success. */
int cli_generate_reply(qvk_session *session, qvk_model *model, const cJSON *request,
                       const cli_options *options, int thinking, qvk_generation *generation);

#endif
