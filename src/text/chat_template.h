/* Chat templates: a model's Jinja chat_template rendered for an OpenAI-style chat request, as
 * Hugging Face's tokenizer.apply_chat_template does (see template.h for the Jinja support).
 *
 * The template gets these variables:
 *   messages               the request's array, as is
 *   tools                  the request's array, or none
 *   documents              none
 *   add_generation_prompt  false unless the request sets it
 *   bos_token, eos_token, unk_token, pad_token, sep_token, cls_token, mask_token,
 *   additional_special_tokens   from tokenizer_config.json when present there
 *   enable_thinking        the request's top-level member, when present
 *   every member of "chat_template_kwargs", which overrides the variables above.
 * A variable the request leaves out, such as enable_thinking, is undefined, so
 * "enable_thinking is defined" is false. */
#ifndef QWEN3VK_TEXT_CHAT_TEMPLATE_H
#define QWEN3VK_TEXT_CHAT_TEMPLATE_H

#include <cjson/cJSON.h>

#include "qwen3vk.h"

typedef struct qvk_chat_template qvk_chat_template;

/* Parse template source (no special tokens). Errors name the line and the construct, e.g.
 * "chat template line 12: unsupported filter \"wordwrap\"". */
qvk_status qvk_chat_template_parse(const char *source, qvk_chat_template **out);

/* Read "chat_template" from a tokenizer_config.json: a string, or a list of {"name",
 * "template"} objects of which "default" is used (and "tool_use" when a request has tools,
 * as Hugging Face does). Without the key, chat_template.jinja in the same folder is read (newer
 * Hugging Face exports keep the template there). Special tokens may be strings or
 * {"content": ...} objects. Returns QVK_ERR_IO when the folder has no template at all. */
qvk_status qvk_chat_template_load(const char *tokenizer_config_path, qvk_chat_template **out);

void qvk_chat_template_destroy(qvk_chat_template *chat_template);

/* Render a request object: "messages" (array, required), "tools" (array, null or absent),
 * "add_generation_prompt" (bool), "enable_thinking" and "chat_template_kwargs" (object).
 * *text is malloc'ed. Errors raised by the template (raise_exception, undefined values) are
 * QVK_ERR_INVALID_ARGUMENT with the template line. */
qvk_status qvk_chat_template_render(const qvk_chat_template *chat_template, const cJSON *request,
                                    char **text);

#endif
