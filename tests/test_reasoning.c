/* Reasoning parser and tool-call parser: the split of Qwen3 output into reasoning, content and
 * tool calls, one-shot and streamed in pieces cut at every byte boundary. */
#include "test.h"
#include "text/reasoning.h"
#include "text/tool_call.h"

#include <stdbool.h>

/* ---- Reasoning helpers ------------------------------------------------------------------- */

typedef struct reasoning_case {
    const char *name;
    const char *output;
    bool starts_in_reasoning;
    const char *reasoning;
    const char *content;
} reasoning_case;

static const reasoning_case REASONING_CASES[] = {
    {"think block", "<think>\nLet me add 2 and 2.\n</think>\n\nThe answer is 4.", false,
     "Let me add 2 and 2.", "The answer is 4."},
    {"prompt ends in <think>", "\nOkay, 2 + 2.\n</think>\n\n4", true, "Okay, 2 + 2.", "4"},
    {"prompt ends in <think>\\n", "Okay.\n</think>\n\nDone.", true, "Okay.", "Done."},
    {"thinking off", "The answer is 4.", false, "", "The answer is 4."},
    {"thinking off keeps newlines", "\n\nHi\n", false, "", "\n\nHi\n"},
    {"thinking off, <think> later", "Say <think> and </think>.", false, "",
     "Say <think> and </think>."},
    {"no think block after a space", " <think>x</think>y", false, "", " <think>x</think>y"},
    {"stop inside reasoning", "<think>\nStill thinking\n\n", false, "Still thinking", ""},
    {"stop inside reasoning from prompt", "abc\ndef", true, "abc\ndef", ""},
    {"stop inside closing tag", "<think>\nabc\n</thi", false, "abc\n</thi", ""},
    {"stop inside opening tag", "<thi", false, "", "<thi"},
    {"only the opening tag", "<think>", false, "", ""},
    {"empty output", "", false, "", ""},
    {"empty reasoning", "<think>\n\n</think>\n\nHello", false, "", "Hello"},
    {"<think> inside content", "<think>\na\n</think>\n\nUse <think> tags</think> freely", false,
     "a", "Use <think> tags</think> freely"},
    {"<think> inside reasoning", "<think>\nthe <think> tag\n</think>ok", false, "the <think> tag",
     "ok"},
    {"inner newlines kept", "<think>\nline1\n\nline2\n</think>\n\nans\n", false, "line1\n\nline2",
     "ans\n"},
    {"near-miss tags", "<think>\na </thin b <\n</think>x", false, "a </thin b <", "x"},
    {"'<' before the tag", "<think>\nx\n<\n<</think>y", false, "x\n<\n<", "y"},
    {"newlines then near miss", "<think>\nx\n\n</b>\n</think>\n", false, "x\n\n</b>", ""},
    {"UTF-8", "<think>\n思考中…\n</think>\n\n答案是 4。", false, "思考中…", "答案是 4。"},
    {"content whitespace kept", "<think>x</think>\n\n  a \n\n b", false, "x", "  a \n\n b"},
};
#define N_REASONING_CASES (sizeof(REASONING_CASES) / sizeof(REASONING_CASES[0]))

/* Stream output in pieces that end at the given cut offsets (ascending, each <= length), then
 * finish. Each push gets a cleared delta, which is appended to *total, so the test also checks
 * that nothing depends on the caller keeping old text. */
