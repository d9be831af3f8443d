/* Jinja2's filters on strings and numbers, tojson as Hugging Face defines it, and the filter
 * table. The filters on sequences are in jinja_filters_seq.c. */
#include "text/jinja.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Strings --------------------------------------------------------------------------------- */

static bool filter_string(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    if (!jinja_bind(ctx, call, "string", NULL, 0, NULL, NULL))
        return false;
    *out = jinja_to_string(ctx, input);
    return true;
}

static bool filter_case(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out,
                        int mode, const char *name)
{
    jinja_value text;

    if (!jinja_bind(ctx, call, name, NULL, 0, NULL, NULL))
        return false;
    text = jinja_to_string(ctx, input);
    *out = jinja_string_case(ctx, text, mode);
    jinja_release(&ctx->heap, text);
    return true;
}

static bool filter_lower(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return filter_case(ctx, input, call, out, JINJA_CASE_LOWER, "lower");
}

static bool filter_upper(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return filter_case(ctx, input, call, out, JINJA_CASE_UPPER, "upper");
}

static bool filter_capitalize(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    return filter_case(ctx, input, call, out, JINJA_CASE_CAPITALIZE, "capitalize");
}

/* Jinja2's title filter (not Python's str.title): a word starts at the beginning and after
 * whitespace, '-', '(', '{', '[' or '<'; its first character is uppercased, the rest
 * lowercased. */
static bool filter_title(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    jinja_value text;
    const jinja_string *s;
    jinja_buffer result = { 0 };
    bool word_start = true;
    size_t i = 0;

    if (!jinja_bind(ctx, call, "title", NULL, 0, NULL, NULL))
        return false;
    text = jinja_to_string(ctx, input);
    s = jinja_as_string(text);
    while (i < s->length) {
        uint32_t c;
        size_t used = jinja_utf8_decode(s->bytes + i, s->length - i, &c);
        bool separator = jinja_is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';

        jinja_buffer_append_codepoint(&result, jinja_case_map(c, word_start && !separator
                                                                     ? JINJA_CASE_UPPER
                                                                     : JINJA_CASE_LOWER));
        word_start = separator;
        i += used;
    }
    jinja_release(&ctx->heap, text);
    *out = jinja_string_from_buffer(&ctx->heap, &result);
    return true;
}

static bool filter_trim(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "chars" };
    jinja_value args[1] = { jinja_none() }, text;
    bool present[1];

    if (!jinja_bind(ctx, call, "trim", params, 1, args, present))
        return false;
    text = jinja_to_string(ctx, input);
    *out = jinja_string_strip(ctx, text, args[0], true, true);
    jinja_release(&ctx->heap, text);
    return true;
}

static bool filter_replace(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "old", "new", "count" };
    jinja_value args[3], text, old, replacement;
    bool present[3];
    int64_t count = -1;

    if (!jinja_bind(ctx, call, "replace", params, 3, args, present))
        return false;
    if (!present[0] || !present[1])
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "replace needs the old and new strings");
    if (present[2] && args[2].type != JINJA_NONE) {
        if (args[2].type != JINJA_INT)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "replace: count must be an integer");
        count = args[2].as.integer;
    }
    text = jinja_to_string(ctx, input);
    old = jinja_to_string(ctx, args[0]);
    replacement = jinja_to_string(ctx, args[1]);
    *out = jinja_string_replace(ctx, text, old, replacement, count);
    jinja_release(&ctx->heap, text);
    jinja_release(&ctx->heap, old);
    jinja_release(&ctx->heap, replacement);
    return true;
}

static bool filter_safe(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    /* Without autoescaping, marking a string safe only converts it to a string. */
    return filter_string(ctx, input, call, out);
}

static bool filter_escape(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    jinja_value text;
    const jinja_string *s;
    jinja_buffer result = { 0 };
    size_t i;

    if (!jinja_bind(ctx, call, "escape", NULL, 0, NULL, NULL))
        return false;
    text = jinja_to_string(ctx, input);
    s = jinja_as_string(text);
    for (i = 0; i < s->length; i++) {
        switch (s->bytes[i]) {
        case '&': jinja_buffer_append_str(&result, "&amp;"); break;
        case '<': jinja_buffer_append_str(&result, "&lt;"); break;
        case '>': jinja_buffer_append_str(&result, "&gt;"); break;
        case '"': jinja_buffer_append_str(&result, "&#34;"); break;
        case '\'': jinja_buffer_append_str(&result, "&#39;"); break;
        default: jinja_buffer_append_char(&result, s->bytes[i]); break;
        }
    }
    jinja_release(&ctx->heap, text);
    *out = jinja_string_from_buffer(&ctx->heap, &result);
    return true;
}

