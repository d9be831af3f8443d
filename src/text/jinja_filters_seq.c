/* Jinja2's filters on sequences and mappings: length, first, last, list, items, join, reverse,
 * map, select/reject(attr), sort, unique, min, max, sum, dictsort. Jinja2 returns generators
 * from several of these; here they return lists. */
#include "text/jinja.h"

#include <stdlib.h>
#include <string.h>

/* item.a.b, or item[0] for numeric parts, as Jinja2's make_attrgetter resolves attributes. */
static bool get_path(jinja_context *ctx, int line, jinja_value item, jinja_value attribute,
                     jinja_value *out)
{
    const jinja_string *path;
    jinja_value current;
    size_t start = 0;

    if (attribute.type != JINJA_STRING)
        return jinja_getitem(ctx, line, item, attribute, out);
    path = jinja_as_string(attribute);
    current = jinja_retain(item);
    for (;;) {
        const char *dot = memchr(path->bytes + start, '.', path->length - start);
        size_t end = dot ? (size_t)(dot - path->bytes) : path->length, i;
        bool numeric = end > start;
        jinja_value key, next;
        bool ok;

        for (i = start; i < end; i++)
            numeric &= path->bytes[i] >= '0' && path->bytes[i] <= '9';
        if (numeric && end - start < 18)
            key = jinja_int(strtoll(path->bytes + start, NULL, 10));
        else
            key = jinja_string_new(&ctx->heap, path->bytes + start, end - start);
        ok = jinja_getitem(ctx, line, current, key, &next);
        jinja_release(&ctx->heap, key);
        jinja_release(&ctx->heap, current);
        if (!ok)
            return false;
        current = next;
        if (!dot)
            break;
        start = end + 1;
    }
    *out = current;
    return true;
}

/* The sort key of item: its attribute if given, lowercased unless case_sensitive. */
static bool sort_key(jinja_context *ctx, int line, jinja_value item, jinja_value attribute,
                     bool case_sensitive, jinja_value *key)
{
    jinja_value value;

    if (attribute.type == JINJA_NONE || attribute.type == JINJA_UNDEFINED)
        value = jinja_retain(item);
    else if (!get_path(ctx, line, item, attribute, &value))
        return false;
    if (!case_sensitive && value.type == JINJA_STRING) {
        *key = jinja_string_case(ctx, value, JINJA_CASE_LOWER);
        jinja_release(&ctx->heap, value);
    } else {
        *key = value;
    }
    return true;
}

static bool no_params(jinja_context *ctx, jinja_call *call, const char *name)
{
    return jinja_bind(ctx, call, name, NULL, 0, NULL, NULL);
}

/* ---- Simple ones ----------------------------------------------------------------------------- */

bool jinja_filter_length(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    if (!no_params(ctx, call, "length"))
        return false;
    switch (input.type) {
    case JINJA_UNDEFINED: *out = jinja_int(0); return true;
    case JINJA_STRING: *out = jinja_int((int64_t)jinja_as_string(input)->chars); return true;
    case JINJA_LIST: *out = jinja_int((int64_t)jinja_as_list(input)->count); return true;
    case JINJA_DICT: *out = jinja_int((int64_t)jinja_as_dict(input)->count); return true;
    default:
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "object of type '%s' has no len()", jinja_type_name(input));
    }
}

static bool first_or_last(jinja_context *ctx, jinja_value input, jinja_call *call,
                          jinja_value *out, bool last)
{
    jinja_value items;
    const jinja_list *list;

    if (!no_params(ctx, call, last ? "last" : "first") ||
        !jinja_iterate(ctx, call->line, input, &items))
        return false;
    list = jinja_as_list(items);
    if (list->count == 0)
        *out = jinja_undefined_named(&ctx->heap, "No %s item, sequence was empty.",
                                     last ? "last" : "first");
    else
        *out = jinja_retain(list->items[last ? list->count - 1 : 0]);
    jinja_release(&ctx->heap, items);
    return true;
}

bool jinja_filter_first(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return first_or_last(ctx, input, call, out, false);
}

bool jinja_filter_last(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return first_or_last(ctx, input, call, out, true);
}