static void stream_reasoning(const char *output, bool starts_in_reasoning, const size_t *cuts,
                             size_t n_cuts, qvk_text_delta *total)
{
    qvk_reasoning_parser parser;
    qvk_text_delta delta = {{0}, {0}};
    size_t length = strlen(output), start = 0;

    qvk_reasoning_parser_init(&parser, starts_in_reasoning);
    for (size_t c = 0; c <= n_cuts; c++) {
        size_t end = c < n_cuts ? cuts[c] : length;

        qvk_text_delta_clear(&delta);
        CHECK_INT_EQ(qvk_reasoning_parser_push(&parser, output + start, end - start, &delta),
                     QVK_OK);
        qvk_text_buffer_append(&total->reasoning, delta.reasoning.data, delta.reasoning.length);
        qvk_text_buffer_append(&total->content, delta.content.data, delta.content.length);
        start = end;
    }
    qvk_text_delta_clear(&delta);
    CHECK_INT_EQ(qvk_reasoning_parser_finish(&parser, &delta), QVK_OK);
    qvk_text_buffer_append(&total->reasoning, delta.reasoning.data, delta.reasoning.length);
    qvk_text_buffer_append(&total->content, delta.content.data, delta.content.length);
    qvk_text_delta_free(&delta);
}

static const char *text_of(const qvk_text_buffer *buffer)
{
    return buffer->data ? buffer->data : "";
}

/* Whether the streamed split matches the case; prints the first mismatch of a loop. */
static bool stream_matches(const reasoning_case *rc, const size_t *cuts, size_t n_cuts)
{
    qvk_text_delta total = {{0}, {0}};
    bool same;

    stream_reasoning(rc->output, rc->starts_in_reasoning, cuts, n_cuts, &total);
    same = strcmp(text_of(&total.reasoning), rc->reasoning) == 0 &&
           strcmp(text_of(&total.content), rc->content) == 0;
    if (!same) {
        fprintf(stderr, "case \"%s\" cut at", rc->name);
        for (size_t c = 0; c < n_cuts; c++)
            fprintf(stderr, " %zu", cuts[c]);
        fprintf(stderr, ": reasoning \"%s\" content \"%s\"\n", text_of(&total.reasoning),
                text_of(&total.content));
    }
    qvk_text_delta_free(&total);
    return same;
}

/* ---- Reasoning tests --------------------------------------------------------------------- */

static void reasoning_one_shot(void)
{
    for (size_t i = 0; i < N_REASONING_CASES; i++) {
        const reasoning_case *rc = &REASONING_CASES[i];
        qvk_text_delta out = {{0}, {0}};

        CHECK_INT_EQ(qvk_reasoning_parse(rc->output, strlen(rc->output), rc->starts_in_reasoning,
                                         &out),
                     QVK_OK);
        CHECK_STR_EQ(text_of(&out.reasoning), rc->reasoning);
        CHECK_STR_EQ(text_of(&out.content), rc->content);
        qvk_text_delta_free(&out);
    }
}

static void reasoning_whole_piece(void)
{
    for (size_t i = 0; i < N_REASONING_CASES; i++)
        CHECK(stream_matches(&REASONING_CASES[i], NULL, 0));
}

static void reasoning_every_split(void)
{
    for (size_t i = 0; i < N_REASONING_CASES; i++) {
        const reasoning_case *rc = &REASONING_CASES[i];
        size_t length = strlen(rc->output), failures = 0;

        for (size_t cut = 0; cut <= length; cut++)
            failures += !stream_matches(rc, &cut, 1);
        CHECK_INT_EQ(failures, 0);
    }
}

static void reasoning_every_two_splits(void)
{
    for (size_t i = 0; i < N_REASONING_CASES; i++) {
        const reasoning_case *rc = &REASONING_CASES[i];
        size_t length = strlen(rc->output), failures = 0;

        for (size_t a = 0; a <= length; a++) {
            for (size_t b = a; b <= length; b++) {
                size_t cuts[2] = {a, b};
                failures += !stream_matches(rc, cuts, 2);
            }
        }
        CHECK_INT_EQ(failures, 0);
    }
}

static void reasoning_one_byte_pieces(void)
{
    static size_t cuts[256];

    for (size_t i = 0; i < N_REASONING_CASES; i++) {
        const reasoning_case *rc = &REASONING_CASES[i];
        size_t length = strlen(rc->output);

        CHECK(length < 256);
        for (size_t c = 0; c < length; c++)
            cuts[c] = c + 1;
        CHECK(stream_matches(rc, cuts, length ? length - 1 : 0));
    }
}

