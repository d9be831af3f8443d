/* Python str operations on UTF-8 strings, shared by filters and methods: strip, replace, case
 * mapping, split, find. Indexes and counts are in code points, as in Python. */
#include "text/jinja.h"

#include <string.h>
#include <utf8proc.h>

jinja_value jinja_to_string(jinja_context *ctx, jinja_value value)
{
    jinja_buffer text = { 0 };

    if (value.type == JINJA_STRING)
        return jinja_retain(value);
    jinja_format_str(&text, value);
    return jinja_string_from_buffer(&ctx->heap, &text);
}

/* Whether c is in the strip set: whitespace when chars is not a string. */
static bool in_strip_set(uint32_t c, jinja_value chars)
{
    const jinja_string *set;
    size_t i = 0;

    if (chars.type != JINJA_STRING)
        return jinja_is_space(c);
    set = jinja_as_string(chars);
    while (i < set->length) {
        uint32_t d;

        i += jinja_utf8_decode(set->bytes + i, set->length - i, &d);
        if (c == d)
            return true;
    }
    return false;
}

jinja_value jinja_string_strip(jinja_context *ctx, jinja_value text, jinja_value chars, bool left,
                               bool right)
{
    const jinja_string *string = jinja_as_string(text);
    size_t start = 0, end = string->length;

    while (left && start < end) {
        uint32_t c;
        size_t used = jinja_utf8_decode(string->bytes + start, end - start, &c);

        if (!in_strip_set(c, chars))
            break;
        start += used;
    }
    while (right && end > start) {
        size_t previous = start + jinja_utf8_previous(string->bytes + start, end - start);
        uint32_t c;

        jinja_utf8_decode(string->bytes + previous, end - previous, &c);
        if (!in_strip_set(c, chars))
            break;
        end = previous;
    }
    if (start == 0 && end == string->length)
        return jinja_retain(text);
    return jinja_string_new(&ctx->heap, string->bytes + start, end - start);
}

jinja_value jinja_string_replace(jinja_context *ctx, jinja_value text, jinja_value old,
                                 jinja_value replacement, int64_t count)
{
    const jinja_string *s = jinja_as_string(text), *o = jinja_as_string(old);
    const jinja_string *r = jinja_as_string(replacement);
    jinja_buffer out = { 0 };
    size_t i = 0;
    int64_t done = 0;

    if (count < 0)
        count = INT64_MAX;
    if (o->length == 0) {
        /* Python inserts the replacement before every character and at the end. */
        while (done < count) {
            jinja_buffer_append(&out, r->bytes, r->length);
            done++;
            if (i >= s->length)
                break;
            uint32_t c;
            size_t used = jinja_utf8_decode(s->bytes + i, s->length - i, &c);
            jinja_buffer_append(&out, s->bytes + i, used);
            i += used;
        }
        jinja_buffer_append(&out, s->bytes + i, s->length - i);
        return jinja_string_from_buffer(&ctx->heap, &out);
    }
    while (i < s->length && done < count) {
        const char *found = memmem(s->bytes + i, s->length - i, o->bytes, o->length);

        if (!found)
            break;
        jinja_buffer_append(&out, s->bytes + i, (size_t)(found - s->bytes) - i);
        jinja_buffer_append(&out, r->bytes, r->length);
        i = (size_t)(found - s->bytes) + o->length;
        done++;
    }
    jinja_buffer_append(&out, s->bytes + i, s->length - i);
    return jinja_string_from_buffer(&ctx->heap, &out);
}

static bool is_cased(uint32_t c)
{
    utf8proc_category_t category = utf8proc_category((utf8proc_int32_t)c);

    return category == UTF8PROC_CATEGORY_LU || category == UTF8PROC_CATEGORY_LL ||
           category == UTF8PROC_CATEGORY_LT;
}

uint32_t jinja_case_map(uint32_t c, int mode)
{
    switch (mode) {
    case JINJA_CASE_UPPER: return (uint32_t)utf8proc_toupper((utf8proc_int32_t)c);
    case JINJA_CASE_TITLE: return (uint32_t)utf8proc_totitle((utf8proc_int32_t)c);
    default: return (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    }
}

/* lower(), upper(), title() and capitalize() of Python's str. title() starts a word after
 * every character that is not cased; capitalize() title-cases the first character and
 * lowercases the rest. */
jinja_value jinja_string_case(jinja_context *ctx, jinja_value text, int mode)
{
    const jinja_string *s = jinja_as_string(text);
    jinja_buffer out = { 0 };
    bool previous_cased = false, first = true;
    size_t i = 0;

    while (i < s->length) {
        uint32_t c, mapped;
        size_t used = jinja_utf8_decode(s->bytes + i, s->length - i, &c);

        switch (mode) {
        case JINJA_CASE_TITLE:
            mapped = jinja_case_map(c, previous_cased ? JINJA_CASE_LOWER : JINJA_CASE_TITLE);
            previous_cased = is_cased(c);
            break;
        case JINJA_CASE_CAPITALIZE:
            mapped = jinja_case_map(c, first ? JINJA_CASE_TITLE : JINJA_CASE_LOWER);
            break;
        default:
            mapped = jinja_case_map(c, mode);
            break;
        }
        first = false;
        jinja_buffer_append_codepoint(&out, mapped);
        i += used;
    }
    return jinja_string_from_buffer(&ctx->heap, &out);
}