/* A new list with the items of input (its own list, so callers may reorder it). */
static bool copy_items(jinja_context *ctx, int line, jinja_value input, jinja_value *out)
{
    jinja_value items;
    size_t i;

    if (!jinja_iterate(ctx, line, input, &items))
        return false;
    *out = jinja_list_new(&ctx->heap, jinja_as_list(items)->count, false);
    for (i = 0; i < jinja_as_list(items)->count; i++)
        jinja_list_push(&ctx->heap, *out, jinja_retain(jinja_as_list(items)->items[i]));
    jinja_release(&ctx->heap, items);
    return jinja_check_memory(ctx, line);
}

bool jinja_filter_list(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return no_params(ctx, call, "list") && copy_items(ctx, call->line, input, out);
}

bool jinja_filter_items(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    const jinja_dict *dict;
    size_t i;

    if (!no_params(ctx, call, "items"))
        return false;
    if (input.type == JINJA_UNDEFINED) {
        *out = jinja_list_new(&ctx->heap, 0, false);
        return true;
    }
    if (input.type != JINJA_DICT)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "items: can only get item pairs from a mapping, not %s",
                          jinja_type_name(input));
    dict = jinja_as_dict(input);
    *out = jinja_list_new(&ctx->heap, dict->count, false);
    for (i = 0; i < dict->count; i++) {
        jinja_value pair = jinja_list_new(&ctx->heap, 2, true);

        jinja_list_push(&ctx->heap, pair, jinja_retain(dict->keys[i]));
        jinja_list_push(&ctx->heap, pair, jinja_retain(dict->values[i]));
        jinja_list_push(&ctx->heap, *out, pair);
    }
    return true;
}

bool jinja_filter_join(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "d", "attribute" };
    jinja_value args[2] = { jinja_undefined(), jinja_none() }, items;
    bool present[2];
    jinja_buffer text = { 0 };
    size_t i;

    if (!jinja_bind(ctx, call, "join", params, 2, args, present) ||
        !jinja_iterate(ctx, call->line, input, &items))
        return false;
    for (i = 0; i < jinja_as_list(items)->count; i++) {
        jinja_value item = jinja_as_list(items)->items[i], value;

        if (i)
            jinja_format_str(&text, args[0]);
        if (args[1].type != JINJA_NONE) {
            if (!get_path(ctx, call->line, item, args[1], &value)) {
                jinja_buffer_free(&text);
                jinja_release(&ctx->heap, items);
                return false;
            }
            jinja_format_str(&text, value);
            jinja_release(&ctx->heap, value);
        } else {
            jinja_format_str(&text, item);
        }
    }
    jinja_release(&ctx->heap, items);
    if (!jinja_check_buffer(ctx, call->line, &text)) {
        jinja_buffer_free(&text);
        return false;
    }
    *out = jinja_string_from_buffer(&ctx->heap, &text);
    return true;
}

bool jinja_filter_reverse(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    jinja_list *list;
    size_t i;

    if (!no_params(ctx, call, "reverse"))
        return false;
    if (input.type == JINJA_STRING) {
        const jinja_string *s = jinja_as_string(input);
        jinja_buffer text = { 0 };
        size_t end = s->length;

        while (end > 0) {
            size_t start = jinja_utf8_previous(s->bytes, end);

            jinja_buffer_append(&text, s->bytes + start, end - start);
            end = start;
        }
        *out = jinja_string_from_buffer(&ctx->heap, &text);
        return true;
    }
    if (!copy_items(ctx, call->line, input, out))
        return false;
    list = jinja_as_list(*out);
    for (i = 0; i < list->count / 2; i++) {
        jinja_value t = list->items[i];

        list->items[i] = list->items[list->count - 1 - i];
        list->items[list->count - 1 - i] = t;
    }
    return true;
}

/* ---- map, select, reject --------------------------------------------------------------------- */

/* A call with the arguments of call from position skip on, borrowing their references. */
static jinja_call sub_call(const jinja_call *call, int skip)
{
    jinja_call sub = *call;

    sub.positional = call->positional + skip;
    sub.n_positional = call->n_positional - skip;
    sub.keep_alive = jinja_undefined();
    return sub;
}

