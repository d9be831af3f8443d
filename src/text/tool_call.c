#include "text/tool_call.h"

#include "core/error.h"
#include "core/log.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_CALL_OPEN "<tool_call>"
#define TOOL_CALL_CLOSE "</tool_call>"
#define TOOL_CALL_OPEN_LENGTH (sizeof(TOOL_CALL_OPEN) - 1)
#define TOOL_CALL_CLOSE_LENGTH (sizeof(TOOL_CALL_CLOSE) - 1)

void qvk_tool_call_parser_init(qvk_tool_call_parser *parser)
{
    memset(parser, 0, sizeof(*parser));
}

void qvk_tool_call_parser_free(qvk_tool_call_parser *parser)
{
    for (size_t i = 0; i < parser->n_calls; i++) {
        free(parser->calls[i].name);
        free(parser->calls[i].arguments);
    }
    free(parser->calls);
    qvk_text_buffer_free(&parser->block);
    qvk_tool_call_parser_init(parser);
}

static char *copy_string(const char *text)
{
    size_t size = strlen(text) + 1;
    char *copy = malloc(size);

    if (copy)
        memcpy(copy, text, size);
    return copy;
}

/* ---- One block --------------------------------------------------------------------------- */

/* Record why a block was rejected; its text goes to the content. */
static void note_invalid(qvk_tool_call_parser *p, const char *fmt, ...) QVK_PRINTF(2, 3);
static void note_invalid(qvk_tool_call_parser *p, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(p->invalid_reason, sizeof(p->invalid_reason), fmt, args);
    va_end(args);
    p->n_invalid++;
    qvk_log_warn("tool call kept as plain content: %s", p->invalid_reason);
}

/* The "arguments" member as compact JSON text (malloc'd), or NULL after note_invalid() or when
 * memory runs out (*out_of_memory set). */
static char *serialize_arguments(qvk_tool_call_parser *p, const cJSON *arguments,
                                 bool *out_of_memory)
{
    char *text = NULL;

    if (!arguments || cJSON_IsNull(arguments)) {
        text = copy_string("{}");
    } else if (cJSON_IsObject(arguments)) {
        text = cJSON_PrintUnformatted(arguments);
    } else if (cJSON_IsString(arguments)) {
        /* Already serialized by the model: keep it if it contains a JSON object. */
        cJSON *inner = cJSON_Parse(arguments->valuestring);
        bool is_object = cJSON_IsObject(inner);

        cJSON_Delete(inner);
        if (!is_object) {
            note_invalid(p, "\"arguments\" is a string that does not hold a JSON object");
            return NULL;
        }
        text = copy_string(arguments->valuestring);
    } else {
        note_invalid(p, "\"arguments\" is neither a JSON object nor a string");
        return NULL;
    }
    *out_of_memory = text == NULL;
    return text;
}

/* Parse the JSON text of a block into a new entry of p->calls. *valid is false when the text
 * breaks the rules (after note_invalid()); the status is an error only when memory runs out. */
static qvk_status add_call(qvk_tool_call_parser *p, const char *json, bool *valid)
{
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &parse_end, true);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    qvk_tool_call call = {NULL, NULL};
    bool out_of_memory = false;

    *valid = false;
    if (!root) {
        note_invalid(p, "invalid JSON at byte %td of the block",
                     parse_end && parse_end >= json ? parse_end - json : (ptrdiff_t)0);
        return QVK_OK;
    }
    if (!cJSON_IsObject(root)) {
        note_invalid(p, "the block is JSON but not an object");
    } else if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        note_invalid(p, "the block has no non-empty string \"name\"");
    } else {
        call.arguments = serialize_arguments(
            p, cJSON_GetObjectItemCaseSensitive(root, "arguments"), &out_of_memory);
        if (call.arguments) {
            call.name = copy_string(name->valuestring);
            out_of_memory = call.name == NULL;
        }
    }
    cJSON_Delete(root);

    if (!out_of_memory && call.name && p->n_calls == p->calls_capacity) {
        size_t capacity = p->calls_capacity ? 2 * p->calls_capacity : 4;
        qvk_tool_call *calls = realloc(p->calls, capacity * sizeof(*calls));

        out_of_memory = calls == NULL;
        if (calls) {
            p->calls = calls;
            p->calls_capacity = capacity;
        }
    }
    if (out_of_memory) {
        free(call.name);
        free(call.arguments);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory storing a tool call");
    }
    if (call.name) {
        p->calls[p->n_calls++] = call;
        *valid = true;
    }
    return QVK_OK;
}

/* Resolve the open block, whose JSON is its first json_length bytes: a call, or (when invalid)
 * "<tool_call>" and the whole block text as content. */
