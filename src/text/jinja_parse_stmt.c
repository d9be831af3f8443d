/* The Jinja statement parser: template text, {{ }} and the {% %} tags, into statement trees. */
#include "text/jinja.h"

#include <stdio.h>
#include <string.h>

static const char *const end_if[] = { "elif", "else", "endif", NULL };
static const char *const end_if_else[] = { "endif", NULL };
static const char *const end_for[] = { "endfor", "else", NULL };
static const char *const end_for_else[] = { "endfor", NULL };
static const char *const end_set[] = { "endset", NULL };
static const char *const end_macro[] = { "endmacro", NULL };
static const char *const end_call[] = { "endcall", NULL };
static const char *const end_filter[] = { "endfilter", NULL };
static const char *const end_with[] = { "endwith", NULL };
static const char *const end_generation[] = { "endgeneration", NULL };

/* Tags that continue or end a block, valid only right inside that block. */
static const char *const inner_tags[] = {
    "elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "endwith",
    "endgeneration", "endraw", "endblock", NULL,
};

/* Jinja2 tags (and tags of its bundled extensions) that this interpreter does not run. */
static const char *const unsupported_tags[] = {
    "block", "extends", "include", "import", "from", "autoescape", "do", "trans", "pluralize",
    "debug", NULL,
};

static bool parse_body(jinja_parser *p, const char *const *end_names, jinja_body *body);

static bool name_in(const jinja_token *token, const char *const *names)
{
    for (; names && *names; names++) {
        if (token->kind == JINJA_TOKEN_NAME && token->length == strlen(*names) &&
            memcmp(token->text, *names, token->length) == 0)
            return true;
    }
    return false;
}

/* "\"elif\", \"else\" or \"endif\"" */
static void list_names(const char *const *names, char *out, size_t size)
{
    size_t length = 0;
    int i, n = 0;

    out[0] = '\0';
    while (names[n])
        n++;
    for (i = 0; i < n && length < size; i++) {
        const char *separator = ", ";

        if (i == 0)
            separator = "";
        else if (i == n - 1)
            separator = " or ";

        length += (size_t)snprintf(out + length, size - length, "%s\"%s\"", separator, names[i]);
    }
}

static jinja_stmt *stmt_new(jinja_parser *p, jinja_stmt_kind kind, int line)
{
    jinja_stmt *stmt = jinja_arena_alloc(p->arena, sizeof(*stmt));

    if (!stmt) {
        jinja_error_set(p->error, QVK_ERR_OUT_OF_MEMORY, line, "out of memory");
        return NULL;
    }
    stmt->kind = kind;
    stmt->line = line;
    return stmt;
}

/* The body of a block: expects '%}', then statements up to one of end_names, leaving the
 * parser at that name. */
static bool parse_block_body(jinja_parser *p, const char *const *end_names, jinja_body *body)
{
    if (jinja_parser_peek(p, 0)->kind == JINJA_TOKEN_COLON)
        jinja_parser_next(p);
    if (!jinja_parser_expect(p, JINJA_TOKEN_BLOCK_END, "'%}'"))
        return false;
    return parse_body(p, end_names, body);
}

static bool fail_expected(jinja_parser *p, const char *what)
{
    const jinja_token *token = jinja_parser_peek(p, 0);
    char found[96];

    jinja_token_describe(token, found, sizeof(found));
    return jinja_parser_fail(p, token->line, "expected %s, found %s", what, found);
}

/* Consume the end tag name the body stopped at ('%}' follows). */
static bool expect_end(jinja_parser *p, const char *name)
{
    char what[64];

    if (jinja_parser_is_name(p, 0, name)) {
        jinja_parser_next(p);
        return true;
    }
    snprintf(what, sizeof(what), "\"%s\"", name);
    return fail_expected(p, what);
}

static bool can_assign(const jinja_expr *target, bool allow_tuple)
{
    int i;

    if (target->kind == JINJA_EXPR_NAME || target->kind == JINJA_EXPR_NSREF)
        return true;
    if (target->kind != JINJA_EXPR_TUPLE || !allow_tuple)
        return false;
    for (i = 0; i < target->n_items; i++) {
        if (!can_assign(target->items[i], false))
            return false;
    }
    return true;
}

