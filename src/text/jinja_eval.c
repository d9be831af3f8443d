/* The Jinja expression evaluator: names, operators with Python semantics, attribute and item
 * access as Jinja2's environment resolves them, slicing, and calls. Every function that
 * produces a value returns a new reference the caller releases. */
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

static bool fail_operands(jinja_context *ctx, int line, const char *op, jinja_value a, jinja_value b)
{
    return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                      "unsupported operand types for %s: '%s' and '%s'", op, jinja_type_name(a),
                      jinja_type_name(b));
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

/* ---- Attribute and item access ----------------------------------------------------------------- */

/* Jinja2 names the object in messages as "'dict object'", or "'None'" for None. */
static const char *object_description(jinja_value object, char *out, size_t size)
{
    if (object.type == JINJA_NONE)
        snprintf(out, size, "'None'");
    else
        snprintf(out, size, "'%s object'", jinja_type_name(object));
    return out;
}

static bool bind_method(jinja_context *ctx, int line, jinja_value object, const char *name,
                        size_t length, int id, jinja_value *out)
{
    jinja_callable *method;

    if (id == JINJA_METHOD_UNSUPPORTED)
        return jinja_fail(ctx, line, QVK_ERR_UNSUPPORTED, "unsupported method \"%.*s\" of %s",
                          (int)length, name, jinja_type_name(object));
    if (id == JINJA_METHOD_UNSAFE) {
        /* As in Jinja2's sandbox, the access gives an undefined value whose use fails. */
        *out = jinja_undefined_named(&ctx->heap,
                                     "access to attribute '%.*s' of '%s' object is unsafe: "
                                     "templates cannot modify values",
                                     (int)length, name, jinja_type_name(object));
        return jinja_check_memory(ctx, line);
    }
    method = jinja_callable_new(&ctx->heap, JINJA_CALL_METHOD, jinja_method_name(id));
    if (!method)
        return jinja_check_memory(ctx, line);
    method->receiver = jinja_retain(object);
    method->id = id;
    *out = jinja_object_value(JINJA_CALLABLE, method);
    return true;
}

static bool loop_attribute(jinja_context *ctx, const jinja_loop *loop, const char *name,
                           jinja_value *out)
{
    const jinja_list *items = jinja_as_list(loop->items);
    int64_t length = (int64_t)items->count, index0 = loop->index0;

    if (!strcmp(name, "index"))
        *out = jinja_int(index0 + 1);
    else if (!strcmp(name, "index0"))
        *out = jinja_int(index0);
    else if (!strcmp(name, "revindex"))
        *out = jinja_int(length - index0);
    else if (!strcmp(name, "revindex0"))
        *out = jinja_int(length - index0 - 1);
    else if (!strcmp(name, "first"))
        *out = jinja_bool(index0 == 0);
    else if (!strcmp(name, "last"))
        *out = jinja_bool(index0 == length - 1);
    else if (!strcmp(name, "length"))
        *out = jinja_int(length);
    else if (!strcmp(name, "depth"))
        *out = jinja_int(loop->depth);
    else if (!strcmp(name, "depth0"))
        *out = jinja_int(loop->depth - 1);
    else if (!strcmp(name, "previtem"))
        *out = index0 > 0 ? jinja_retain(items->items[index0 - 1])
                          : jinja_undefined_named(&ctx->heap, "there is no previous item");
    else if (!strcmp(name, "nextitem"))
        *out = index0 + 1 < length ? jinja_retain(items->items[index0 + 1])
                                   : jinja_undefined_named(&ctx->heap, "there is no next item");
    else
        return false;
    return true;
}

bool jinja_getattr(jinja_context *ctx, int line, jinja_value object, const char *name,
                   size_t length, jinja_value *out)
{
    char description[64];
    int id;

    if (object.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, line, object);
    if (object.type == JINJA_LOOP && loop_attribute(ctx, jinja_as_loop(object), name, out))
        return jinja_check_memory(ctx, line);

    /* Python attributes come first, so a dict's "items" is its method even when the dict has
     * an "items" key; then items with the attribute's name. */
    id = jinja_method_find(object, name, length);
    if (id != JINJA_METHOD_NONE)
        return bind_method(ctx, line, object, name, length, id, out);
    if (object.type == JINJA_DICT || object.type == JINJA_NAMESPACE) {
        const jinja_value *value = jinja_dict_find_str(jinja_as_dict(object), name, length);

        if (value) {
            *out = jinja_retain(*value);
            return true;
        }
    }
    *out = jinja_undefined_named(&ctx->heap, "%s has no attribute '%.*s'",
                                 object_description(object, description, sizeof(description)),
                                 (int)length, name);
    return jinja_check_memory(ctx, line);
}

/* The byte offset of code point index in a string. */
static size_t char_offset(const jinja_string *string, int64_t index)
{
    size_t offset = 0;

    if (string->chars == string->length)
        return (size_t)index;
    while (index-- > 0 && offset < string->length) {
        uint32_t c;

        offset += jinja_utf8_decode(string->bytes + offset, string->length - offset, &c);
    }
    return offset;
}

