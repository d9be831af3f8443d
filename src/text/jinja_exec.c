/* The Jinja statement executor: output, if, for, set, macros, call and filter blocks.
 *
 * Scopes follow Jinja2: each for-loop iteration, macro call, {% with %} and block assignment
 * gets a new scope whose lookups fall back to the enclosing one, so a {% set %} inside a loop
 * is gone in the next iteration (namespace() objects carry values out); {% if %} opens none. */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum exec_result {
    EXEC_OK,
    EXEC_BREAK,
    EXEC_CONTINUE,
    EXEC_ERROR,
} exec_result;

static exec_result exec_body(jinja_context *ctx, jinja_frame *frame, const jinja_body *body,
                             jinja_buffer *out);

static void release_frame(jinja_context *ctx, jinja_frame *frame)
{
    if (frame)
        jinja_release(&ctx->heap, jinja_object_value(JINJA_DICT, frame));
}

static jinja_frame *new_frame(jinja_context *ctx, jinja_frame *parent, int line)
{
    jinja_frame *frame = jinja_frame_new(&ctx->heap, parent);

    if (!frame)
        jinja_check_memory(ctx, line);
    return frame;
}

/* ---- Assignment ------------------------------------------------------------------------------ */

static bool assign(jinja_context *ctx, jinja_frame *frame, const jinja_expr *target,
                   jinja_value value);

static bool assign_tuple(jinja_context *ctx, jinja_frame *frame, const jinja_expr *target,
                         jinja_value value)
{
    jinja_value items;
    const jinja_list *list;
    int i;

    if (!jinja_iterate(ctx, target->line, value, &items))
        return false;
    list = jinja_as_list(items);
    if (list->count != (size_t)target->n_items) {
        jinja_fail(ctx, target->line, QVK_ERR_INVALID_ARGUMENT,
                   list->count < (size_t)target->n_items
                       ? "not enough values to unpack (expected %d, got %zu)"
                       : "too many values to unpack (expected %d, got %zu)",
                   target->n_items, list->count);
        jinja_release(&ctx->heap, items);
        return false;
    }
    for (i = 0; i < target->n_items; i++) {
        if (!assign(ctx, frame, target->items[i], jinja_retain(list->items[i]))) {
            jinja_release(&ctx->heap, items);
            return false;
        }
    }
    jinja_release(&ctx->heap, items);
    return true;
}

/* Bind target (a name, ns.attribute or a tuple of them) to value, taking the reference. */
static bool assign(jinja_context *ctx, jinja_frame *frame, const jinja_expr *target,
                   jinja_value value)
{
    jinja_value ns;
    bool ok = true;

    switch (target->kind) {
    case JINJA_EXPR_NAME:
        jinja_frame_set(ctx, frame, target->name, target->name_length, value);
        return jinja_check_memory(ctx, target->line);
    case JINJA_EXPR_NSREF:
        ns = jinja_frame_lookup(ctx, frame, target->name, target->name_length);
        if (ns.type == JINJA_NAMESPACE) {
            jinja_value key = jinja_string_new(&ctx->heap, target->second->name,
                                               target->second->name_length);

            jinja_dict_set(&ctx->heap, ns, key, value);
            ok = jinja_check_memory(ctx, target->line);
        } else {
            ok = jinja_fail(ctx, target->line, QVK_ERR_INVALID_ARGUMENT,
                            "cannot assign attribute on non-namespace object '%s' (%s)",
                            target->name, jinja_type_name(ns));
            jinja_release(&ctx->heap, value);
        }
        jinja_release(&ctx->heap, ns);
        return ok;
    case JINJA_EXPR_TUPLE:
        ok = assign_tuple(ctx, frame, target, value);
        jinja_release(&ctx->heap, value);
        return ok;
    default:
        jinja_release(&ctx->heap, value);
        return jinja_fail(ctx, target->line, QVK_ERR_FORMAT, "cannot assign to this expression");
    }
}

/* ---- Macros ---------------------------------------------------------------------------------- */

/* Bind call arguments to the macro's parameters in frame; extra ones go to varargs and
 * kwargs when the body uses those names, as in Jinja2. */
