/* Methods of Python's str, dict and list that templates call (message.content.split('x'),
 * tool.get('name')), loop.cycle, and the global functions range, namespace, dict,
 * raise_exception and strftime_now (the last two are Hugging Face additions). */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

typedef bool (*method_fn)(jinja_context *ctx, jinja_value self, jinja_call *call,
                          jinja_value *out);

static bool require_string(jinja_context *ctx, const jinja_call *call, const char *what,
                           jinja_value value)
{
    if (value.type == JINJA_STRING)
        return true;
    return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "%s: expected a string, not %s",
                      what, jinja_type_name(value));
}

/* ---- Searching ------------------------------------------------------------------------------- */

static bool affix_matches(const jinja_string *s, size_t from, size_t to, jinja_value affix,
                          bool suffix)
{
    const jinja_string *a = jinja_as_string(affix);

    if (a->length > to - from)
        return false;
    return memcmp(s->bytes + (suffix ? to - a->length : from), a->bytes, a->length) == 0;
}

/* startswith / endswith: the argument may be a tuple of candidates. */
static bool method_affix(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out,
                         bool suffix)
{
    static const char *const params[] = { "prefix", "start", "end" };
    jinja_value args[3];
    bool present[3];
    const jinja_string *s = jinja_as_string(self);
    size_t from, to, i;
    int64_t char_from;
    bool match = false;

    if (!jinja_bind(ctx, call, suffix ? "endswith" : "startswith", params, 3, args, present))
        return false;
    if (!present[0])
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "%s needs an argument",
                          suffix ? "endswith" : "startswith");
    jinja_string_range(s, present[1] ? &args[1] : NULL, present[2] ? &args[2] : NULL, &from, &to,
                    &char_from);
    if (args[0].type == JINJA_LIST && jinja_as_list(args[0])->is_tuple) {
        for (i = 0; i < jinja_as_list(args[0])->count && !match; i++) {
            jinja_value item = jinja_as_list(args[0])->items[i];

            if (!require_string(ctx, call, suffix ? "endswith" : "startswith", item))
                return false;
            match = affix_matches(s, from, to, item, suffix);
        }
    } else {
        if (!require_string(ctx, call, suffix ? "endswith" : "startswith", args[0]))
            return false;
        match = affix_matches(s, from, to, args[0], suffix);
    }
    *out = jinja_bool(match);
    return true;
}

static bool method_startswith(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_affix(ctx, self, call, out, false);
}

static bool method_endswith(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_affix(ctx, self, call, out, true);
}

/* find, rfind, index, rindex and count share argument handling. */
enum { SEARCH_FIND, SEARCH_RFIND, SEARCH_INDEX, SEARCH_RINDEX, SEARCH_COUNT };

static bool search(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out, int mode)
{
    static const char *const params[] = { "sub", "start", "end" };
    static const char *const names[] = { "find", "rfind", "index", "rindex", "count" };
    const jinja_string *s = jinja_as_string(self), *sub;
    jinja_value args[3];
    bool present[3];
    size_t from, to;
    int64_t char_from, count = 0;
    const char *found;

    if (!jinja_bind(ctx, call, names[mode], params, 3, args, present))
        return false;
    if (!present[0] || !require_string(ctx, call, names[mode], args[0]))
        return present[0] ? false : jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                                               "%s needs an argument", names[mode]);
    sub = jinja_as_string(args[0]);
    jinja_string_range(s, present[1] ? &args[1] : NULL, present[2] ? &args[2] : NULL, &from, &to,
                    &char_from);
    if (mode == SEARCH_COUNT) {
        if (sub->length == 0) {
            *out = jinja_int((int64_t)jinja_utf8_count(s->bytes + from, to - from) + 1);
            return true;
        }
        while ((found = memmem(s->bytes + from, to - from, sub->bytes, sub->length)) != NULL) {
            count++;
            from = (size_t)(found - s->bytes) + sub->length;
        }
        *out = jinja_int(count);
        return true;
    }
    if (mode == SEARCH_FIND || mode == SEARCH_INDEX)
        found = sub->length ? memmem(s->bytes + from, to - from, sub->bytes, sub->length) : s->bytes + from;
    else
        found = jinja_find_last(s->bytes + from, to - from, sub->bytes, sub->length);
    if (!found && (mode == SEARCH_INDEX || mode == SEARCH_RINDEX))
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "substring not found");
    *out = jinja_int(found ? char_from + (int64_t)jinja_utf8_count(s->bytes + from,
                                                                    (size_t)(found - s->bytes) - from)
                           : -1);
    return true;
}