static qvk_status close_block(qvk_tool_call_parser *p, size_t json_length, qvk_text_buffer *out)
{
    char *text = p->block.data;
    char saved = text[json_length];
    qvk_status status;
    bool valid;

    text[json_length] = '\0';
    status = add_call(p, text, &valid);
    text[json_length] = saved;
    if (status == QVK_OK && !valid) {
        status = qvk_text_buffer_append(out, TOOL_CALL_OPEN, TOOL_CALL_OPEN_LENGTH);
        if (status == QVK_OK)
            status = qvk_text_buffer_append(out, text, p->block.length);
    }
    p->in_block = false;
    qvk_text_buffer_clear(&p->block);
    return status;
}

/* ---- Streaming --------------------------------------------------------------------------- */

/* Consume block bytes up to and including "</tool_call>". Returns how many were consumed. */
static size_t parse_block(qvk_tool_call_parser *p, const char *piece, size_t length,
                          qvk_text_buffer *out, qvk_status *status)
{
    const size_t close_length = TOOL_CALL_CLOSE_LENGTH;
    size_t i = 0;

    while (i < length && p->in_block && *status == QVK_OK) {
        /* The closing tag ends in '>', so the block can only close right after one. */
        const char *gt = memchr(piece + i, '>', length - i);
        size_t end = gt ? (size_t)(gt - piece) + 1 : length;
        qvk_text_buffer *block = &p->block;

        *status = qvk_text_buffer_append(block, piece + i, end - i);
        i = end;
        if (*status == QVK_OK && gt && block->length >= close_length &&
            memcmp(block->data + block->length - close_length, TOOL_CALL_CLOSE,
                   close_length) == 0)
            *status = close_block(p, block->length - close_length, out);
    }
    return i;
}

/* Consume plain content up to and including "<tool_call>". Returns how many were consumed. */
static size_t parse_outside(qvk_tool_call_parser *p, const char *piece, size_t length,
                            qvk_text_buffer *out, qvk_status *status)
{
    size_t i = 0;

    while (i < length && *status == QVK_OK) {
        if (piece[i] == TOOL_CALL_OPEN[p->tag_matched]) {
            i++;
            if (++p->tag_matched == TOOL_CALL_OPEN_LENGTH) {
                p->in_block = true;
                p->tag_matched = 0;
                return i;
            }
        } else if (p->tag_matched > 0) {
            /* Not the tag: its prefix is content. '<' occurs in the tag only as its first
             * byte, so the current byte is looked at again with nothing matched. */
            *status = qvk_text_buffer_append(out, TOOL_CALL_OPEN, p->tag_matched);
            p->tag_matched = 0;
        } else {
            const char *lt = memchr(piece + i + 1, '<', length - i - 1);
            size_t end = lt ? (size_t)(lt - piece) : length;

            *status = qvk_text_buffer_append(out, piece + i, end - i);
            i = end;
        }
    }
    return i;
}

qvk_status qvk_tool_call_parser_push(qvk_tool_call_parser *parser, const char *content,
                                     size_t length, qvk_text_buffer *out)
{
    qvk_status status = QVK_OK;
    size_t i = 0;

    while (i < length && status == QVK_OK) {
        if (parser->in_block)
            i += parse_block(parser, content + i, length - i, out, &status);
        else
            i += parse_outside(parser, content + i, length - i, out, &status);
    }
    return status;
}

qvk_status qvk_tool_call_parser_finish(qvk_tool_call_parser *parser, qvk_text_buffer *out)
{
    qvk_status status = QVK_OK;

    if (parser->in_block) {
        /* Generation stopped inside the block, perhaps within "</tool_call": leave out that
         * partial tag and try the JSON before it. */
        size_t json_length = parser->block.length;

        if (!parser->block.data)
            status = qvk_text_buffer_append(&parser->block, "", 0); /* allocate the NUL */
        for (size_t k = TOOL_CALL_CLOSE_LENGTH - 1; k > 0 && status == QVK_OK; k--) {
            if (k <= json_length && memcmp(parser->block.data + json_length - k,
                                           TOOL_CALL_CLOSE, k) == 0) {
                json_length -= k;
                break;
            }
        }
        if (status == QVK_OK)
            status = close_block(parser, json_length, out);
    } else if (parser->tag_matched > 0) {
        status = qvk_text_buffer_append(out, TOOL_CALL_OPEN, parser->tag_matched);
    }
    parser->tag_matched = 0;
    return status;
}

qvk_status qvk_tool_call_parse(const char *content, size_t length, qvk_tool_call_parser *parser,
                               qvk_text_buffer *out)
{
    qvk_status status;

    qvk_tool_call_parser_init(parser);
    status = qvk_tool_call_parser_push(parser, content, length, out);
    if (status != QVK_OK)
        return status;
    return qvk_tool_call_parser_finish(parser, out);
}