/* map(attribute='x', default=...) or map('filter', args...). */
bool jinja_filter_map(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    jinja_value items, attribute = jinja_undefined(), fallback = jinja_none();
    int filter = -1, i;
    size_t k;

    if (call->n_positional == 0) {
        for (i = 0; i < call->n_named; i++) {
            if (!strcmp(call->names[i], "attribute"))
                attribute = call->named[i];
            else if (!strcmp(call->names[i], "default"))
                fallback = call->named[i];
            else
                return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                                  "map: unexpected keyword argument '%s'", call->names[i]);
        }
        if (attribute.type == JINJA_UNDEFINED)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                              "map needs a filter name or attribute=");
    } else {
        if (call->positional[0].type != JINJA_STRING)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "map: the filter name must be a string");
        filter = jinja_filter_find(jinja_as_string(call->positional[0])->bytes,
                                   jinja_as_string(call->positional[0])->length);
        if (filter < 0)
            return jinja_fail(ctx, call->line, filter == -2 ? QVK_ERR_UNSUPPORTED : QVK_ERR_INVALID_ARGUMENT,
                              "%s filter \"%s\"", filter == -2 ? "unsupported" : "unknown",
                              jinja_as_string(call->positional[0])->bytes);
    }
    if (!jinja_iterate(ctx, call->line, input, &items))
        return false;
    *out = jinja_list_new(&ctx->heap, jinja_as_list(items)->count, false);
    for (k = 0; k < jinja_as_list(items)->count; k++) {
        jinja_value item = jinja_as_list(items)->items[k], value;
        jinja_call sub = sub_call(call, 1);
        bool ok = filter >= 0 ? jinja_apply_filter(ctx, filter, item, &sub, &value)
                              : get_path(ctx, call->line, item, attribute, &value);

        if (!ok) {
            jinja_release(&ctx->heap, items);
            jinja_release(&ctx->heap, *out);
            return false;
        }
        if (filter < 0 && value.type == JINJA_UNDEFINED && fallback.type != JINJA_NONE) {
            jinja_release(&ctx->heap, value);
            value = jinja_retain(fallback);
        }
        jinja_list_push(&ctx->heap, *out, value);
    }
    jinja_release(&ctx->heap, items);
    return true;
}

/* select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...); without a
 * test, the truthiness of the item or attribute decides. */
static bool select_items(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out,
                         bool keep_matching, bool by_attribute)
{
    int skip = by_attribute ? 1 : 0, test = -1;
    jinja_value items;
    size_t k;

    if (by_attribute && call->n_positional < 1)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "selectattr/rejectattr need an attribute name");
    if (call->n_positional > skip) {
        jinja_value name = call->positional[skip];

        if (name.type != JINJA_STRING)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "the test name must be a string");
        test = jinja_test_find(jinja_as_string(name)->bytes, jinja_as_string(name)->length);
        if (test < 0)
            return jinja_fail(ctx, call->line, test == -2 ? QVK_ERR_UNSUPPORTED : QVK_ERR_INVALID_ARGUMENT,
                              "%s test \"%s\"", test == -2 ? "unsupported" : "unknown",
                              jinja_as_string(name)->bytes);
    }
    if (!jinja_iterate(ctx, call->line, input, &items))
        return false;
    *out = jinja_list_new(&ctx->heap, 0, false);
    for (k = 0; k < jinja_as_list(items)->count; k++) {
        jinja_value item = jinja_as_list(items)->items[k], value;
        jinja_call sub = sub_call(call, skip + 1);
        bool ok, result = false;

        if (by_attribute) {
            ok = get_path(ctx, call->line, item, call->positional[0], &value);
        } else {
            value = jinja_retain(item);
            ok = true;
        }
        if (ok) {
            if (test >= 0)
                ok = jinja_apply_test(ctx, test, value, &sub, &result);
            else
                result = jinja_truthy(value);
            jinja_release(&ctx->heap, value);
        }
        if (!ok) {
            jinja_release(&ctx->heap, items);
            jinja_release(&ctx->heap, *out);
            return false;
        }
        if (result == keep_matching)
            jinja_list_push(&ctx->heap, *out, jinja_retain(item));
    }
    jinja_release(&ctx->heap, items);
    return true;
}

bool jinja_filter_select(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return select_items(ctx, input, call, out, true, false);
}

bool jinja_filter_reject(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return select_items(ctx, input, call, out, false, false);
}

bool jinja_filter_selectattr(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return select_items(ctx, input, call, out, true, true);
}

bool jinja_filter_rejectattr(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return select_items(ctx, input, call, out, false, true);
}

/* ---- Sorting and aggregates ------------------------------------------------------------------ */

typedef struct keyed {
    jinja_value key;
    jinja_value item;
} keyed;

