/* Attribute and item access as Jinja2's environment resolves them, slicing with Python's
 * rules on code points, and iteration. obj.name tries the Python attribute, then the item.
 * obj[key] tries the item, then the attribute. A miss gives an undefined value. */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    } else if ((object.type == JINJA_LIST || object.type == JINJA_STRING) && jinja_is_integer(key)) {
        int64_t count = object.type == JINJA_LIST ? (int64_t)jinja_as_list(object)->count
                                                  : (int64_t)jinja_as_string(object)->chars;
        int64_t index = jinja_integer(key);

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

static int64_t clamp(int64_t value, int64_t lower, int64_t upper)
{
    if (value < lower)
        return lower;
    return value > upper ? upper : value;
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
        *start = clamp(*start, lower, upper);
    }
    if (given[1]) {
        stop = in[1] < 0 ? in[1] + count : in[1];
        stop = clamp(stop, lower, upper);
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

bool jinja_eval_slice(jinja_context *ctx, jinja_frame *frame, jinja_value object,
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
        if (jinja_is_integer(part)) {
            given[k] = true;
            in[k] = jinja_integer(part);
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

/* ---- Iteration ------------------------------------------------------------------------------- */

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