static bool method_find(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return search(ctx, self, call, out, SEARCH_FIND);
}

static bool method_rfind(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return search(ctx, self, call, out, SEARCH_RFIND);
}

static bool method_index(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return search(ctx, self, call, out, SEARCH_INDEX);
}

static bool method_rindex(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return search(ctx, self, call, out, SEARCH_RINDEX);
}

static bool method_count(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return search(ctx, self, call, out, SEARCH_COUNT);
}

/* ---- Splitting ------------------------------------------------------------------------------- */

static void push_piece(jinja_context *ctx, jinja_value list, const char *bytes, size_t length)
{
    jinja_list_push(&ctx->heap, list, jinja_string_new(&ctx->heap, bytes, length));
}

static bool method_split_either(jinja_context *ctx, jinja_value self, jinja_call *call,
                                jinja_value *out, bool from_right)
{
    static const char *const params[] = { "sep", "maxsplit" };
    jinja_value args[2];
    bool present[2];
    int64_t max_split = -1;

    if (!jinja_bind(ctx, call, from_right ? "rsplit" : "split", params, 2, args, present))
        return false;
    if (present[1])
        max_split = jinja_integer(args[1]);
    *out = jinja_list_new(&ctx->heap, 0, false);
    if (!present[0] || args[0].type == JINJA_NONE) {
        jinja_string_split(ctx, jinja_as_string(self), NULL, max_split, from_right, *out);
    } else if (args[0].type != JINJA_STRING || jinja_as_string(args[0])->length == 0) {
        jinja_release(&ctx->heap, *out);
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "split: the separator must be a non-empty string");
    } else {
        jinja_string_split(ctx, jinja_as_string(self), jinja_as_string(args[0]), max_split,
                           from_right, *out);
    }
    return true;
}

static bool method_split(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_split_either(ctx, self, call, out, false);
}

static bool method_rsplit(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_split_either(ctx, self, call, out, true);
}

static bool method_splitlines(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "keepends" };
    jinja_value args[1];
    bool present[1];

    if (!jinja_bind(ctx, call, "splitlines", params, 1, args, present))
        return false;
    *out = jinja_list_new(&ctx->heap, 0, false);
    jinja_string_splitlines(ctx, jinja_as_string(self), present[0] && jinja_truthy(args[0]), *out);
    return true;
}

static bool method_partition_either(jinja_context *ctx, jinja_value self, jinja_call *call,
                                    jinja_value *out, bool from_right)
{
    static const char *const params[] = { "sep" };
    const jinja_string *s = jinja_as_string(self), *sep;
    jinja_value args[1];
    bool present[1];
    const char *found;

    if (!jinja_bind(ctx, call, "partition", params, 1, args, present))
        return false;
    if (!present[0] || args[0].type != JINJA_STRING || jinja_as_string(args[0])->length == 0)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "partition: the separator must be a non-empty string");
    sep = jinja_as_string(args[0]);
    found = from_right ? jinja_find_last(s->bytes, s->length, sep->bytes, sep->length)
                       : memmem(s->bytes, s->length, sep->bytes, sep->length);
    *out = jinja_list_new(&ctx->heap, 3, true);
    if (!found) {
        /* Not found: (s, "", "") for partition, ("", "", s) for rpartition. */
        push_piece(ctx, *out, s->bytes, from_right ? 0 : s->length);
        push_piece(ctx, *out, "", 0);
        push_piece(ctx, *out, s->bytes, from_right ? s->length : 0);
        return true;
    }
    push_piece(ctx, *out, s->bytes, (size_t)(found - s->bytes));
    push_piece(ctx, *out, sep->bytes, sep->length);
    push_piece(ctx, *out, found + sep->length, s->length - (size_t)(found - s->bytes) - sep->length);
    return true;
}

