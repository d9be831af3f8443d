/* The Jinja lexer: template text, tags and the tokens inside tags, with the whitespace rules of
 * Jinja2 3.1 under trim_blocks and lstrip_blocks:
 *   - "{%-", "{{-", "{#-" remove all whitespace before the tag; "-%}", "-}}", "-#}" all after.
 *   - trim_blocks: a block or comment end ("%}", "#}") eats the one newline right after it.
 *   - lstrip_blocks: spaces and tabs between the start of a line and "{%" or "{#" are removed
 *     ("{%+" keeps them). The start of the template and the point right after a tag that
 *     consumed a newline count as line starts.
 *   - "+%}" keeps the newline that trim_blocks would remove.
 * The source is read with \r\n and \r as \n, and one trailing newline is dropped, as Jinja2
 * does without keep_trailing_newline. */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    const char *src;
    size_t length;
    size_t position;
    int line; /* line of src[position] */
    bool line_starting;
    char balance[256]; /* closing brackets expected inside the current tag */
    int n_balance;
    jinja_arena *arena;
    jinja_token_list *tokens;
    jinja_error *error;
} lexer;

static bool lex_fail(lexer *lx, int line, const char *fmt, ...) QVK_PRINTF(3, 4);

static bool lex_fail(lexer *lx, int line, const char *fmt, ...)
{
    char message[300];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    return jinja_error_set(lx->error, QVK_ERR_FORMAT, line, "%s", message);
}

static void advance_to(lexer *lx, size_t position)
{
    for (; lx->position < position; lx->position++)
        lx->line += lx->src[lx->position] == '\n';
}

static bool push_token(lexer *lx, jinja_token_kind kind, int line, const char *text,
                       size_t length)
{
    jinja_token_list *list = lx->tokens;

    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 256;
        jinja_token *items = realloc(list->items, capacity * sizeof(*items));

        if (!items)
            return jinja_error_set(lx->error, QVK_ERR_OUT_OF_MEMORY, line, "out of memory");
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = (jinja_token){ .kind = kind, .line = line, .text = text,
                                                .length = length };
    return true;
}

/* The end of the whitespace (Python's \s) that starts at position. */
static size_t skip_space(const lexer *lx, size_t position)
{
    while (position < lx->length) {
        uint32_t c;
        size_t used = jinja_utf8_decode(lx->src + position, lx->length - position, &c);

        if (!jinja_is_space(c))
            break;
        position += used;
    }
    return position;
}

static bool starts_with(const lexer *lx, size_t position, const char *text)
{
    size_t n = strlen(text);

    return position + n <= lx->length && memcmp(lx->src + position, text, n) == 0;
}

/* ---- Template text --------------------------------------------------------------------------- */

/* Apply whitespace control to the text [start, end) before a tag whose marker is sign ('-', '+'
 * or 0); lstrip_blocks applies to blocks and comments, not to {{ }}. Returns the new end. */
static size_t strip_before_tag(const lexer *lx, size_t start, size_t end, char sign,
                               bool is_variable)
{
    size_t line_start, p;

    if (sign == '-') {
        while (end > start) {
            size_t previous = jinja_utf8_previous(lx->src + start, end - start) + start;
            uint32_t c;

            jinja_utf8_decode(lx->src + previous, end - previous, &c);
            if (!jinja_is_space(c))
                break;
            end = previous;
        }
        return end;
    }
    if (sign == '+' || is_variable)
        return end;

    line_start = start;
    for (p = start; p < end; p++) {
        if (lx->src[p] == '\n')
            line_start = p + 1;
    }
    if (line_start == start && !lx->line_starting)
        return end;
    if (line_start < end && skip_space(lx, line_start) >= end)
        return line_start;
    return end;
}

/* The position after a block end ("%}", "-%}", "+%}") at position, or 0 if none is there. */
static size_t match_block_end(const lexer *lx, size_t position)
{
    if (starts_with(lx, position, "+%}"))
        return position + 3;
    if (starts_with(lx, position, "-%}"))
        return skip_space(lx, position + 3);
    if (starts_with(lx, position, "%}")) {
        position += 2;
        if (position < lx->length && lx->src[position] == '\n')
            position++;
        return position;
    }
    return 0;
}