/* Push one piece and check exactly what it releases. */
static void check_push(qvk_reasoning_parser *parser, const char *piece, const char *reasoning,
                       const char *content)
{
    qvk_text_delta delta = {{0}, {0}};

    CHECK_INT_EQ(qvk_reasoning_parser_push(parser, piece, strlen(piece), &delta), QVK_OK);
    CHECK_STR_EQ(text_of(&delta.reasoning), reasoning);
    CHECK_STR_EQ(text_of(&delta.content), content);
    qvk_text_delta_free(&delta);
}

static void reasoning_close_tag_split(void)
{
    qvk_reasoning_parser parser;
    qvk_text_delta delta = {{0}, {0}};

    qvk_reasoning_parser_init(&parser, false);
    check_push(&parser, "<think>", "", "");
    check_push(&parser, "\nabc", "abc", "");
    /* The newline and the partial tag are held: either may belong to the closing tag. */
    check_push(&parser, "\n</th", "", "");
    check_push(&parser, "ink>", "", "");
    check_push(&parser, "\n\nThe", "", "The");
    check_push(&parser, " end.", "", " end.");
    CHECK_INT_EQ(qvk_reasoning_parser_finish(&parser, &delta), QVK_OK);
    CHECK_INT_EQ(delta.reasoning.length + delta.content.length, 0);
    qvk_text_delta_free(&delta);
}

static void reasoning_near_miss_released(void)
{
    qvk_reasoning_parser parser;

    qvk_reasoning_parser_init(&parser, true);
    check_push(&parser, "abc<", "abc", "");
    check_push(&parser, "/thx", "</thx", "");
    check_push(&parser, "\n", "", "");
    check_push(&parser, "y", "\ny", "");
}

static void reasoning_then_content_in_one_push(void)
{
    qvk_reasoning_parser parser;

    /* Both sections in one push: reasoning first, then content. */
    qvk_reasoning_parser_init(&parser, false);
    check_push(&parser, "<think>\nr\n</think>\n\nc", "r", "c");
}

static void content_streams_without_delay(void)
{
    qvk_reasoning_parser parser;

    /* Without a think block, content is released as soon as it cannot be "<think>". */
    qvk_reasoning_parser_init(&parser, false);
    check_push(&parser, "Hel", "", "Hel");
    check_push(&parser, "lo <thi", "", "lo <thi");

    qvk_reasoning_parser_init(&parser, false);
    check_push(&parser, "<", "", "");
    check_push(&parser, "b>", "", "<b>");

    /* In the content after </think>, a '<' is not held either. */
    qvk_reasoning_parser_init(&parser, true);
    check_push(&parser, "r</think>\n", "r", "");
    check_push(&parser, "\na<", "", "a<");
}

static void reasoning_stop_keeps_text(void)
{
    qvk_reasoning_parser parser;
    qvk_text_delta delta = {{0}, {0}};

    /* max tokens reached in the reasoning: held newlines are trailing and dropped. */
    qvk_reasoning_parser_init(&parser, false);
    check_push(&parser, "<think>\nhalf a thought\n\n", "half a thought", "");
    CHECK_INT_EQ(qvk_reasoning_parser_finish(&parser, &delta), QVK_OK);
    CHECK_STR_EQ(text_of(&delta.reasoning), "");
    CHECK_STR_EQ(text_of(&delta.content), "");

    /* A held partial tag is reasoning text, with the newline before it. */
    qvk_text_delta_clear(&delta);
    qvk_reasoning_parser_init(&parser, true);
    check_push(&parser, "x\n</", "x", "");
    CHECK_INT_EQ(qvk_reasoning_parser_finish(&parser, &delta), QVK_OK);
    CHECK_STR_EQ(text_of(&delta.reasoning), "\n</");
    CHECK_STR_EQ(text_of(&delta.content), "");
    qvk_text_delta_free(&delta);
}

