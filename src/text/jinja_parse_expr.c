/* The Jinja expression parser: tokens to expression trees, with Jinja2 3.1's grammar and
 * precedence (the postfix part is in jinja_parse_postfix.c), loosest first:
 *     a if b else c  |  or  |  and  |  not  |  == != < <= > >= in, not in  |  + -  |  ~
 *     |  * / // %  |  **  |  unary - +  |  primary with .attr [item] (call), then | filter
 *     and "is" test, which bind tightest: "-x|abs" is abs(-x), "not x is defined" is
 *     not (x is defined), "n|length - 1" is (n|length) - 1. */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jinja_expr *parse_conditional(jinja_parser *p);
static jinja_expr *parse_or(jinja_parser *p);
static jinja_expr *parse_unary(jinja_parser *p, bool with_filter);
static jinja_expr *parse_tuple(jinja_parser *p, bool simplified, bool with_conditional,
                               const char *extra_end_name, bool with_namespace,
                               bool explicit_parentheses);

/* ---- Parser helpers ---------------------------------------------------------------------------- */

const jinja_token *jinja_parser_peek(const jinja_parser *p, size_t ahead)
{
    size_t i = p->position + ahead;

    return &p->tokens[i < p->count ? i : p->count - 1];
}

const jinja_token *jinja_parser_next(jinja_parser *p)
{
    const jinja_token *token = jinja_parser_peek(p, 0);

    if (p->position + 1 < p->count)
        p->position++;
    return token;
}

static bool token_is_name(const jinja_token *token, const char *name)
{
    return token->kind == JINJA_TOKEN_NAME && token->length == strlen(name) &&
           memcmp(token->text, name, token->length) == 0;
}

bool jinja_parser_is_name(const jinja_parser *p, size_t ahead, const char *name)
{
    return token_is_name(jinja_parser_peek(p, ahead), name);
}

bool jinja_parser_fail(jinja_parser *p, int line, const char *fmt, ...)
{
    char message[300];
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    return jinja_error_set(p->error, QVK_ERR_FORMAT, line, "%s", message);
}

bool jinja_parser_expect(jinja_parser *p, jinja_token_kind kind, const char *what)
{
    const jinja_token *token = jinja_parser_peek(p, 0);
    char found[96];

    if (token->kind == kind) {
        jinja_parser_next(p);
        return true;
    }
    jinja_token_describe(token, found, sizeof(found));
    return jinja_parser_fail(p, token->line, "expected %s, found %s", what, found);
}

jinja_expr *jinja_expr_new(jinja_parser *p, jinja_expr_kind kind, int line)
{
    jinja_expr *expr = jinja_arena_alloc(p->arena, sizeof(*expr));

    if (!expr) {
        jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, line, "out of memory");
        return NULL;
    }
    expr->kind = kind;
    expr->line = line;
    return expr;
}

bool jinja_vector_push(jinja_parser *p, jinja_vector *vector, void *item)
{
    if (vector->count == vector->capacity) {
        int capacity = vector->capacity ? vector->capacity * 2 : 8;
        void **items = realloc(vector->items, (size_t)capacity * sizeof(*items));

        if (!items)
            return jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, 0, "out of memory");
        vector->items = items;
        vector->capacity = capacity;
    }
    vector->items[vector->count++] = item;
    return true;
}

void jinja_vector_free(jinja_vector *vector)
{
    free(vector->items);
    memset(vector, 0, sizeof(*vector));
}

#define DEFINE_VECTOR_COPY(function, type)                                                        \
    type *function(jinja_parser *p, jinja_vector *vector)                                         \
    {                                                                                             \
        type *array = NULL;                                                                       \
        int i;                                                                                    \
                                                                                                  \
        if (vector->count) {                                                                      \
            array = jinja_arena_alloc(p->arena, (size_t)vector->count * sizeof(*array));          \
            if (!array)                                                                           \
                jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, 0, "out of memory");             \
            for (i = 0; array && i < vector->count; i++)                                          \
                array[i] = vector->items[i];                                                      \
        }                                                                                         \
        jinja_vector_free(vector);                                                                \
        return array;                                                                             \
    }