typedef struct sorter {
    jinja_context *ctx;
    int line;
    bool failed;
} sorter;

/* Python's key comparison (a < b); incomparable keys raise TypeError. */
static int compare_keyed(sorter *s, const keyed *a, const keyed *b)
{
    int order;

    if (s->failed)
        return 0;
    if (!jinja_compare(a->key, b->key, &order)) {
        s->failed = true;
        jinja_fail(s->ctx, s->line, QVK_ERR_INVALID_ARGUMENT,
                   "'<' not supported between instances of '%s' and '%s'",
                   jinja_type_name(a->key), jinja_type_name(b->key));
        return 0;
    }
    return order == 2 ? 0 : order;
}

/* A stable merge sort (Python's sort is stable; reverse keeps equal items in order). */
static void merge_sort(sorter *s, keyed *items, keyed *scratch, size_t n, bool reverse)
{
    size_t middle = n / 2, i = 0, j = middle, k = 0;

    if (n < 2)
        return;
    merge_sort(s, items, scratch, middle, reverse);
    merge_sort(s, items + middle, scratch, n - middle, reverse);
    while (i < middle && j < n) {
        int order = compare_keyed(s, &items[j], &items[i]);

        /* Take from the right half only when it sorts strictly first. */
        if (reverse ? order > 0 : order < 0)
            scratch[k++] = items[j++];
        else
            scratch[k++] = items[i++];
    }
    while (i < middle)
        scratch[k++] = items[i++];
    while (j < n)
        scratch[k++] = items[j++];
    memcpy(items, scratch, n * sizeof(*items));
}

/* The items of input with their keys; *count of them. */
static keyed *keyed_items(jinja_context *ctx, int line, jinja_value input, jinja_value attribute,
                          bool case_sensitive, size_t *count, jinja_value *holder)
{
    keyed *items;
    size_t i;

    if (!jinja_iterate(ctx, line, input, holder))
        return NULL;
    *count = jinja_as_list(*holder)->count;
    items = calloc(*count ? *count : 1, sizeof(*items));
    if (!items) {
        jinja_fail(ctx, line, QVK_ERR_OUT_OF_MEMORY, "out of memory");
        jinja_release(&ctx->heap, *holder);
        return NULL;
    }
    for (i = 0; i < *count; i++) {
        items[i].item = jinja_as_list(*holder)->items[i];
        if (!sort_key(ctx, line, items[i].item, attribute, case_sensitive, &items[i].key)) {
            while (i-- > 0)
                jinja_release(&ctx->heap, items[i].key);
            free(items);
            jinja_release(&ctx->heap, *holder);
            return NULL;
        }
    }
    return items;
}

static void free_keyed(jinja_context *ctx, keyed *items, size_t count, jinja_value holder)
{
    size_t i;

    for (i = 0; i < count; i++)
        jinja_release(&ctx->heap, items[i].key);
    free(items);
    jinja_release(&ctx->heap, holder);
}

bool jinja_filter_sort(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "reverse", "case_sensitive", "attribute" };
    jinja_value args[3] = { jinja_bool(false), jinja_bool(false), jinja_none() }, holder;
    bool present[3];
    sorter s = { ctx, call->line, false };
    keyed *items, *scratch;
    size_t count, i;

    if (!jinja_bind(ctx, call, "sort", params, 3, args, present))
        return false;
    items = keyed_items(ctx, call->line, input, args[2], jinja_truthy(args[1]), &count, &holder);
    if (!items)
        return false;
    scratch = malloc((count ? count : 1) * sizeof(*scratch));
    if (scratch)
        merge_sort(&s, items, scratch, count, jinja_truthy(args[0]));
    free(scratch);
    if (!scratch || s.failed) {
        free_keyed(ctx, items, count, holder);
        return scratch ? false : jinja_fail(ctx, call->line, QVK_ERR_OUT_OF_MEMORY, "out of memory");
    }
    *out = jinja_list_new(&ctx->heap, count, false);
    for (i = 0; i < count; i++)
        jinja_list_push(&ctx->heap, *out, jinja_retain(items[i].item));
    free_keyed(ctx, items, count, holder);
    return true;
}