static bool method_partition(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_partition_either(ctx, self, call, out, false);
}

static bool method_rpartition(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_partition_either(ctx, self, call, out, true);
}

/* ---- Transforming ---------------------------------------------------------------------------- */

static bool method_strip_either(jinja_context *ctx, jinja_value self, jinja_call *call,
                                jinja_value *out, bool left, bool right)
{
    static const char *const params[] = { "chars" };
    jinja_value args[1] = { jinja_none() };
    bool present[1];

    if (!jinja_bind(ctx, call, "strip", params, 1, args, present))
        return false;
    if (present[0] && args[0].type != JINJA_NONE && !require_string(ctx, call, "strip", args[0]))
        return false;
    *out = jinja_string_strip(ctx, self, args[0], left, right);
    return true;
}

static bool method_strip(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_strip_either(ctx, self, call, out, true, true);
}

static bool method_lstrip(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_strip_either(ctx, self, call, out, true, false);
}

static bool method_rstrip(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_strip_either(ctx, self, call, out, false, true);
}

static bool method_replace(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "old", "new", "count" };
    jinja_value args[3];
    bool present[3];

    if (!jinja_bind(ctx, call, "replace", params, 3, args, present))
        return false;
    if (!present[0] || !present[1] || !require_string(ctx, call, "replace", args[0]) ||
        !require_string(ctx, call, "replace", args[1]))
        return present[0] && present[1] ? false
                                        : jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                                                     "replace needs two arguments");
    *out = jinja_string_replace(ctx, self, args[0], args[1], present[2] ? jinja_integer(args[2]) : -1);
    return true;
}

static bool no_args(jinja_context *ctx, const jinja_call *call, const char *what)
{
    if (call->n_positional == 0 && call->n_named == 0)
        return true;
    return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "%s takes no arguments", what);
}

static bool method_lower(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    if (!no_args(ctx, call, "lower"))
        return false;
    *out = jinja_string_case(ctx, self, JINJA_CASE_LOWER);
    return true;
}

static bool method_upper(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    if (!no_args(ctx, call, "upper"))
        return false;
    *out = jinja_string_case(ctx, self, JINJA_CASE_UPPER);
    return true;
}

static bool method_title(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    if (!no_args(ctx, call, "title"))
        return false;
    *out = jinja_string_case(ctx, self, JINJA_CASE_TITLE);
    return true;
}

static bool method_capitalize(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    if (!no_args(ctx, call, "capitalize"))
        return false;
    *out = jinja_string_case(ctx, self, JINJA_CASE_CAPITALIZE);
    return true;
}

static bool method_affix_remove(jinja_context *ctx, jinja_value self, jinja_call *call,
                                jinja_value *out, bool suffix)
{
    const jinja_string *s = jinja_as_string(self);

    if (call->n_positional != 1 || call->n_named ||
        !require_string(ctx, call, suffix ? "removesuffix" : "removeprefix", call->positional[0]))
        return ctx->error.status != QVK_OK ? false
                                           : jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                                                        "removeprefix/removesuffix take one argument");
    const jinja_string *a = jinja_as_string(call->positional[0]);
    if (!affix_matches(s, 0, s->length, call->positional[0], suffix)) {
        *out = jinja_retain(self);
        return true;
    }
    *out = jinja_string_new(&ctx->heap, s->bytes + (suffix ? 0 : a->length), s->length - a->length);
    return true;
}

static bool method_removeprefix(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_affix_remove(ctx, self, call, out, false);
}

static bool method_removesuffix(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_affix_remove(ctx, self, call, out, true);
}

