/* Reasoning parser: splits generated text into reasoning and answer (content), like the qwen3
 * reasoning parsers of vLLM and SGLang.
 *
 * Qwen3 thinks as `<think>\n...reasoning...\n</think>\n\nanswer`. The rules:
 *   - When the prompt already ends in `<think>` or `<think>\n` (Qwen3-2507 thinking templates),
 *     the caller passes starts_in_reasoning and the output begins inside the reasoning.
 *   - Otherwise the output has a think block only if it starts with exactly `<think>`. Without
 *     one, all of it is content, unchanged. This is the case with thinking disabled, because
 *     the template then puts an empty think block in the prompt.
 *   - The reasoning ends at the first `</think>`; the text after it is content. `<think>` and
 *     `</think>` inside the content, and `<think>` inside the reasoning, are plain text.
 *   - When generation stops before `</think>` (max tokens), everything generated is reasoning
 *     and the content is empty, as SGLang does with forced reasoning.
 *
 * Whitespace: the reasoning loses its leading and trailing '\n' bytes, and the content after
 * `</think>` loses its leading '\n' bytes; no other byte is dropped. This is what the Qwen3
 * chat template strips when it renders an assistant turn from content that holds a think
 * block, so rendering (reasoning, content) back through the template gives the same prompt.
 * vLLM instead keeps the content after `</think>` as it is ("\n\nanswer").
 *
 * Streaming: push pieces of any length, UTF-8 text split anywhere, a tag included (as in "</th"
 * + "ink>"). Each push appends the newly decided reasoning and content to a qvk_text_delta.
 * Within one push the reasoning always comes before the content, because the parser only moves
 * from reasoning to content, so a CLI can print delta.reasoning dimmed and then delta.content
 * plain. The parser holds back the bytes that could still be the start of a tag, and in the
 * reasoning also a run of '\n' bytes, which may turn out to be the trailing newlines stripped
 * before `</think>`; qvk_reasoning_parser_finish() releases what is held.
 */
#ifndef QWEN3VK_TEXT_REASONING_H
#define QWEN3VK_TEXT_REASONING_H

#include "qwen3vk.h"

/* A growable byte string, always NUL-terminated after length bytes once data is allocated
 * (data is NULL while nothing was appended). Zero-initialize it before use. */
typedef struct qvk_text_buffer {
    char *data;
    size_t length;
    size_t capacity;
} qvk_text_buffer;

qvk_status qvk_text_buffer_append(qvk_text_buffer *buffer, const char *bytes, size_t length);
/* Set the length to 0, keeping the allocation. */
void qvk_text_buffer_clear(qvk_text_buffer *buffer);
void qvk_text_buffer_free(qvk_text_buffer *buffer);

/* Output of the reasoning parser: text appended since the caller last cleared it. */
typedef struct qvk_text_delta {
    qvk_text_buffer reasoning;
    qvk_text_buffer content;
} qvk_text_delta;

void qvk_text_delta_clear(qvk_text_delta *delta);
void qvk_text_delta_free(qvk_text_delta *delta);

typedef enum qvk_reasoning_state {
    QVK_REASONING_STATE_START,     /* nothing decided yet: the output may open with <think> */
    QVK_REASONING_STATE_REASONING, /* inside the think block */
    QVK_REASONING_STATE_CONTENT,   /* after </think>, or the output had no think block */
} qvk_reasoning_state;

/* The parser owns no memory, so it needs no free function. */
typedef struct qvk_reasoning_parser {
    qvk_reasoning_state state;
    size_t tag_matched;    /* bytes of the tag this state looks for, matched at the end of the
                              input so far and held back */
    size_t held_newlines;  /* '\n' bytes of the reasoning held back before tag_matched */
    bool at_section_start; /* no byte of this section emitted yet, so '\n' bytes are dropped */
} qvk_reasoning_parser;

void qvk_reasoning_parser_init(qvk_reasoning_parser *parser, bool starts_in_reasoning);

/* Parse the next length bytes of generated text and append what they decide to out. Returns
 * QVK_ERR_OUT_OF_MEMORY when out cannot grow. */
qvk_status qvk_reasoning_parser_push(qvk_reasoning_parser *parser, const char *piece,
                                     size_t length, qvk_text_delta *out);

/* End of generation: append the held-back bytes to out. A partial tag is plain text of its
 * section, and held trailing newlines of the reasoning are dropped. */
qvk_status qvk_reasoning_parser_finish(qvk_reasoning_parser *parser, qvk_text_delta *out);

/* Split a whole output at once, with the same rules (appends to out). */
qvk_status qvk_reasoning_parse(const char *text, size_t length, bool starts_in_reasoning,
                               qvk_text_delta *out);

#endif
