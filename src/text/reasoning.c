#include "text/reasoning.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"
#define THINK_OPEN_LENGTH (sizeof(THINK_OPEN) - 1)
#define THINK_CLOSE_LENGTH (sizeof(THINK_CLOSE) - 1)

/* ---- Text buffers ------------------------------------------------------------------------ */

qvk_status qvk_text_buffer_append(qvk_text_buffer *buffer, const char *bytes, size_t length)
{
    size_t needed = buffer->length + length + 1; /* + 1 for the terminating NUL */

    if (needed > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 64;
        char *data;

        while (capacity < needed)
            capacity *= 2;
        data = realloc(buffer->data, capacity);
        if (!data)
            return qvk_error(QVK_ERR_OUT_OF_MEMORY,
                             "out of memory growing a text buffer to %zu bytes", capacity);
        buffer->data = data;
        buffer->capacity = capacity;
    }
    if (length > 0)
        memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
    return QVK_OK;
}

void qvk_text_buffer_clear(qvk_text_buffer *buffer)
{
    buffer->length = 0;
    if (buffer->data)
        buffer->data[0] = '\0';
}

void qvk_text_buffer_free(qvk_text_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}

void qvk_text_delta_clear(qvk_text_delta *delta)
{
    qvk_text_buffer_clear(&delta->reasoning);
    qvk_text_buffer_clear(&delta->content);
}

void qvk_text_delta_free(qvk_text_delta *delta)
{
    qvk_text_buffer_free(&delta->reasoning);
    qvk_text_buffer_free(&delta->content);
}

/* ---- Streaming parser -------------------------------------------------------------------- */

void qvk_reasoning_parser_init(qvk_reasoning_parser *parser, bool starts_in_reasoning)
{
    parser->state = starts_in_reasoning ? QVK_REASONING_STATE_REASONING
                                        : QVK_REASONING_STATE_START;
    parser->tag_matched = 0;
    parser->held_newlines = 0;
    parser->at_section_start = starts_in_reasoning;
}

static qvk_status append_newlines(qvk_text_buffer *buffer, size_t count)
{
    static const char newlines[16] = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";
    qvk_status status = QVK_OK;

    while (count > 0 && status == QVK_OK) {
        size_t n = count < sizeof(newlines) ? count : sizeof(newlines);
        status = qvk_text_buffer_append(buffer, newlines, n);
        count -= n;
    }
    return status;
}

/* Emit reasoning text that follows the held newlines, which are therefore not trailing. */
static qvk_status emit_reasoning(qvk_reasoning_parser *p, const char *bytes, size_t length,
                                 qvk_text_delta *out)
{
    qvk_status status = append_newlines(&out->reasoning, p->held_newlines);

    p->held_newlines = 0;
    p->at_section_start = false;
    if (status != QVK_OK)
        return status;
    return qvk_text_buffer_append(&out->reasoning, bytes, length);
}

/* Consume bytes at the start of the output while it can still be `<think>`. Returns how many
 * bytes were consumed; the rest go to the next state. */
static size_t parse_start(qvk_reasoning_parser *p, const char *piece, size_t length,
                          qvk_text_delta *out, qvk_status *status)
{
    size_t i = 0;

    while (i < length && piece[i] == THINK_OPEN[p->tag_matched]) {
        i++;
        if (++p->tag_matched == THINK_OPEN_LENGTH) {
            p->state = QVK_REASONING_STATE_REASONING;
            p->tag_matched = 0;
            p->at_section_start = true;
            return i;
        }
    }
    if (i < length) {
        /* A mismatch: there is no think block, and the matched prefix is content. */
        *status = qvk_text_buffer_append(&out->content, THINK_OPEN, p->tag_matched);
        p->state = QVK_REASONING_STATE_CONTENT;
        p->tag_matched = 0;
        p->at_section_start = false;
    }
    return i;
}