/* "{%[-+]? raw [-]%}" at position: returns the position after it, or 0. */
static size_t match_raw_begin(const lexer *lx, size_t position, const char *keyword)
{
    size_t p = position + 2;

    if (p < lx->length && (lx->src[p] == '-' || lx->src[p] == '+'))
        p++;
    p = skip_space(lx, p);
    if (!starts_with(lx, p, keyword))
        return 0;
    p = skip_space(lx, p + strlen(keyword));
    return p;
}

static bool lex_raw(lexer *lx, size_t after_begin)
{
    int line = lx->line;
    size_t p = after_begin, end = 0, content_end;
    char sign;

    advance_to(lx, after_begin);
    lx->line_starting = after_begin > 0 && lx->src[after_begin - 1] == '\n';
    for (;; p++) {
        const char *found = memmem(lx->src + p, lx->length - p, "{%", 2);
        size_t q;

        if (!found)
            return lex_fail(lx, line, "missing end of raw block: expected {%% endraw %%}");
        p = (size_t)(found - lx->src);
        q = match_raw_begin(lx, p, "endraw");
        if (q && (end = match_block_end(lx, q)) != 0)
            break;
    }
    sign = lx->src[p + 2] == '-' || lx->src[p + 2] == '+' ? lx->src[p + 2] : 0;
    content_end = strip_before_tag(lx, after_begin, p, sign, false);
    if (content_end > after_begin &&
        !push_token(lx, JINJA_TOKEN_DATA, lx->line, lx->src + after_begin, content_end - after_begin))
        return false;
    advance_to(lx, end);
    lx->line_starting = lx->src[end - 1] == '\n';
    return true;
}

static bool lex_comment(lexer *lx, size_t body_start)
{
    int line = lx->line;
    const char *found = memmem(lx->src + body_start, lx->length - body_start, "#}", 2);
    size_t close, end;

    if (!found)
        return lex_fail(lx, line, "missing end of comment: expected #}");
    close = (size_t)(found - lx->src);
    if (close > body_start && lx->src[close - 1] == '-') {
        end = skip_space(lx, close + 2);
    } else if (close > body_start && lx->src[close - 1] == '+') {
        end = close + 2;
    } else {
        end = close + 2;
        if (end < lx->length && lx->src[end] == '\n')
            end++;
    }
    advance_to(lx, end);
    lx->line_starting = lx->src[end - 1] == '\n';
    return true;
}

/* ---- Tokens inside tags ----------------------------------------------------------------------- */

/* (\d+_)*\d+ from position: the end, or position itself when there is no digit. */
static size_t scan_digits(const lexer *lx, size_t position)
{
    size_t p = position;

    while (p < lx->length && lx->src[p] >= '0' && lx->src[p] <= '9') {
        p++;
        if (p + 1 < lx->length && lx->src[p] == '_' && lx->src[p + 1] >= '0' && lx->src[p + 1] <= '9')
            p++;
    }
    return p;
}

