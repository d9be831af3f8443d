/* Python's arithmetic and comparison operators on template values: int overflow is an error
 * (Python's ints are unbounded), / is true division, // and % floor, and operating on an
 * undefined value raises as Jinja2's Undefined does. */
#include "text/jinja.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail_operands(jinja_context *ctx, int line, const char *op, jinja_value a, jinja_value b)
{
    return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                      "unsupported operand types for %s: '%s' and '%s'", op, jinja_type_name(a),
                      jinja_type_name(b));
}

/* ---- Arithmetic -------------------------------------------------------------------------------- */

static bool repeat(jinja_context *ctx, int line, jinja_value sequence, int64_t times,
                   jinja_value *out)
{
    int64_t i;

    if (times < 0)
        times = 0;
    if (sequence.type == JINJA_STRING) {
        const jinja_string *string = jinja_as_string(sequence);
        jinja_buffer text = { 0 };

        if (string->length && (uint64_t)times > JINJA_MAX_STRING / string->length)
            return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                              "string repetition longer than %zu MiB", JINJA_MAX_STRING >> 20);
        for (i = 0; i < times; i++)
            jinja_buffer_append(&text, string->bytes, string->length);
        *out = jinja_string_from_buffer(&ctx->heap, &text);
        return jinja_check_memory(ctx, line);
    }
    const jinja_list *list = jinja_as_list(sequence);
    if (list->count && (uint64_t)times > (JINJA_MAX_STRING / 16) / list->count)
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "list repetition too large");
    *out = jinja_list_new(&ctx->heap, list->count * (size_t)times, list->is_tuple);
    for (i = 0; i < times; i++) {
        for (size_t k = 0; k < list->count; k++)
            jinja_list_push(&ctx->heap, *out, jinja_retain(list->items[k]));
    }
    return jinja_check_memory(ctx, line);
}

static bool integer_pow(jinja_context *ctx, int line, int64_t base, int64_t exponent,
                        jinja_value *out)
{
    int64_t result = 1;

    /* Square and multiply, stopping at the first overflow. */
    while (exponent > 0) {
        if ((exponent & 1) && __builtin_mul_overflow(result, base, &result))
            goto overflow;
        exponent >>= 1;
        if (exponent && __builtin_mul_overflow(base, base, &base))
            goto overflow;
    }
    *out = jinja_int(result);
    return true;

overflow:
    return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "integer overflow in **");
}

/* Python's // and % for floats: the quotient rounds toward minus infinity and the remainder
 * takes the divisor's sign. */
static void float_divmod(double a, double b, double *quotient, double *remainder)
{
    double mod = fmod(a, b), div;

    div = (a - mod) / b;
    if (mod != 0.0) {
        if ((b < 0) != (mod < 0)) {
            mod += b;
            div -= 1.0;
        }
    } else {
        mod = copysign(0.0, b);
    }
    if (div != 0.0) {
        double floor_div = floor(div);

        if (div - floor_div > 0.5)
            floor_div += 1.0;
        div = floor_div;
    } else {
        div = copysign(0.0, a / b);
    }
    *quotient = div;
    *remainder = mod;
}

static bool integer_arithmetic(jinja_context *ctx, int line, int op, int64_t a, int64_t b,
                               jinja_value *out)
{
    int64_t result = 0;
    bool overflow = false;

    switch (op) {
    case JINJA_TOKEN_ADD: overflow = __builtin_add_overflow(a, b, &result); break;
    case JINJA_TOKEN_SUB: overflow = __builtin_sub_overflow(a, b, &result); break;
    case JINJA_TOKEN_MUL: overflow = __builtin_mul_overflow(a, b, &result); break;
    case JINJA_TOKEN_FLOORDIV:
    case JINJA_TOKEN_MOD:
        if (b == 0)
            return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                              "integer division or modulo by zero");
        if (a == INT64_MIN && b == -1) {
            overflow = op == JINJA_TOKEN_FLOORDIV;
            break;
        }
        /* C truncates toward zero; Python floors, so adjust when the signs differ. */
        result = op == JINJA_TOKEN_FLOORDIV ? a / b : a % b;
        if (a % b != 0 && ((a < 0) != (b < 0)))
            result = op == JINJA_TOKEN_FLOORDIV ? result - 1 : result + b;
        break;
    case JINJA_TOKEN_POW:
        if (b < 0) {
            if (a == 0)
                return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                                  "0.0 cannot be raised to a negative power");
            *out = jinja_float(pow((double)a, (double)b));
            return true;
        }
        return integer_pow(ctx, line, a, b, out);
    }
    if (overflow)
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "integer overflow");
    *out = jinja_int(result);
    return true;
}

