/* Checks and rewrites of an OpenAI-style chat request before the template renders it. */
#ifndef QWEN3VK_TEXT_CHAT_REQUEST_H
#define QWEN3VK_TEXT_CHAT_REQUEST_H

#include <cjson/cJSON.h>

#include "qwen3vk.h"

/* Require a non-empty "messages" array of objects with a string "role", and bring each content
 * into the form chat templates expect. A null content becomes "", because OpenAI clients send
 * null beside tool_calls. A list of parts becomes the concatenation of its text parts, and
 * parts of other types (images, audio) are rejected by name. */
qvk_status qvk_chat_request_normalize(cJSON *request);

#endif