static jinja_expr *parse_target(jinja_parser *p, const char *extra_end, bool with_namespace)
{
    int line = jinja_parser_peek(p, 0)->line;
    jinja_expr *target = jinja_parse_tuple(p, true, true, extra_end, with_namespace);

    if (target && !can_assign(target, true)) {
        jinja_parser_fail(p, line, "cannot assign to this expression: expected a name");
        return NULL;
    }
    return target;
}

/* ---- Tags ------------------------------------------------------------------------------------ */

static jinja_stmt *parse_if(jinja_parser *p, int line)
{
    jinja_stmt *result = stmt_new(p, JINJA_STMT_IF, line), *node = result;

    while (node) {
        node->expr = jinja_parse_tuple(p, false, false, NULL, false);
        if (!node->expr || !parse_block_body(p, end_if, &node->body))
            return NULL;
        if (jinja_parser_is_name(p, 0, "elif")) {
            jinja_stmt *elif = stmt_new(p, JINJA_STMT_IF, jinja_parser_next(p)->line);

            node->else_body.items = jinja_arena_alloc(p->arena, sizeof(jinja_stmt *));
            if (!elif || !node->else_body.items)
                return NULL;
            node->else_body.items[0] = elif;
            node->else_body.count = 1;
            node = elif;
            continue;
        }
        if (jinja_parser_is_name(p, 0, "else")) {
            jinja_parser_next(p);
            if (!parse_block_body(p, end_if_else, &node->else_body))
                return NULL;
        }
        return expect_end(p, "endif") ? result : NULL;
    }
    return NULL;
}

static jinja_stmt *parse_for(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_FOR, line);

    if (!stmt || !(stmt->target = parse_target(p, "in", false)))
        return NULL;
    if (!jinja_parser_is_name(p, 0, "in")) {
        fail_expected(p, "\"in\"");
        return NULL;
    }
    jinja_parser_next(p);
    stmt->expr = jinja_parse_tuple(p, false, false, "recursive", false);
    if (!stmt->expr)
        return NULL;
    if (jinja_parser_is_name(p, 0, "if")) {
        jinja_parser_next(p);
        stmt->condition = jinja_parse_expression(p, true);
        if (!stmt->condition)
            return NULL;
    }
    if (jinja_parser_is_name(p, 0, "recursive")) {
        jinja_error_set(p->error, QVK_ERR_UNSUPPORTED, line, "unsupported: recursive for loops");
        return NULL;
    }
    p->loop_depth++;
    bool ok = parse_block_body(p, end_for, &stmt->body);
    p->loop_depth--;
    if (!ok)
        return NULL;
    if (jinja_parser_is_name(p, 0, "else")) {
        jinja_parser_next(p);
        if (!parse_block_body(p, end_for_else, &stmt->else_body))
            return NULL;
    }
    return expect_end(p, "endfor") ? stmt : NULL;
}

static jinja_stmt *parse_set(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_SET, line);

    if (!stmt || !(stmt->target = parse_target(p, NULL, true)))
        return NULL;
    if (jinja_parser_peek(p, 0)->kind == JINJA_TOKEN_ASSIGN) {
        jinja_parser_next(p);
        stmt->expr = jinja_parse_tuple(p, false, true, NULL, false);
        return stmt->expr ? stmt : NULL;
    }
    stmt->kind = JINJA_STMT_SET_BLOCK;
    if (jinja_parser_peek(p, 0)->kind == JINJA_TOKEN_PIPE) {
        jinja_expr *input = jinja_expr_new(p, JINJA_EXPR_BLOCK_INPUT, line);

        stmt->expr = input ? jinja_parse_filter(p, input, false) : NULL;
        if (!stmt->expr)
            return NULL;
    }
    if (!parse_block_body(p, end_set, &stmt->body))
        return NULL;
    return expect_end(p, "endset") ? stmt : NULL;
}

