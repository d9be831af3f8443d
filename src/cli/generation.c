/* Generating a reply from the command line: the chat request, sampling settings from the
 * flags, streaming output with the reasoning set apart, and the stats line or JSON result. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

#include "cli/generation.h"

#define ANSI_DIM "\033[2m"
#define ANSI_RESET "\033[0m"

qvk_generate_options cli_generate_options(const qvk_model *model, const cli_options *o, int thinking)
{
    qvk_generate_options g = qvk_generate_default_options(model);

    /* Qwen3's recommended settings without thinking, unless flags set them. */
    if (thinking == 0) {
        g.temperature = 0.7f;
        g.top_p = 0.8f;
    }
    if (!isnan(o->temperature))
        g.temperature = o->temperature;
    if (o->top_k >= 0)
        g.top_k = o->top_k;
    if (!isnan(o->top_p))
        g.top_p = o->top_p;
    if (!isnan(o->min_p))
        g.min_p = o->min_p;
    if (!isnan(o->repetition_penalty))
        g.repetition_penalty = o->repetition_penalty;
    g.presence_penalty = o->presence_penalty;
    g.frequency_penalty = o->frequency_penalty;
    g.seed = o->seed_set ? o->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    g.max_tokens = o->n_predict;
    g.stop = o->stop;
    g.n_stop = o->n_stop;
    g.open_reasoning = thinking == 1;
    g.reasoning_budget = o->think_budget;
    return g;
}

bool cli_check_utf8(const char *what, const char *text)
{
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)text;
    size_t length = strlen(text), offset = 0;

    while (offset < length) {
        utf8proc_int32_t codepoint;
        utf8proc_ssize_t n = utf8proc_iterate(bytes + offset, (utf8proc_ssize_t)(length - offset),
                                              &codepoint);
        if (n < 0) {
            fprintf(stderr, "qwen3vk: %s is not valid UTF-8 (byte %zu is 0x%02X); convert it to "
                    "UTF-8\n", what, offset, bytes[offset]);
            return false;
        }
        offset += (size_t)n;
    }
    return true;
}

cJSON *cli_chat_request(const cJSON *messages, int thinking)
{
    cJSON *request = cJSON_CreateObject();

    cJSON_AddItemToObject(request, "messages", cJSON_Duplicate(messages, true));
    cJSON_AddBoolToObject(request, "add_generation_prompt", true);
    if (thinking >= 0) {
        cJSON *kwargs = cJSON_AddObjectToObject(request, "chat_template_kwargs");
        cJSON_AddBoolToObject(kwargs, "enable_thinking", thinking);
    }
    return request;
}

void cli_add_message(cJSON *messages, const char *role, const char *content)
{
    cJSON *message = cJSON_CreateObject();
    cJSON_AddStringToObject(message, "role", role);
    cJSON_AddStringToObject(message, "content", content);
    cJSON_AddItemToArray(messages, message);
}

typedef struct stream_printer {
    bool terminal;
    qvk_text_kind last_kind;
    bool started;
} stream_printer;

/* Reasoning is dimmed on a terminal and framed by "Thinking..." / "...done thinking." lines
 * everywhere, so it stays apart from the answer in a pipe too. */
static bool print_piece(qvk_text_kind kind, const char *text, size_t length, void *user_data)
{
    stream_printer *printer = user_data;

    if (!printer->started && kind == QVK_TEXT_REASONING)
        printf("%sThinking...\n", printer->terminal ? ANSI_DIM : "");
    if (printer->started && printer->last_kind == QVK_TEXT_REASONING && kind == QVK_TEXT_CONTENT)
        printf("\n...done thinking.%s\n\n", printer->terminal ? ANSI_RESET : "");
    printer->started = true;
    printer->last_kind = kind;
    fwrite(text, 1, length, stdout);
    fflush(stdout);
    return true;
}