static bool bind_macro_args(jinja_context *ctx, const jinja_stmt *macro, jinja_frame *frame,
                            jinja_call *call, const char *name)
{
    jinja_value varargs, kwargs;
    bool given[64] = { false };
    int i, k;

    if (macro->n_params > 64)
        return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED,
                          "macro '%s' has more than 64 parameters", name);
    varargs = jinja_list_new(&ctx->heap, 0, true);
    kwargs = jinja_dict_new(&ctx->heap, JINJA_DICT);
    for (i = 0; i < call->n_positional; i++) {
        if (i < macro->n_params) {
            jinja_frame_set(ctx, frame, macro->params[i], strlen(macro->params[i]),
                            jinja_retain(call->positional[i]));
            given[i] = true;
        } else if (macro->uses_varargs) {
            jinja_list_push(&ctx->heap, varargs, jinja_retain(call->positional[i]));
        } else {
            goto too_many;
        }
    }
    for (i = 0; i < call->n_named; i++) {
        for (k = 0; k < macro->n_params && strcmp(macro->params[k], call->names[i]) != 0; k++)
            ;
        if (k < macro->n_params && given[k]) {
            jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                       "macro '%s' got multiple values for argument '%s'", name, call->names[i]);
            goto fail;
        }
        if (k < macro->n_params) {
            jinja_frame_set(ctx, frame, call->names[i], strlen(call->names[i]),
                            jinja_retain(call->named[i]));
            given[k] = true;
        } else if (macro->uses_kwargs) {
            jinja_dict_set(&ctx->heap, kwargs, jinja_string_from_cstr(&ctx->heap, call->names[i]),
                           jinja_retain(call->named[i]));
        } else {
            jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                       "macro '%s' takes no keyword argument '%s'", name, call->names[i]);
            goto fail;
        }
    }
    /* Defaults are evaluated at call time in the macro's scope, so they see earlier parameters. */
    for (k = 0; k < macro->n_params; k++) {
        jinja_value value;

        if (given[k])
            continue;
        if (macro->defaults && macro->defaults[k]) {
            if (!jinja_eval(ctx, frame, macro->defaults[k], &value))
                goto fail;
        } else {
            value = jinja_undefined_named(&ctx->heap, "parameter '%s' was not provided",
                                          macro->params[k]);
        }
        jinja_frame_set(ctx, frame, macro->params[k], strlen(macro->params[k]), value);
    }
    jinja_frame_set(ctx, frame, "varargs", 7, varargs);
    jinja_frame_set(ctx, frame, "kwargs", 6, kwargs);
    return jinja_check_memory(ctx, call->line);

too_many:
    jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
               "macro '%s' takes not more than %d argument(s)", name, macro->n_params);
fail:
    jinja_release(&ctx->heap, varargs);
    jinja_release(&ctx->heap, kwargs);
    return false;
}

bool jinja_call_macro(jinja_context *ctx, jinja_callable *macro, jinja_call *call,
                      jinja_value caller, jinja_value *out)
{
    jinja_buffer text = { 0 };
    jinja_frame *frame;
    exec_result result;

    if (ctx->call_depth >= JINJA_MAX_CALL_DEPTH)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "macro calls nested more than %d deep (unbounded recursion?)",
                          JINJA_MAX_CALL_DEPTH);
    frame = new_frame(ctx, macro->closure, call->line);
    if (!frame)
        return false;
    if (!bind_macro_args(ctx, macro->macro, frame, call, macro->name)) {
        release_frame(ctx, frame);
        return false;
    }
    if (caller.type == JINJA_CALLABLE)
        jinja_frame_set(ctx, frame, "caller", 6, jinja_retain(caller));

    ctx->call_depth++;
    result = exec_body(ctx, frame, &macro->macro->body, &text);
    ctx->call_depth--;
    release_frame(ctx, frame);
    if (result == EXEC_ERROR) {
        jinja_buffer_free(&text);
        return false;
    }
    *out = jinja_string_from_buffer(&ctx->heap, &text);
    return jinja_check_memory(ctx, call->line);
}

static jinja_callable *new_macro(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                                 jinja_callable_kind kind)
{
    jinja_callable *macro = jinja_callable_new(&ctx->heap, kind, stmt->name);

    if (!macro) {
        jinja_check_memory(ctx, stmt->line);
        return NULL;
    }
    macro->macro = stmt;
    macro->closure = frame;
    jinja_retain(jinja_object_value(JINJA_DICT, frame));
    return macro;
}

/* {% call(args) m(...) %}body{% endcall %}: m runs with caller() rendering body. */
static exec_result exec_call_block(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                                   jinja_buffer *out)
{
    const jinja_expr *call_expr = stmt->expr;
    jinja_value callee, caller, result;
    jinja_callable *caller_macro;
    jinja_call call;
    bool ok;

    if (!jinja_eval(ctx, frame, call_expr->operand, &callee))
        return EXEC_ERROR;
    if (callee.type != JINJA_CALLABLE || jinja_as_callable(callee)->kind != JINJA_CALL_MACRO) {
        if (callee.type == JINJA_UNDEFINED)
            jinja_fail_undefined(ctx, stmt->line, callee);
        else
            jinja_fail(ctx, stmt->line, QVK_ERR_INVALID_ARGUMENT,
                       "{%% call %%} needs a macro, not '%s'", jinja_type_name(callee));
        jinja_release(&ctx->heap, callee);
        return EXEC_ERROR;
    }
    caller_macro = new_macro(ctx, frame, stmt, JINJA_CALL_CALLER);
    if (!caller_macro || !jinja_eval_args(ctx, frame, &call_expr->args, call_expr->line, &call)) {
        if (caller_macro)
            jinja_release(&ctx->heap, jinja_object_value(JINJA_CALLABLE, caller_macro));
        jinja_release(&ctx->heap, callee);
        return EXEC_ERROR;
    }
    caller = jinja_object_value(JINJA_CALLABLE, caller_macro);
    ok = jinja_call_macro(ctx, jinja_as_callable(callee), &call, caller, &result);
    jinja_call_release(ctx, &call);
    jinja_release(&ctx->heap, caller);
    jinja_release(&ctx->heap, callee);
    if (!ok)
        return EXEC_ERROR;
    jinja_format_str(out, result);
    jinja_release(&ctx->heap, result);
    return EXEC_OK;
}

