/* The Jinja expression evaluator: names, calls, filters, tests and the expression tree; the
 * operators are in jinja_operators.c and attribute/item access in jinja_access.c. Every
 * function that produces a value returns a new reference the caller releases. */
#include "text/jinja.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Errors ---------------------------------------------------------------------------------- */

bool jinja_fail(jinja_context *ctx, int line, qvk_status status, const char *fmt, ...)
{
    char message[sizeof(ctx->error.message)];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    return jinja_error_set(&ctx->error, status, line, "%s", message);
}

bool jinja_check_memory(jinja_context *ctx, int line)
{
    if (!ctx->heap.out_of_memory)
        return true;
    return jinja_fail(ctx, line, QVK_ERR_OUT_OF_MEMORY,
                      "out of memory, or a string longer than %zu MiB", JINJA_MAX_STRING >> 20);
}

bool jinja_check_buffer(jinja_context *ctx, int line, const jinja_buffer *buffer)
{
    if (buffer->state == JINJA_BUFFER_TOO_LONG)
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "output longer than %zu MiB",
                          JINJA_MAX_STRING >> 20);
    if (buffer->state == JINJA_BUFFER_OUT_OF_MEMORY)
        return jinja_fail(ctx, line, QVK_ERR_OUT_OF_MEMORY, "out of memory");
    return jinja_check_memory(ctx, line);
}

bool jinja_fail_undefined(jinja_context *ctx, int line, jinja_value undefined)
{
    if (undefined.as.object)
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "%s",
                          jinja_as_string(undefined)->bytes);
    return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "undefined value used");
}

/* ---- Scopes ---------------------------------------------------------------------------------- */

jinja_value jinja_frame_lookup(jinja_context *ctx, jinja_frame *frame, const char *name,
                               size_t length)
{
    int function;

    for (; frame; frame = frame->parent) {
        const jinja_value *value = jinja_dict_find_str(frame->variables, name, length);

        if (value)
            return jinja_retain(*value);
    }
    function = jinja_function_find(name, length);
    if (function >= 0) {
        jinja_callable *callable = jinja_callable_new(&ctx->heap, JINJA_CALL_FUNCTION,
                                                      jinja_function_name(function));

        if (!callable)
            return jinja_undefined();
        callable->id = function;
        return jinja_object_value(JINJA_CALLABLE, callable);
    }
    return jinja_undefined_named(&ctx->heap, "'%.*s' is undefined", (int)length, name);
}

void jinja_frame_set(jinja_context *ctx, jinja_frame *frame, const char *name, size_t length,
                     jinja_value value)
{
    jinja_value key = jinja_string_new(&ctx->heap, name, length);

    jinja_dict_set(&ctx->heap, jinja_object_value(JINJA_DICT, frame->variables), key, value);
}

/* a < b < c means a < b and b < c, stopping at the first false. */
static bool eval_compare(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                         jinja_value *out)
{
    jinja_value left, right;
    bool result = true;
    int i;

    if (!jinja_eval(ctx, frame, expr->operand, &left))
        return false;
    for (i = 0; i < expr->n_items && result; i++) {
        if (!jinja_eval(ctx, frame, expr->items[i], &right)) {
            jinja_release(&ctx->heap, left);
            return false;
        }
        if (!jinja_compare_values(ctx, expr->line, expr->ops[i], left, right, &result)) {
            jinja_release(&ctx->heap, left);
            jinja_release(&ctx->heap, right);
            return false;
        }
        jinja_release(&ctx->heap, left);
        left = right;
    }
    jinja_release(&ctx->heap, left);
    *out = jinja_bool(result);
    return true;
}

/* ---- Calls ----------------------------------------------------------------------------------- */

void jinja_call_release(jinja_context *ctx, jinja_call *call)
{
    int i;

    for (i = 0; i < call->n_positional; i++)
        jinja_release(&ctx->heap, call->positional[i]);
    for (i = 0; i < call->n_named; i++)
        jinja_release(&ctx->heap, call->named[i]);
    jinja_release(&ctx->heap, call->keep_alive);
    free(call->positional);
    free(call->named);
    free(call->names);
    memset(call, 0, sizeof(*call));
}

