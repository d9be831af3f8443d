/* Text forms of values as Python writes them: str(), repr(), the shortest round-trip float and
 * json.dumps. */
#include "text/jinja.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static void format_repr_at(jinja_buffer *out, jinja_value value, int depth);

/* ---- Floats ---------------------------------------------------------------------------------- */

void jinja_format_float(jinja_buffer *out, double value)
{
    char text[40], digits[24];
    int precision, exponent, n_digits = 0, point, i;
    const char *p;

    if (isnan(value)) {
        jinja_buffer_append_str(out, "nan");
        return;
    }
    if (isinf(value)) {
        jinja_buffer_append_str(out, value < 0 ? "-inf" : "inf");
        return;
    }

    /* Python's repr is the shortest digit string that reads back as the same double.
     * NOTE: snprintf and strtod follow LC_NUMERIC; an application that sets a locale with a
     * decimal comma would break float output (the library itself never calls setlocale). */
    for (precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*e", precision - 1, value);
        if (strtod(text, NULL) == value)
            break;
    }
    p = text;
    if (*p == '-') {
        jinja_buffer_append_char(out, '-');
        p++;
    }
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9' && n_digits < (int)sizeof(digits) - 1)
            digits[n_digits++] = *p;
    }
    exponent = *p == 'e' ? atoi(p + 1) : 0;
    while (n_digits > 1 && digits[n_digits - 1] == '0')
        n_digits--;
    digits[n_digits] = '\0';

    /* point: where the decimal point goes relative to the first digit. Python writes plain
     * decimals for -4 < point <= 16 and scientific notation otherwise. */
    point = exponent + 1;
    if (point > -4 && point <= 16) {
        if (point <= 0) {
            jinja_buffer_append_str(out, "0.");
            for (i = 0; i < -point; i++)
                jinja_buffer_append_char(out, '0');
            jinja_buffer_append(out, digits, (size_t)n_digits);
        } else if (point >= n_digits) {
            jinja_buffer_append(out, digits, (size_t)n_digits);
            for (i = n_digits; i < point; i++)
                jinja_buffer_append_char(out, '0');
            jinja_buffer_append_str(out, ".0");
        } else {
            jinja_buffer_append(out, digits, (size_t)point);
            jinja_buffer_append_char(out, '.');
            jinja_buffer_append(out, digits + point, (size_t)(n_digits - point));
        }
        return;
    }
    jinja_buffer_append_char(out, digits[0]);
    if (n_digits > 1) {
        jinja_buffer_append_char(out, '.');
        jinja_buffer_append(out, digits + 1, (size_t)(n_digits - 1));
    }
    jinja_buffer_printf(out, "e%c%02d", exponent < 0 ? '-' : '+', abs(exponent));
}

/* ---- repr and str ------------------------------------------------------------------------------ */

/* Python's str.isprintable() for one code point: everything but the categories Cc, Cf, Cs,
 * Co, Cn, Zl, Zp and Zs, except that the space itself is printable. */
