/* The Jinja expression parser: tokens to expression trees, with Jinja2 3.1's grammar and
 * precedence, loosest first:
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
static jinja_expr *parse_primary(jinja_parser *p, bool with_namespace);
static jinja_expr *parse_postfix(jinja_parser *p, jinja_expr *node);
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

static bool current_is(const jinja_parser *p, jinja_token_kind kind)
{
    return jinja_parser_peek(p, 0)->kind == kind;
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

static jinja_expr *binary(jinja_parser *p, jinja_expr_kind kind, int op, int line,
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

        node = binary(p, JINJA_EXPR_OR, 0, line, node, parse_and(p));
    }
    return node;
}

static jinja_expr *parse_and(jinja_parser *p)
{
    jinja_expr *node = parse_not(p);

    while (node && jinja_parser_is_name(p, 0, "and")) {
        int line = jinja_parser_next(p)->line;

        node = binary(p, JINJA_EXPR_AND, 0, line, node, parse_not(p));
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
    return binary(p, JINJA_EXPR_NOT, 0, line, node, node);
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

    while (node && (current_is(p, JINJA_TOKEN_ADD) || current_is(p, JINJA_TOKEN_SUB))) {
        const jinja_token *op = jinja_parser_next(p);

        node = binary(p, JINJA_EXPR_BINARY, (int)op->kind, op->line, node, parse_concat(p));
    }
    return node;
}

static jinja_expr *parse_math2(jinja_parser *p);

static jinja_expr *parse_concat(jinja_parser *p)
{
    jinja_expr *first = parse_math2(p), *node;
    jinja_vector items = { 0 };
    int line = jinja_parser_peek(p, 0)->line;

    if (!first || !current_is(p, JINJA_TOKEN_TILDE))
        return first;
    if (!jinja_vector_push(p, &items, first))
        return NULL;
    while (current_is(p, JINJA_TOKEN_TILDE)) {
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

    while (node && (current_is(p, JINJA_TOKEN_MUL) || current_is(p, JINJA_TOKEN_DIV) ||
                    current_is(p, JINJA_TOKEN_FLOORDIV) || current_is(p, JINJA_TOKEN_MOD))) {
        const jinja_token *op = jinja_parser_next(p);

        node = binary(p, JINJA_EXPR_BINARY, (int)op->kind, op->line, node, parse_pow(p));
    }
    return node;
}

static jinja_expr *parse_pow(jinja_parser *p)
{
    jinja_expr *node = parse_unary(p, true);

    while (node && current_is(p, JINJA_TOKEN_POW)) {
        const jinja_token *op = jinja_parser_next(p);

        node = binary(p, JINJA_EXPR_BINARY, (int)op->kind, op->line, node, parse_unary(p, true));
    }
    return node;
}

static jinja_expr *parse_filter_expr(jinja_parser *p, jinja_expr *node);

static jinja_expr *parse_unary(jinja_parser *p, bool with_filter)
{
    const jinja_token *token = jinja_parser_peek(p, 0);
    jinja_expr *node;

    if (!nest(p))
        return NULL;
    if (token->kind == JINJA_TOKEN_SUB || token->kind == JINJA_TOKEN_ADD) {
        jinja_parser_next(p);
        jinja_expr *operand = parse_unary(p, false);
        node = binary(p, token->kind == JINJA_TOKEN_SUB ? JINJA_EXPR_NEG : JINJA_EXPR_POS, 0,
                      token->line, operand, operand);
    } else {
        node = parse_primary(p, false);
    }
    if (node)
        node = parse_postfix(p, node);
    if (node && with_filter)
        node = parse_filter_expr(p, node);
    return unnest(p, node);
}

/* ---- Primaries ------------------------------------------------------------------------------- */

static jinja_expr *constant(jinja_parser *p, int line, jinja_value value)
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
        return constant(p, token->line, jinja_bool(true));
    if (token_is_name(token, "false") || token_is_name(token, "False"))
        return constant(p, token->line, jinja_bool(false));
    if (token_is_name(token, "none") || token_is_name(token, "None"))
        return constant(p, token->line, jinja_none());

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
    if (with_namespace && current_is(p, JINJA_TOKEN_DOT)) {
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
    while (current_is(p, JINJA_TOKEN_STRING)) {
        const jinja_token *token = jinja_parser_next(p);

        jinja_buffer_append(&text, token->text, token->length);
    }
    value = jinja_string_from_buffer(p->constants, &text);
    if (p->constants->out_of_memory) {
        jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, first->line, "out of memory");
        return NULL;
    }
    return constant(p, first->line, value);
}