static size_t scan_float(const lexer *lx, size_t position)
{
    size_t p = scan_digits(lx, position), q, exponent_end = 0;

    if (p == position || (position > 0 && lx->src[position - 1] == '.'))
        return 0;
    q = p;
    if (q + 1 < lx->length && lx->src[q] == '.' && scan_digits(lx, q + 1) > q + 1)
        q = scan_digits(lx, q + 1);
    if (q < lx->length && (lx->src[q] == 'e' || lx->src[q] == 'E')) {
        size_t e = q + 1;

        if (e < lx->length && (lx->src[e] == '+' || lx->src[e] == '-'))
            e++;
        if (scan_digits(lx, e) > e)
            exponent_end = scan_digits(lx, e);
    }
    if (exponent_end)
        return exponent_end;
    return q > p ? q : 0;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Integer literals: 0b1010, 0o17, 0x1F, 1_000, 0. Returns the end, or 0. */
static size_t scan_integer(const lexer *lx, size_t position, int *base)
{
    const char *s = lx->src;
    size_t p = position;

    if (s[p] == '0' && p + 1 < lx->length && strchr("bBoOxX", s[p + 1]) && s[p + 1]) {
        char kind = (char)(s[p + 1] | 0x20);
        size_t q = p + 2;

        *base = 16;
        if (kind == 'b')
            *base = 2;
        else if (kind == 'o')
            *base = 8;
        for (;;) {
            size_t r = q < lx->length && s[q] == '_' ? q + 1 : q;

            if (r < lx->length && digit_value(s[r]) < *base)
                q = r + 1;
            else
                break;
        }
        if (q > p + 2)
            return q;
    }
    *base = 10;
    if (s[p] == '0') {
        p++;
        while (p + 1 < lx->length && (s[p] == '0' || (s[p] == '_' && s[p + 1] == '0')))
            p += s[p] == '_' ? 2 : 1;
        if (p < lx->length && s[p] == '0')
            p++;
        return p;
    }
    if (s[p] >= '1' && s[p] <= '9')
        return scan_digits(lx, p);
    return 0;
}

static bool lex_number(lexer *lx, bool *matched)
{
    size_t start = lx->position, end = scan_float(lx, start);
    char digits[128];
    size_t n = 0, i;
    int base = 10;

    *matched = true;
    if (end) {
        for (i = start; i < end && n + 1 < sizeof(digits); i++) {
            if (lx->src[i] != '_')
                digits[n++] = lx->src[i];
        }
        digits[n] = '\0';
        if (!push_token(lx, JINJA_TOKEN_FLOAT, lx->line, lx->src + start, end - start))
            return false;
        lx->tokens->items[lx->tokens->count - 1].number = strtod(digits, NULL);
        advance_to(lx, end);
        return true;
    }
    end = scan_integer(lx, start, &base);
    if (!end) {
        *matched = false;
        return true;
    }
    uint64_t value = 0;
    for (i = start + (base == 10 ? 0 : 2); i < end; i++) {
        int d = digit_value(lx->src[i]);

        if (d >= base)
            continue;
        if (value > (UINT64_C(0x7FFFFFFFFFFFFFFF) - (uint64_t)d) / (uint64_t)base)
            return lex_fail(lx, lx->line, "integer literal %.*s is larger than 64 bits",
                            (int)(end - start), lx->src + start);
        value = value * (uint64_t)base + (uint64_t)d;
    }
    if (!push_token(lx, JINJA_TOKEN_INTEGER, lx->line, lx->src + start, end - start))
        return false;
    lx->tokens->items[lx->tokens->count - 1].integer = (int64_t)value;
    advance_to(lx, end);
    return true;
}

/* The escape after a backslash at s[0] (n bytes available), as Python's unicode-escape codec
 * reads it. Returns the bytes consumed, 0 for an invalid escape. */
static size_t unescape_one(const char *s, size_t n, jinja_buffer *out, const char **problem)
{
    static const char simple_from[] = "\\'\"abfnrtv";
    static const char simple_to[] = "\\'\"\a\b\f\n\r\t\v";
    const char *found;
    uint32_t value = 0;
    size_t digits, i;

    if (n < 2) {
        jinja_buffer_append_char(out, '\\');
        return 1;
    }
    if (s[1] == '\n')
        return 2; /* a backslash at the end of a line joins the lines */
    found = strchr(simple_from, s[1]);
    if (found && s[1]) {
        jinja_buffer_append_char(out, simple_to[found - simple_from]);
        return 2;
    }
    if (s[1] >= '0' && s[1] <= '7') {
        for (i = 1; i < 4 && i < n && s[i] >= '0' && s[i] <= '7'; i++)
            value = value * 8 + (uint32_t)(s[i] - '0');
        jinja_buffer_append_codepoint(out, value);
        return i;
    }
    switch (s[1]) {
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default: digits = 0; break;
    }
    if (s[1] == 'N') {
        *problem = "\\N{...} escapes are not supported";
        return 0;
    }
    if (!digits) {
        jinja_buffer_append(out, s, 2); /* unknown escapes stay as written */
        return 2;
    }
    for (i = 0; i < digits; i++) {
        if (2 + i >= n || digit_value(s[2 + i]) >= 16) {
            *problem = "truncated \\x, \\u or \\U escape";
            return 0;
        }
        value = value * 16 + (uint32_t)digit_value(s[2 + i]);
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        *problem = "escape is not a valid Unicode scalar value";
        return 0;
    }
    jinja_buffer_append_codepoint(out, value);
    return 2 + digits;
}

static bool lex_string(lexer *lx)
{
    char quote = lx->src[lx->position];
    size_t p = lx->position + 1, i;
    jinja_buffer value = { 0 };
    const char *problem = NULL;
    char *copy;

    while (p < lx->length && lx->src[p] != quote)
        p += lx->src[p] == '\\' ? 2 : 1;
    if (p >= lx->length)
        return lex_fail(lx, lx->line, "unterminated string literal");

    for (i = lx->position + 1; i < p;) {
        if (lx->src[i] != '\\') {
            jinja_buffer_append_char(&value, lx->src[i++]);
            continue;
        }
        size_t used = unescape_one(lx->src + i, p - i, &value, &problem);
        if (!used) {
            jinja_buffer_free(&value);
            return lex_fail(lx, lx->line, "invalid string literal: %s", problem);
        }
        i += used;
    }
    copy = jinja_arena_strdup(lx->arena, value.data ? value.data : "", value.length);
    if (!copy || value.state != JINJA_BUFFER_OK) {
        jinja_buffer_free(&value);
        return jinja_error_set(lx->error, QVK_ERR_OUT_OF_MEMORY, lx->line, "out of memory");
    }
    if (!push_token(lx, JINJA_TOKEN_STRING, lx->line, copy, value.length)) {
        jinja_buffer_free(&value);
        return false;
    }
    jinja_buffer_free(&value);
    advance_to(lx, p + 1);
    return true;
}

static const struct {
    const char *text;
    jinja_token_kind kind;
} operators[] = {
    { "//", JINJA_TOKEN_FLOORDIV }, { "**", JINJA_TOKEN_POW },  { "==", JINJA_TOKEN_EQ },
    { "!=", JINJA_TOKEN_NE },       { ">=", JINJA_TOKEN_GTEQ }, { "<=", JINJA_TOKEN_LTEQ },
    { "+", JINJA_TOKEN_ADD },       { "-", JINJA_TOKEN_SUB },   { "*", JINJA_TOKEN_MUL },
    { "/", JINJA_TOKEN_DIV },       { "%", JINJA_TOKEN_MOD },   { "~", JINJA_TOKEN_TILDE },
    { "[", JINJA_TOKEN_LBRACKET },  { "]", JINJA_TOKEN_RBRACKET }, { "(", JINJA_TOKEN_LPAREN },
    { ")", JINJA_TOKEN_RPAREN },    { "{", JINJA_TOKEN_LBRACE }, { "}", JINJA_TOKEN_RBRACE },
    { ">", JINJA_TOKEN_GT },        { "<", JINJA_TOKEN_LT },    { "=", JINJA_TOKEN_ASSIGN },
    { ".", JINJA_TOKEN_DOT },       { ":", JINJA_TOKEN_COLON }, { "|", JINJA_TOKEN_PIPE },
    { ",", JINJA_TOKEN_COMMA },     { ";", JINJA_TOKEN_SEMICOLON },
};

/* Track (, [ and { so that "}}" or "%}" inside brackets does not end the tag. */
static bool balance_brackets(lexer *lx, char c)
{
    if (c == '(' || c == '[' || c == '{') {
        if (lx->n_balance == (int)sizeof(lx->balance))
            return lex_fail(lx, lx->line, "brackets nested more than %d levels deep",
                            (int)sizeof(lx->balance));
        char close = '}';

        if (c == '(')
            close = ')';
        else if (c == '[')
            close = ']';
        lx->balance[lx->n_balance++] = close;
    } else if (c == ')' || c == ']' || c == '}') {
        if (lx->n_balance == 0)
            return lex_fail(lx, lx->line, "unexpected '%c'", c);
        if (lx->balance[lx->n_balance - 1] != c)
            return lex_fail(lx, lx->line, "unexpected '%c', expected '%c'", c,
                            lx->balance[lx->n_balance - 1]);
        lx->n_balance--;
    }
    return true;
}

static bool lex_operator(lexer *lx)
{
    size_t i;
    uint32_t c;

    for (i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
        size_t n = strlen(operators[i].text);

        if (starts_with(lx, lx->position, operators[i].text)) {
            if (n == 1 && !balance_brackets(lx, operators[i].text[0]))
                return false;
            if (!push_token(lx, operators[i].kind, lx->line, lx->src + lx->position, n))
                return false;
            advance_to(lx, lx->position + n);
            return true;
        }
    }
    size_t used = jinja_utf8_decode(lx->src + lx->position, lx->length - lx->position, &c);
    return lex_fail(lx, lx->line, "unexpected character '%.*s' inside a tag", (int)used,
                    lx->src + lx->position);
}

/* Tag end ("%}" or "}}" with their markers) at the current position, outside brackets. */
static bool at_tag_end(lexer *lx, bool is_block, bool *ended)
{
    size_t p = lx->position, end = 0;

    *ended = false;
    if (lx->n_balance)
        return true;
    if (is_block) {
        end = match_block_end(lx, p);
    } else if (starts_with(lx, p, "-}}")) {
        end = skip_space(lx, p + 3);
    } else if (starts_with(lx, p, "}}")) {
        end = p + 2;
    }
    if (!end)
        return true;
    *ended = true;
    if (!push_token(lx, is_block ? JINJA_TOKEN_BLOCK_END : JINJA_TOKEN_VARIABLE_END, lx->line,
                    lx->src + p, end - p))
        return false;
    advance_to(lx, end);
    lx->line_starting = lx->src[end - 1] == '\n';
    return true;
}

static bool lex_tag(lexer *lx, bool is_block)
{
    lx->n_balance = 0;
    while (lx->position < lx->length) {
        char c = lx->src[lx->position];
        size_t start = lx->position, end;
        bool ended, matched;

        if (!at_tag_end(lx, is_block, &ended))
            return false;
        if (ended)
            return true;
        end = skip_space(lx, start);
        if (end > start) {
            advance_to(lx, end);
            continue;
        }
        if (c >= '0' && c <= '9') {
            if (!lex_number(lx, &matched))
                return false;
            if (matched)
                continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            end = start + 1;
            while (end < lx->length && (lx->src[end] == '_' || (lx->src[end] >= 'a' && lx->src[end] <= 'z') ||
                                        (lx->src[end] >= 'A' && lx->src[end] <= 'Z') ||
                                        (lx->src[end] >= '0' && lx->src[end] <= '9')))
                end++;
            if (!push_token(lx, JINJA_TOKEN_NAME, lx->line, lx->src + start, end - start))
                return false;
            advance_to(lx, end);
            continue;
        }
        if (c == '\'' || c == '"') {
            if (!lex_string(lx))
                return false;
            continue;
        }
        if (!lex_operator(lx))
            return false;
    }
    return true; /* the parser reports the missing tag end */
}

/* ---- Driver ---------------------------------------------------------------------------------- */

static char *normalize_newlines(const char *source, jinja_arena *arena, size_t *length)
{
    size_t n = strlen(source), i, j = 0;
    char *out = jinja_arena_alloc(arena, n + 1);

    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        if (source[i] == '\r') {
            out[j++] = '\n';
            if (i + 1 < n && source[i + 1] == '\n')
                i++;
        } else {
            out[j++] = source[i];
        }
    }
    if (j > 0 && out[j - 1] == '\n')
        j--;
    out[j] = '\0';
    *length = j;
    return out;
}