/* (a, b=default, ...) of a macro or call block. */
static bool parse_signature(jinja_parser *p, jinja_stmt *stmt)
{
    jinja_vector names = { 0 }, defaults = { 0 };
    bool any_default = false;

    if (!jinja_parser_expect(p, JINJA_TOKEN_LPAREN, "'(' and the parameters"))
        return false;
    while (jinja_parser_peek(p, 0)->kind != JINJA_TOKEN_RPAREN) {
        const jinja_token *name;
        jinja_expr *value = NULL;

        if (names.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "',' or ')'"))
            goto fail;
        if (jinja_parser_peek(p, 0)->kind == JINJA_TOKEN_RPAREN)
            break;
        name = jinja_parser_peek(p, 0);
        if (!jinja_parser_expect(p, JINJA_TOKEN_NAME, "a parameter name"))
            goto fail;
        if (jinja_parser_peek(p, 0)->kind == JINJA_TOKEN_ASSIGN) {
            jinja_parser_next(p);
            value = jinja_parse_expression(p, true);
            if (!value)
                goto fail;
            any_default = true;
        } else if (any_default) {
            jinja_parser_fail(p, name->line, "non-default parameter follows default parameter");
            goto fail;
        }
        if (!jinja_vector_push(p, &names, jinja_arena_strdup(p->arena, name->text, name->length)) ||
            !jinja_vector_push(p, &defaults, value))
            goto fail;
    }
    jinja_parser_next(p);
    stmt->n_params = names.count;
    stmt->params = jinja_vector_names(p, &names);
    stmt->defaults = jinja_vector_exprs(p, &defaults);
    return p->error->status == QVK_OK;

fail:
    jinja_vector_free(&names);
    jinja_vector_free(&defaults);
    return false;
}

/* The body of a macro or call block: break and continue cannot reach loops outside it. */
static bool parse_macro_body(jinja_parser *p, jinja_stmt *stmt, const char *const *end_names)
{
    jinja_stmt *outer_macro = p->macro;
    int outer_loops = p->loop_depth;
    bool ok;

    p->macro = stmt;
    p->loop_depth = 0;
    ok = parse_block_body(p, end_names, &stmt->body);
    p->macro = outer_macro;
    p->loop_depth = outer_loops;
    return ok && expect_end(p, end_names[0]);
}

static jinja_stmt *parse_macro(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_MACRO, line);
    const jinja_token *name = jinja_parser_peek(p, 0);

    if (!stmt || !jinja_parser_expect(p, JINJA_TOKEN_NAME, "the macro name"))
        return NULL;
    stmt->name = jinja_arena_strdup(p->arena, name->text, name->length);
    if (!parse_signature(p, stmt))
        return NULL;
    return parse_macro_body(p, stmt, end_macro) ? stmt : NULL;
}

static jinja_stmt *parse_call_block(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_CALL_BLOCK, line);

    if (!stmt)
        return NULL;
    stmt->name = "caller";
    if (jinja_parser_peek(p, 0)->kind == JINJA_TOKEN_LPAREN && !parse_signature(p, stmt))
        return NULL;
    stmt->expr = jinja_parse_expression(p, true);
    if (!stmt->expr)
        return NULL;
    if (stmt->expr->kind != JINJA_EXPR_CALL) {
        jinja_parser_fail(p, line, "expected a macro call after \"call\"");
        return NULL;
    }
    return parse_macro_body(p, stmt, end_call) ? stmt : NULL;
}

static jinja_stmt *parse_filter_block(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_FILTER, line);
    jinja_expr *input = jinja_expr_new(p, JINJA_EXPR_BLOCK_INPUT, line);

    if (!stmt || !input || !(stmt->expr = jinja_parse_filter(p, input, true)))
        return NULL;
    if (!parse_block_body(p, end_filter, &stmt->body))
        return NULL;
    return expect_end(p, "endfilter") ? stmt : NULL;
}

static jinja_stmt *parse_with(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_WITH, line);
    jinja_vector targets = { 0 }, values = { 0 };

    if (!stmt)
        return NULL;
    while (jinja_parser_peek(p, 0)->kind != JINJA_TOKEN_BLOCK_END) {
        jinja_expr *target, *value;

        if (targets.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "',' or '%}'"))
            goto fail;
        target = parse_target(p, NULL, false);
        if (!target || !jinja_parser_expect(p, JINJA_TOKEN_ASSIGN, "'='"))
            goto fail;
        value = jinja_parse_expression(p, true);
        if (!value || !jinja_vector_push(p, &targets, target) || !jinja_vector_push(p, &values, value))
            goto fail;
    }
    stmt->n_params = targets.count;
    stmt->target = jinja_expr_new(p, JINJA_EXPR_TUPLE, line);
    if (!stmt->target)
        goto fail;
    stmt->target->n_items = targets.count;
    stmt->target->items = jinja_vector_exprs(p, &targets);
    stmt->defaults = jinja_vector_exprs(p, &values);
    if (p->error->status != QVK_OK || !parse_block_body(p, end_with, &stmt->body))
        return NULL;
    return expect_end(p, "endwith") ? stmt : NULL;