static jinja_expr *parse_sequence(jinja_parser *p, jinja_expr_kind kind)
{
    jinja_token_kind close = kind == JINJA_EXPR_LIST ? JINJA_TOKEN_RBRACKET : JINJA_TOKEN_RBRACE;
    int line = jinja_parser_next(p)->line;
    jinja_vector items = { 0 };
    jinja_expr *node;

    while (!current_is(p, close)) {
        if (items.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "','"))
            goto fail;
        if (current_is(p, close))
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

static jinja_expr *parse_primary(jinja_parser *p, bool with_namespace)
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
        return constant(p, token->line, jinja_int(token->integer));
    case JINJA_TOKEN_FLOAT:
        jinja_parser_next(p);
        return constant(p, token->line, jinja_float(token->number));
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
        node = simplified ? parse_primary(p, with_namespace)
                          : jinja_parse_expression(p, with_conditional);
        if (!node || !jinja_vector_push(p, &items, node))
            goto fail;
        if (!current_is(p, JINJA_TOKEN_COMMA))
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

/* ---- Postfix: attributes, items, slices, calls --------------------------------------------------- */

/* One subscript inside [...]: an expression or a slice start:stop:step. */
static jinja_expr *parse_subscribed(jinja_parser *p)
{
    int line = jinja_parser_peek(p, 0)->line;
    jinja_expr *parts[3] = { NULL, NULL, NULL }, *node;
    int i;

    if (!current_is(p, JINJA_TOKEN_COLON)) {
        parts[0] = jinja_parse_expression(p, true);
        if (!parts[0] || !current_is(p, JINJA_TOKEN_COLON))
            return parts[0];
    }
    jinja_parser_next(p);
    if (!current_is(p, JINJA_TOKEN_COLON) && !current_is(p, JINJA_TOKEN_RBRACKET) &&
        !current_is(p, JINJA_TOKEN_COMMA)) {
        parts[1] = jinja_parse_expression(p, true);
        if (!parts[1])
            return NULL;
    }
    if (current_is(p, JINJA_TOKEN_COLON)) {
        jinja_parser_next(p);
        if (!current_is(p, JINJA_TOKEN_RBRACKET) && !current_is(p, JINJA_TOKEN_COMMA)) {
            parts[2] = jinja_parse_expression(p, true);
            if (!parts[2])
                return NULL;
        }
    }
    node = jinja_expr_new(p, JINJA_EXPR_SLICE, line);
    if (!node)
        return NULL;
    node->n_items = 3;
    node->items = jinja_arena_alloc(p->arena, 3 * sizeof(*node->items));
    if (!node->items) {
        jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, line, "out of memory");
        return NULL;
    }
    for (i = 0; i < 3; i++)
        node->items[i] = parts[i];
    return node;
}

static jinja_expr *parse_subscript(jinja_parser *p, jinja_expr *object)
{
    const jinja_token *token = jinja_parser_next(p);
    jinja_vector args = { 0 };
    jinja_expr *node;

    if (token->kind == JINJA_TOKEN_DOT) {
        const jinja_token *attribute = jinja_parser_next(p);

        if (attribute->kind == JINJA_TOKEN_INTEGER) {
            node = binary(p, JINJA_EXPR_GETITEM, 0, token->line, object,
                          constant(p, attribute->line, jinja_int(attribute->integer)));
            return node;
        }
        if (attribute->kind != JINJA_TOKEN_NAME) {
            jinja_parser_fail(p, attribute->line, "expected a name or number after '.'");
            return NULL;
        }
        node = binary(p, JINJA_EXPR_GETATTR, 0, token->line, object, object);
        if (node) {
            node->second = NULL;
            node->name = jinja_arena_strdup(p->arena, attribute->text, attribute->length);
            node->name_length = attribute->length;
        }
        return node;
    }

    while (!current_is(p, JINJA_TOKEN_RBRACKET)) {
        if (args.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "',' or ']'"))
            goto fail;
        jinja_expr *arg = parse_subscribed(p);
        if (!arg || !jinja_vector_push(p, &args, arg))
            goto fail;
    }
    if (!jinja_parser_expect(p, JINJA_TOKEN_RBRACKET, "']'"))
        goto fail;
    if (args.count == 1) {
        node = args.items[0];
        jinja_vector_free(&args);
        return binary(p, JINJA_EXPR_GETITEM, 0, token->line, object, node);
    }
    node = jinja_expr_new(p, JINJA_EXPR_TUPLE, token->line);
    if (!node)
        goto fail;
    node->n_items = args.count;
    node->items = jinja_vector_exprs(p, &args);
    return binary(p, JINJA_EXPR_GETITEM, 0, token->line, object, node);

