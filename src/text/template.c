/* qvk_template: parse once, render many times with JSON contexts. */
#include "text/template.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja.h"

#define JSON_MAX_DEPTH 512

qvk_status qvk_template_parse(const char *source, const char *name, qvk_template **out)
{
    jinja_token_list tokens = { 0 };
    jinja_error error = { 0 };
    jinja_parser parser = { 0 };
    const char *normalized;
    qvk_template *template_;

    *out = NULL;
    if (!source || !name)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_template_parse: source and name are required");
    template_ = calloc(1, sizeof(*template_));
    if (!template_ || !(template_->name = strdup(name))) {
        free(template_);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    jinja_heap_init(&template_->constants, true);

    if (jinja_lex(source, &template_->arena, &normalized, &tokens, &error)) {
        parser.tokens = tokens.items;
        parser.count = tokens.count;
        parser.arena = &template_->arena;
        parser.constants = &template_->constants;
        parser.error = &error;
        jinja_parse(&parser, &template_->root);
        if (error.status == QVK_OK && template_->constants.out_of_memory)
            jinja_error_set(&error, QVK_ERR_OUT_OF_MEMORY, 0, "out of memory");
    }
    free(tokens.items);
    if (error.status != QVK_OK) {
        qvk_status status = qvk_error(error.status, "%s line %d: %s", name, error.line, error.message);

        qvk_template_destroy(template_);
        return status;
    }
    *out = template_;
    return QVK_OK;
}

void qvk_template_destroy(qvk_template *template_)
{
    if (!template_)
        return;
    jinja_heap_clear(&template_->constants);
    jinja_arena_free(&template_->arena);
    free(template_->name);
    free(template_);
}

/* ---- Context from JSON ----------------------------------------------------------------------- */

/* JSON numbers become Python ints when they are whole, as json.loads makes "3" an int.
 * NOTE: cJSON keeps no source text, so "3.0" also becomes the int 3 and integers beyond 2^53
 * have already lost precision. */
static jinja_value json_number(const cJSON *item)
{
    double value = item->valuedouble;

    if (isfinite(value) && value == trunc(value) && fabs(value) < 9.2e18)
        return jinja_int((int64_t)value);
    return jinja_float(value);
}

static bool json_to_value(jinja_context *ctx, const cJSON *item, int depth, jinja_value *out)
{
    const cJSON *child;
    size_t bad;

    if (depth > JSON_MAX_DEPTH)
        return jinja_fail(ctx, 0, QVK_ERR_INVALID_ARGUMENT, "JSON nested deeper than %d levels",
                          JSON_MAX_DEPTH);
    if (cJSON_IsNull(item)) {
        *out = jinja_none();
    } else if (cJSON_IsBool(item)) {
        *out = jinja_bool(cJSON_IsTrue(item));
    } else if (cJSON_IsNumber(item)) {
        *out = json_number(item);
    } else if (cJSON_IsString(item)) {
        size_t length = strlen(item->valuestring);

        if (!jinja_utf8_validate(item->valuestring, length, &bad))
            return jinja_fail(ctx, 0, QVK_ERR_INVALID_ARGUMENT,
                              "invalid UTF-8 in a JSON string at byte %zu", bad);
        *out = jinja_string_new(&ctx->heap, item->valuestring, length);
    } else if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
        bool object = cJSON_IsObject(item);

        *out = object ? jinja_dict_new(&ctx->heap, JINJA_DICT) : jinja_list_new(&ctx->heap, 0, false);
        cJSON_ArrayForEach(child, item) {
            jinja_value value;

            if (!json_to_value(ctx, child, depth + 1, &value)) {
                jinja_release(&ctx->heap, *out);
                return false;
            }
            if (object)
                jinja_dict_set(&ctx->heap, *out, jinja_string_from_cstr(&ctx->heap, child->string), value);
            else
                jinja_list_push(&ctx->heap, *out, value);
        }
    } else {
        return jinja_fail(ctx, 0, QVK_ERR_INVALID_ARGUMENT, "unsupported JSON item type %d",
                          item->type);
    }
    return jinja_check_memory(ctx, 0);
}

static bool set_context(jinja_context *ctx, const cJSON *context)
{
    const cJSON *member;

    if (!context)
        return true;
    if (!cJSON_IsObject(context))
        return jinja_fail(ctx, 0, QVK_ERR_INVALID_ARGUMENT,
                          "the render context must be a JSON object");
    cJSON_ArrayForEach(member, context) {
        jinja_value value;

        if (!json_to_value(ctx, member, 0, &value))
            return false;
        jinja_frame_set(ctx, ctx->root, member->string, strlen(member->string), value);
    }
    return jinja_check_memory(ctx, 0);
}

qvk_status qvk_template_render(const qvk_template *template_, const cJSON *context, char **text)
{
    jinja_context ctx;
    jinja_buffer out = { 0 };
    qvk_status status = QVK_OK;

    *text = NULL;
    if (!template_)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_template_render: template is NULL");
    memset(&ctx, 0, sizeof(ctx));
    jinja_heap_init(&ctx.heap, false);
    ctx.root = jinja_frame_new(&ctx.heap, NULL);
    if (!ctx.root)
        jinja_check_memory(&ctx, 0);
    else if (set_context(&ctx, context))
        jinja_exec_body(&ctx, ctx.root, &template_->root, &out);

    if (ctx.error.status == QVK_OK && out.state == JINJA_BUFFER_OK) {
        *text = out.data ? out.data : strdup("");
        if (!*text)
            status = qvk_error(QVK_ERR_OUT_OF_MEMORY, "%s: out of memory", template_->name);
    } else {
        if (ctx.error.status == QVK_OK)
            jinja_check_buffer(&ctx, 0, &out);
        jinja_buffer_free(&out);
        if (ctx.error.line > 0)
            status = qvk_error(ctx.error.status, "%s line %d: %s", template_->name, ctx.error.line,
                               ctx.error.message);
        else
            status = qvk_error(ctx.error.status, "%s: %s", template_->name, ctx.error.message);
    }
    if (ctx.root)
        jinja_release(&ctx.heap, jinja_object_value(JINJA_DICT, ctx.root));
    jinja_heap_clear(&ctx.heap);
    return status;
}