static bool call_grow(jinja_context *ctx, jinja_call *call, int positional, int named)
{
    jinja_value *p = realloc(call->positional, (size_t)(positional + 1) * sizeof(*p));
    jinja_value *n;
    const char **names;

    if (p)
        call->positional = p;
    n = realloc(call->named, (size_t)(named + 1) * sizeof(*n));
    if (n)
        call->named = n;
    names = realloc(call->names, (size_t)(named + 1) * sizeof(*names));
    if (names)
        call->names = names;
    if (!p || !n || !names)
        return jinja_fail(ctx, call->line, QVK_ERR_OUT_OF_MEMORY, "out of memory");
    return true;
}

static bool spread_args(jinja_context *ctx, jinja_frame *frame, const jinja_args *args,
                        jinja_call *call)
{
    jinja_value value, items;
    size_t i;

    if (args->star_args) {
        if (!jinja_eval(ctx, frame, args->star_args, &value))
            return false;
        bool ok = jinja_iterate(ctx, call->line, value, &items);
        jinja_release(&ctx->heap, value);
        if (!ok)
            return false;
        for (i = 0; i < jinja_as_list(items)->count; i++) {
            if (!call_grow(ctx, call, call->n_positional + 1, call->n_named))
                break;
            call->positional[call->n_positional++] = jinja_retain(jinja_as_list(items)->items[i]);
        }
        jinja_release(&ctx->heap, items);
    }
    if (args->star_kwargs) {
        if (!jinja_eval(ctx, frame, args->star_kwargs, &value))
            return false;
        if (value.type != JINJA_DICT) {
            jinja_release(&ctx->heap, value);
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                              "argument after ** must be a mapping");
        }
        for (i = 0; i < jinja_as_dict(value)->count; i++) {
            jinja_value key = jinja_as_dict(value)->keys[i];

            if (key.type != JINJA_STRING) {
                jinja_release(&ctx->heap, value);
                return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                                  "keywords must be strings, not %s", jinja_type_name(key));
            }
            if (!call_grow(ctx, call, call->n_positional, call->n_named + 1))
                break;
            call->names[call->n_named] = jinja_as_string(key)->bytes;
            call->named[call->n_named++] = jinja_retain(jinja_as_dict(value)->values[i]);
        }
        /* The names point into the dict's keys, so the call keeps a reference to the dict. */
        call->keep_alive = value;
    }
    return ctx->error.status == QVK_OK;
}

bool jinja_eval_args(jinja_context *ctx, jinja_frame *frame, const jinja_args *args, int line,
                     jinja_call *call)
{
    int i;

    memset(call, 0, sizeof(*call));
    call->line = line;
    if (!call_grow(ctx, call, args->n_positional, args->n_named))
        return false;
    for (i = 0; i < args->n_positional; i++) {
        if (!jinja_eval(ctx, frame, args->positional[i], &call->positional[i]))
            goto fail;
        call->n_positional++;
    }
    for (i = 0; i < args->n_named; i++) {
        if (!jinja_eval(ctx, frame, args->named[i], &call->named[i]))
            goto fail;
        call->names[i] = args->names[i];
        call->n_named++;
    }
    if ((args->star_args || args->star_kwargs) && !spread_args(ctx, frame, args, call))
        goto fail;
    return true;

fail:
    jinja_call_release(ctx, call);
    return false;
}

