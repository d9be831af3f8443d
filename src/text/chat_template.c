/* Chat templates: tokenizer_config.json's chat_template and special tokens, and the variables
 * Hugging Face's apply_chat_template passes to the template. */
#include "text/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "text/template.h"

struct qvk_chat_template {
    qvk_template *default_template;
    qvk_template *tool_use; /* NULL unless the config names a "tool_use" template */
    cJSON *special_tokens;  /* variables from tokenizer_config.json */
};

static const char *const special_token_names[] = {
    "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token",
};

static qvk_status chat_template_new(qvk_chat_template **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out || !((*out)->special_tokens = cJSON_CreateObject())) {
        free(*out);
        *out = NULL;
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "chat template: out of memory");
    }
    return QVK_OK;
}

qvk_status qvk_chat_template_parse(const char *source, qvk_chat_template **out)
{
    qvk_status status;

    *out = NULL;
    if (!source)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "chat template: source is NULL");
    if ((status = chat_template_new(out)) != QVK_OK)
        return status;
    status = qvk_template_parse(source, "chat template", &(*out)->default_template);
    if (status != QVK_OK) {
        qvk_chat_template_destroy(*out);
        *out = NULL;
    }
    return status;
}

void qvk_chat_template_destroy(qvk_chat_template *chat_template)
{
    if (!chat_template)
        return;
    qvk_template_destroy(chat_template->default_template);
    qvk_template_destroy(chat_template->tool_use);
    cJSON_Delete(chat_template->special_tokens);
    free(chat_template);
}

/* ---- Loading --------------------------------------------------------------------------------- */

/* A special token is a string or an AddedToken object {"content": "...", ...}. */
static const char *token_text(const cJSON *item)
{
    if (cJSON_IsString(item))
        return item->valuestring;
    if (cJSON_IsObject(item)) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");

        if (cJSON_IsString(content))
            return content->valuestring;
    }
    return NULL;
}

static qvk_status read_special_tokens(qvk_chat_template *chat_template, const cJSON *config)
{
    const cJSON *additional = cJSON_GetObjectItemCaseSensitive(config, "additional_special_tokens");
    size_t i;

    for (i = 0; i < sizeof(special_token_names) / sizeof(special_token_names[0]); i++) {
        const char *text = token_text(cJSON_GetObjectItemCaseSensitive(config, special_token_names[i]));

        if (text && !cJSON_AddStringToObject(chat_template->special_tokens, special_token_names[i], text))
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "chat template: out of memory");
    }
    if (cJSON_IsArray(additional)) {
        cJSON *list = cJSON_AddArrayToObject(chat_template->special_tokens, "additional_special_tokens");
        const cJSON *item;

        if (!list)
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "chat template: out of memory");
        cJSON_ArrayForEach(item, additional) {
            const char *text = token_text(item);

            if (text)
                cJSON_AddItemToArray(list, cJSON_CreateString(text));
        }
    }
    return QVK_OK;
}

/* chat_template as a list of {"name": ..., "template": ...}. */
static qvk_status parse_named_templates(qvk_chat_template *chat_template, const cJSON *list,
                                        const char *path)
{
    const cJSON *entry;
    qvk_status status;

    cJSON_ArrayForEach(entry, list) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "name");
        const cJSON *source = cJSON_GetObjectItemCaseSensitive(entry, "template");
        qvk_template **slot;

        if (!cJSON_IsString(name) || !cJSON_IsString(source))
            return qvk_error(QVK_ERR_FORMAT, "%s: each chat_template entry needs string \"name\" "
                             "and \"template\" members", path);
        if (strcmp(name->valuestring, "default") == 0)
            slot = &chat_template->default_template;
        else if (strcmp(name->valuestring, "tool_use") == 0)
            slot = &chat_template->tool_use;
        else
            continue;
        if (*slot)
            return qvk_error(QVK_ERR_FORMAT, "%s: chat template \"%s\" is defined twice", path,
                             name->valuestring);
        status = qvk_template_parse(source->valuestring,
                                    slot == &chat_template->default_template ? "chat template"
                                                                             : "chat template \"tool_use\"",
                                    slot);
        if (status != QVK_OK)
            return qvk_error_prefix(status, "%s", path);
    }
    if (!chat_template->default_template)
        return qvk_error(QVK_ERR_FORMAT, "%s: chat_template lists named templates but none is "
                         "named \"default\"", path);
    return QVK_OK;
}

/* chat_template.jinja beside tokenizer_config.json, for configs without the key. */
static qvk_status parse_template_file(qvk_chat_template *chat_template, const char *config_path)
{
    const char *slash = strrchr(config_path, '/');
    char path[4096];
    char *source;
    qvk_status status;

    snprintf(path, sizeof(path), "%.*s%schat_template.jinja", slash ? (int)(slash - config_path) : 0,
             config_path, slash ? "/" : "");
    if (qvk_file_read(path, &source, NULL) != QVK_OK)
        return qvk_error(QVK_ERR_IO, "%s has no \"chat_template\" and %s cannot be read; pass "
                         "a template file", config_path, path);
    status = qvk_template_parse(source, "chat template", &chat_template->default_template);
    free(source);
    return status == QVK_OK ? QVK_OK : qvk_error_prefix(status, "%s", path);
}