DEFINE_VECTOR_COPY(jinja_vector_exprs, jinja_expr *)
DEFINE_VECTOR_COPY(jinja_vector_stmts, jinja_stmt *)
DEFINE_VECTOR_COPY(jinja_vector_names, const char *)

static bool nest(jinja_parser *p)
{
    if (++p->depth > JINJA_MAX_NESTING)
        return jinja_parser_fail(p, jinja_parser_peek(p, 0)->line,
                                 "expression nested more than %d levels deep", JINJA_MAX_NESTING);
    return true;
}

static jinja_expr *unnest(jinja_parser *p, jinja_expr *expr)
{
    p->depth--;
    return expr;
}

/* ---- Operators ------------------------------------------------------------------------------- */

jinja_expr *jinja_parse_expression(jinja_parser *p, bool with_conditional)
{
    return with_conditional ? parse_conditional(p) : parse_or(p);
}

static jinja_expr *parse_conditional(jinja_parser *p)
{
    jinja_expr *node;

    if (!nest(p))
        return NULL;
    node = parse_or(p);
    while (node && jinja_parser_is_name(p, 0, "if")) {
        jinja_expr *conditional = jinja_expr_new(p, JINJA_EXPR_CONDITIONAL, jinja_parser_next(p)->line);

        if (!conditional)
            return unnest(p, NULL);
        conditional->second = node;
        conditional->operand = parse_or(p);
        if (!conditional->operand)
            return unnest(p, NULL);
        if (jinja_parser_is_name(p, 0, "else")) {
            jinja_parser_next(p);
            conditional->third = parse_conditional(p);
            if (!conditional->third)
                return unnest(p, NULL);
        }
        node = conditional;
    }
    return unnest(p, node);
}

jinja_expr *jinja_expr_binary(jinja_parser *p, jinja_expr_kind kind, int op, int line,
                              jinja_expr *left, jinja_expr *right)
{
    jinja_expr *node;

    if (!left || !right)
        return NULL;
    node = jinja_expr_new(p, kind, line);
    if (node) {
        node->op = op;
        node->operand = left;
        node->second = right;
    }
    return node;
}

static jinja_expr *parse_not(jinja_parser *p);
static jinja_expr *parse_and(jinja_parser *p);

static jinja_expr *parse_or(jinja_parser *p)
{
    jinja_expr *node = parse_and(p);

    while (node && jinja_parser_is_name(p, 0, "or")) {
        int line = jinja_parser_next(p)->line;

        node = jinja_expr_binary(p, JINJA_EXPR_OR, 0, line, node, parse_and(p));
    }
    return node;
}

static jinja_expr *parse_and(jinja_parser *p)
{
    jinja_expr *node = parse_not(p);

    while (node && jinja_parser_is_name(p, 0, "and")) {
        int line = jinja_parser_next(p)->line;

        node = jinja_expr_binary(p, JINJA_EXPR_AND, 0, line, node, parse_not(p));
    }
    return node;
}

static jinja_expr *parse_compare(jinja_parser *p);

static jinja_expr *parse_not(jinja_parser *p)
{
    jinja_expr *node;
    int line;

    if (!jinja_parser_is_name(p, 0, "not"))
        return parse_compare(p);
    line = jinja_parser_next(p)->line;
    if (!nest(p))
        return NULL;
    node = parse_not(p);
    p->depth--;
    return jinja_expr_binary(p, JINJA_EXPR_NOT, 0, line, node, node);
}

static jinja_expr *parse_math1(jinja_parser *p);