bool jinja_bind(jinja_context *ctx, const jinja_call *call, const char *what,
                const char *const *params, int n_params, jinja_value *slots, bool *present)
{
    int i, k;

    for (i = 0; i < n_params; i++)
        present[i] = false;
    if (call->n_positional > n_params)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "%s takes at most %d argument%s (%d given)", what, n_params,
                          n_params == 1 ? "" : "s", call->n_positional);
    for (i = 0; i < call->n_positional; i++) {
        slots[i] = call->positional[i];
        present[i] = true;
    }
    for (i = 0; i < call->n_named; i++) {
        for (k = 0; k < n_params && strcmp(params[k], call->names[i]) != 0; k++)
            ;
        if (k == n_params)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                              "%s got an unexpected keyword argument '%s'", what, call->names[i]);
        if (present[k])
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                              "%s got multiple values for argument '%s'", what, call->names[i]);
        slots[k] = call->named[i];
        present[k] = true;
    }
    return true;
}

bool jinja_call_value(jinja_context *ctx, jinja_value callee, jinja_call *call, jinja_value *out)
{
    jinja_callable *callable;

    if (callee.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, call->line, callee);
    if (callee.type != JINJA_CALLABLE)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "'%s' object is not callable", jinja_type_name(callee));
    callable = jinja_as_callable(callee);
    switch (callable->kind) {
    case JINJA_CALL_MACRO:
    case JINJA_CALL_CALLER:
        return jinja_call_macro(ctx, callable, call, jinja_undefined(), out);
    case JINJA_CALL_METHOD:
        return jinja_method_call(ctx, callable->receiver, callable->id, call, out);
    case JINJA_CALL_FUNCTION:
        return jinja_function_call(ctx, callable->id, call, out);
    }
    return false;
}

static bool eval_call(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                      jinja_value *out)
{
    jinja_value callee;
    jinja_call call;
    bool ok;

    if (!jinja_eval(ctx, frame, expr->operand, &callee))
        return false;
    if (callee.type == JINJA_UNDEFINED) {
        ok = jinja_fail_undefined(ctx, expr->line, callee);
        jinja_release(&ctx->heap, callee);
        return ok;
    }
    if (!jinja_eval_args(ctx, frame, &expr->args, expr->line, &call)) {
        jinja_release(&ctx->heap, callee);
        return false;
    }
    ok = jinja_call_value(ctx, callee, &call, out);
    jinja_call_release(ctx, &call);
    jinja_release(&ctx->heap, callee);
    return ok;
}

static bool eval_filter_or_test(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                                jinja_value *out)
{
    jinja_value input;
    jinja_call call;
    bool ok, result = false;

    if (expr->operand->kind == JINJA_EXPR_BLOCK_INPUT)
        input = jinja_retain(ctx->block_input);
    else if (!jinja_eval(ctx, frame, expr->operand, &input))
        return false;
    if (!jinja_eval_args(ctx, frame, &expr->args, expr->line, &call)) {
        jinja_release(&ctx->heap, input);
        return false;
    }
    if (expr->kind == JINJA_EXPR_FILTER) {
        ok = jinja_apply_filter(ctx, expr->op, input, &call, out);
    } else {
        ok = jinja_apply_test(ctx, expr->op, input, &call, &result);
        *out = jinja_bool(result);
    }
    jinja_call_release(ctx, &call);
    jinja_release(&ctx->heap, input);
    return ok && jinja_check_memory(ctx, expr->line);
}

/* ---- Expressions ----------------------------------------------------------------------------- */

static bool eval_sequence(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                          jinja_value *out)
{
    int i;

    if (expr->kind == JINJA_EXPR_DICT) {
        *out = jinja_dict_new(&ctx->heap, JINJA_DICT);
        for (i = 0; i + 1 < expr->n_items; i += 2) {
            jinja_value key, value;

            if (!jinja_eval(ctx, frame, expr->items[i], &key))
                goto fail;
            if (key.type == JINJA_LIST || key.type == JINJA_DICT) {
                jinja_fail(ctx, expr->line, QVK_ERR_INVALID_ARGUMENT, "unhashable type: '%s'",
                           jinja_type_name(key));
                jinja_release(&ctx->heap, key);
                goto fail;
            }
            if (!jinja_eval(ctx, frame, expr->items[i + 1], &value)) {
                jinja_release(&ctx->heap, key);
                goto fail;
            }
            jinja_dict_set(&ctx->heap, *out, key, value);
        }
        return jinja_check_memory(ctx, expr->line);
    }
    *out = jinja_list_new(&ctx->heap, (size_t)expr->n_items, expr->kind == JINJA_EXPR_TUPLE);
    for (i = 0; i < expr->n_items; i++) {
        jinja_value item;

        if (!jinja_eval(ctx, frame, expr->items[i], &item))
            goto fail;
        jinja_list_push(&ctx->heap, *out, item);
    }
    return jinja_check_memory(ctx, expr->line);

fail:
    jinja_release(&ctx->heap, *out);
    return false;
}