static bool lex_root(lexer *lx)
{
    while (lx->position < lx->length) {
        size_t start = lx->position, tag = start, text_end, after;
        const char *found;
        char kind, sign;

        for (;;) {
            found = memchr(lx->src + tag, '{', lx->length - tag);
            if (!found || (size_t)(found - lx->src) + 1 >= lx->length) {
                tag = lx->length;
                break;
            }
            tag = (size_t)(found - lx->src);
            if (strchr("{%#", lx->src[tag + 1]) && lx->src[tag + 1])
                break;
            tag++;
        }
        if (tag == lx->length) {
            if (!push_token(lx, JINJA_TOKEN_DATA, lx->line, lx->src + start, lx->length - start))
                return false;
            advance_to(lx, lx->length);
            break;
        }

        kind = lx->src[tag + 1];
        sign = tag + 2 < lx->length && (lx->src[tag + 2] == '-' || lx->src[tag + 2] == '+')
                   ? lx->src[tag + 2]
                   : 0;
        text_end = strip_before_tag(lx, start, tag, sign, kind == '{');
        if (text_end > start &&
            !push_token(lx, JINJA_TOKEN_DATA, lx->line, lx->src + start, text_end - start))
            return false;
        advance_to(lx, tag);
        after = tag + 2 + (sign != 0);

        if (kind == '%' && (after = match_raw_begin(lx, tag, "raw")) != 0) {
            if (starts_with(lx, after, "-%}")) {
                if (!lex_raw(lx, skip_space(lx, after + 3)))
                    return false;
                continue;
            }
            if (starts_with(lx, after, "%}")) {
                if (!lex_raw(lx, after + 2))
                    return false;
                continue;
            }
        }
        after = tag + 2 + (sign != 0);
        if (kind == '#') {
            if (!lex_comment(lx, after))
                return false;
            continue;
        }
        if (!push_token(lx, kind == '%' ? JINJA_TOKEN_BLOCK_BEGIN : JINJA_TOKEN_VARIABLE_BEGIN,
                        lx->line, lx->src + tag, after - tag))
            return false;
        advance_to(lx, after);
        if (!lex_tag(lx, kind == '%'))
            return false;
    }
    return push_token(lx, JINJA_TOKEN_EOF, lx->line, lx->src + lx->length, 0);
}