static jinja_expr *parse_compare(jinja_parser *p)
{
    jinja_expr *left = parse_math1(p), *node;
    jinja_vector operands = { 0 };
    int ops[64], n_ops = 0, line = jinja_parser_peek(p, 0)->line, i;

    while (left) {
        jinja_token_kind kind = jinja_parser_peek(p, 0)->kind;
        int op;

        if (kind == JINJA_TOKEN_EQ || kind == JINJA_TOKEN_NE || kind == JINJA_TOKEN_LT ||
            kind == JINJA_TOKEN_LTEQ || kind == JINJA_TOKEN_GT || kind == JINJA_TOKEN_GTEQ) {
            op = (int)kind;
            jinja_parser_next(p);
        } else if (jinja_parser_is_name(p, 0, "in")) {
            op = JINJA_OP_IN;
            jinja_parser_next(p);
        } else if (jinja_parser_is_name(p, 0, "not") && jinja_parser_is_name(p, 1, "in")) {
            op = JINJA_OP_NOT_IN;
            jinja_parser_next(p);
            jinja_parser_next(p);
        } else {
            break;
        }
        if (n_ops == (int)(sizeof(ops) / sizeof(ops[0]))) {
            jinja_vector_free(&operands);
            jinja_parser_fail(p, line, "more than 64 chained comparisons");
            return NULL;
        }
        ops[n_ops++] = op;
        jinja_expr *operand = parse_math1(p);
        if (!operand || !jinja_vector_push(p, &operands, operand)) {
            jinja_vector_free(&operands);
            return NULL;
        }
    }
    if (!left || n_ops == 0) {
        jinja_vector_free(&operands);
        return left;
    }
    node = jinja_expr_new(p, JINJA_EXPR_COMPARE, line);
    if (!node) {
        jinja_vector_free(&operands);
        return NULL;
    }
    node->operand = left;
    node->n_items = operands.count;
    node->items = jinja_vector_exprs(p, &operands);
    node->ops = jinja_arena_alloc(p->arena, (size_t)n_ops * sizeof(int));
    if (!node->items || !node->ops) {
        jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, line, "out of memory");
        return NULL;
    }
    for (i = 0; i < n_ops; i++)
        node->ops[i] = ops[i];
    return node;
}

static jinja_expr *parse_concat(jinja_parser *p);

static jinja_expr *parse_math1(jinja_parser *p)
{
    jinja_expr *node = parse_concat(p);

    while (node && (jinja_parser_at(p, JINJA_TOKEN_ADD) || jinja_parser_at(p, JINJA_TOKEN_SUB))) {
        const jinja_token *op = jinja_parser_next(p);

        node = jinja_expr_binary(p, JINJA_EXPR_BINARY, (int)op->kind, op->line, node, parse_concat(p));
    }
    return node;
}

static jinja_expr *parse_math2(jinja_parser *p);

static jinja_expr *parse_concat(jinja_parser *p)
{
    jinja_expr *first = parse_math2(p), *node;
    jinja_vector items = { 0 };
    int line = jinja_parser_peek(p, 0)->line;

    if (!first || !jinja_parser_at(p, JINJA_TOKEN_TILDE))
        return first;
    if (!jinja_vector_push(p, &items, first))
        return NULL;
    while (jinja_parser_at(p, JINJA_TOKEN_TILDE)) {
        jinja_parser_next(p);
        jinja_expr *item = parse_math2(p);
        if (!item || !jinja_vector_push(p, &items, item)) {
            jinja_vector_free(&items);
            return NULL;
        }
    }
    node = jinja_expr_new(p, JINJA_EXPR_CONCAT, line);
    if (!node) {
        jinja_vector_free(&items);
        return NULL;
    }
    node->n_items = items.count;
    node->items = jinja_vector_exprs(p, &items);
    return node->items ? node : NULL;
}

static jinja_expr *parse_pow(jinja_parser *p);

static jinja_expr *parse_math2(jinja_parser *p)
{
    jinja_expr *node = parse_pow(p);

    while (node && (jinja_parser_at(p, JINJA_TOKEN_MUL) || jinja_parser_at(p, JINJA_TOKEN_DIV) ||
                    jinja_parser_at(p, JINJA_TOKEN_FLOORDIV) || jinja_parser_at(p, JINJA_TOKEN_MOD))) {
        const jinja_token *op = jinja_parser_next(p);

        node = jinja_expr_binary(p, JINJA_EXPR_BINARY, (int)op->kind, op->line, node, parse_pow(p));
    }
    return node;
}

static jinja_expr *parse_pow(jinja_parser *p)
{
    jinja_expr *node = parse_unary(p, true);

    while (node && jinja_parser_at(p, JINJA_TOKEN_POW)) {
        const jinja_token *op = jinja_parser_next(p);

        node = jinja_expr_binary(p, JINJA_EXPR_BINARY, (int)op->kind, op->line, node, parse_unary(p, true));
    }
    return node;
}