static bool method_join(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    jinja_buffer text = { 0 };
    jinja_value items;
    size_t i;

    if (call->n_positional != 1 || call->n_named)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "join takes one argument");
    if (!jinja_iterate(ctx, call->line, call->positional[0], &items))
        return false;
    for (i = 0; i < jinja_as_list(items)->count; i++) {
        jinja_value item = jinja_as_list(items)->items[i];

        if (item.type != JINJA_STRING) {
            jinja_buffer_free(&text);
            jinja_release(&ctx->heap, items);
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                              "join: sequence item %zu: expected str instance, %s found", i,
                              jinja_type_name(item));
        }
        if (i)
            jinja_buffer_append(&text, jinja_as_string(self)->bytes, jinja_as_string(self)->length);
        jinja_buffer_append(&text, jinja_as_string(item)->bytes, jinja_as_string(item)->length);
    }
    jinja_release(&ctx->heap, items);
    *out = jinja_string_from_buffer(&ctx->heap, &text);
    return true;
}

/* isdigit, isalpha, isalnum and isspace need at least one character, all of that class.
 * islower and isupper need a cased character, and all cased characters of that case. */
enum { CLASS_DIGIT, CLASS_ALPHA, CLASS_ALNUM, CLASS_SPACE, CLASS_LOWER, CLASS_UPPER };

static bool character_class(jinja_value self, int kind)
{
    const jinja_string *s = jinja_as_string(self);
    bool any_cased = false;
    size_t i = 0;

    if (s->length == 0)
        return false;
    while (i < s->length) {
        uint32_t c;
        utf8proc_category_t category;

        i += jinja_utf8_decode(s->bytes + i, s->length - i, &c);
        category = utf8proc_category((utf8proc_int32_t)c);
        bool alpha = category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
        bool digit = category == UTF8PROC_CATEGORY_ND;
        bool numeric = category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO;

        switch (kind) {
        case CLASS_DIGIT: if (!digit) return false; break;
        case CLASS_ALPHA: if (!alpha) return false; break;
        case CLASS_ALNUM: if (!alpha && !numeric) return false; break;
        case CLASS_SPACE: if (!jinja_is_space(c)) return false; break;
        case CLASS_LOWER:
            if (category == UTF8PROC_CATEGORY_LU || category == UTF8PROC_CATEGORY_LT)
                return false;
            any_cased |= category == UTF8PROC_CATEGORY_LL;
            break;
        default:
            if (category == UTF8PROC_CATEGORY_LL || category == UTF8PROC_CATEGORY_LT)
                return false;
            any_cased |= category == UTF8PROC_CATEGORY_LU;
            break;
        }
    }
    return kind < CLASS_LOWER || any_cased;
}

#define DEFINE_CLASS_METHOD(function, kind, text)                                                 \
    static bool function(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out) \
    {                                                                                             \
        if (!no_args(ctx, call, text))                                                            \
            return false;                                                                         \
        *out = jinja_bool(character_class(self, kind));                                           \
        return true;                                                                              \
    }

DEFINE_CLASS_METHOD(method_isdigit, CLASS_DIGIT, "isdigit")
DEFINE_CLASS_METHOD(method_isalpha, CLASS_ALPHA, "isalpha")
DEFINE_CLASS_METHOD(method_isalnum, CLASS_ALNUM, "isalnum")
DEFINE_CLASS_METHOD(method_isspace, CLASS_SPACE, "isspace")
DEFINE_CLASS_METHOD(method_islower, CLASS_LOWER, "islower")
DEFINE_CLASS_METHOD(method_isupper, CLASS_UPPER, "isupper")

/* ---- dict, list and loop methods ---------------------------------------------------------------- */

static bool method_get(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "key", "default" };
    jinja_value args[2] = { jinja_none(), jinja_none() };
    bool present[2];
    const jinja_value *found;

    if (!jinja_bind(ctx, call, "get", params, 2, args, present))
        return false;
    if (!present[0])
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "get needs a key");
    found = jinja_dict_find(jinja_as_dict(self), args[0]);
    *out = jinja_retain(found ? *found : args[1]);
    return true;
}