/* ---- Tool-call helpers ------------------------------------------------------------------- */

#define WEATHER_CALL                                                                       \
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
#define TIME_CALL                                                                          \
    "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"CET\", \"hour12\": "     \
    "false}}\n</tool_call>"

/* Run the tool-call parser over content cut at the given offsets; the caller frees parser. */
static void stream_tool_calls(const char *content, const size_t *cuts, size_t n_cuts,
                              qvk_tool_call_parser *parser, qvk_text_buffer *out)
{
    size_t length = strlen(content), start = 0;

    qvk_tool_call_parser_init(parser);
    for (size_t c = 0; c <= n_cuts; c++) {
        size_t end = c < n_cuts ? cuts[c] : length;
        CHECK_INT_EQ(qvk_tool_call_parser_push(parser, content + start, end - start, out),
                     QVK_OK);
        start = end;
    }
    CHECK_INT_EQ(qvk_tool_call_parser_finish(parser, out), QVK_OK);
}

/* Whether two parses found the same content, calls and invalid-block count. */
static bool same_tool_calls(const qvk_tool_call_parser *a, const qvk_text_buffer *a_out,
                            const qvk_tool_call_parser *b, const qvk_text_buffer *b_out)
{
    if (strcmp(text_of(a_out), text_of(b_out)) != 0 || a->n_calls != b->n_calls ||
        a->n_invalid != b->n_invalid)
        return false;
    for (size_t i = 0; i < a->n_calls; i++) {
        if (strcmp(a->calls[i].name, b->calls[i].name) != 0 ||
            strcmp(a->calls[i].arguments, b->calls[i].arguments) != 0)
            return false;
    }
    return true;
}

/* Streaming at every single cut, every pair of cuts and in one-byte pieces must match the
 * one-shot parse. */
static void check_tool_calls_every_split(const char *content)
{
    qvk_tool_call_parser whole, split;
    qvk_text_buffer whole_out = {0};
    size_t length = strlen(content), failures = 0;
    static size_t cuts[1024];

    CHECK_INT_EQ(qvk_tool_call_parse(content, length, &whole, &whole_out), QVK_OK);
    for (size_t a = 0; a <= length; a++) {
        for (size_t b = a; b <= length; b++) {
            qvk_text_buffer out = {0};
            size_t pair[2] = {a, b};

            stream_tool_calls(content, pair, 2, &split, &out);
            if (!same_tool_calls(&whole, &whole_out, &split, &out)) {
                if (failures++ == 0)
                    fprintf(stderr, "cut at %zu %zu: content \"%s\"\n", a, b, text_of(&out));
            }
            qvk_tool_call_parser_free(&split);
            qvk_text_buffer_free(&out);
        }
    }
    CHECK_INT_EQ(failures, 0);

    CHECK(length < 1024);
    for (size_t c = 0; c + 1 < length; c++)
        cuts[c] = c + 1;
    {
        qvk_text_buffer out = {0};
        stream_tool_calls(content, cuts, length ? length - 1 : 0, &split, &out);
        CHECK(same_tool_calls(&whole, &whole_out, &split, &out));
        qvk_tool_call_parser_free(&split);
        qvk_text_buffer_free(&out);
    }
    qvk_tool_call_parser_free(&whole);
    qvk_text_buffer_free(&whole_out);
}

/* ---- Tool-call tests --------------------------------------------------------------------- */

static void tool_call_one(void)
{
    qvk_tool_call_parser parser;
    qvk_text_buffer out = {0};
    const char *content = WEATHER_CALL;

    CHECK_INT_EQ(qvk_tool_call_parse(content, strlen(content), &parser, &out), QVK_OK);
    CHECK_INT_EQ(parser.n_calls, 1);
    CHECK_INT_EQ(parser.n_invalid, 0);
    CHECK_STR_EQ(text_of(&out), "");
    if (parser.n_calls == 1) {
        CHECK_STR_EQ(parser.calls[0].name, "get_weather");
        CHECK_STR_EQ(parser.calls[0].arguments, "{\"city\":\"Paris\"}");
    }
    qvk_tool_call_parser_free(&parser);
    qvk_text_buffer_free(&out);
}

