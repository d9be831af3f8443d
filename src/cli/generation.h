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
/* Render, tokenize, generate and print (streamed text, --json or --print-ids). Returns the
 * status of the step that failed, after printing its error, or QVK_OK. */
qvk_status cli_generate_reply(qvk_session *session, qvk_model *model, const cJSON *request,
                              const cli_options *options, int thinking,
                              qvk_generation *generation);

#endif
