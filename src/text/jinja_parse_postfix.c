/* The postfix part of Jinja expressions: .attribute, [item], [start:stop:step], calls with
 * positional, keyword, *args and **kwargs arguments, | filters and "is" tests. */
#include "text/jinja.h"

#include <stdio.h>
#include <string.h>

/* One subscript inside [...]: an expression or a slice start:stop:step. */
static jinja_expr *parse_subscribed(jinja_parser *p)
{
    int line = jinja_parser_peek(p, 0)->line;
    jinja_expr *parts[3] = { NULL, NULL, NULL }, *node;
    int i;

    if (!jinja_parser_at(p, JINJA_TOKEN_COLON)) {
        parts[0] = jinja_parse_expression(p, true);
        if (!parts[0] || !jinja_parser_at(p, JINJA_TOKEN_COLON))
            return parts[0];
    }
    jinja_parser_next(p);
    if (!jinja_parser_at(p, JINJA_TOKEN_COLON) && !jinja_parser_at(p, JINJA_TOKEN_RBRACKET) &&
        !jinja_parser_at(p, JINJA_TOKEN_COMMA)) {
        parts[1] = jinja_parse_expression(p, true);
        if (!parts[1])
            return NULL;
    }
    if (jinja_parser_at(p, JINJA_TOKEN_COLON)) {
        jinja_parser_next(p);
        if (!jinja_parser_at(p, JINJA_TOKEN_RBRACKET) && !jinja_parser_at(p, JINJA_TOKEN_COMMA)) {
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
            node = jinja_expr_binary(p, JINJA_EXPR_GETITEM, 0, token->line, object,
                          jinja_expr_constant(p, attribute->line, jinja_int(attribute->integer)));
            return node;
        }
        if (attribute->kind != JINJA_TOKEN_NAME) {
            jinja_parser_fail(p, attribute->line, "expected a name or number after '.'");
            return NULL;
        }
        node = jinja_expr_binary(p, JINJA_EXPR_GETATTR, 0, token->line, object, object);
        if (node) {
            node->second = NULL;
            node->name = jinja_arena_strdup(p->arena, attribute->text, attribute->length);
            node->name_length = attribute->length;
        }
        return node;
    }

    while (!jinja_parser_at(p, JINJA_TOKEN_RBRACKET)) {
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
        return jinja_expr_binary(p, JINJA_EXPR_GETITEM, 0, token->line, object, node);
    }
    node = jinja_expr_new(p, JINJA_EXPR_TUPLE, token->line);
    if (!node)
        goto fail;
    node->n_items = args.count;
    node->items = jinja_vector_exprs(p, &args);
    return jinja_expr_binary(p, JINJA_EXPR_GETITEM, 0, token->line, object, node);

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
    while (!jinja_parser_at(p, JINJA_TOKEN_RPAREN)) {
        jinja_expr *value;

        if (need_comma) {
            if (!jinja_parser_expect(p, JINJA_TOKEN_COMMA, "',' or ')'"))
                goto fail;
            if (jinja_parser_at(p, JINJA_TOKEN_RPAREN))
                break;
        }
        need_comma = true;
        if (jinja_parser_at(p, JINJA_TOKEN_MUL) || jinja_parser_at(p, JINJA_TOKEN_POW)) {
            bool star = jinja_parser_at(p, JINJA_TOKEN_MUL);

            if ((star && (args->star_args || args->star_kwargs)) || (!star && args->star_kwargs))
                goto invalid;
            jinja_parser_next(p);
            value = jinja_parse_expression(p, true);
            if (!value)
                goto fail;
            *(star ? &args->star_args : &args->star_kwargs) = value;
        } else if (jinja_parser_at(p, JINJA_TOKEN_NAME) && jinja_parser_peek(p, 1)->kind == JINJA_TOKEN_ASSIGN) {
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

jinja_expr *jinja_parse_postfix(jinja_parser *p, jinja_expr *node)
{
    while (node) {
        if (jinja_parser_at(p, JINJA_TOKEN_DOT) || jinja_parser_at(p, JINJA_TOKEN_LBRACKET))
            node = parse_subscript(p, node);
        else if (jinja_parser_at(p, JINJA_TOKEN_LPAREN))
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
    while (jinja_parser_at(p, JINJA_TOKEN_DOT)) {
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
    while (node && (start_inline || jinja_parser_at(p, JINJA_TOKEN_PIPE))) {
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
        if (jinja_parser_at(p, JINJA_TOKEN_LPAREN) && !jinja_parse_call_args(p, &filter->args))
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
        arg = jinja_parse_postfix(p, jinja_parse_primary(p, false));
        test->args.positional = jinja_arena_alloc(p->arena, sizeof(jinja_expr *));
        if (!arg || !test->args.positional)
            return NULL;
        test->args.positional[0] = arg;
        test->args.n_positional = 1;
    }
    return negated ? jinja_expr_binary(p, JINJA_EXPR_NOT, 0, line, test, test) : test;
}

jinja_expr *jinja_parse_filter_expr(jinja_parser *p, jinja_expr *node)
{
    while (node) {
        if (jinja_parser_at(p, JINJA_TOKEN_PIPE))
            node = jinja_parse_filter(p, node, false);
        else if (jinja_parser_is_name(p, 0, "is"))
            node = parse_test(p, node);
        else if (jinja_parser_at(p, JINJA_TOKEN_LPAREN))
            node = parse_call(p, node);
        else
            break;
    }
    return node;
}
