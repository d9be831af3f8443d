/* Error reporting: every fallible function returns a qvk_status and leaves a one-line message,
 * naming the value at fault and the fix, in a thread-local buffer that qvk_last_error() returns. */
#ifndef QWEN3VK_CORE_ERROR_H
#define QWEN3VK_CORE_ERROR_H

#include "qwen3vk.h"

#if defined(__GNUC__)
#define QVK_PRINTF(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
#else
#define QVK_PRINTF(fmt_index, args_index)
#endif

/* Store the message for qvk_last_error() and return status, so callers can write
 * `return qvk_error(QVK_ERR_FORMAT, "...")`. */
qvk_status qvk_error(qvk_status status, const char *fmt, ...) QVK_PRINTF(2, 3);

/* Prefix the stored message with "context: ", keeping the status. */
qvk_status qvk_error_prefix(qvk_status status, const char *fmt, ...) QVK_PRINTF(2, 3);

#endif