bool jinja_lex(const char *source, jinja_arena *arena, const char **normalized,
               jinja_token_list *tokens, jinja_error *error)
{
    lexer lx = { 0 };
    size_t bad;

    lx.src = normalize_newlines(source, arena, &lx.length);
    if (!lx.src)
        return jinja_error_set(error, QVK_ERR_OUT_OF_MEMORY, 1, "out of memory");
    if (!jinja_utf8_validate(lx.src, lx.length, &bad)) {
        int line = 1;
        size_t i;

        for (i = 0; i < bad; i++)
            line += lx.src[i] == '\n';
        return jinja_error_set(error, QVK_ERR_FORMAT, line, "invalid UTF-8 at byte %zu", bad);
    }
    lx.line = 1;
    lx.line_starting = true;
    lx.arena = arena;
    lx.tokens = tokens;
    lx.error = error;
    *normalized = lx.src;
    return lex_root(&lx);
}

void jinja_token_describe(const jinja_token *token, char *out, size_t size)
{
    switch (token->kind) {
    case JINJA_TOKEN_EOF: snprintf(out, size, "end of template"); break;
    case JINJA_TOKEN_DATA: snprintf(out, size, "template text"); break;
    case JINJA_TOKEN_VARIABLE_BEGIN: snprintf(out, size, "'{{'"); break;
    case JINJA_TOKEN_VARIABLE_END: snprintf(out, size, "'}}'"); break;
    case JINJA_TOKEN_BLOCK_BEGIN: snprintf(out, size, "'{%%'"); break;
    case JINJA_TOKEN_BLOCK_END: snprintf(out, size, "'%%}'"); break;
    case JINJA_TOKEN_NAME: snprintf(out, size, "name '%.*s'", (int)token->length, token->text); break;
    case JINJA_TOKEN_STRING: snprintf(out, size, "string literal"); break;
    case JINJA_TOKEN_INTEGER:
    case JINJA_TOKEN_FLOAT:
        snprintf(out, size, "number %.*s", (int)token->length, token->text);
        break;
    default: snprintf(out, size, "'%.*s'", (int)token->length, token->text); break;
    }
}