qvk_status qvk_chat_template_load(const char *tokenizer_config_path, qvk_chat_template **out)
{
    char *text;
    cJSON *config;
    const cJSON *source;
    qvk_status status;

    *out = NULL;
    if ((status = qvk_file_read(tokenizer_config_path, &text, NULL)) != QVK_OK)
        return status;
    config = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(config)) {
        cJSON_Delete(config);
        return qvk_error(QVK_ERR_FORMAT, "%s is not a JSON object", tokenizer_config_path);
    }
    if ((status = chat_template_new(out)) != QVK_OK) {
        cJSON_Delete(config);
        return status;
    }

    source = cJSON_GetObjectItemCaseSensitive(config, "chat_template");
    if (cJSON_IsString(source)) {
        status = qvk_template_parse(source->valuestring, "chat template", &(*out)->default_template);
        if (status != QVK_OK)
            status = qvk_error_prefix(status, "%s", tokenizer_config_path);
    } else if (cJSON_IsArray(source)) {
        status = parse_named_templates(*out, source, tokenizer_config_path);
    } else if (!source || cJSON_IsNull(source)) {
        status = parse_template_file(*out, tokenizer_config_path);
    } else {
        status = qvk_error(QVK_ERR_FORMAT, "%s: \"chat_template\" must be a string or a list of "
                           "{name, template} objects", tokenizer_config_path);
    }
    if (status == QVK_OK)
        status = read_special_tokens(*out, config);
    cJSON_Delete(config);
    if (status != QVK_OK) {
        qvk_chat_template_destroy(*out);
        *out = NULL;
    }
    return status;
}

/* ---- Rendering ------------------------------------------------------------------------------- */

/* Add a member that refers to item without copying it (the context is deleted before the
 * request). */
static bool add_reference(cJSON *context, const char *name, const cJSON *item)
{
    return cJSON_AddItemReferenceToObject(context, name, (cJSON *)item);
}

static qvk_status build_context(const qvk_chat_template *chat_template, const cJSON *request,
                                cJSON *context)
{
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(request, "tools");
    const cJSON *generation = cJSON_GetObjectItemCaseSensitive(request, "add_generation_prompt");
    const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(request, "enable_thinking");
    const cJSON *kwargs = cJSON_GetObjectItemCaseSensitive(request, "chat_template_kwargs");
    const cJSON *item;
    bool ok = true;

    if (!cJSON_IsArray(messages))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "chat request: \"messages\" must be an array");
    if (tools && !cJSON_IsArray(tools) && !cJSON_IsNull(tools))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "chat request: \"tools\" must be an array or null");
    if (generation && !cJSON_IsBool(generation))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "chat request: \"add_generation_prompt\" must be true or false");
    if (kwargs && !cJSON_IsObject(kwargs) && !cJSON_IsNull(kwargs))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "chat request: \"chat_template_kwargs\" must be an object");

    /* Later members win when the context is read, so the kwargs come last. */
    cJSON_ArrayForEach(item, chat_template->special_tokens)
        ok = ok && add_reference(context, item->string, item);
    ok = ok && add_reference(context, "messages", messages);
    ok = ok && (cJSON_IsArray(tools) ? add_reference(context, "tools", tools)
                                     : cJSON_AddNullToObject(context, "tools") != NULL);
    ok = ok && cJSON_AddNullToObject(context, "documents") != NULL;
    ok = ok && cJSON_AddBoolToObject(context, "add_generation_prompt", cJSON_IsTrue(generation)) != NULL;
    if (thinking)
        ok = ok && add_reference(context, "enable_thinking", thinking);
    if (cJSON_IsObject(kwargs)) {
        cJSON_ArrayForEach(item, kwargs)
            ok = ok && add_reference(context, item->string, item);
    }
    return ok ? QVK_OK : qvk_error(QVK_ERR_OUT_OF_MEMORY, "chat template: out of memory");
}

qvk_status qvk_chat_template_render(const qvk_chat_template *chat_template, const cJSON *request,
                                    char **text)
{
    const qvk_template *template_;
    cJSON *context;
    qvk_status status;

    *text = NULL;
    if (!chat_template || !cJSON_IsObject(request))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "chat request must be a JSON object");
    context = cJSON_CreateObject();
    if (!context)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "chat template: out of memory");
    status = build_context(chat_template, request, context);
    if (status == QVK_OK) {
        /* Hugging Face picks the "tool_use" template whenever tools are passed. */
        template_ = chat_template->default_template;
        if (chat_template->tool_use && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(request, "tools")))
            template_ = chat_template->tool_use;
        status = qvk_template_render(template_, context, text);
    }
    cJSON_Delete(context);
    return status;
}