/* ---- Blocks ---------------------------------------------------------------------------------- */

/* Render body in a new scope, then run it through the filter chain of filters (if any). */
static bool render_filtered(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                            jinja_value *out)
{
    jinja_buffer text = { 0 };
    jinja_frame *inner = new_frame(ctx, frame, stmt->line);
    jinja_value saved = ctx->block_input, rendered;
    exec_result result;
    bool ok = true;

    if (!inner)
        return false;
    result = exec_body(ctx, inner, &stmt->body, &text);
    release_frame(ctx, inner);
    if (result == EXEC_ERROR) {
        jinja_buffer_free(&text);
        return false;
    }
    rendered = jinja_string_from_buffer(&ctx->heap, &text);
    if (!stmt->expr) {
        *out = rendered;
        return jinja_check_memory(ctx, stmt->line);
    }
    ctx->block_input = rendered;
    ok = jinja_eval(ctx, frame, stmt->expr, out);
    ctx->block_input = saved;
    jinja_release(&ctx->heap, rendered);
    return ok;
}

static bool count_step(jinja_context *ctx, int line)
{
    if (++ctx->steps <= JINJA_MAX_STEPS)
        return true;
    return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                      "template stopped after %d statements and loop iterations",
                      JINJA_MAX_STEPS);
}

/* The items of a for loop, without those its "if" clause rejects. */
static bool loop_items(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                       jinja_value *items)
{
    jinja_value iterable, all;
    size_t i;

    if (!jinja_eval(ctx, frame, stmt->expr, &iterable))
        return false;
    bool ok = jinja_iterate(ctx, stmt->line, iterable, &all);
    jinja_release(&ctx->heap, iterable);
    if (!ok)
        return false;
    if (!stmt->condition) {
        *items = all;
        return true;
    }
    *items = jinja_list_new(&ctx->heap, 0, false);
    for (i = 0; i < jinja_as_list(all)->count && ok; i++) {
        jinja_value item = jinja_as_list(all)->items[i], test;
        jinja_frame *scope = new_frame(ctx, frame, stmt->line);

        ok = scope && assign(ctx, scope, stmt->target, jinja_retain(item)) &&
             jinja_eval(ctx, scope, stmt->condition, &test);
        if (ok) {
            if (jinja_truthy(test))
                jinja_list_push(&ctx->heap, *items, jinja_retain(item));
            jinja_release(&ctx->heap, test);
        }
        release_frame(ctx, scope);
    }
    jinja_release(&ctx->heap, all);
    if (!ok)
        jinja_release(&ctx->heap, *items);
    return ok && jinja_check_memory(ctx, stmt->line);
}

static exec_result exec_for(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                            jinja_buffer *out)
{
    jinja_value items;
    jinja_loop *loop;
    exec_result result = EXEC_OK;
    size_t i, count;

    if (!loop_items(ctx, frame, stmt, &items))
        return EXEC_ERROR;
    count = jinja_as_list(items)->count;
    if (count == 0) {
        jinja_release(&ctx->heap, items);
        return exec_body(ctx, frame, &stmt->else_body, out);
    }
    loop = jinja_loop_new(&ctx->heap, items, 1);
    if (!loop) {
        jinja_release(&ctx->heap, items);
        jinja_check_memory(ctx, stmt->line);
        return EXEC_ERROR;
    }
    for (i = 0; i < count; i++) {
        jinja_frame *scope;

        if (!count_step(ctx, stmt->line) || !(scope = new_frame(ctx, frame, stmt->line))) {
            result = EXEC_ERROR;
            break;
        }
        loop->index0 = (int64_t)i;
        jinja_frame_set(ctx, scope, "loop", 4,
                        jinja_retain(jinja_object_value(JINJA_LOOP, loop)));
        if (!assign(ctx, scope, stmt->target, jinja_retain(jinja_as_list(items)->items[i])))
            result = EXEC_ERROR;
        else
            result = exec_body(ctx, scope, &stmt->body, out);
        release_frame(ctx, scope);
        if (result == EXEC_ERROR || result == EXEC_BREAK)
            break;
    }
    jinja_release(&ctx->heap, jinja_object_value(JINJA_LOOP, loop));
    jinja_release(&ctx->heap, items);
    return result == EXEC_ERROR ? EXEC_ERROR : EXEC_OK;
}

