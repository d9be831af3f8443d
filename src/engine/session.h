/* Session functions for the generation loop, beyond the public API. */
#ifndef QWEN3VK_ENGINE_SESSION_H
#define QWEN3VK_ENGINE_SESSION_H

#include "qwen3vk.h"

/* The tokens whose keys and values are in the KV cache, qvk_session_position() of them. */
const int32_t *qvk_session_tokens(const qvk_session *session);
/* Keep only the first n_tokens of the context (n_tokens <= position). */
void qvk_session_truncate(qvk_session *session, int32_t n_tokens);
qvk_model *qvk_session_model(const qvk_session *session);
/* The maximum number of tokens one forward pass evaluates (the session's n_batch). */
int32_t qvk_session_batch_size(const qvk_session *session);

#endif