fail:
    jinja_vector_free(&args);
    return NULL;
}

bool jinja_parse_call_args(jinja_parser *p, jinja_args *args)
{
    int line = jinja_parser_peek(p, 0)->line;
    jinja_vector positional = { 0 }, names = { 0 }, named = { 0 };
    bool need_comma = false;

    if (!jinja_parser_expect(p, JINJA_TOKEN_LPAREN, "'('"))
        return false;
    while (!current_is(p, JINJA_TOKEN_RPAREN)) {
        jinja_expr *value;

        if (need_comma) {
            if (!jinja_parser_expect(p, JINJA_TOKEN_COMMA, "',' or ')'"))
                goto fail;
            if (current_is(p, JINJA_TOKEN_RPAREN))
                break;
        }
        need_comma = true;
        if (current_is(p, JINJA_TOKEN_MUL) || current_is(p, JINJA_TOKEN_POW)) {
            bool star = current_is(p, JINJA_TOKEN_MUL);

            if ((star && (args->star_args || args->star_kwargs)) || (!star && args->star_kwargs))
                goto invalid;
            jinja_parser_next(p);
            value = jinja_parse_expression(p, true);
            if (!value)
                goto fail;
            *(star ? &args->star_args : &args->star_kwargs) = value;
        } else if (current_is(p, JINJA_TOKEN_NAME) && jinja_parser_peek(p, 1)->kind == JINJA_TOKEN_ASSIGN) {
            const jinja_token *name = jinja_parser_next(p);

            if (args->star_kwargs)
                goto invalid;
            jinja_parser_next(p);
            value = jinja_parse_expression(p, true);
            if (!value || !jinja_vector_push(p, &named, value) ||
                !jinja_vector_push(p, &names, jinja_arena_strdup(p->arena, name->text, name->length)))
                goto fail;
        } else {
            if (args->star_args || args->star_kwargs || named.count)
                goto invalid;
            value = jinja_parse_expression(p, true);
            if (!value || !jinja_vector_push(p, &positional, value))
                goto fail;
        }
    }
    if (!jinja_parser_expect(p, JINJA_TOKEN_RPAREN, "')'"))
        goto fail;
    args->n_positional = positional.count;
    args->positional = jinja_vector_exprs(p, &positional);
    args->n_named = named.count;
    args->named = jinja_vector_exprs(p, &named);
    args->names = jinja_vector_names(p, &names);
    return p->error->status == QVK_OK;

invalid:
    jinja_parser_fail(p, line, "invalid syntax for function call expression");
fail:
    jinja_vector_free(&positional);
    jinja_vector_free(&names);
    jinja_vector_free(&named);
    return false;
}

static jinja_expr *parse_call(jinja_parser *p, jinja_expr *callee)
{
    jinja_expr *node = jinja_expr_new(p, JINJA_EXPR_CALL, jinja_parser_peek(p, 0)->line);

    if (!node)
        return NULL;
    node->operand = callee;
    return jinja_parse_call_args(p, &node->args) ? node : NULL;
}

static jinja_expr *parse_postfix(jinja_parser *p, jinja_expr *node)
{
    while (node) {
        if (current_is(p, JINJA_TOKEN_DOT) || current_is(p, JINJA_TOKEN_LBRACKET))
            node = parse_subscript(p, node);
        else if (current_is(p, JINJA_TOKEN_LPAREN))
            node = parse_call(p, node);
        else
            break;
    }
    return node;
}

/* ---- Filters and tests ----------------------------------------------------------------------- */

/* A filter or test name, dotted names included so that the error can name them whole. */
static bool parse_dotted_name(jinja_parser *p, char *name, size_t size, int *line)
{
    const jinja_token *token = jinja_parser_peek(p, 0);
    size_t length;

    *line = token->line;
    if (!jinja_parser_expect(p, JINJA_TOKEN_NAME, "a filter or test name"))
        return false;
    snprintf(name, size, "%.*s", (int)token->length, token->text);
    while (current_is(p, JINJA_TOKEN_DOT)) {
        jinja_parser_next(p);
        token = jinja_parser_peek(p, 0);
        if (!jinja_parser_expect(p, JINJA_TOKEN_NAME, "a name after '.'"))
            return false;
        length = strlen(name);
        snprintf(name + length, size - length, ".%.*s", (int)token->length, token->text);
    }
    return true;
}

