#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

qvk_status qvk_error(qvk_status status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, args);
    va_end(args);
    return status;
}

qvk_status qvk_error_prefix(qvk_status status, const char *fmt, ...)
{
    char prefix[512];
    char previous[sizeof(last_error)];
    va_list args;

    va_start(args, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, args);
    va_end(args);
    memcpy(previous, last_error, sizeof(previous));
    snprintf(last_error, sizeof(last_error), "%s: %.*s", prefix,
             (int)(sizeof(last_error) - strlen(prefix) - 3), previous);
    return status;
}

const char *qvk_last_error(void)
{
    return last_error[0] ? last_error : "no error";
}

const char *qvk_status_name(qvk_status status)
{
    switch (status) {
    case QVK_OK: return "ok";
    case QVK_ERR_INVALID_ARGUMENT: return "invalid argument";
    case QVK_ERR_IO: return "I/O error";
    case QVK_ERR_FORMAT: return "invalid format";
    case QVK_ERR_UNSUPPORTED: return "unsupported";
    case QVK_ERR_OUT_OF_MEMORY: return "out of memory";
    case QVK_ERR_DEVICE: return "device error";
    case QVK_ERR_CONTEXT_FULL: return "context full";
    }
    return "unknown status";
}