/* indent(width=4, first=False, blank=False): indent every line but the first (unless first),
 * and blank lines only when blank is set. */
static bool filter_indent(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "width", "first", "blank" };
    jinja_value args[3] = { jinja_int(4), jinja_bool(false), jinja_bool(false) }, text;
    bool present[3], line_start = false;
    jinja_buffer prefix = { 0 }, result = { 0 };
    const jinja_string *s;
    size_t i, start;

    if (!jinja_bind(ctx, call, "indent", params, 3, args, present))
        return false;
    if (args[0].type == JINJA_STRING)
        jinja_buffer_append(&prefix, jinja_as_string(args[0])->bytes, jinja_as_string(args[0])->length);
    else if (args[0].type == JINJA_INT)
        for (int64_t k = 0; k < args[0].as.integer && k < 4096; k++)
            jinja_buffer_append_char(&prefix, ' ');
    else
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "indent: width must be an int or a string");
    text = jinja_to_string(ctx, input);
    s = jinja_as_string(text);
    if (jinja_truthy(args[1]))
        jinja_buffer_append(&result, prefix.data ? prefix.data : "", prefix.length);
    /* NOTE: lines break at \n only; Jinja2 splits with str.splitlines(), which also breaks
     * at \r, \v, \f and a few Unicode separators. */
    for (i = 0, start = 0; i <= s->length; i++) {
        if (i < s->length && s->bytes[i] != '\n')
            continue;
        if (line_start && (i > start || jinja_truthy(args[2])))
            jinja_buffer_append(&result, prefix.data ? prefix.data : "", prefix.length);
        jinja_buffer_append(&result, s->bytes + start, i - start);
        if (i < s->length)
            jinja_buffer_append_char(&result, '\n');
        start = i + 1;
        line_start = true;
    }
    jinja_buffer_free(&prefix);
    jinja_release(&ctx->heap, text);
    *out = jinja_string_from_buffer(&ctx->heap, &result);
    return true;
}

static bool filter_default(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "default_value", "boolean" };
    jinja_value args[2] = { jinja_undefined(), jinja_bool(false) };
    bool present[2];

    if (!jinja_bind(ctx, call, "default", params, 2, args, present))
        return false;
    if (input.type == JINJA_UNDEFINED || (jinja_truthy(args[1]) && !jinja_truthy(input))) {
        *out = present[0] ? jinja_retain(args[0]) : jinja_string_new(&ctx->heap, "", 0);
        return true;
    }
    *out = jinja_retain(input);
    return true;
}

static bool filter_attr(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "name" };
    jinja_value args[1];
    bool present[1];

    if (!jinja_bind(ctx, call, "attr", params, 1, args, present))
        return false;
    if (!present[0] || args[0].type != JINJA_STRING)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "attr needs an attribute name");
    /* Unlike obj.name, the attr filter looks up attributes only, never a dict's items. */
    if (input.type == JINJA_DICT && jinja_method_find(input, jinja_as_string(args[0])->bytes,
                                                      jinja_as_string(args[0])->length) == JINJA_METHOD_NONE) {
        *out = jinja_undefined_named(&ctx->heap, "'dict object' has no attribute '%s'",
                                     jinja_as_string(args[0])->bytes);
        return true;
    }
    return jinja_getattr(ctx, call->line, input, jinja_as_string(args[0])->bytes,
                         jinja_as_string(args[0])->length, out);
}

/* ---- Numbers --------------------------------------------------------------------------------- */

/* Python's int(text, base) or float(text): surrounding whitespace and _ between digits are
 * allowed. Returns false when the text is not a number of that kind. */
static bool parse_number(const jinja_string *s, bool want_float, int base, double *number,
                         int64_t *integer)
{
    char digits[128], *end;
    size_t n = 0, i = 0, last = s->length;

    while (i < last && jinja_is_space((unsigned char)s->bytes[i]))
        i++;
    while (last > i && jinja_is_space((unsigned char)s->bytes[last - 1]))
        last--;
    if (i == last || last - i >= sizeof(digits))
        return false;
    for (; i < last; i++) {
        if (s->bytes[i] == '_' && n > 0 && i + 1 < last && digits[n - 1] != '_')
            continue;
        digits[n++] = s->bytes[i];
    }
    digits[n] = '\0';
    errno = 0;
    if (want_float) {
        *number = strtod(digits, &end);
        return *end == '\0' && strchr(digits, 'x') == NULL && strchr(digits, 'X') == NULL;
    }
    *integer = strtoll(digits, &end, base);
    return *end == '\0' && errno == 0 && (base != 16 || strchr(digits, '.') == NULL);
}