static bool is_integer(jinja_value value)
{
    return value.type == JINJA_INT || value.type == JINJA_BOOL;
}

static int64_t integer_of(jinja_value value)
{
    return value.type == JINJA_INT ? value.as.integer : (int64_t)value.as.boolean;
}

bool jinja_getitem(jinja_context *ctx, int line, jinja_value object, jinja_value key,
                   jinja_value *out)
{
    char description[64];

    if (object.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, line, object);
    if (object.type == JINJA_DICT) {
        const jinja_value *value = jinja_dict_find(jinja_as_dict(object), key);

        if (value) {
            *out = jinja_retain(*value);
            return true;
        }
    } else if ((object.type == JINJA_LIST || object.type == JINJA_STRING) && is_integer(key)) {
        int64_t count = object.type == JINJA_LIST ? (int64_t)jinja_as_list(object)->count
                                                  : (int64_t)jinja_as_string(object)->chars;
        int64_t index = integer_of(key);

        if (index < 0)
            index += count;
        if (index >= 0 && index < count) {
            if (object.type == JINJA_LIST) {
                *out = jinja_retain(jinja_as_list(object)->items[index]);
            } else {
                const jinja_string *string = jinja_as_string(object);
                size_t start = char_offset(string, index);
                uint32_t c;
                size_t used = jinja_utf8_decode(string->bytes + start, string->length - start, &c);

                *out = jinja_string_new(&ctx->heap, string->bytes + start, used);
            }
            return jinja_check_memory(ctx, line);
        }
    }
    /* Jinja2 falls back to the attribute of that name, then to undefined. */
    if (key.type == JINJA_STRING)
        return jinja_getattr(ctx, line, object, jinja_as_string(key)->bytes,
                             jinja_as_string(key)->length, out);

    jinja_buffer text = { 0 };
    jinja_format_repr(&text, key);
    *out = jinja_undefined_named(&ctx->heap, "%s has no element %s",
                                 object_description(object, description, sizeof(description)),
                                 text.data ? text.data : "");
    jinja_buffer_free(&text);
    return jinja_check_memory(ctx, line);
}

/* Python's slice.indices(): clamp start and stop for a sequence of count items; returns the
 * number of items the slice selects. */
static int64_t slice_indices(int64_t count, const bool given[3], const int64_t in[3],
                             int64_t *start, int64_t *step)
{
    int64_t lower, upper, stop;

    *step = given[2] ? in[2] : 1;
    lower = *step < 0 ? -1 : 0;
    upper = *step < 0 ? count - 1 : count;
    *start = *step < 0 ? upper : lower;
    stop = *step < 0 ? lower : upper;
    if (given[0]) {
        *start = in[0] < 0 ? in[0] + count : in[0];
        *start = *start < lower ? lower : *start > upper ? upper : *start;
    }
    if (given[1]) {
        stop = in[1] < 0 ? in[1] + count : in[1];
        stop = stop < lower ? lower : stop > upper ? upper : stop;
    }
    if (*step > 0)
        return *start < stop ? (stop - *start - 1) / *step + 1 : 0;
    return stop < *start ? (*start - stop - 1) / (-*step) + 1 : 0;
}

static bool slice_string(jinja_context *ctx, const jinja_string *string, int64_t start,
                         int64_t step, int64_t n, jinja_value *out)
{
    jinja_buffer text = { 0 };
    size_t *offsets;
    int64_t i;

    if (step == 1) {
        size_t from = char_offset(string, start), to = char_offset(string, start + n);

        *out = jinja_string_new(&ctx->heap, string->bytes + from, to - from);
        return true;
    }
    offsets = malloc((string->chars + 1) * sizeof(*offsets));
    if (!offsets)
        return jinja_fail(ctx, 0, QVK_ERR_OUT_OF_MEMORY, "out of memory");
    for (i = 0; i <= (int64_t)string->chars; i++)
        offsets[i] = i == 0 ? 0 : offsets[i - 1] + jinja_utf8_decode(string->bytes + offsets[i - 1],
                                                                     string->length - offsets[i - 1],
                                                                     &(uint32_t){ 0 });
    for (i = 0; i < n; i++) {
        int64_t at = start + i * step;

        jinja_buffer_append(&text, string->bytes + offsets[at], offsets[at + 1] - offsets[at]);
    }
    free(offsets);
    *out = jinja_string_from_buffer(&ctx->heap, &text);
    return true;
}