static bool lookup(jinja_parser *p, int line, const char *kind, const char *name, int id)
{
    if (id >= 0)
        return true;
    if (id == -2)
        return jinja_error_set(p->error, QVK_ERR_UNSUPPORTED, line, "unsupported %s \"%s\"", kind,
                               name);
    return jinja_parser_fail(p, line, "unknown %s \"%s\"", kind, name);
}

jinja_expr *jinja_parse_filter(jinja_parser *p, jinja_expr *node, bool start_inline)
{
    while (node && (start_inline || current_is(p, JINJA_TOKEN_PIPE))) {
        char name[128];
        jinja_expr *filter;
        int line;

        if (!start_inline)
            jinja_parser_next(p);
        start_inline = false;
        if (!parse_dotted_name(p, name, sizeof(name), &line))
            return NULL;
        filter = jinja_expr_new(p, JINJA_EXPR_FILTER, line);
        if (!filter)
            return NULL;
        filter->operand = node;
        filter->op = jinja_filter_find(name, strlen(name));
        filter->name = jinja_arena_strdup(p->arena, name, strlen(name));
        if (!lookup(p, line, "filter", name, filter->op))
            return NULL;
        if (current_is(p, JINJA_TOKEN_LPAREN) && !jinja_parse_call_args(p, &filter->args))
            return NULL;
        node = filter;
    }
    return node;
}

static jinja_expr *parse_test(jinja_parser *p, jinja_expr *node)
{
    jinja_token_kind kind;
    bool negated = false;
    char name[128];
    jinja_expr *test;
    int line = jinja_parser_next(p)->line, name_line;

    if (jinja_parser_is_name(p, 0, "not")) {
        jinja_parser_next(p);
        negated = true;
    }
    if (!parse_dotted_name(p, name, sizeof(name), &name_line))
        return NULL;
    test = jinja_expr_new(p, JINJA_EXPR_TEST, line);
    if (!test)
        return NULL;
    test->operand = node;
    test->op = jinja_test_find(name, strlen(name));
    test->name = jinja_arena_strdup(p->arena, name, strlen(name));
    if (!lookup(p, name_line, "test", name, test->op))
        return NULL;

    /* A test takes one argument without parentheses: "x is divisibleby 3". */
    kind = jinja_parser_peek(p, 0)->kind;
    if (kind == JINJA_TOKEN_LPAREN) {
        if (!jinja_parse_call_args(p, &test->args))
            return NULL;
    } else if ((kind == JINJA_TOKEN_NAME || kind == JINJA_TOKEN_STRING || kind == JINJA_TOKEN_INTEGER ||
                kind == JINJA_TOKEN_FLOAT || kind == JINJA_TOKEN_LBRACKET || kind == JINJA_TOKEN_LBRACE) &&
               !jinja_parser_is_name(p, 0, "else") && !jinja_parser_is_name(p, 0, "or") &&
               !jinja_parser_is_name(p, 0, "and")) {
        jinja_expr *arg;

        if (jinja_parser_is_name(p, 0, "is")) {
            jinja_parser_fail(p, line, "cannot chain multiple tests with 'is'");
            return NULL;
        }
        arg = parse_postfix(p, parse_primary(p, false));
        test->args.positional = jinja_arena_alloc(p->arena, sizeof(jinja_expr *));
        if (!arg || !test->args.positional)
            return NULL;
        test->args.positional[0] = arg;
        test->args.n_positional = 1;
    }
    return negated ? binary(p, JINJA_EXPR_NOT, 0, line, test, test) : test;
}

static jinja_expr *parse_filter_expr(jinja_parser *p, jinja_expr *node)
{
    while (node) {
        if (current_is(p, JINJA_TOKEN_PIPE))
            node = jinja_parse_filter(p, node, false);
        else if (jinja_parser_is_name(p, 0, "is"))
            node = parse_test(p, node);
        else if (current_is(p, JINJA_TOKEN_LPAREN))
            node = parse_call(p, node);
        else
            break;
    }
    return node;
}