/* Consume reasoning bytes up to and including `</think>`. Returns how many were consumed. */
static size_t parse_reasoning(qvk_reasoning_parser *p, const char *piece, size_t length,
                              qvk_text_delta *out, qvk_status *status)
{
    size_t i = 0;

    while (i < length && *status == QVK_OK) {
        char byte = piece[i];

        if (byte == THINK_CLOSE[p->tag_matched]) {
            i++;
            if (++p->tag_matched == THINK_CLOSE_LENGTH) {
                /* The newlines before </think> are the trailing ones: drop them. */
                p->state = QVK_REASONING_STATE_CONTENT;
                p->tag_matched = 0;
                p->held_newlines = 0;
                p->at_section_start = true;
                return i;
            }
        } else if (p->tag_matched > 0) {
            /* Not the tag after all: its prefix is reasoning text. '<' occurs in the tag only
             * as its first byte, so no later part of the prefix can start a new match; the
             * current byte is looked at again with nothing matched. */
            *status = emit_reasoning(p, THINK_CLOSE, p->tag_matched, out);
            p->tag_matched = 0;
        } else if (byte == '\n') {
            if (!p->at_section_start)
                p->held_newlines++;
            i++;
        } else {
            /* A run of ordinary text ends before the next byte that needs a decision. */
            size_t end = i + 1;
            while (end < length && piece[end] != '<' && piece[end] != '\n')
                end++;
            *status = emit_reasoning(p, piece + i, end - i, out);
            i = end;
        }
    }
    return i;
}

/* Consume content bytes: everything, after dropping the leading newlines of the section. */
static size_t parse_content(qvk_reasoning_parser *p, const char *piece, size_t length,
                            qvk_text_delta *out, qvk_status *status)
{
    size_t i = 0;

    if (p->at_section_start) {
        while (i < length && piece[i] == '\n')
            i++;
        if (i == length)
            return i;
        p->at_section_start = false;
    }
    *status = qvk_text_buffer_append(&out->content, piece + i, length - i);
    return length;
}

qvk_status qvk_reasoning_parser_push(qvk_reasoning_parser *parser, const char *piece,
                                     size_t length, qvk_text_delta *out)
{
    qvk_status status = QVK_OK;
    size_t i = 0;

    while (i < length && status == QVK_OK) {
        switch (parser->state) {
        case QVK_REASONING_STATE_START:
            i += parse_start(parser, piece + i, length - i, out, &status);
            break;
        case QVK_REASONING_STATE_REASONING:
            i += parse_reasoning(parser, piece + i, length - i, out, &status);
            break;
        case QVK_REASONING_STATE_CONTENT:
            i += parse_content(parser, piece + i, length - i, out, &status);
            break;
        }
    }
    return status;
}

qvk_status qvk_reasoning_parser_finish(qvk_reasoning_parser *parser, qvk_text_delta *out)
{
    qvk_status status = QVK_OK;

    if (parser->state == QVK_REASONING_STATE_START) {
        /* The whole output is a proper prefix of <think>, e.g. "<th": plain content. */
        status = qvk_text_buffer_append(&out->content, THINK_OPEN, parser->tag_matched);
        parser->state = QVK_REASONING_STATE_CONTENT;
    } else if (parser->state == QVK_REASONING_STATE_REASONING && parser->tag_matched > 0) {
        /* Stopped inside "</thi...": the held newlines precede text, so they are kept. */
        status = emit_reasoning(parser, THINK_CLOSE, parser->tag_matched, out);
    }
    parser->tag_matched = 0;
    parser->held_newlines = 0;
    return status;
}

/* ---- Whole output ------------------------------------------------------------------------ */

/* Done directly on the string rather than through the streaming parser, so the tests can
 * compare two independent implementations of the same rules. */
qvk_status qvk_reasoning_parse(const char *text, size_t length, bool starts_in_reasoning,
                               qvk_text_delta *out)
{
    const char *end = text + length, *close, *reasoning_end, *content;
    qvk_status status;

    if (!starts_in_reasoning) {
        if (length < THINK_OPEN_LENGTH || memcmp(text, THINK_OPEN, THINK_OPEN_LENGTH) != 0)
            return qvk_text_buffer_append(&out->content, text, length);
        text += THINK_OPEN_LENGTH;
    }

    close = memmem(text, (size_t)(end - text), THINK_CLOSE, THINK_CLOSE_LENGTH);
    reasoning_end = close ? close : end;
    content = close ? close + THINK_CLOSE_LENGTH : end;

    while (text < reasoning_end && *text == '\n')
        text++;
    while (reasoning_end > text && reasoning_end[-1] == '\n')
        reasoning_end--;
    while (content < end && *content == '\n')
        content++;

    status = qvk_text_buffer_append(&out->reasoning, text, (size_t)(reasoning_end - text));
    if (status != QVK_OK)
        return status;
    return qvk_text_buffer_append(&out->content, content, (size_t)(end - content));
}
