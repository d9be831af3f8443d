/* The global functions of the template environment: Jinja2's range, namespace and dict, and
 * Hugging Face's raise_exception and strftime_now. */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool function_range(jinja_context *ctx, jinja_call *call, jinja_value *out)
{
    int64_t start = 0, stop, step = 1, value, count;
    int i;

    if (call->n_positional < 1 || call->n_positional > 3 || call->n_named)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "range expects 1 to 3 integer arguments");
    for (i = 0; i < call->n_positional; i++) {
        if (call->positional[i].type != JINJA_INT && call->positional[i].type != JINJA_BOOL)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                              "range: '%s' object cannot be interpreted as an integer",
                              jinja_type_name(call->positional[i]));
    }
    stop = jinja_integer(call->positional[0]);
    if (call->n_positional >= 2) {
        start = stop;
        stop = jinja_integer(call->positional[1]);
    }
    if (call->n_positional == 3)
        step = jinja_integer(call->positional[2]);
    if (step == 0)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "range() arg 3 must not be zero");
    /* Compute the length in double to avoid overflow; exactness only matters below the limit. */
    double length = step > 0 ? ((double)stop - (double)start) / (double)step
                             : ((double)start - (double)stop) / (double)-step;
    if (length > JINJA_MAX_RANGE)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "range too big: ranges are limited to %d items, as in Jinja2's sandbox",
                          JINJA_MAX_RANGE);
    count = length <= 0 ? 0 : (int64_t)(step > 0 ? (stop - start + step - 1) / step
                                                 : (start - stop - step - 1) / -step);
    *out = jinja_list_new(&ctx->heap, (size_t)count, false);
    for (value = start, i = 0; i < count; i++, value += step)
        jinja_list_push(&ctx->heap, *out, jinja_int(value));
    return true;
}

/* namespace(...) and dict(...): a mapping argument and/or keyword arguments. */
static bool function_mapping(jinja_context *ctx, jinja_call *call, jinja_value *out, jinja_type type)
{
    const char *what = type == JINJA_NAMESPACE ? "namespace" : "dict";
    size_t k;
    int i;

    if (call->n_positional > 1 || (call->n_positional == 1 && call->positional[0].type != JINJA_DICT))
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "%s() takes keyword arguments and at most one dict", what);
    *out = jinja_dict_new(&ctx->heap, type);
    if (call->n_positional == 1) {
        const jinja_dict *from = jinja_as_dict(call->positional[0]);

        for (k = 0; k < from->count; k++)
            jinja_dict_set(&ctx->heap, *out, jinja_retain(from->keys[k]), jinja_retain(from->values[k]));
    }
    for (i = 0; i < call->n_named; i++)
        jinja_dict_set(&ctx->heap, *out, jinja_string_from_cstr(&ctx->heap, call->names[i]),
                       jinja_retain(call->named[i]));
    return true;
}

static bool function_namespace(jinja_context *ctx, jinja_call *call, jinja_value *out)
{
    return function_mapping(ctx, call, out, JINJA_NAMESPACE);
}

static bool function_dict(jinja_context *ctx, jinja_call *call, jinja_value *out)
{
    return function_mapping(ctx, call, out, JINJA_DICT);
}

static bool function_raise_exception(jinja_context *ctx, jinja_call *call, jinja_value *out)
{
    jinja_buffer message = { 0 };

    if (call->n_positional > 0)
        jinja_format_str(&message, call->positional[0]);
    jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "raise_exception: %s",
               message.data ? message.data : "");
    jinja_buffer_free(&message);
    return false;
}

/* Hugging Face's strftime_now(format): the local time now, formatted by strftime. */
static bool function_strftime_now(jinja_context *ctx, jinja_call *call, jinja_value *out)
{
    char text[512];
    time_t now = time(NULL);
    struct tm local;
    size_t n;

    if (call->n_positional != 1 || call->positional[0].type != JINJA_STRING)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "strftime_now takes one format string");
    localtime_r(&now, &local);
    /* The format comes from the template, as with Python's datetime.strftime. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    n = strftime(text, sizeof(text), jinja_as_string(call->positional[0])->bytes, &local);
#pragma GCC diagnostic pop
    *out = jinja_string_new(&ctx->heap, text, n);
    return true;
}

static bool function_unsupported(jinja_context *ctx, jinja_call *call, jinja_value *out);

/* lipsum, cycler and joiner are Jinja2 globals this interpreter lacks. */
static const struct {
    const char *name;
    bool (*function)(jinja_context *ctx, jinja_call *call, jinja_value *out);
} functions[] = {
    { "range", function_range },
    { "namespace", function_namespace },
    { "dict", function_dict },
    { "raise_exception", function_raise_exception },
    { "strftime_now", function_strftime_now },
    { "lipsum", function_unsupported },
    { "cycler", function_unsupported },
    { "joiner", function_unsupported },
};

static bool function_unsupported(jinja_context *ctx, jinja_call *call, jinja_value *out)
{
    return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED, "unsupported function");
}

int jinja_function_find(const char *name, size_t length)
{
    size_t i;

    for (i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        if (strlen(functions[i].name) == length && memcmp(functions[i].name, name, length) == 0)
            return (int)i;
    }
    return -1;
}

const char *jinja_function_name(int id)
{
    return functions[id].name;
}

bool jinja_function_call(jinja_context *ctx, int id, jinja_call *call, jinja_value *out)
{
    if (id < 0 || id >= (int)(sizeof(functions) / sizeof(functions[0])))
        return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED, "unsupported function call");
    if (functions[id].function == function_unsupported)
        return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED, "unsupported function \"%s\"",
                          functions[id].name);
    if (!functions[id].function(ctx, call, out))
        return false;
    return jinja_check_memory(ctx, call->line);
}