static void tool_call_two_with_text(void)
{
    qvk_tool_call_parser parser;
    qvk_text_buffer out = {0};
    const char *content = "Let me check.\n" WEATHER_CALL "\n" TIME_CALL;

    CHECK_INT_EQ(qvk_tool_call_parse(content, strlen(content), &parser, &out), QVK_OK);
    CHECK_INT_EQ(parser.n_calls, 2);
    CHECK_STR_EQ(text_of(&out), "Let me check.\n\n");
    if (parser.n_calls == 2) {
        CHECK_STR_EQ(parser.calls[0].name, "get_weather");
        CHECK_STR_EQ(parser.calls[1].name, "get_time");
        CHECK_STR_EQ(parser.calls[1].arguments, "{\"zone\":\"CET\",\"hour12\":false}");
    }
    qvk_tool_call_parser_free(&parser);
    qvk_text_buffer_free(&out);
}

static void tool_call_every_split(void)
{
    check_tool_calls_every_split(WEATHER_CALL);
    check_tool_calls_every_split("Let me check.\n" WEATHER_CALL "\n" TIME_CALL "\nDone <tool");
    check_tool_calls_every_split("a <tool_cal b <tool_call>{\"name\": \"f\"}</tool_call> c");
    check_tool_calls_every_split("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n"
                                 "</tool_call>tail");
    check_tool_calls_every_split("x<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_c");
}

static void tool_call_arguments_serialized(void)
{
    qvk_tool_call_parser parser;
    qvk_text_buffer out = {0};
    const char *content =
        "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"caf\xc3\xa9 \\\"x\\\"\", "
        "\"n\": [1, 2.5, -3], \"o\": {\"k\": true, \"z\": null}}}\n</tool_call>"
        "<tool_call>{\"name\": \"now\"}</tool_call>"
        "<tool_call>{\"name\": \"pre\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>";

    CHECK_INT_EQ(qvk_tool_call_parse(content, strlen(content), &parser, &out), QVK_OK);
    CHECK_INT_EQ(parser.n_calls, 3);
    if (parser.n_calls == 3) {
        /* Compact JSON, non-ASCII kept as UTF-8, escapes kept. */
        CHECK_STR_EQ(parser.calls[0].arguments,
                     "{\"q\":\"caf\xc3\xa9 \\\"x\\\"\",\"n\":[1,2.5,-3],\"o\":{\"k\":true,"
                     "\"z\":null}}");
        /* Absent arguments become an empty object. */
        CHECK_STR_EQ(parser.calls[1].name, "now");
        CHECK_STR_EQ(parser.calls[1].arguments, "{}");
        /* Arguments already serialized as a string are kept as they are. */
        CHECK_STR_EQ(parser.calls[2].arguments, "{\"a\": 1}");
    }
    CHECK_STR_EQ(text_of(&out), "");
    qvk_tool_call_parser_free(&parser);
    qvk_text_buffer_free(&out);
}

/* A content string whose single block must be rejected, stay in the content verbatim and be
 * reported with a reason that contains the given words. */
static void check_invalid_block(const char *content, const char *reason)
{
    qvk_tool_call_parser parser;
    qvk_text_buffer out = {0};

    CHECK_INT_EQ(qvk_tool_call_parse(content, strlen(content), &parser, &out), QVK_OK);
    CHECK_INT_EQ(parser.n_calls, 0);
    CHECK_INT_EQ(parser.n_invalid, 1);
    CHECK_STR_EQ(text_of(&out), content);
    if (!strstr(parser.invalid_reason, reason)) {
        fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", parser.invalid_reason, reason);
        CHECK(0);
    }
    qvk_tool_call_parser_free(&parser);
    qvk_text_buffer_free(&out);
}