static bool eval_slice(jinja_context *ctx, jinja_frame *frame, jinja_value object,
                       const jinja_expr *slice, jinja_value *out)
{
    bool given[3] = { false, false, false }, valid = true;
    int64_t in[3] = { 0, 0, 0 }, start, step, n, i;
    int k;

    for (k = 0; k < 3; k++) {
        jinja_value part;

        if (!slice->items[k])
            continue;
        if (!jinja_eval(ctx, frame, slice->items[k], &part))
            return false;
        if (is_integer(part)) {
            given[k] = true;
            in[k] = integer_of(part);
        } else if (part.type != JINJA_NONE) {
            valid = false; /* TypeError in Python, which Jinja2 turns into undefined */
        }
        jinja_release(&ctx->heap, part);
    }
    if (object.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, slice->line, object);
    if (!valid || (object.type != JINJA_LIST && object.type != JINJA_STRING)) {
        *out = jinja_undefined_named(&ctx->heap, "'%s object' cannot be sliced that way",
                                     jinja_type_name(object));
        return jinja_check_memory(ctx, slice->line);
    }
    if (given[2] && in[2] == 0)
        return jinja_fail(ctx, slice->line, QVK_ERR_INVALID_ARGUMENT, "slice step cannot be zero");
    if (given[2] && in[2] == INT64_MIN)
        in[2] = -INT64_MAX;

    if (object.type == JINJA_STRING) {
        const jinja_string *string = jinja_as_string(object);

        n = slice_indices((int64_t)string->chars, given, in, &start, &step);
        if (!slice_string(ctx, string, start, step, n, out))
            return false;
        return jinja_check_memory(ctx, slice->line);
    }
    const jinja_list *list = jinja_as_list(object);
    n = slice_indices((int64_t)list->count, given, in, &start, &step);
    *out = jinja_list_new(&ctx->heap, (size_t)n, list->is_tuple);
    for (i = 0; i < n; i++)
        jinja_list_push(&ctx->heap, *out, jinja_retain(list->items[start + i * step]));
    return jinja_check_memory(ctx, slice->line);
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
        jinja_buffer text = { 0 };

        jinja_buffer_append(&text, jinja_as_string(a)->bytes, jinja_as_string(a)->length);
        jinja_buffer_append(&text, jinja_as_string(b)->bytes, jinja_as_string(b)->length);
        if (!jinja_check_buffer(ctx, line, &text)) {
            jinja_buffer_free(&text);
            return false;
        }
        *out = jinja_string_from_buffer(&ctx->heap, &text);
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
            return integer_arithmetic(ctx, line, op, integer_of(a), integer_of(b), out);
        return float_arithmetic(ctx, line, op, jinja_number(a), jinja_number(b), out);
    }
    if (op == JINJA_TOKEN_ADD && a.type == b.type &&
        (a.type == JINJA_STRING ||
         (a.type == JINJA_LIST && jinja_as_list(a)->is_tuple == jinja_as_list(b)->is_tuple)))
        return concatenate(ctx, line, a, b, out);
    if (op == JINJA_TOKEN_MUL && (a.type == JINJA_STRING || a.type == JINJA_LIST) && is_integer(b))
        return repeat(ctx, line, a, integer_of(b), out);
    if (op == JINJA_TOKEN_MUL && (b.type == JINJA_STRING || b.type == JINJA_LIST) && is_integer(a))
        return repeat(ctx, line, b, integer_of(a), out);
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
    text = op == JINJA_TOKEN_LT ? "<" : op == JINJA_TOKEN_LTEQ ? "<=" : op == JINJA_TOKEN_GT ? ">" : ">=";
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
        /* The names point into the dict's keys, so the call holds the dict. */
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
        *out = jinja_int(integer_of(value));
    else if (integer_of(value) == INT64_MIN)
        return jinja_fail(ctx, expr->line, QVK_ERR_INVALID_ARGUMENT, "integer overflow");
    else
        *out = jinja_int(-integer_of(value));
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
        ok = eval_slice(ctx, frame, object, expr->second, out);
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

bool jinja_eval(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr, jinja_value *out)
{
    *out = jinja_undefined();
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

bool jinja_iterate(jinja_context *ctx, int line, jinja_value value, jinja_value *list)
{
    size_t i, offset;

    switch (value.type) {
    case JINJA_UNDEFINED:
        *list = jinja_list_new(&ctx->heap, 0, false);
        break;
    case JINJA_LIST:
        *list = jinja_retain(value);
        break;
    case JINJA_DICT:
        *list = jinja_list_new(&ctx->heap, jinja_as_dict(value)->count, false);
        for (i = 0; i < jinja_as_dict(value)->count; i++)
            jinja_list_push(&ctx->heap, *list, jinja_retain(jinja_as_dict(value)->keys[i]));
        break;
    case JINJA_STRING: {
        const jinja_string *string = jinja_as_string(value);

        *list = jinja_list_new(&ctx->heap, string->chars, false);
        for (offset = 0; offset < string->length;) {
            uint32_t c;
            size_t used = jinja_utf8_decode(string->bytes + offset, string->length - offset, &c);

            jinja_list_push(&ctx->heap, *list, jinja_string_new(&ctx->heap, string->bytes + offset, used));
            offset += used;
        }
        break;
    }
    default:
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT, "'%s' object is not iterable",
                          jinja_type_name(value));
    }
    return jinja_check_memory(ctx, line);
}
