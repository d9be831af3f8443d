/* Tool-call parser: extracts Qwen3's tool calls from the content (the text after the
 * reasoning).
 *
 * Qwen3 writes each call as a block in its content:
 *
 *     <tool_call>
 *     {"name": "get_weather", "arguments": {"city": "Paris"}}
 *     </tool_call>
 *
 * possibly several in a row. The parser splits the content into the plain text outside the
 * blocks and a list of calls. Each call has its name and its arguments serialized as a JSON
 * string, as the OpenAI API returns them ("{\"city\":\"Paris\"}", compact, UTF-8 unescaped).
 *
 * Rules:
 *   - A block must be a JSON object with a non-empty string "name". Its "arguments" may be an
 *     object, a string that holds a JSON object (used as it is), or absent or null ("{}").
 *   - A block that fails those rules is kept in the content verbatim, tags included, and
 *     counted in n_invalid with the reason in invalid_reason; a warning is logged. It never
 *     fails the call.
 *   - At the end of generation an unterminated block (and a partial "</tool_call" at its end)
 *     is parsed as if closed; if it does not parse, "<tool_call>" and its text become content.
 *   - Text outside the blocks is kept byte for byte, so two blocks separated by "\n" leave the
 *     content "\n". An OpenAI-compatible server should send null content when it is only
 *     whitespace.
 *
 * Streaming: push content pieces of any length; the plain text is appended to a buffer at once,
 * except a trailing partial "<tool_call" (held back) and the text of an open block (withheld
 * until the block closes). Finished calls are appended to calls[]; a caller that streams them
 * remembers how many it has sent.
 */
#ifndef QWEN3VK_TEXT_TOOL_CALL_H
#define QWEN3VK_TEXT_TOOL_CALL_H

#include "text/reasoning.h"

typedef struct qvk_tool_call {
    char *name;      /* NUL-terminated UTF-8 */
    char *arguments; /* a JSON object as compact text, NUL-terminated */
} qvk_tool_call;

typedef struct qvk_tool_call_parser {
    bool in_block;         /* after <tool_call>, before </tool_call> */
    size_t tag_matched;    /* bytes of "<tool_call>" matched at the end of the input, held back */
    qvk_text_buffer block; /* text of the open block so far */

    qvk_tool_call *calls;
    size_t n_calls;
    size_t calls_capacity;

    size_t n_invalid;         /* blocks kept as content because they did not parse */
    char invalid_reason[256]; /* why the last of them did not parse */
} qvk_tool_call_parser;

void qvk_tool_call_parser_init(qvk_tool_call_parser *parser);
/* Free the calls and buffers; the parser can be initialized again afterwards. */
void qvk_tool_call_parser_free(qvk_tool_call_parser *parser);

/* Parse the next length bytes of content, append its plain text to out and finished calls to
 * parser->calls. Returns QVK_ERR_OUT_OF_MEMORY when memory runs out; invalid blocks are not an
 * error. */
qvk_status qvk_tool_call_parser_push(qvk_tool_call_parser *parser, const char *content,
                                     size_t length, qvk_text_buffer *out);

/* End of generation: resolve an open block or a held partial tag by the rules above. */
qvk_status qvk_tool_call_parser_finish(qvk_tool_call_parser *parser, qvk_text_buffer *out);

/* Parse a whole content string: initializes parser (free it afterwards), then push and finish. */
qvk_status qvk_tool_call_parse(const char *content, size_t length, qvk_tool_call_parser *parser,
                               qvk_text_buffer *out);

#endif