static bool float_arithmetic(jinja_context *ctx, int line, int op, double a, double b,
                             jinja_value *out)
{
    double quotient, remainder;

    switch (op) {
    case JINJA_TOKEN_ADD: *out = jinja_float(a + b); return true;
    case JINJA_TOKEN_SUB: *out = jinja_float(a - b); return true;
    case JINJA_TOKEN_MUL: *out = jinja_float(a * b); return true;
    case JINJA_TOKEN_DIV:
    case JINJA_TOKEN_FLOORDIV:
    case JINJA_TOKEN_MOD:
        if (b == 0.0)
            return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "division by zero");
        if (op == JINJA_TOKEN_DIV) {
            *out = jinja_float(a / b);
            return true;
        }
        float_divmod(a, b, &quotient, &remainder);
        *out = jinja_float(op == JINJA_TOKEN_FLOORDIV ? quotient : remainder);
        return true;
    case JINJA_TOKEN_POW:
        if (a == 0.0 && b < 0)
            return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                              "0.0 cannot be raised to a negative power");
        if (a < 0 && b != floor(b))
            return jinja_fail(ctx, line, QVK_ERR_UNSUPPORTED,
                              "unsupported: ** with a complex result");
        *out = jinja_float(pow(a, b));
        return true;
    }
    return false;
}

static const char *operator_text(int op)
{
    switch (op) {
    case JINJA_TOKEN_ADD: return "+";
    case JINJA_TOKEN_SUB: return "-";
    case JINJA_TOKEN_MUL: return "*";
    case JINJA_TOKEN_DIV: return "/";
    case JINJA_TOKEN_FLOORDIV: return "//";
    case JINJA_TOKEN_MOD: return "%";
    case JINJA_TOKEN_POW: return "**";
    default: return "?";
    }
}

static bool concatenate(jinja_context *ctx, int line, jinja_value a, jinja_value b, jinja_value *out)
{
    if (a.type == JINJA_STRING) {
        *out = jinja_string_concat(&ctx->heap, jinja_as_string(a), jinja_as_string(b));
        return jinja_check_memory(ctx, line);
    }
    const jinja_list *x = jinja_as_list(a), *y = jinja_as_list(b);
    size_t i;

    *out = jinja_list_new(&ctx->heap, x->count + y->count, x->is_tuple);
    for (i = 0; i < x->count; i++)
        jinja_list_push(&ctx->heap, *out, jinja_retain(x->items[i]));
    for (i = 0; i < y->count; i++)
        jinja_list_push(&ctx->heap, *out, jinja_retain(y->items[i]));
    return jinja_check_memory(ctx, line);
}