static bool is_printable(uint32_t codepoint)
{
    if (codepoint == ' ')
        return true;
    switch (utf8proc_category((utf8proc_int32_t)codepoint)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

static void format_string_repr(jinja_buffer *out, const jinja_string *string)
{
    char quote = '\'';
    size_t i = 0;

    /* Python quotes with ' unless the text contains ' and no ". */
    if (memchr(string->bytes, '\'', string->length) && !memchr(string->bytes, '"', string->length))
        quote = '"';
    jinja_buffer_append_char(out, quote);
    while (i < string->length) {
        uint32_t c;
        size_t used = jinja_utf8_decode(string->bytes + i, string->length - i, &c);

        if (c == (uint32_t)quote || c == '\\') {
            jinja_buffer_append_char(out, '\\');
            jinja_buffer_append_char(out, (char)c);
        } else if (c == '\t') {
            jinja_buffer_append_str(out, "\\t");
        } else if (c == '\n') {
            jinja_buffer_append_str(out, "\\n");
        } else if (c == '\r') {
            jinja_buffer_append_str(out, "\\r");
        } else if (c < 0x20 || c == 0x7F) {
            jinja_buffer_printf(out, "\\x%02x", c);
        } else if (c < 0x7F || is_printable(c)) {
            jinja_buffer_append(out, string->bytes + i, used);
        } else if (c <= 0xFF) {
            jinja_buffer_printf(out, "\\x%02x", c);
        } else if (c <= 0xFFFF) {
            jinja_buffer_printf(out, "\\u%04x", c);
        } else {
            jinja_buffer_printf(out, "\\U%08x", c);
        }
        i += used;
    }
    jinja_buffer_append_char(out, quote);
}

static void format_dict_repr(jinja_buffer *out, const jinja_dict *dict, int depth)
{
    size_t i;

    jinja_buffer_append_char(out, '{');
    for (i = 0; i < dict->count; i++) {
        if (i)
            jinja_buffer_append_str(out, ", ");
        format_repr_at(out, dict->keys[i], depth + 1);
        jinja_buffer_append_str(out, ": ");
        format_repr_at(out, dict->values[i], depth + 1);
    }
    jinja_buffer_append_char(out, '}');
}

static void format_callable(jinja_buffer *out, const jinja_callable *callable)
{
    switch (callable->kind) {
    case JINJA_CALL_MACRO:
    case JINJA_CALL_CALLER:
        jinja_buffer_printf(out, "<Macro '%s'>", callable->name);
        break;
    case JINJA_CALL_METHOD:
        jinja_buffer_printf(out, "<built-in method %s of %s object>", callable->name,
                            jinja_type_name(callable->receiver));
        break;
    case JINJA_CALL_FUNCTION:
        jinja_buffer_printf(out, "<function %s>", callable->name);
        break;
    }
}

static void format_repr_at(jinja_buffer *out, jinja_value value, int depth)
{
    size_t i;

    if (depth > JINJA_MAX_VALUE_DEPTH) {
        jinja_buffer_append_str(out, "...");
        return;
    }
    switch (value.type) {
    case JINJA_UNDEFINED:
        jinja_buffer_append_str(out, "Undefined");
        break;
    case JINJA_STRING:
        format_string_repr(out, jinja_as_string(value));
        break;
    case JINJA_LIST: {
        const jinja_list *list = jinja_as_list(value);

        jinja_buffer_append_char(out, list->is_tuple ? '(' : '[');
        for (i = 0; i < list->count; i++) {
            if (i)
                jinja_buffer_append_str(out, ", ");
            format_repr_at(out, list->items[i], depth + 1);
        }
        if (list->is_tuple && list->count == 1)
            jinja_buffer_append_char(out, ',');
        jinja_buffer_append_char(out, list->is_tuple ? ')' : ']');
        break;
    }
    case JINJA_DICT:
        format_dict_repr(out, jinja_as_dict(value), depth);
        break;
    case JINJA_NAMESPACE:
        jinja_buffer_append_str(out, "<Namespace ");
        format_dict_repr(out, jinja_as_dict(value), depth);
        jinja_buffer_append_char(out, '>');
        break;
    default:
        jinja_format_str(out, value);
        break;
    }
}

void jinja_format_repr(jinja_buffer *out, jinja_value value)
{
    format_repr_at(out, value, 0);
}

void jinja_format_str(jinja_buffer *out, jinja_value value)
{
    switch (value.type) {
    case JINJA_UNDEFINED:
        break;
    case JINJA_NONE:
        jinja_buffer_append_str(out, "None");
        break;
    case JINJA_BOOL:
        jinja_buffer_append_str(out, value.as.boolean ? "True" : "False");
        break;
    case JINJA_INT:
        jinja_buffer_printf(out, "%lld", (long long)value.as.integer);
        break;
    case JINJA_FLOAT:
        jinja_format_float(out, value.as.number);
        break;
    case JINJA_STRING:
        jinja_buffer_append(out, jinja_as_string(value)->bytes, jinja_as_string(value)->length);
        break;
    case JINJA_CALLABLE:
        format_callable(out, jinja_as_callable(value));
        break;
    case JINJA_LOOP: {
        const jinja_loop *loop = jinja_as_loop(value);

        jinja_buffer_printf(out, "<LoopContext %lld/%zu>", (long long)loop->index0 + 1,
                            jinja_as_list(loop->items)->count);
        break;
    }
    default:
        jinja_format_repr(out, value);
        break;
    }
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void json_string(jinja_buffer *out, const char *bytes, size_t length, bool ensure_ascii)
{
    size_t i = 0;

    jinja_buffer_append_char(out, '"');
    while (i < length) {
        uint32_t c;
        size_t used = jinja_utf8_decode(bytes + i, length - i, &c);

        switch (c) {
        case '"': jinja_buffer_append_str(out, "\\\""); break;
        case '\\': jinja_buffer_append_str(out, "\\\\"); break;
        case '\n': jinja_buffer_append_str(out, "\\n"); break;
        case '\r': jinja_buffer_append_str(out, "\\r"); break;
        case '\t': jinja_buffer_append_str(out, "\\t"); break;
        case '\b': jinja_buffer_append_str(out, "\\b"); break;
        case '\f': jinja_buffer_append_str(out, "\\f"); break;
        default:
            /* ensure_ascii escapes everything outside ' '..'~', DEL included; beyond the BMP
             * as a UTF-16 surrogate pair. */
            if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
                jinja_buffer_printf(out, "\\u%04x", c);
            } else if (!ensure_ascii || c < 0x7F) {
                jinja_buffer_append(out, bytes + i, used);
            } else if (c <= 0xFFFF) {
                jinja_buffer_printf(out, "\\u%04x", c);
            } else {
                uint32_t v = c - 0x10000;

                jinja_buffer_printf(out, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            }
            break;
        }
        i += used;
    }
    jinja_buffer_append_char(out, '"');
}

static void json_float(jinja_buffer *out, double value)
{
    if (isnan(value))
        jinja_buffer_append_str(out, "NaN");
    else if (isinf(value))
        jinja_buffer_append_str(out, value < 0 ? "-Infinity" : "Infinity");
    else
        jinja_format_float(out, value);
}

typedef struct json_writer {
    jinja_buffer *out;
    const jinja_json_options *options;
    jinja_error *error;
    int line;
} json_writer;

static bool json_value(json_writer *w, jinja_value value, int depth);

static void json_newline(json_writer *w, int depth)
{
    int i;

    if (!w->options->indent)
        return;
    jinja_buffer_append_char(w->out, '\n');
    for (i = 0; i < depth; i++)
        jinja_buffer_append_str(w->out, w->options->indent);
}

/* json.dumps turns int, float, bool and None keys into strings and rejects other types. */
static bool json_key(json_writer *w, jinja_value key)
{
    jinja_buffer text = { 0 };

    switch (key.type) {
    case JINJA_STRING:
        json_string(w->out, jinja_as_string(key)->bytes, jinja_as_string(key)->length,
                    w->options->ensure_ascii);
        return true;
    case JINJA_INT:
    case JINJA_FLOAT:
        if (key.type == JINJA_INT)
            jinja_buffer_printf(&text, "%lld", (long long)key.as.integer);
        else
            json_float(&text, key.as.number);
        break;
    case JINJA_BOOL:
        jinja_buffer_append_str(&text, key.as.boolean ? "true" : "false");
        break;
    case JINJA_NONE:
        jinja_buffer_append_str(&text, "null");
        break;
    default:
        return jinja_error_set(w->error, QVK_ERR_INVALID_ARGUMENT, w->line,
                               "tojson: keys must be str, int, float, bool or None, not %s",
                               jinja_type_name(key));
    }
    json_string(w->out, text.data ? text.data : "", text.length, false);
    jinja_buffer_free(&text);
    return true;
}

static int compare_keys(const void *a, const void *b)
{
    const jinja_value *x = *(const jinja_value *const *)a, *y = *(const jinja_value *const *)b;
    int order = 0;

    jinja_compare(*x, *y, &order);
    return order == 2 ? 0 : order;
}

static bool json_dict(json_writer *w, const jinja_dict *dict, int depth)
{
    const jinja_value **keys;
    size_t i;
    bool ok = true;

    if (dict->count == 0) {
        jinja_buffer_append_str(w->out, "{}");
        return true;
    }
    keys = malloc(dict->count * sizeof(*keys));
    if (!keys)
        return jinja_error_set(w->error, QVK_ERR_OUT_OF_MEMORY, w->line, "out of memory");
    for (i = 0; i < dict->count; i++)
        keys[i] = &dict->keys[i];
    if (w->options->sort_keys)
        qsort(keys, dict->count, sizeof(*keys), compare_keys);

    jinja_buffer_append_char(w->out, '{');
    for (i = 0; i < dict->count && ok; i++) {
        if (i)
            jinja_buffer_append_str(w->out, w->options->item_separator);
        json_newline(w, depth + 1);
        ok = json_key(w, *keys[i]);
        jinja_buffer_append_str(w->out, w->options->key_separator);
        ok = ok && json_value(w, dict->values[keys[i] - dict->keys], depth + 1);
    }
    json_newline(w, depth);
    jinja_buffer_append_char(w->out, '}');
    free(keys);
    return ok;
}

static bool json_value(json_writer *w, jinja_value value, int depth)
{
    size_t i;

    if (depth > JINJA_MAX_VALUE_DEPTH)
        return jinja_error_set(w->error, QVK_ERR_INVALID_ARGUMENT, w->line,
                               "tojson: values nested deeper than %d levels",
                               JINJA_MAX_VALUE_DEPTH);
    switch (value.type) {
    case JINJA_NONE:
        jinja_buffer_append_str(w->out, "null");
        return true;
    case JINJA_BOOL:
        jinja_buffer_append_str(w->out, value.as.boolean ? "true" : "false");
        return true;
    case JINJA_INT:
        jinja_buffer_printf(w->out, "%lld", (long long)value.as.integer);
        return true;
    case JINJA_FLOAT:
        json_float(w->out, value.as.number);
        return true;
    case JINJA_STRING:
        json_string(w->out, jinja_as_string(value)->bytes, jinja_as_string(value)->length,
                    w->options->ensure_ascii);
        return true;
    case JINJA_LIST: {
        const jinja_list *list = jinja_as_list(value);

        if (list->count == 0) {
            jinja_buffer_append_str(w->out, "[]");
            return true;
        }
        jinja_buffer_append_char(w->out, '[');
        for (i = 0; i < list->count; i++) {
            if (i)
                jinja_buffer_append_str(w->out, w->options->item_separator);
            json_newline(w, depth + 1);
            if (!json_value(w, list->items[i], depth + 1))
                return false;
        }
        json_newline(w, depth);
        jinja_buffer_append_char(w->out, ']');
        return true;
    }
    case JINJA_DICT:
        return json_dict(w, jinja_as_dict(value), depth);
    default:
        return jinja_error_set(w->error, QVK_ERR_INVALID_ARGUMENT, w->line,
                               "tojson: object of type %s is not JSON serializable",
                               jinja_type_name(value));
    }
}

bool jinja_format_json(jinja_buffer *out, jinja_value value, const jinja_json_options *options,
                       jinja_error *error, int line)
{
    json_writer writer = { out, options, error, line };

    return json_value(&writer, value, 0);
}