static void print_json(const qvk_generation *g)
{
    cJSON *root = cJSON_CreateObject(), *usage, *timings;

    cJSON_AddStringToObject(root, "reasoning_content", g->reasoning_content);
    cJSON_AddStringToObject(root, "content", g->content);
    cJSON_AddItemToObject(root, "tool_calls",
                          g->tool_calls_json ? cJSON_Parse(g->tool_calls_json) : cJSON_CreateArray());
    cJSON_AddStringToObject(root, "finish_reason", g->finish_reason);
    usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", g->n_prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", g->n_completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", g->n_prompt_tokens + g->n_completion_tokens);
    timings = cJSON_AddObjectToObject(root, "timings");
    cJSON_AddNumberToObject(timings, "prompt_ms", g->prompt_seconds * 1e3);
    cJSON_AddNumberToObject(timings, "prompt_per_second",
                            g->prompt_seconds > 0 ? (g->n_prompt_tokens - g->n_cached_tokens) / g->prompt_seconds : 0);
    cJSON_AddNumberToObject(timings, "predicted_ms", g->generation_seconds * 1e3);
    cJSON_AddNumberToObject(timings, "predicted_per_second",
                            g->generation_seconds > 0 ? g->n_completion_tokens / g->generation_seconds : 0);
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(root);
}

static void print_stats(const qvk_generation *g, const qvk_session *session)
{
    int32_t evaluated = g->n_prompt_tokens - g->n_cached_tokens;
    fprintf(stderr, "prompt: %d tokens (%d new, %.1f tok/s), generated: %d tokens (%.1f tok/s), "
            "finish: %s, backend: %s\n", g->n_prompt_tokens, evaluated,
            g->prompt_seconds > 0 ? evaluated / g->prompt_seconds : 0.0, g->n_completion_tokens,
            g->generation_seconds > 0 ? g->n_completion_tokens / g->generation_seconds : 0.0,
            g->finish_reason, qvk_session_backend_name(session));
}

int cli_generate_reply(qvk_session *session, qvk_model *model, const cJSON *request,
                       const cli_options *options, int thinking, qvk_generation *generation)
{
    char *request_text = cJSON_PrintUnformatted(request), *prompt = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    stream_printer printer = { .terminal = isatty(STDOUT_FILENO) };
    qvk_generate_options g = cli_generate_options(model, options, thinking);
    cli_progress progress = { "prompt", cli_seconds_now() };
    qvk_status status;

    g.prompt_progress = cli_draw_progress;
    g.prompt_progress_user_data = &progress;
    status = qvk_chat_render(model, request_text, &prompt);
    if (status == QVK_OK && prompt[0] == '\0') {
        fprintf(stderr, "qwen3vk: error: the chat template rendered an empty prompt; check the "
                "template (--template FILE replaces it)\n");
        free(request_text);
        free(prompt);
        return 1;
    }
    if (status == QVK_OK)
        status = qvk_tokenize(model, prompt, strlen(prompt), &ids, &n_ids);
    if (status == QVK_OK)
        status = qvk_generate(session, ids, (int32_t)n_ids, &g, options->json ? NULL : print_piece,
                              &printer, generation);
    free(request_text);
    free(prompt);
    free(ids);
    if (status != QVK_OK) {
        fprintf(stderr, "%sqwen3vk: error: %s\n", printer.started ? "\n" : "", qvk_last_error());
        return 1;
    }
    if (options->json) {
        print_json(generation);
    } else {
        if (printer.started && printer.last_kind == QVK_TEXT_REASONING)
            printf("\n...done thinking.%s\n", printer.terminal ? ANSI_RESET : "");
        if (generation->tool_calls_json)
            printf("\n[tool calls] %s", generation->tool_calls_json);
        printf("\n");
    }
    fflush(stdout); /* the reply before the stats line, also when both go to one pipe */
    if (!options->quiet)
        print_stats(generation, session);
    return 0;
}