static void tool_call_invalid_kept(void)
{
    check_invalid_block("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>",
                        "invalid JSON");
    check_invalid_block("Hi <tool_call>{\"name\": \"f\"} trailing</tool_call> bye",
                        "invalid JSON");
    check_invalid_block("<tool_call>[1, 2]</tool_call>", "not an object");
    check_invalid_block("<tool_call>{\"arguments\": {}}</tool_call>", "\"name\"");
    check_invalid_block("<tool_call>{\"name\": \"\"}</tool_call>", "\"name\"");
    check_invalid_block("<tool_call>{\"name\": 3}</tool_call>", "\"name\"");
    check_invalid_block("<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>",
                        "arguments");
    check_invalid_block("<tool_call>{\"name\": \"f\", \"arguments\": \"Paris\"}</tool_call>",
                        "arguments");
    check_invalid_block("<tool_call></tool_call>", "invalid JSON");
}

static void tool_call_invalid_then_valid(void)
{
    qvk_tool_call_parser parser;
    qvk_text_buffer out = {0};
    const char *bad = "<tool_call>{oops}</tool_call>";
    const char *content = "<tool_call>{oops}</tool_call>\n" WEATHER_CALL;

    CHECK_INT_EQ(qvk_tool_call_parse(content, strlen(content), &parser, &out), QVK_OK);
    CHECK_INT_EQ(parser.n_calls, 1);
    CHECK_INT_EQ(parser.n_invalid, 1);
    CHECK(strncmp(text_of(&out), bad, strlen(bad)) == 0);
    CHECK_STR_EQ(text_of(&out) + strlen(bad), "\n");
    qvk_tool_call_parser_free(&parser);
    qvk_text_buffer_free(&out);
}

static void tool_call_unterminated(void)
{
    const char *cases[] = {
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n",
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_ca",
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}<",
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qvk_tool_call_parser parser;
        qvk_text_buffer out = {0};

        CHECK_INT_EQ(qvk_tool_call_parse(cases[i], strlen(cases[i]), &parser, &out), QVK_OK);
        CHECK_INT_EQ(parser.n_calls, 1);
        CHECK_STR_EQ(text_of(&out), "");
        if (parser.n_calls == 1)
            CHECK_STR_EQ(parser.calls[0].arguments, "{\"a\":1}");
        qvk_tool_call_parser_free(&parser);
        qvk_text_buffer_free(&out);
    }

    /* Cut off inside the JSON: the block comes back as content. */
    check_invalid_block("text<tool_call>\n{\"name\": \"f\", \"argu", "invalid JSON");
    check_invalid_block("<tool_call>", "invalid JSON");
}

static void tool_call_streaming_holds(void)
{
    qvk_tool_call_parser parser;
    qvk_text_buffer out = {0};

    qvk_tool_call_parser_init(&parser);
    /* A trailing prefix of "<tool_call>" is held back... */
    CHECK_INT_EQ(qvk_tool_call_parser_push(&parser, "abc<tool_", 9, &out), QVK_OK);
    CHECK_STR_EQ(text_of(&out), "abc");
    /* ...and released when it turns out to be text. */
    CHECK_INT_EQ(qvk_tool_call_parser_push(&parser, "x ", 2, &out), QVK_OK);
    CHECK_STR_EQ(text_of(&out), "abc<tool_x ");
    /* An open block is withheld entirely. */
    qvk_text_buffer_clear(&out);
    CHECK_INT_EQ(qvk_tool_call_parser_push(&parser, "<tool_call>\n{\"name\"", 19, &out),
                 QVK_OK);
    CHECK_INT_EQ(out.length, 0);
    CHECK_INT_EQ(parser.n_calls, 0);
    CHECK_INT_EQ(qvk_tool_call_parser_push(&parser, ": \"f\"}</tool_call>ok", 20, &out),
                 QVK_OK);
    CHECK_INT_EQ(parser.n_calls, 1);
    CHECK_STR_EQ(text_of(&out), "ok");
    /* A partial tag at the end of generation is content. */
    CHECK_INT_EQ(qvk_tool_call_parser_push(&parser, "<tool", 5, &out), QVK_OK);
    CHECK_STR_EQ(text_of(&out), "ok");
    CHECK_INT_EQ(qvk_tool_call_parser_finish(&parser, &out), QVK_OK);
    CHECK_STR_EQ(text_of(&out), "ok<tool");
    qvk_tool_call_parser_free(&parser);
    qvk_text_buffer_free(&out);
}