static jinja_expr *parse_unary(jinja_parser *p, bool with_filter)
{
    const jinja_token *token = jinja_parser_peek(p, 0);
    jinja_expr *node;

    if (!nest(p))
        return NULL;
    if (token->kind == JINJA_TOKEN_SUB || token->kind == JINJA_TOKEN_ADD) {
        jinja_parser_next(p);
        jinja_expr *operand = parse_unary(p, false);
        node = jinja_expr_binary(p, token->kind == JINJA_TOKEN_SUB ? JINJA_EXPR_NEG : JINJA_EXPR_POS, 0,
                      token->line, operand, operand);
    } else {
        node = jinja_parse_primary(p, false);
    }
    if (node)
        node = jinja_parse_postfix(p, node);
    if (node && with_filter)
        node = jinja_parse_filter_expr(p, node);
    return unnest(p, node);
}

/* ---- Primaries ------------------------------------------------------------------------------- */

jinja_expr *jinja_expr_constant(jinja_parser *p, int line, jinja_value value)
{
    jinja_expr *node = jinja_expr_new(p, JINJA_EXPR_CONST, line);

    if (node)
        node->constant = value;
    return node;
}

static jinja_expr *parse_name(jinja_parser *p, bool with_namespace)
{
    const jinja_token *token = jinja_parser_next(p);
    jinja_expr *node;

    if (token_is_name(token, "true") || token_is_name(token, "True"))
        return jinja_expr_constant(p, token->line, jinja_bool(true));
    if (token_is_name(token, "false") || token_is_name(token, "False"))
        return jinja_expr_constant(p, token->line, jinja_bool(false));
    if (token_is_name(token, "none") || token_is_name(token, "None"))
        return jinja_expr_constant(p, token->line, jinja_none());

    if (p->macro) {
        p->macro->uses_varargs |= token_is_name(token, "varargs");
        p->macro->uses_kwargs |= token_is_name(token, "kwargs");
        p->macro->uses_caller |= token_is_name(token, "caller");
    }
    node = jinja_expr_new(p, JINJA_EXPR_NAME, token->line);
    if (!node)
        return NULL;
    node->name = jinja_arena_strdup(p->arena, token->text, token->length);
    node->name_length = token->length;
    if (with_namespace && jinja_parser_at(p, JINJA_TOKEN_DOT)) {
        jinja_parser_next(p);
        token = jinja_parser_peek(p, 0);
        if (!jinja_parser_expect(p, JINJA_TOKEN_NAME, "an attribute name after '.'"))
            return NULL;
        node->kind = JINJA_EXPR_NSREF;
        node->second = jinja_expr_new(p, JINJA_EXPR_CONST, token->line);
        if (!node->second)
            return NULL;
        node->second->name = jinja_arena_strdup(p->arena, token->text, token->length);
        node->second->name_length = token->length;
    }
    return node->name ? node : NULL;
}

static jinja_expr *parse_string(jinja_parser *p)
{
    const jinja_token *first = jinja_parser_peek(p, 0);
    jinja_buffer text = { 0 };
    jinja_value value;

    /* Adjacent literals concatenate: "a" "b" is "ab". */
    while (jinja_parser_at(p, JINJA_TOKEN_STRING)) {
        const jinja_token *token = jinja_parser_next(p);

        jinja_buffer_append(&text, token->text, token->length);
    }
    value = jinja_string_from_buffer(p->constants, &text);
    if (p->constants->out_of_memory) {
        jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, first->line, "out of memory");
        return NULL;
    }
    return jinja_expr_constant(p, first->line, value);
}

static jinja_expr *parse_sequence(jinja_parser *p, jinja_expr_kind kind)
{
    jinja_token_kind close = kind == JINJA_EXPR_LIST ? JINJA_TOKEN_RBRACKET : JINJA_TOKEN_RBRACE;
    int line = jinja_parser_next(p)->line;
    jinja_vector items = { 0 };
    jinja_expr *node;

    while (!jinja_parser_at(p, close)) {
        if (items.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "','"))
            goto fail;
        if (jinja_parser_at(p, close))
            break;
        jinja_expr *item = jinja_parse_expression(p, true);
        if (!item || !jinja_vector_push(p, &items, item))
            goto fail;
        if (kind == JINJA_EXPR_DICT) {
            if (!jinja_parser_expect(p, JINJA_TOKEN_COLON, "':' after a dict key"))
                goto fail;
            item = jinja_parse_expression(p, true);
            if (!item || !jinja_vector_push(p, &items, item))
                goto fail;
        }
    }
    if (!jinja_parser_expect(p, close, kind == JINJA_EXPR_LIST ? "']'" : "'}'"))
        goto fail;
    node = jinja_expr_new(p, kind, line);
    if (!node)
        goto fail;
    node->n_items = items.count;
    node->items = jinja_vector_exprs(p, &items);
    return p->error->status == QVK_OK ? node : NULL;