static bool eval_unary(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                       jinja_value *out)
{
    jinja_value value;

    if (!jinja_eval(ctx, frame, expr->operand, &value))
        return false;
    if (expr->kind == JINJA_EXPR_NOT) {
        *out = jinja_bool(!jinja_truthy(value));
        jinja_release(&ctx->heap, value);
        return true;
    }
    if (value.type == JINJA_UNDEFINED) {
        jinja_fail_undefined(ctx, expr->line, value);
        jinja_release(&ctx->heap, value);
        return false;
    }
    if (!jinja_is_number(value)) {
        jinja_fail(ctx, expr->line, QVK_ERR_INVALID_ARGUMENT, "bad operand type for unary %s: '%s'",
                   expr->kind == JINJA_EXPR_NEG ? "-" : "+", jinja_type_name(value));
        jinja_release(&ctx->heap, value);
        return false;
    }
    if (value.type == JINJA_FLOAT)
        *out = jinja_float(expr->kind == JINJA_EXPR_NEG ? -value.as.number : value.as.number);
    else if (expr->kind == JINJA_EXPR_POS)
        *out = jinja_int(jinja_integer(value));
    else if (jinja_integer(value) == INT64_MIN)
        return jinja_fail(ctx, expr->line, QVK_ERR_INVALID_ARGUMENT, "integer overflow");
    else
        *out = jinja_int(-jinja_integer(value));
    return true;
}

static bool eval_binary(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                        jinja_value *out)
{
    jinja_value a, b;
    bool ok;

    if (!jinja_eval(ctx, frame, expr->operand, &a))
        return false;
    if (!jinja_eval(ctx, frame, expr->second, &b)) {
        jinja_release(&ctx->heap, a);
        return false;
    }
    ok = jinja_arithmetic(ctx, expr->line, expr->op, a, b, out);
    jinja_release(&ctx->heap, a);
    jinja_release(&ctx->heap, b);
    return ok;
}

/* a ~ b ~ c: the str() of each operand joined, undefined as "". */
static bool eval_concat(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                        jinja_value *out)
{
    jinja_buffer text = { 0 };
    int i;

    for (i = 0; i < expr->n_items; i++) {
        jinja_value item;

        if (!jinja_eval(ctx, frame, expr->items[i], &item)) {
            jinja_buffer_free(&text);
            return false;
        }
        jinja_format_str(&text, item);
        jinja_release(&ctx->heap, item);
    }
    if (!jinja_check_buffer(ctx, expr->line, &text)) {
        jinja_buffer_free(&text);
        return false;
    }
    *out = jinja_string_from_buffer(&ctx->heap, &text);
    return jinja_check_memory(ctx, expr->line);
}

/* "a and b" and "a or b" return an operand, as in Python. */
static bool eval_logic(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                       jinja_value *out)
{
    jinja_value left;
    bool truthy;

    if (!jinja_eval(ctx, frame, expr->operand, &left))
        return false;
    truthy = jinja_truthy(left);
    if ((expr->kind == JINJA_EXPR_AND) != truthy) {
        *out = left;
        return true;
    }
    jinja_release(&ctx->heap, left);
    return jinja_eval(ctx, frame, expr->second, out);
}