bool jinja_arithmetic(jinja_context *ctx, int line, int op, jinja_value a, jinja_value b,
                      jinja_value *out)
{
    if (a.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, line, a);
    if (b.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, line, b);
    if (jinja_is_number(a) && jinja_is_number(b)) {
        if (a.type != JINJA_FLOAT && b.type != JINJA_FLOAT && op != JINJA_TOKEN_DIV)
            return integer_arithmetic(ctx, line, op, jinja_integer(a), jinja_integer(b), out);
        return float_arithmetic(ctx, line, op, jinja_number(a), jinja_number(b), out);
    }
    if (op == JINJA_TOKEN_ADD && a.type == b.type &&
        (a.type == JINJA_STRING ||
         (a.type == JINJA_LIST && jinja_as_list(a)->is_tuple == jinja_as_list(b)->is_tuple)))
        return concatenate(ctx, line, a, b, out);
    if (op == JINJA_TOKEN_MUL && (a.type == JINJA_STRING || a.type == JINJA_LIST) && jinja_is_integer(b))
        return repeat(ctx, line, a, jinja_integer(b), out);
    if (op == JINJA_TOKEN_MUL && (b.type == JINJA_STRING || b.type == JINJA_LIST) && jinja_is_integer(a))
        return repeat(ctx, line, b, jinja_integer(a), out);
    if (op == JINJA_TOKEN_ADD && (a.type == JINJA_STRING || a.type == JINJA_LIST))
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                          "can only concatenate %s (not \"%s\") to %s", jinja_type_name(a),
                          jinja_type_name(b), jinja_type_name(a));
    if (op == JINJA_TOKEN_MOD && a.type == JINJA_STRING)
        return jinja_fail(ctx, line, QVK_ERR_UNSUPPORTED,
                          "unsupported: printf-style string formatting with %%");
    return fail_operands(ctx, line, operator_text(op), a, b);
}

/* ---- Comparisons ----------------------------------------------------------------------------- */

static bool contains(jinja_context *ctx, int line, jinja_value container, jinja_value item,
                     bool *result)
{
    size_t i;

    switch (container.type) {
    case JINJA_UNDEFINED:
        *result = false; /* Undefined iterates as empty */
        return true;
    case JINJA_STRING:
        if (item.type != JINJA_STRING)
            return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                              "'in <string>' requires string as left operand, not %s",
                              jinja_type_name(item));
        *result = jinja_as_string(item)->length == 0 ||
                  memmem(jinja_as_string(container)->bytes, jinja_as_string(container)->length,
                         jinja_as_string(item)->bytes, jinja_as_string(item)->length) != NULL;
        return true;
    case JINJA_LIST:
        *result = false;
        for (i = 0; i < jinja_as_list(container)->count && !*result; i++)
            *result = jinja_equal(jinja_as_list(container)->items[i], item);
        return true;
    case JINJA_DICT:
        *result = jinja_dict_find(jinja_as_dict(container), item) != NULL;
        return true;
    default:
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                          "argument of type '%s' is not iterable", jinja_type_name(container));
    }
}

bool jinja_compare_values(jinja_context *ctx, int line, int op, jinja_value a, jinja_value b,
                          bool *result)
{
    const char *text;
    int order;

    switch (op) {
    case JINJA_TOKEN_EQ: *result = jinja_equal(a, b); return true;
    case JINJA_TOKEN_NE: *result = !jinja_equal(a, b); return true;
    case JINJA_OP_IN: return contains(ctx, line, b, a, result);
    case JINJA_OP_NOT_IN:
        if (!contains(ctx, line, b, a, result))
            return false;
        *result = !*result;
        return true;
    default: break;
    }
    if (a.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, line, a);
    if (b.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, line, b);
    switch (op) {
    case JINJA_TOKEN_LT: text = "<"; break;
    case JINJA_TOKEN_LTEQ: text = "<="; break;
    case JINJA_TOKEN_GT: text = ">"; break;
    default: text = ">="; break;
    }
    if (!jinja_compare(a, b, &order))
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                          "'%s' not supported between instances of '%s' and '%s'", text,
                          jinja_type_name(a), jinja_type_name(b));
    /* order 2 means unordered (NaN): every ordering comparison is false. */
    switch (op) {
    case JINJA_TOKEN_LT: *result = order == -1; break;
    case JINJA_TOKEN_LTEQ: *result = order == -1 || order == 0; break;
    case JINJA_TOKEN_GT: *result = order == 1; break;
    default: *result = order == 1 || order == 0; break;
    }
    return true;
}