static bool filter_int(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "default", "base" };
    jinja_value args[2] = { jinja_int(0), jinja_int(10) };
    bool present[2];
    double number;
    int64_t integer;

    if (!jinja_bind(ctx, call, "int", params, 2, args, present))
        return false;
    if (input.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, call->line, input);
    if (input.type == JINJA_INT || input.type == JINJA_BOOL) {
        *out = jinja_int(input.type == JINJA_INT ? input.as.integer : input.as.boolean);
        return true;
    }
    number = input.type == JINJA_FLOAT ? input.as.number : NAN;
    if (input.type == JINJA_STRING) {
        int base = args[1].type == JINJA_INT ? (int)args[1].as.integer : 10;

        if (parse_number(jinja_as_string(input), false, base, &number, &integer)) {
            *out = jinja_int(integer);
            return true;
        }
        if (!parse_number(jinja_as_string(input), true, 10, &number, &integer))
            number = NAN;
    }
    /* Jinja2 falls back to int(float(value)), then to the default. */
    if (isnan(number)) {
        *out = jinja_retain(args[0]);
        return true;
    }
    if (isinf(number) || fabs(number) >= 9.2e18)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "int: %g is out of range", number);
    *out = jinja_int((int64_t)number);
    return true;
}

static bool filter_float(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "default" };
    jinja_value args[1] = { jinja_float(0.0) };
    bool present[1];
    double number;
    int64_t integer;

    if (!jinja_bind(ctx, call, "float", params, 1, args, present))
        return false;
    if (input.type == JINJA_UNDEFINED)
        return jinja_fail_undefined(ctx, call->line, input);
    if (jinja_is_number(input)) {
        *out = jinja_float(jinja_number(input));
        return true;
    }
    if (input.type == JINJA_STRING && parse_number(jinja_as_string(input), true, 10, &number, &integer)) {
        *out = jinja_float(number);
        return true;
    }
    *out = jinja_retain(args[0]);
    return true;
}

static bool filter_abs(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    if (!jinja_bind(ctx, call, "abs", NULL, 0, NULL, NULL))
        return false;
    if (input.type == JINJA_FLOAT) {
        *out = jinja_float(fabs(input.as.number));
        return true;
    }
    if (input.type == JINJA_INT || input.type == JINJA_BOOL) {
        int64_t value = input.type == JINJA_INT ? input.as.integer : input.as.boolean;

        if (value == INT64_MIN)
            return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "integer overflow in abs");
        *out = jinja_int(value < 0 ? -value : value);
        return true;
    }
    return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "bad operand type for abs(): '%s'",
                      jinja_type_name(input));
}

/* round(precision=0, method='common'): 'common' is Python's round(), which rounds halves to
 * even on the exact decimal value of the double (printf does the same); 'ceil' and 'floor'
 * scale by 10**precision. The result is a float. */
static bool filter_round(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "precision", "method" };
    jinja_value args[2] = { jinja_int(0), jinja_undefined() };
    bool present[2];
    const char *method = "common";
    int64_t precision;
    double value, scale;
    char text[400];

    if (!jinja_bind(ctx, call, "round", params, 2, args, present))
        return false;
    if (present[1] && args[1].type == JINJA_STRING)
        method = jinja_as_string(args[1])->bytes;
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "round: method must be common, ceil or floor");
    if (!jinja_is_number(input))
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "round: type %s doesn't define __round__ method", jinja_type_name(input));
    if (args[0].type != JINJA_INT && args[0].type != JINJA_BOOL)
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "round: precision must be an integer");
    precision = args[0].type == JINJA_INT ? args[0].as.integer : args[0].as.boolean;
    value = jinja_number(input);
    if (strcmp(method, "common") == 0 && input.type != JINJA_FLOAT) {
        *out = jinja_int(input.type == JINJA_INT ? input.as.integer : input.as.boolean);
        return true;
    }
    if (strcmp(method, "common") == 0 && precision >= 0 && precision <= 300 && isfinite(value)) {
        snprintf(text, sizeof(text), "%.*f", (int)precision, value);
        *out = jinja_float(strtod(text, NULL));
        return true;
    }
    if (precision > 300)
        precision = 300;
    if (precision < -300)
        precision = -300;
    scale = pow(10.0, (double)precision);
    if (strcmp(method, "ceil") == 0)
        value = ceil(value * scale) / scale;
    else if (strcmp(method, "floor") == 0)
        value = floor(value * scale) / scale;
    else if (isfinite(value))
        value = nearbyint(value * scale) / scale; /* negative precision: round to tens, ... */
    *out = jinja_float(value);
    return true;
}

/* ---- tojson ---------------------------------------------------------------------------------- */

/* Hugging Face replaces Jinja2's tojson with
 * json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False). */