static bool eval_conditional(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                             jinja_value *out)
{
    jinja_value test;
    bool truthy;

    if (!jinja_eval(ctx, frame, expr->operand, &test))
        return false;
    truthy = jinja_truthy(test);
    jinja_release(&ctx->heap, test);
    if (truthy)
        return jinja_eval(ctx, frame, expr->second, out);
    if (expr->third)
        return jinja_eval(ctx, frame, expr->third, out);
    *out = jinja_undefined_named(&ctx->heap,
                                 "the inline if-expression on line %d evaluated to false and "
                                 "no else section was defined",
                                 expr->line);
    return jinja_check_memory(ctx, expr->line);
}

static bool eval_access(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                        jinja_value *out)
{
    jinja_value object, key;
    bool ok;

    if (!jinja_eval(ctx, frame, expr->operand, &object))
        return false;
    if (expr->kind == JINJA_EXPR_GETATTR) {
        ok = jinja_getattr(ctx, expr->line, object, expr->name, expr->name_length, out);
    } else if (expr->second->kind == JINJA_EXPR_SLICE) {
        ok = jinja_eval_slice(ctx, frame, object, expr->second, out);
    } else {
        ok = jinja_eval(ctx, frame, expr->second, &key);
        if (ok) {
            ok = jinja_getitem(ctx, expr->line, object, key, out);
            jinja_release(&ctx->heap, key);
        }
    }
    jinja_release(&ctx->heap, object);
    return ok;
}

static bool eval_node(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr,
                      jinja_value *out)
{
    switch (expr->kind) {
    case JINJA_EXPR_CONST:
        *out = jinja_retain(expr->constant);
        return true;
    case JINJA_EXPR_NAME:
        *out = jinja_frame_lookup(ctx, frame, expr->name, expr->name_length);
        return jinja_check_memory(ctx, expr->line);
    case JINJA_EXPR_LIST:
    case JINJA_EXPR_TUPLE:
    case JINJA_EXPR_DICT:
        return eval_sequence(ctx, frame, expr, out);
    case JINJA_EXPR_GETATTR:
    case JINJA_EXPR_GETITEM:
        return eval_access(ctx, frame, expr, out);
    case JINJA_EXPR_CALL:
        return eval_call(ctx, frame, expr, out);
    case JINJA_EXPR_FILTER:
    case JINJA_EXPR_TEST:
        return eval_filter_or_test(ctx, frame, expr, out);
    case JINJA_EXPR_NOT:
    case JINJA_EXPR_NEG:
    case JINJA_EXPR_POS:
        return eval_unary(ctx, frame, expr, out);
    case JINJA_EXPR_BINARY:
        return eval_binary(ctx, frame, expr, out);
    case JINJA_EXPR_CONCAT:
        return eval_concat(ctx, frame, expr, out);
    case JINJA_EXPR_COMPARE:
        return eval_compare(ctx, frame, expr, out);
    case JINJA_EXPR_AND:
    case JINJA_EXPR_OR:
        return eval_logic(ctx, frame, expr, out);
    case JINJA_EXPR_CONDITIONAL:
        return eval_conditional(ctx, frame, expr, out);
    case JINJA_EXPR_BLOCK_INPUT:
        *out = jinja_retain(ctx->block_input);
        return true;
    case JINJA_EXPR_SLICE:
    case JINJA_EXPR_NSREF:
        break;
    }
    return jinja_fail(ctx, expr->line, QVK_ERR_FORMAT, "invalid expression in this position");
}

bool jinja_eval(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr, jinja_value *out)
{
    bool ok;

    *out = jinja_undefined();
    /* Bound the C stack: recursive macros with deep expressions would otherwise overflow it. */
    if (ctx->eval_depth >= JINJA_MAX_EVAL_DEPTH)
        return jinja_fail(ctx, expr->line, QVK_ERR_INVALID_ARGUMENT,
                          "expressions and macro calls nested more than %d levels deep",
                          JINJA_MAX_EVAL_DEPTH);
    ctx->eval_depth++;
    ok = eval_node(ctx, frame, expr, out);
    ctx->eval_depth--;
    return ok;
}
