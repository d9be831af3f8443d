/* Python str operations on UTF-8 strings, shared by filters and methods: strip, replace, case
 * mapping, split, splitlines, substring ranges. Indexes and counts are in code points, as in
 * Python. */
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

/* ---- Searching and splitting ------------------------------------------------------------------ */

/* A Python index into n items: negative counts from the end, then clamped to [0, n]. */
static int64_t clamp_index(int64_t index, int64_t n)
{
    if (index < 0)
        index = index + n < 0 ? 0 : index + n;
    return index > n ? n : index;
}

void jinja_string_range(const jinja_string *s, const jinja_value *start, const jinja_value *end,
                        size_t *from, size_t *to, int64_t *char_from)
{
    int64_t n = (int64_t)s->chars, a = 0, b = n;
    size_t offset = 0;
    int64_t i;

    if (start && start->type != JINJA_NONE) {
        a = jinja_integer(*start);
        a = clamp_index(a, n);
    }
    if (end && end->type != JINJA_NONE) {
        b = jinja_integer(*end);
        b = clamp_index(b, n);
    }
    if (b < a)
        b = a;
    *char_from = a;
    for (i = 0; i < b; i++) {
        uint32_t c;

        if (i == a)
            *from = offset;
        offset += jinja_utf8_decode(s->bytes + offset, s->length - offset, &c);
    }
    if (a == b)
        *from = offset;
    *to = offset;
}

const char *jinja_find_last(const char *haystack, size_t n, const char *needle, size_t m)
{
    size_t i;

    if (m > n)
        return NULL;
    for (i = n - m + 1; i-- > 0;) {
        if (memcmp(haystack + i, needle, m) == 0)
            return haystack + i;
    }
    return NULL;
}

static void push_piece(jinja_context *ctx, jinja_value list, const char *bytes, size_t length)
{
    jinja_list_push(&ctx->heap, list, jinja_string_new(&ctx->heap, bytes, length));
}

static bool space_at(const jinja_string *s, size_t position, size_t end, size_t *next)
{
    uint32_t c;

    *next = position + jinja_utf8_decode(s->bytes + position, end - position, &c);
    return jinja_is_space(c);
}

static bool space_before(const jinja_string *s, size_t begin, size_t position, size_t *previous)
{
    uint32_t c;

    *previous = begin + jinja_utf8_previous(s->bytes + begin, position - begin);
    jinja_utf8_decode(s->bytes + *previous, position - *previous, &c);
    return jinja_is_space(c);
}

/* split()/rsplit() without a separator: runs of whitespace separate, empty pieces are dropped,
 * and after max_split splits the rest (stripped on the splitting side only) is the last piece. */
static void split_whitespace(jinja_context *ctx, const jinja_string *s, int64_t max_split,
                             jinja_value list)
{
    size_t begin = 0, end = s->length, next, word;

    for (;;) {
        while (begin < end && space_at(s, begin, end, &next))
            begin = next;
        if (begin == end)
            return;
        if (max_split-- == 0) {
            push_piece(ctx, list, s->bytes + begin, end - begin);
            return;
        }
        word = begin;
        while (begin < end && !space_at(s, begin, end, &next))
            begin = next;
        push_piece(ctx, list, s->bytes + word, begin - word);
    }
}

static void rsplit_whitespace(jinja_context *ctx, const jinja_string *s, int64_t max_split,
                              jinja_value list)
{
    size_t begin = 0, end = s->length, previous, word;

    for (;;) {
        while (end > begin && space_before(s, begin, end, &previous))
            end = previous;
        if (begin == end)
            return;
        if (max_split-- == 0) {
            push_piece(ctx, list, s->bytes + begin, end - begin);
            return;
        }
        word = end;
        while (end > begin && !space_before(s, begin, end, &previous))
            end = previous;
        push_piece(ctx, list, s->bytes + end, word - end);
    }
}

static void split_separator(jinja_context *ctx, const jinja_string *s, const jinja_string *sep,
                            int64_t max_split, bool from_right, jinja_value list)
{
    size_t begin = 0, end = s->length;
    const char *found;

    for (; max_split != 0; max_split--) {
        if (!from_right) {
            found = memmem(s->bytes + begin, end - begin, sep->bytes, sep->length);
            if (!found)
                break;
            push_piece(ctx, list, s->bytes + begin, (size_t)(found - s->bytes) - begin);
            begin = (size_t)(found - s->bytes) + sep->length;
        } else {
            found = jinja_find_last(s->bytes + begin, end - begin, sep->bytes, sep->length);
            if (!found)
                break;
            push_piece(ctx, list, found + sep->length, end - (size_t)(found - s->bytes) - sep->length);
            end = (size_t)(found - s->bytes);
        }
    }
    push_piece(ctx, list, s->bytes + begin, end - begin);
}

void jinja_string_split(jinja_context *ctx, const jinja_string *s, const jinja_string *separator,
                        int64_t max_split, bool from_right, jinja_value list)
{
    jinja_list *pieces = jinja_as_list(list);
    size_t i;

    if (!separator && !from_right)
        split_whitespace(ctx, s, max_split, list);
    else if (!separator)
        rsplit_whitespace(ctx, s, max_split, list);
    else
        split_separator(ctx, s, separator, max_split, from_right, list);
    if (!from_right)
        return;
    /* rsplit collects pieces from the right end; Python returns them left to right. */
    for (i = 0; i < pieces->count / 2; i++) {
        jinja_value t = pieces->items[i];

        pieces->items[i] = pieces->items[pieces->count - 1 - i];
        pieces->items[pieces->count - 1 - i] = t;
    }
}

/* Line boundaries of Python's str.splitlines(). */
static bool is_line_break(uint32_t c)
{
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
           c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
}

void jinja_string_splitlines(jinja_context *ctx, const jinja_string *s, bool keep_ends,
                             jinja_value list)
{
    size_t i = 0, start = 0;

    while (i < s->length) {
        uint32_t c;
        size_t end = i;

        i += jinja_utf8_decode(s->bytes + i, s->length - i, &c);
        if (!is_line_break(c))
            continue;
        if (c == '\r' && i < s->length && s->bytes[i] == '\n')
            i++;
        push_piece(ctx, list, s->bytes + start, (keep_ends ? i : end) - start);
        start = i;
    }
    if (start < s->length)
        push_piece(ctx, list, s->bytes + start, s->length - start);
}