fail:
    jinja_vector_free(&targets);
    jinja_vector_free(&values);
    return NULL;
}

/* {% print a, b %} writes each expression, like {{ a }}{{ b }}. */
static jinja_stmt *parse_print(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_OUTPUT, line);
    jinja_vector items = { 0 };

    if (!stmt)
        return NULL;
    while (jinja_parser_peek(p, 0)->kind != JINJA_TOKEN_BLOCK_END) {
        jinja_expr *item;

        if (items.count && !jinja_parser_expect(p, JINJA_TOKEN_COMMA, "',' or '%}'"))
            goto fail;
        item = jinja_parse_expression(p, true);
        if (!item || !jinja_vector_push(p, &items, item))
            goto fail;
    }
    stmt->expr = jinja_expr_new(p, JINJA_EXPR_CONCAT, line);
    if (!stmt->expr)
        goto fail;
    stmt->expr->n_items = items.count;
    stmt->expr->items = jinja_vector_exprs(p, &items);
    return p->error->status == QVK_OK ? stmt : NULL;

fail:
    jinja_vector_free(&items);
    return NULL;
}

static jinja_stmt *parse_scope(jinja_parser *p, int line)
{
    jinja_stmt *stmt = stmt_new(p, JINJA_STMT_SCOPE, line);

    if (!stmt || !parse_block_body(p, end_generation, &stmt->body))
        return NULL;
    return expect_end(p, "endgeneration") ? stmt : NULL;
}

static jinja_stmt *parse_loop_control(jinja_parser *p, const jinja_token *tag)
{
    bool is_break = tag->length == 5;

    if (p->loop_depth == 0) {
        jinja_parser_fail(p, tag->line, "\"%s\" outside of a for loop", is_break ? "break" : "continue");
        return NULL;
    }
    return stmt_new(p, is_break ? JINJA_STMT_BREAK : JINJA_STMT_CONTINUE, tag->line);
}

/* A tag name with no statement: an end tag of an enclosing block, a Jinja2 tag this
 * interpreter lacks, or an unknown name. */
static void fail_tag(jinja_parser *p, const jinja_token *tag)
{
    if (name_in(tag, inner_tags) && p->n_open > 0 && p->end_names[p->n_open - 1]) {
        char expected[128];

        list_names(p->end_names[p->n_open - 1], expected, sizeof(expected));
        jinja_parser_fail(p, tag->line,
                          "unexpected tag \"%.*s\": the \"%s\" block from line %d must be "
                          "closed first (expected %s)",
                          (int)tag->length, tag->text, p->open_tags[p->n_open - 1],
                          p->open_lines[p->n_open - 1], expected);
        return;
    }
    if (name_in(tag, inner_tags)) {
        jinja_parser_fail(p, tag->line, "unexpected tag \"%.*s\": no block that it belongs to is open",
                          (int)tag->length, tag->text);
        return;
    }
    if (name_in(tag, unsupported_tags)) {
        jinja_error_set(p->error, QVK_ERR_UNSUPPORTED, tag->line, "unsupported tag \"%.*s\"",
                        (int)tag->length, tag->text);
        return;
    }
    jinja_parser_fail(p, tag->line, "unknown tag \"%.*s\"", (int)tag->length, tag->text);
}

static const struct {
    const char *name;
    jinja_stmt *(*parse)(jinja_parser *p, int line);
    const char *const *end_names;
} statements[] = {
    { "if", parse_if, end_if },
    { "for", parse_for, end_for },
    { "set", parse_set, end_set },
    { "macro", parse_macro, end_macro },
    { "call", parse_call_block, end_call },
    { "filter", parse_filter_block, end_filter },
    { "with", parse_with, end_with },
    { "print", parse_print, NULL },
    { "generation", parse_scope, end_generation },
};