static bool filter_tojson(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out)
{
    static const char *const params[] = { "ensure_ascii", "indent", "separators", "sort_keys" };
    jinja_value args[4] = { jinja_bool(false), jinja_none(), jinja_none(), jinja_bool(false) };
    bool present[4];
    jinja_json_options options = { NULL, ", ", ": ", false, false };
    jinja_buffer indent = { 0 }, text = { 0 };
    bool ok;

    if (!jinja_bind(ctx, call, "tojson", params, 4, args, present))
        return false;
    options.ensure_ascii = jinja_truthy(args[0]);
    options.sort_keys = jinja_truthy(args[3]);
    if (jinja_is_integer(args[1])) {
        for (int64_t i = 0; i < jinja_integer(args[1]) && i < 256; i++)
            jinja_buffer_append_char(&indent, ' ');
    } else if (args[1].type == JINJA_STRING) {
        jinja_buffer_append(&indent, jinja_as_string(args[1])->bytes, jinja_as_string(args[1])->length);
    } else if (args[1].type != JINJA_NONE) {
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "tojson: indent must be an int or a string");
    }
    if (args[1].type != JINJA_NONE) {
        jinja_buffer_append(&indent, "", 0);
        options.indent = indent.data ? indent.data : "";
        options.item_separator = ","; /* json.dumps drops the space after ',' when indenting */
    }
    if (args[2].type == JINJA_LIST && jinja_as_list(args[2])->count == 2 &&
        jinja_as_list(args[2])->items[0].type == JINJA_STRING &&
        jinja_as_list(args[2])->items[1].type == JINJA_STRING) {
        options.item_separator = jinja_as_string(jinja_as_list(args[2])->items[0])->bytes;
        options.key_separator = jinja_as_string(jinja_as_list(args[2])->items[1])->bytes;
    } else if (args[2].type != JINJA_NONE) {
        jinja_buffer_free(&indent);
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT,
                          "tojson: separators must be a pair of strings");
    }
    ok = jinja_format_json(&text, input, &options, &ctx->error, call->line);
    jinja_buffer_free(&indent);
    if (!ok || !jinja_check_buffer(ctx, call->line, &text)) {
        jinja_buffer_free(&text);
        return false;
    }
    *out = jinja_string_from_buffer(&ctx->heap, &text);
    return true;
}

/* ---- Table ----------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    jinja_filter_fn function;
} filters[] = {
    { "abs", filter_abs },
    { "attr", filter_attr },
    { "capitalize", filter_capitalize },
    { "count", jinja_filter_length },
    { "d", filter_default },
    { "default", filter_default },
    { "dictsort", jinja_filter_dictsort },
    { "e", filter_escape },
    { "escape", filter_escape },
    { "first", jinja_filter_first },
    { "float", filter_float },
    { "indent", filter_indent },
    { "int", filter_int },
    { "items", jinja_filter_items },
    { "join", jinja_filter_join },
    { "last", jinja_filter_last },
    { "length", jinja_filter_length },
    { "list", jinja_filter_list },
    { "lower", filter_lower },
    { "map", jinja_filter_map },
    { "max", jinja_filter_max },
    { "min", jinja_filter_min },
    { "reject", jinja_filter_reject },
    { "rejectattr", jinja_filter_rejectattr },
    { "replace", filter_replace },
    { "reverse", jinja_filter_reverse },
    { "round", filter_round },
    { "safe", filter_safe },
    { "select", jinja_filter_select },
    { "selectattr", jinja_filter_selectattr },
    { "sort", jinja_filter_sort },
    { "string", filter_string },
    { "sum", jinja_filter_sum },
    { "title", filter_title },
    { "tojson", filter_tojson },
    { "trim", filter_trim },
    { "unique", jinja_filter_unique },
    { "upper", filter_upper },
};

/* Jinja2 3.1 builtin filters that this interpreter does not have. */
static const char *const unsupported_filters[] = {
    "batch", "center", "filesizeformat", "forceescape", "format", "groupby", "pprint",
    "random", "slice", "striptags", "truncate", "urlencode", "urlize", "wordcount", "wordwrap",
    "xmlattr", NULL,
};

int jinja_filter_find(const char *name, size_t length)
{
    size_t i;

    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        if (strlen(filters[i].name) == length && memcmp(filters[i].name, name, length) == 0)
            return (int)i;
    }
    for (i = 0; unsupported_filters[i]; i++) {
        if (strlen(unsupported_filters[i]) == length && memcmp(unsupported_filters[i], name, length) == 0)
            return -2;
    }
    return -1;
}

bool jinja_apply_filter(jinja_context *ctx, int id, jinja_value input, jinja_call *call,
                        jinja_value *out)
{
    if (id < 0 || id >= (int)(sizeof(filters) / sizeof(filters[0])))
        return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED, "unsupported filter");
    return filters[id].function(ctx, input, call, out) && jinja_check_memory(ctx, call->line);
}
