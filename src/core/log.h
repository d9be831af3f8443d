/* Library logging: one line per event, sent to the callback set with qvk_log_set_callback()
 * (stderr by default), filtered by the level from qvk_log_set_level() or QWEN3VK_LOG. */
#ifndef QWEN3VK_CORE_LOG_H
#define QWEN3VK_CORE_LOG_H

#include "core/error.h"

void qvk_log(qvk_log_level level, const char *fmt, ...) QVK_PRINTF(2, 3);

#define qvk_log_debug(...) qvk_log(QVK_LOG_DEBUG, __VA_ARGS__)
#define qvk_log_info(...) qvk_log(QVK_LOG_INFO, __VA_ARGS__)
#define qvk_log_warn(...) qvk_log(QVK_LOG_WARN, __VA_ARGS__)
#define qvk_log_error(...) qvk_log(QVK_LOG_ERROR, __VA_ARGS__)

/* Monotonic clock in seconds, for load times and speed reports. */
double qvk_time_seconds(void);

#endif