enum { DICT_ITEMS, DICT_KEYS, DICT_VALUES };

static bool dict_view(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out,
                      int view)
{
    const jinja_dict *dict = jinja_as_dict(self);
    size_t i;

    static const char *const names[] = { "items", "keys", "values" };

    if (!no_args(ctx, call, names[view]))
        return false;
    *out = jinja_list_new(&ctx->heap, dict->count, false);
    for (i = 0; i < dict->count; i++) {
        if (view == DICT_ITEMS) {
            jinja_value pair = jinja_list_new(&ctx->heap, 2, true);

            jinja_list_push(&ctx->heap, pair, jinja_retain(dict->keys[i]));
            jinja_list_push(&ctx->heap, pair, jinja_retain(dict->values[i]));
            jinja_list_push(&ctx->heap, *out, pair);
        } else {
            jinja_list_push(&ctx->heap, *out,
                            jinja_retain(view == DICT_KEYS ? dict->keys[i] : dict->values[i]));
        }
    }
    return true;
}

static bool method_items(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return dict_view(ctx, self, call, out, DICT_ITEMS);
}

static bool method_keys(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return dict_view(ctx, self, call, out, DICT_KEYS);
}

static bool method_values(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return dict_view(ctx, self, call, out, DICT_VALUES);
}

static bool method_list_search(jinja_context *ctx, jinja_value self, jinja_call *call,
                               jinja_value *out, bool count)
{
    const jinja_list *list = jinja_as_list(self);
    int64_t n = 0;
    size_t i;

    if (call->n_positional != 1 || call->n_named)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "%s takes one argument",
                          count ? "count" : "index");
    for (i = 0; i < list->count; i++) {
        if (!jinja_equal(list->items[i], call->positional[0]))
            continue;
        if (!count) {
            *out = jinja_int((int64_t)i);
            return true;
        }
        n++;
    }
    if (!count)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "index: value is not in list");
    *out = jinja_int(n);
    return true;
}

static bool method_list_count(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_list_search(ctx, self, call, out, true);
}

static bool method_list_index(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    return method_list_search(ctx, self, call, out, false);
}

static bool method_cycle(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    const jinja_loop *loop = jinja_as_loop(self);

    if (call->n_positional == 0)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "loop.cycle: no items for cycling given");
    *out = jinja_retain(call->positional[loop->index0 % call->n_positional]);
    return true;
}

/* loop.changed(*values): true on the first call and whenever values differ from the last. */
static bool method_changed(jinja_context *ctx, jinja_value self, jinja_call *call, jinja_value *out)
{
    jinja_loop *loop = jinja_as_loop(self);
    jinja_value values = jinja_list_new(&ctx->heap, (size_t)call->n_positional, true);
    int i;

    for (i = 0; i < call->n_positional; i++)
        jinja_list_push(&ctx->heap, values, jinja_retain(call->positional[i]));
    if (loop->last_changed.type != JINJA_UNDEFINED && jinja_equal(loop->last_changed, values)) {
        jinja_release(&ctx->heap, values);
        *out = jinja_bool(false);
        return true;
    }
    jinja_release(&ctx->heap, loop->last_changed);
    loop->last_changed = values;
    *out = jinja_bool(true);
    return true;
}

/* ---- Method table ---------------------------------------------------------------------------- */