static jinja_stmt *parse_statement(jinja_parser *p)
{
    const jinja_token *tag = jinja_parser_peek(p, 0);
    jinja_stmt *stmt = NULL;
    size_t i;

    if (tag->kind != JINJA_TOKEN_NAME) {
        char found[96];

        jinja_token_describe(tag, found, sizeof(found));
        jinja_parser_fail(p, tag->line, "expected a tag name after '{%%', found %s", found);
        return NULL;
    }
    if (jinja_parser_is_name(p, 0, "break") || jinja_parser_is_name(p, 0, "continue")) {
        jinja_parser_next(p);
        return parse_loop_control(p, tag);
    }
    for (i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        if (!jinja_parser_is_name(p, 0, statements[i].name))
            continue;
        if (p->n_open == JINJA_MAX_NESTING) {
            jinja_parser_fail(p, tag->line, "blocks nested more than %d levels deep",
                              JINJA_MAX_NESTING);
            return NULL;
        }
        p->open_tags[p->n_open] = statements[i].name;
        p->open_lines[p->n_open] = tag->line;
        p->end_names[p->n_open] = statements[i].end_names;
        p->n_open++;
        jinja_parser_next(p);
        stmt = statements[i].parse(p, tag->line);
        p->n_open--;
        return stmt;
    }
    fail_tag(p, tag);
    return NULL;
}

/* ---- Bodies ---------------------------------------------------------------------------------- */

static bool fail_unclosed(jinja_parser *p)
{
    const jinja_token *eof = jinja_parser_peek(p, 0);
    char expected[128];

    if (p->n_open == 0)
        return jinja_parser_fail(p, eof->line, "unexpected end of template");
    list_names(p->end_names[p->n_open - 1], expected, sizeof(expected));
    return jinja_parser_fail(p, eof->line,
                             "unexpected end of template: the \"%s\" block from line %d is not "
                             "closed (expected %s)",
                             p->open_tags[p->n_open - 1], p->open_lines[p->n_open - 1], expected);
}

static bool parse_body(jinja_parser *p, const char *const *end_names, jinja_body *body)
{
    jinja_vector items = { 0 };

    for (;;) {
        const jinja_token *token = jinja_parser_peek(p, 0);
        jinja_stmt *stmt = NULL;

        if (token->kind == JINJA_TOKEN_EOF) {
            if (end_names) {
                fail_unclosed(p);
                goto fail;
            }
            break;
        }
        if (token->kind == JINJA_TOKEN_DATA) {
            jinja_parser_next(p);
            stmt = stmt_new(p, JINJA_STMT_TEXT, token->line);
            if (stmt) {
                stmt->text = token->text;
                stmt->length = token->length;
            }
        } else if (token->kind == JINJA_TOKEN_VARIABLE_BEGIN) {
            jinja_parser_next(p);
            stmt = stmt_new(p, JINJA_STMT_OUTPUT, token->line);
            if (stmt) {
                stmt->expr = jinja_parse_tuple(p, false, true, NULL, false);
                if (!stmt->expr || !jinja_parser_expect(p, JINJA_TOKEN_VARIABLE_END, "'}}'"))
                    stmt = NULL;
            }
        } else if (token->kind == JINJA_TOKEN_BLOCK_BEGIN) {
            jinja_parser_next(p);
            if (end_names && name_in(jinja_parser_peek(p, 0), end_names))
                break;
            stmt = parse_statement(p);
            if (stmt && !jinja_parser_expect(p, JINJA_TOKEN_BLOCK_END, "'%}'"))
                stmt = NULL;
        } else {
            char found[96];

            jinja_token_describe(token, found, sizeof(found));
            jinja_parser_fail(p, token->line, "unexpected %s", found);
        }
        if (!stmt || !jinja_vector_push(p, &items, stmt))
            goto fail;
    }
    body->count = items.count;
    body->items = jinja_vector_stmts(p, &items);
    return p->error->status == QVK_OK;

fail:
    jinja_vector_free(&items);
    return false;
}

bool jinja_parse(jinja_parser *p, jinja_body *root)
{
    return parse_body(p, NULL, root);
}