static exec_result exec_with(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                             jinja_buffer *out)
{
    jinja_frame *scope = new_frame(ctx, frame, stmt->line);
    exec_result result;
    int i;

    if (!scope)
        return EXEC_ERROR;
    for (i = 0; i < stmt->n_params; i++) {
        jinja_value value;

        if (!jinja_eval(ctx, frame, stmt->defaults[i], &value) ||
            !assign(ctx, scope, stmt->target->items[i], value)) {
            release_frame(ctx, scope);
            return EXEC_ERROR;
        }
    }
    result = exec_body(ctx, scope, &stmt->body, out);
    release_frame(ctx, scope);
    return result;
}

static exec_result exec_output(jinja_context *ctx, jinja_value value, int line, jinja_buffer *out)
{
    jinja_format_str(out, value);
    jinja_release(&ctx->heap, value);
    return jinja_check_buffer(ctx, line, out) ? EXEC_OK : EXEC_ERROR;
}

static exec_result exec_stmt(jinja_context *ctx, jinja_frame *frame, const jinja_stmt *stmt,
                             jinja_buffer *out)
{
    jinja_value value;
    jinja_callable *macro;

    if (!count_step(ctx, stmt->line))
        return EXEC_ERROR;
    switch (stmt->kind) {
    case JINJA_STMT_TEXT:
        jinja_buffer_append(out, stmt->text, stmt->length);
        return jinja_check_buffer(ctx, stmt->line, out) ? EXEC_OK : EXEC_ERROR;
    case JINJA_STMT_OUTPUT:
        if (!jinja_eval(ctx, frame, stmt->expr, &value))
            return EXEC_ERROR;
        return exec_output(ctx, value, stmt->line, out);
    case JINJA_STMT_IF:
        if (!jinja_eval(ctx, frame, stmt->expr, &value))
            return EXEC_ERROR;
        bool truthy = jinja_truthy(value);
        jinja_release(&ctx->heap, value);
        return exec_body(ctx, frame, truthy ? &stmt->body : &stmt->else_body, out);
    case JINJA_STMT_FOR:
        return exec_for(ctx, frame, stmt, out);
    case JINJA_STMT_SET:
        if (!jinja_eval(ctx, frame, stmt->expr, &value))
            return EXEC_ERROR;
        return assign(ctx, frame, stmt->target, value) ? EXEC_OK : EXEC_ERROR;
    case JINJA_STMT_SET_BLOCK:
        if (!render_filtered(ctx, frame, stmt, &value))
            return EXEC_ERROR;
        return assign(ctx, frame, stmt->target, value) ? EXEC_OK : EXEC_ERROR;
    case JINJA_STMT_FILTER:
        if (!render_filtered(ctx, frame, stmt, &value))
            return EXEC_ERROR;
        return exec_output(ctx, value, stmt->line, out);
    case JINJA_STMT_MACRO:
        macro = new_macro(ctx, frame, stmt, JINJA_CALL_MACRO);
        if (!macro)
            return EXEC_ERROR;
        jinja_frame_set(ctx, frame, stmt->name, strlen(stmt->name),
                        jinja_object_value(JINJA_CALLABLE, macro));
        return jinja_check_memory(ctx, stmt->line) ? EXEC_OK : EXEC_ERROR;
    case JINJA_STMT_CALL_BLOCK:
        return exec_call_block(ctx, frame, stmt, out);
    case JINJA_STMT_WITH:
        return exec_with(ctx, frame, stmt, out);
    case JINJA_STMT_SCOPE:
        return exec_body(ctx, frame, &stmt->body, out);
    case JINJA_STMT_BREAK:
        return EXEC_BREAK;
    case JINJA_STMT_CONTINUE:
        return EXEC_CONTINUE;
    }
    return EXEC_ERROR;
}

static exec_result exec_body(jinja_context *ctx, jinja_frame *frame, const jinja_body *body,
                             jinja_buffer *out)
{
    int i;

    for (i = 0; i < body->count; i++) {
        exec_result result = exec_stmt(ctx, frame, body->items[i], out);

        if (result != EXEC_OK)
            return result;
    }
    return EXEC_OK;
}

bool jinja_exec_body(jinja_context *ctx, jinja_frame *frame, const jinja_body *body,
                     jinja_buffer *out)
{
    return exec_body(ctx, frame, body, out) == EXEC_OK;
}