static const struct {
    jinja_type type;
    const char *name;
    method_fn function;
} methods[] = {
    { JINJA_STRING, "startswith", method_startswith },
    { JINJA_STRING, "endswith", method_endswith },
    { JINJA_STRING, "split", method_split },
    { JINJA_STRING, "rsplit", method_rsplit },
    { JINJA_STRING, "splitlines", method_splitlines },
    { JINJA_STRING, "partition", method_partition },
    { JINJA_STRING, "rpartition", method_rpartition },
    { JINJA_STRING, "strip", method_strip },
    { JINJA_STRING, "lstrip", method_lstrip },
    { JINJA_STRING, "rstrip", method_rstrip },
    { JINJA_STRING, "replace", method_replace },
    { JINJA_STRING, "lower", method_lower },
    { JINJA_STRING, "upper", method_upper },
    { JINJA_STRING, "title", method_title },
    { JINJA_STRING, "capitalize", method_capitalize },
    { JINJA_STRING, "find", method_find },
    { JINJA_STRING, "rfind", method_rfind },
    { JINJA_STRING, "index", method_index },
    { JINJA_STRING, "rindex", method_rindex },
    { JINJA_STRING, "count", method_count },
    { JINJA_STRING, "join", method_join },
    { JINJA_STRING, "removeprefix", method_removeprefix },
    { JINJA_STRING, "removesuffix", method_removesuffix },
    { JINJA_STRING, "isdigit", method_isdigit },
    { JINJA_STRING, "isalpha", method_isalpha },
    { JINJA_STRING, "isalnum", method_isalnum },
    { JINJA_STRING, "isspace", method_isspace },
    { JINJA_STRING, "islower", method_islower },
    { JINJA_STRING, "isupper", method_isupper },
    { JINJA_DICT, "get", method_get },
    { JINJA_DICT, "items", method_items },
    { JINJA_DICT, "keys", method_keys },
    { JINJA_DICT, "values", method_values },
    { JINJA_LIST, "count", method_list_count },
    { JINJA_LIST, "index", method_list_index },
    { JINJA_LOOP, "cycle", method_cycle },
    { JINJA_LOOP, "changed", method_changed },
};

/* Python methods that exist but are not implemented, and those that modify their object. */
static const char *const unsupported_str[] = {
    "casefold", "center", "encode", "expandtabs", "format", "format_map", "isascii", "isdecimal",
    "isidentifier", "isnumeric", "isprintable", "istitle", "ljust", "maketrans", "rjust",
    "swapcase", "translate", "zfill", NULL,
};
static const char *const unsupported_dict[] = { "copy", "fromkeys", NULL };
static const char *const unsafe_dict[] = { "clear", "pop", "popitem", "setdefault", "update", NULL };
static const char *const unsupported_list[] = { "copy", NULL };
static const char *const unsafe_list[] = {
    "append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort", NULL,
};

static bool listed(const char *const *names, const char *name, size_t length)
{
    for (; *names; names++) {
        if (strlen(*names) == length && memcmp(*names, name, length) == 0)
            return true;
    }
    return false;
}

int jinja_method_find(jinja_value receiver, const char *name, size_t length)
{
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (methods[i].type == receiver.type && strlen(methods[i].name) == length &&
            memcmp(methods[i].name, name, length) == 0)
            return (int)i;
    }
    switch (receiver.type) {
    case JINJA_STRING:
        return listed(unsupported_str, name, length) ? JINJA_METHOD_UNSUPPORTED : JINJA_METHOD_NONE;
    case JINJA_DICT:
        if (listed(unsafe_dict, name, length))
            return JINJA_METHOD_UNSAFE;
        return listed(unsupported_dict, name, length) ? JINJA_METHOD_UNSUPPORTED : JINJA_METHOD_NONE;
    case JINJA_LIST:
        if (listed(unsafe_list, name, length))
            return JINJA_METHOD_UNSAFE;
        return listed(unsupported_list, name, length) ? JINJA_METHOD_UNSUPPORTED : JINJA_METHOD_NONE;
    default:
        return JINJA_METHOD_NONE;
    }
}

const char *jinja_method_name(int id)
{
    return id >= 0 && id < (int)(sizeof(methods) / sizeof(methods[0])) ? methods[id].name : "?";
}

bool jinja_method_call(jinja_context *ctx, jinja_value receiver, int id, jinja_call *call,
                       jinja_value *out)
{
    if (id < 0 || id >= (int)(sizeof(methods) / sizeof(methods[0])) || methods[id].type != receiver.type)
        return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED, "unsupported method call");
    if (!methods[id].function(ctx, receiver, call, out))
        return false;
    return jinja_check_memory(ctx, call->line);
}
