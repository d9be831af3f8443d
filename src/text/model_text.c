/* The text side of a model: its tokenizer and chat template, and the public text functions. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "model/model.h"
#include "text/chat_request.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

qvk_status qvk_model_load_text(qvk_model *model)
{
    char path[4200];
    double start = qvk_time_seconds();
    qvk_status status;

    snprintf(path, sizeof(path), "%s/tokenizer.json", model->dir);
    if (access(path, F_OK) != 0)
        qvk_log_warn("%s not found: only token ids can be used with this model", path);
    else if ((status = qvk_tokenizer_load(path, &model->tokenizer)) != QVK_OK)
        return status;
    snprintf(path, sizeof(path), "%s/tokenizer_config.json", model->dir);
    if (access(path, F_OK) != 0)
        qvk_log_warn("%s not found: chats need a template file (--template)", path);
    else if ((status = qvk_chat_template_load(path, &model->chat_template)) == QVK_ERR_IO)
        qvk_log_warn("%s; chats need a template file (--template)", qvk_last_error());
    else if (status != QVK_OK)
        return status;
    if (model->tokenizer)
        qvk_log_debug("tokenizer (%d tokens) and chat template loaded in %.0f ms",
                      qvk_tokenizer_vocab_size(model->tokenizer),
                      (qvk_time_seconds() - start) * 1e3);
    return QVK_OK;
}

void qvk_model_free_text(qvk_model *model)
{
    qvk_tokenizer_destroy(model->tokenizer);
    qvk_chat_template_destroy(model->chat_template);
    model->tokenizer = NULL;
    model->chat_template = NULL;
}

static qvk_status require_tokenizer(const qvk_model *model)
{
    if (model->tokenizer)
        return QVK_OK;
    return qvk_error(QVK_ERR_INVALID_ARGUMENT, "%s has no tokenizer.json; copy it from the "
                     "model's Hugging Face repository", model->dir);
}

qvk_status qvk_tokenize(const qvk_model *model, const char *text, size_t length, int32_t **ids,
                        size_t *n_ids)
{
    qvk_status status = require_tokenizer(model);
    return status == QVK_OK ? qvk_tokenizer_encode(model->tokenizer, text, length, ids, n_ids)
                            : status;
}

qvk_status qvk_detokenize(const qvk_model *model, const int32_t *ids, size_t n_ids, char **text,
                          size_t *length)
{
    qvk_status status = require_tokenizer(model);

    if (status != QVK_OK)
        return status;
    for (size_t i = 0; ids && i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= model->config.vocab_size)
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "token id %d at index %zu is outside the "
                             "vocabulary (0..%d)", ids[i], i, model->config.vocab_size - 1);
    return qvk_tokenizer_decode(model->tokenizer, ids, n_ids, text, length);
}

/* The offset of the first \u0000 escape inside a JSON string of json, or -1. cJSON decodes it
 * to a NUL byte, which would silently cut the C string that contains the text there. */
static long json_nul_escape_offset(const char *json)
{
    bool in_string = false;

    for (const char *c = json; *c; c++) {
        if (*c == '"') {
            in_string = !in_string;
        } else if (in_string && *c == '\\') {
            if (c[1] == 'u' && strncmp(c + 2, "0000", 4) == 0)
                return (long)(c - json);
            if (c[1])
                c++; /* skip the escaped character, which may be a quote */
        }
    }
    return -1;
}

qvk_status qvk_chat_render(const qvk_model *model, const char *request_json, char **prompt)
{
    long nul_offset;
    cJSON *request;
    qvk_status status;

    if (!model || !request_json || !prompt)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_chat_render: model, request_json and "
                         "prompt must not be NULL");
    if (!model->chat_template)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "%s has no chat template (tokenizer_config.json "
                         "with chat_template); pass one with --template FILE", model->dir);
    nul_offset = json_nul_escape_offset(request_json);
    if (nul_offset >= 0)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "the chat request contains a NUL character "
                         "(\\u0000) in a string at byte %ld; remove it, since text sent to the "
                         "model cannot contain NUL", nul_offset);
    request = cJSON_ParseWithOpts(request_json, NULL, true);
    if (!cJSON_IsObject(request)) {
        cJSON_Delete(request);
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "the chat request is not a valid JSON object");
    }
    status = qvk_chat_request_normalize(request);
    if (status == QVK_OK)
        status = qvk_chat_template_render(model->chat_template, request, prompt);
    cJSON_Delete(request);
    return status;
}

qvk_status qvk_model_load_chat_template(qvk_model *model, const char *path)
{
    char *source;
    qvk_chat_template *chat_template;
    qvk_status status = qvk_file_read(path, &source, NULL);

    if (status != QVK_OK)
        return status;
    status = qvk_chat_template_parse(source, &chat_template);
    free(source);
    if (status != QVK_OK)
        return qvk_error_prefix(status, "%s", path);
    qvk_chat_template_destroy(model->chat_template);
    model->chat_template = chat_template;
    return QVK_OK;
}