bool jinja_filter_dictsort(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "case_sensitive", "by", "reverse" };
    jinja_value args[3] = { jinja_bool(false), jinja_undefined(), jinja_bool(false) };
    jinja_value pairs, attribute;
    jinja_call sort_call = { 0 };
    bool present[3], ok;
    const char *by = "key";
    const char *names[3] = { "reverse", "case_sensitive", "attribute" };
    jinja_value named[3];

    if (!jinja_bind(ctx, call, "dictsort", params, 3, args, present))
        return false;
    if (present[1] && args[1].type == JINJA_STRING)
        by = jinja_as_string(args[1])->bytes;
    if (strcmp(by, "key") != 0 && strcmp(by, "value") != 0)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "dictsort: by must be 'key' or 'value'");
    sort_call.line = call->line;
    if (!jinja_filter_items(ctx, input, &sort_call, &pairs))
        return false;
    /* Sort the (key, value) pairs by element 0 or 1. */
    attribute = jinja_int(strcmp(by, "key") == 0 ? 0 : 1);
    named[0] = args[2];
    named[1] = args[0];
    named[2] = attribute;
    sort_call.names = names;
    sort_call.named = named;
    sort_call.n_named = 3;
    sort_call.line = call->line;
    ok = jinja_filter_sort(ctx, pairs, &sort_call, out);
    jinja_release(&ctx->heap, pairs);
    return ok;
}

bool jinja_filter_unique(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "case_sensitive", "attribute" };
    jinja_value args[2] = { jinja_bool(false), jinja_none() }, holder;
    bool present[2];
    keyed *items;
    size_t count, i, k;

    if (!jinja_bind(ctx, call, "unique", params, 2, args, present))
        return false;
    items = keyed_items(ctx, call->line, input, args[1], jinja_truthy(args[0]), &count, &holder);
    if (!items)
        return false;
    *out = jinja_list_new(&ctx->heap, 0, false);
    for (i = 0; i < count; i++) {
        for (k = 0; k < i && !jinja_equal(items[k].key, items[i].key); k++)
            ;
        if (k == i)
            jinja_list_push(&ctx->heap, *out, jinja_retain(items[i].item));
    }
    free_keyed(ctx, items, count, holder);
    return true;
}

static bool min_or_max(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out,
                       bool max)
{
    static const char *const params[] = { "case_sensitive", "attribute" };
    jinja_value args[2] = { jinja_bool(false), jinja_none() }, holder;
    bool present[2];
    sorter s = { ctx, call->line, false };
    keyed *items;
    size_t count, i, best = 0;

    if (!jinja_bind(ctx, call, max ? "max" : "min", params, 2, args, present))
        return false;
    items = keyed_items(ctx, call->line, input, args[1], jinja_truthy(args[0]), &count, &holder);
    if (!items)
        return false;
    for (i = 1; i < count && !s.failed; i++) {
        int order = compare_keyed(&s, &items[i], &items[best]);

        if (max ? order > 0 : order < 0)
            best = i;
    }
    if (!s.failed)
        *out = count ? jinja_retain(items[best].item)
                     : jinja_undefined_named(&ctx->heap, "No aggregated item, sequence was empty.");
    free_keyed(ctx, items, count, holder);
    return !s.failed;
}

bool jinja_filter_min(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return min_or_max(ctx, input, call, out, false);
}

bool jinja_filter_max(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return min_or_max(ctx, input, call, out, true);
}

bool jinja_filter_sum(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "attribute", "start" };
    jinja_value args[2] = { jinja_none(), jinja_int(0) }, items, total;
    bool present[2];
    size_t i;

    if (!jinja_bind(ctx, call, "sum", params, 2, args, present) ||
        !jinja_iterate(ctx, call->line, input, &items))
        return false;
    total = jinja_retain(args[1]);
    for (i = 0; i < jinja_as_list(items)->count; i++) {
        jinja_value item = jinja_as_list(items)->items[i], value, next;
        bool ok;

        if (args[0].type != JINJA_NONE) {
            if (!get_path(ctx, call->line, item, args[0], &value))
                goto fail;
        } else {
            value = jinja_retain(item);
        }
        ok = jinja_arithmetic(ctx, call->line, JINJA_TOKEN_ADD, total, value, &next);
        jinja_release(&ctx->heap, value);
        if (!ok)
            goto fail;
        jinja_release(&ctx->heap, total);
        total = next;
    }
    jinja_release(&ctx->heap, items);
    *out = total;
    return true;

fail:
    jinja_release(&ctx->heap, total);
    jinja_release(&ctx->heap, items);
    return false;
}
