#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *level_names[] = { "debug", "info", "warn", "error", "off" };

static int current_level = -1; /* -1: not set yet, read QWEN3VK_LOG on first use */
static qvk_log_callback log_callback;
static void *log_user_data;

int qvk_log_level_parse(const char *name)
{
    for (int level = QVK_LOG_DEBUG; level <= QVK_LOG_OFF; level++)
        if (strcasecmp(name, level_names[level]) == 0)
            return level;
    return -1;
}

static int effective_level(void)
{
    if (current_level < 0) {
        const char *env = getenv("QWEN3VK_LOG");
        int level = env ? qvk_log_level_parse(env) : -1;
        current_level = level >= 0 ? level : QVK_LOG_INFO;
        if (env && level < 0)
            qvk_log(QVK_LOG_WARN, "invalid QWEN3VK_LOG \"%s\": expected debug, info, warn, error or "
                    "off; using info", env);
    }
    return current_level;
}

void qvk_log_set_level(qvk_log_level level)
{
    current_level = (int)level;
}

void qvk_log_set_callback(qvk_log_callback callback, void *user_data)
{
    log_callback = callback;
    log_user_data = user_data;
}

void qvk_log(qvk_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list args;

    if ((int)level < effective_level())
        return;
    va_start(args, fmt);
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);
    if (log_callback)
        log_callback(level, line, log_user_data);
    else
        fprintf(stderr, "qwen3vk %s: %s\n", level_names[level], line);
}

double qvk_time_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}
