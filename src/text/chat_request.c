#include "text/chat_request.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Join the "text" of every {"type": "text"} part; index is the message's, for messages. */
static qvk_status join_text_parts(cJSON *message, cJSON *parts, int index)
{
    size_t length = 0;
    char *joined;
    const cJSON *part;

    cJSON_ArrayForEach(part, parts) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0)
            return qvk_error(QVK_ERR_UNSUPPORTED, "message %d: content part of type \"%s\" is not "
                             "supported; qwen3vk handles text parts only", index,
                             cJSON_IsString(type) ? type->valuestring : "(none)");
        if (!cJSON_IsString(text))
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "message %d: a text part has no string "
                             "\"text\"", index);
        length += strlen(text->valuestring);
    }
    joined = malloc(length + 1);
    if (!joined)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory joining message %d", index);
    joined[0] = '\0';
    cJSON_ArrayForEach(part, parts)
        strcat(joined, cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring);
    cJSON_ReplaceItemInObjectCaseSensitive(message, "content", cJSON_CreateString(joined));
    free(joined);
    return QVK_OK;
}

qvk_status qvk_chat_request_normalize(cJSON *request)
{
    cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
    cJSON *message;
    int index = 0;

    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "the chat request needs a non-empty "
                         "\"messages\" array");
    cJSON_ArrayForEach(message, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");
        cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
        qvk_status status;

        if (!cJSON_IsObject(message) || !cJSON_IsString(role))
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "message %d has no string \"role\"", index);
        if (cJSON_IsNull(content))
            cJSON_ReplaceItemInObjectCaseSensitive(message, "content", cJSON_CreateString(""));
        else if (cJSON_IsArray(content) && (status = join_text_parts(message, content, index)) != QVK_OK)
            return status;
        else if (content && !cJSON_IsString(content) && !cJSON_IsArray(content))
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "message %d: \"content\" must be a string, "
                             "a list of text parts or null", index);
        index++;
    }
    return QVK_OK;
}