/* The whole chain the engine runs: reasoning parser, then the tool-call parser on the content,
 * streamed at every cut point. */
static void pipeline_every_split(void)
{
    const char *output = "<think>\nThe user wants the weather. I should call the tool.\n</think>"
                         "\n\n" WEATHER_CALL;
    size_t length = strlen(output), failures = 0;

    for (size_t cut = 0; cut <= length; cut++) {
        qvk_reasoning_parser reasoning;
        qvk_tool_call_parser tools;
        qvk_text_delta delta = {{0}, {0}};
        qvk_text_buffer reasoning_text = {0}, content = {0};
        const size_t bounds[3] = {0, cut, length};

        qvk_reasoning_parser_init(&reasoning, false);
        qvk_tool_call_parser_init(&tools);
        for (int piece = 0; piece < 3; piece++) {
            qvk_text_delta_clear(&delta);
            if (piece < 2)
                qvk_reasoning_parser_push(&reasoning, output + bounds[piece],
                                          bounds[piece + 1] - bounds[piece], &delta);
            else
                qvk_reasoning_parser_finish(&reasoning, &delta);
            qvk_text_buffer_append(&reasoning_text, delta.reasoning.data, delta.reasoning.length);
            qvk_tool_call_parser_push(&tools, delta.content.data, delta.content.length, &content);
        }
        qvk_tool_call_parser_finish(&tools, &content);

        if (strcmp(text_of(&reasoning_text),
                   "The user wants the weather. I should call the tool.") != 0 ||
            content.length != 0 || tools.n_calls != 1 ||
            strcmp(tools.calls[0].arguments, "{\"city\":\"Paris\"}") != 0) {
            if (failures++ == 0)
                fprintf(stderr, "cut at %zu: reasoning \"%s\" content \"%s\" calls %zu\n", cut,
                        text_of(&reasoning_text), text_of(&content), tools.n_calls);
        }
        qvk_text_delta_free(&delta);
        qvk_text_buffer_free(&reasoning_text);
        qvk_text_buffer_free(&content);
        qvk_tool_call_parser_free(&tools);
    }
    CHECK_INT_EQ(failures, 0);
}

int main(void)
{
    qvk_log_set_level(QVK_LOG_ERROR); /* the invalid blocks below log expected warnings */
    RUN_TEST(reasoning_one_shot);
    RUN_TEST(reasoning_whole_piece);
    RUN_TEST(reasoning_every_split);
    RUN_TEST(reasoning_every_two_splits);
    RUN_TEST(reasoning_one_byte_pieces);
    RUN_TEST(reasoning_close_tag_split);
    RUN_TEST(reasoning_near_miss_released);
    RUN_TEST(reasoning_then_content_in_one_push);
    RUN_TEST(content_streams_without_delay);
    RUN_TEST(reasoning_stop_keeps_text);
    RUN_TEST(tool_call_one);
    RUN_TEST(tool_call_two_with_text);
    RUN_TEST(tool_call_every_split);
    RUN_TEST(tool_call_arguments_serialized);
    RUN_TEST(tool_call_invalid_kept);
    RUN_TEST(tool_call_invalid_then_valid);
    RUN_TEST(tool_call_unterminated);
    RUN_TEST(tool_call_streaming_holds);
    RUN_TEST(pipeline_every_split);
    return test_finish();
}