fail:
    jinja_vector_free(&items);
    return NULL;
}

jinja_expr *jinja_parse_primary(jinja_parser *p, bool with_namespace)
{
    const jinja_token *token = jinja_parser_peek(p, 0);
    char found[96];
    jinja_expr *node;

    switch (token->kind) {
    case JINJA_TOKEN_NAME:
        return parse_name(p, with_namespace);
    case JINJA_TOKEN_STRING:
        return parse_string(p);
    case JINJA_TOKEN_INTEGER:
        jinja_parser_next(p);
        return jinja_expr_constant(p, token->line, jinja_int(token->integer));
    case JINJA_TOKEN_FLOAT:
        jinja_parser_next(p);
        return jinja_expr_constant(p, token->line, jinja_float(token->number));
    case JINJA_TOKEN_LPAREN:
        jinja_parser_next(p);
        node = parse_tuple(p, false, true, NULL, false, true);
        if (!node || !jinja_parser_expect(p, JINJA_TOKEN_RPAREN, "')'"))
            return NULL;
        return node;
    case JINJA_TOKEN_LBRACKET:
        return parse_sequence(p, JINJA_EXPR_LIST);
    case JINJA_TOKEN_LBRACE:
        return parse_sequence(p, JINJA_EXPR_DICT);
    default:
        jinja_token_describe(token, found, sizeof(found));
        jinja_parser_fail(p, token->line, "unexpected %s, expected an expression", found);
        return NULL;
    }
}

static bool is_tuple_end(const jinja_parser *p, const char *extra_end_name)
{
    jinja_token_kind kind = jinja_parser_peek(p, 0)->kind;

    if (kind == JINJA_TOKEN_VARIABLE_END || kind == JINJA_TOKEN_BLOCK_END ||
        kind == JINJA_TOKEN_RPAREN)
        return true;
    return extra_end_name && jinja_parser_is_name(p, 0, extra_end_name);
}

static jinja_expr *parse_tuple(jinja_parser *p, bool simplified, bool with_conditional,
                               const char *extra_end_name, bool with_namespace,
                               bool explicit_parentheses)
{
    jinja_vector items = { 0 };
    int line = jinja_parser_peek(p, 0)->line;
    bool is_tuple = false;
    jinja_expr *node;

    for (;;) {
        if (items.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "','"))
            goto fail;
        if (is_tuple_end(p, extra_end_name))
            break;
        node = simplified ? jinja_parse_primary(p, with_namespace)
                          : jinja_parse_expression(p, with_conditional);
        if (!node || !jinja_vector_push(p, &items, node))
            goto fail;
        if (!jinja_parser_at(p, JINJA_TOKEN_COMMA))
            break;
        is_tuple = true;
    }
    if (!is_tuple) {
        if (items.count) {
            node = items.items[0];
            jinja_vector_free(&items);
            return node;
        }
        if (!explicit_parentheses) {
            char found[96];

            jinja_token_describe(jinja_parser_peek(p, 0), found, sizeof(found));
            jinja_parser_fail(p, jinja_parser_peek(p, 0)->line, "expected an expression, found %s",
                              found);
            goto fail;
        }
    }
    node = jinja_expr_new(p, JINJA_EXPR_TUPLE, line);
    if (!node)
        goto fail;
    node->n_items = items.count;
    node->items = jinja_vector_exprs(p, &items);
    return p->error->status == QVK_OK ? node : NULL;

fail:
    jinja_vector_free(&items);
    return NULL;
}

jinja_expr *jinja_parse_tuple(jinja_parser *p, bool simplified, bool with_conditional,
                              const char *extra_end_name, bool with_namespace)
{
    return parse_tuple(p, simplified, with_conditional, extra_end_name, with_namespace, false);
}
