/* Generating a reply from the command line: the chat request, sampling settings from the
 * flags, streaming output with the reasoning set apart, and the stats line or JSON result. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

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
    bool terminal;         /* stdout is a terminal, so the reasoning is dimmed */
    bool shares_stderr;    /* stdout and stderr are one file, e.g. the same terminal */
    qvk_text_kind last_kind;
    bool started;
    bool line_open;        /* the last line of the reply has no line break yet */
} stream_printer;

/* Return whether stdout and stderr are one file: the same terminal, or joined by 2>&1. */
static bool stdout_shares_stderr(void)
{
    struct stat out, err;

    return fstat(STDOUT_FILENO, &out) == 0 && fstat(STDERR_FILENO, &err) == 0 &&
           out.st_dev == err.st_dev && out.st_ino == err.st_ino;
}

static bool in_reasoning(const stream_printer *printer)
{
    return printer->started && printer->last_kind == QVK_TEXT_REASONING;
}

/* End the reply's open line before a message goes to stderr, which would otherwise continue
 * that line where both streams are one file. */
static void end_reply_line(stream_printer *printer)
{
    if (printer->shares_stderr && printer->line_open) {
        printf("\n");
        cli_flush_output();
        printer->line_open = false;
    }
}

/* Reasoning is dimmed on a terminal and framed by "Thinking..." / "...done thinking." lines
 * everywhere, so it stays apart from the answer in a pipe too. */
/* Set by SIGINT (Ctrl-C) while a reply is generated: the reply stops, the command goes on. */
static volatile sig_atomic_t interrupted;

static void interrupt_reply(int signal_number)
{
    (void)signal_number;
    interrupted = 1;
}

/* The stream callback of --json and --print-ids, which print nothing while generating. */
static bool continue_unless_interrupted(qvk_text_kind kind, const char *text, size_t length,
                                        void *user_data)
{
    (void)kind;
    (void)text;
    (void)length;
    (void)user_data;
    return !interrupted;
}

static bool print_piece(qvk_text_kind kind, const char *text, size_t length, void *user_data)
{
    stream_printer *printer = user_data;

    if (interrupted)
        return false;
    if (!printer->started && kind == QVK_TEXT_REASONING)
        printf("%sThinking...\n", printer->terminal ? ANSI_DIM : "");
    if (in_reasoning(printer) && kind == QVK_TEXT_CONTENT)
        printf("\n...done thinking.%s\n\n", printer->terminal ? ANSI_RESET : "");
    printer->started = true;
    printer->last_kind = kind;
    fwrite(text, 1, length, stdout);
    if (length > 0)
        printer->line_open = text[length - 1] != '\n';
    cli_flush_output();
    return true;
}

/* Print a log line of the library during generation (a qvk_log_callback taking the
 * stream_printer) on a line of its own, not dimmed with the reasoning. */
static void print_log_line(qvk_log_level level, const char *line, void *user_data)
{
    static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };
    stream_printer *printer = user_data;
    bool dimmed = printer->terminal && printer->shares_stderr && in_reasoning(printer);

    end_reply_line(printer);
    if (dimmed) {
        fputs(ANSI_RESET, stdout);
        cli_flush_output();
    }
    fprintf(stderr, "qwen3vk %s: %s\n", level_names[level], line);
    if (dimmed) {
        fputs(ANSI_DIM, stdout);
        cli_flush_output();
    }
}

/* Print the line that closes reasoning with no content after it, saying why the reasoning
 * ended, and end the dimming on a terminal. */
static void print_reasoning_end(const stream_printer *printer, const qvk_generation *g,
                                const cli_options *options)
{
    const char *reset = printer->terminal ? ANSI_RESET : "";

    if (interrupted)
        printf("\n...thinking interrupted.%s\n", reset);
    else if (strcmp(g->finish_reason, "length") == 0)
        printf("\n...thinking cut off at the token limit (-n %d).%s\n", options->n_predict, reset);
    else if (strcmp(g->finish_reason, "context_full") == 0)
        printf("\n...thinking cut off: the context is full.%s\n", reset);
    else
        printf("\n...done thinking.%s\n", reset);
}

/* Count the tokens that decode steps produced. The first generated token is sampled from the
 * prompt's logits, so generation_seconds, the time after the prompt, is spent on the steps that
 * produce the others. A reply ended by an end-of-turn token took one more step, for a token that
 * is not counted, and the tokens that --think-budget inserts share one step. */
static int32_t decoded_tokens(const qvk_generation *g)
{
    return g->n_completion_tokens > 1 ? g->n_completion_tokens - 1 : 0;
}

/* Return the decode speed in tokens per second, or a negative value without a decode step. */
static double decode_speed(const qvk_generation *g)
{
    int32_t decoded = decoded_tokens(g);
    return decoded > 0 && g->generation_seconds > 0 ? decoded / g->generation_seconds : -1.0;
}

static void print_json(const qvk_generation *g)
{
    cJSON *root = cJSON_CreateObject(), *usage, *timings;
    int32_t evaluated = g->n_prompt_tokens - g->n_cached_tokens;
    double speed = decode_speed(g);

    cJSON_AddStringToObject(root, "reasoning_content", g->reasoning_content);
    cJSON_AddStringToObject(root, "content", g->content);
    cJSON_AddItemToObject(root, "tool_calls",
                          g->tool_calls_json ? cJSON_Parse(g->tool_calls_json) : cJSON_CreateArray());
    cJSON_AddStringToObject(root, "finish_reason", g->finish_reason);
    usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", g->n_prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", g->n_completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", g->n_prompt_tokens + g->n_completion_tokens);
    /* Each rate is its count over its time: prompt_n new prompt tokens in prompt_ms, and
     * predicted_n tokens from decode steps in predicted_ms (null without a decode step). */
    timings = cJSON_AddObjectToObject(root, "timings");
    cJSON_AddNumberToObject(timings, "prompt_n", evaluated);
    cJSON_AddNumberToObject(timings, "prompt_ms", g->prompt_seconds * 1e3);
    cJSON_AddNumberToObject(timings, "prompt_per_second",
                            g->prompt_seconds > 0 ? evaluated / g->prompt_seconds : 0);
    cJSON_AddNumberToObject(timings, "predicted_n", decoded_tokens(g));
    cJSON_AddNumberToObject(timings, "predicted_ms", g->generation_seconds * 1e3);
    if (speed >= 0)
        cJSON_AddNumberToObject(timings, "predicted_per_second", speed);
    else
        cJSON_AddNullToObject(timings, "predicted_per_second");
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(root);
}

static void print_ids(const qvk_generation *g)
{
    for (int32_t i = 0; i < g->n_completion_tokens; i++)
        printf("%s%d", i ? "," : "", g->ids[i]);
    printf("\n");
}

static void print_stats(const qvk_generation *g, const qvk_session *session)
{
    int32_t evaluated = g->n_prompt_tokens - g->n_cached_tokens;
    double speed = decode_speed(g);
    char speed_text[32] = "";

    if (speed >= 0)
        snprintf(speed_text, sizeof(speed_text), " (%.1f tok/s)", speed);
    fprintf(stderr, "prompt: %d tokens (%d new, %.1f tok/s), generated: %d token%s%s, "
            "finish: %s, backend: %s\n", g->n_prompt_tokens, evaluated,
            g->prompt_seconds > 0 ? evaluated / g->prompt_seconds : 0.0, g->n_completion_tokens,
            g->n_completion_tokens == 1 ? "" : "s", speed_text, g->finish_reason,
            qvk_session_backend_name(session));
}

qvk_status cli_generate_reply(qvk_session *session, qvk_model *model, const cJSON *request,
                              const cli_options *options, int thinking, qvk_generation *generation)
{
    char *request_text = cJSON_PrintUnformatted(request), *prompt = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    stream_printer printer = { .terminal = isatty(STDOUT_FILENO),
                               .shares_stderr = stdout_shares_stderr() };
    bool stream = !options->json && !options->print_ids;
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
        return QVK_ERR_FORMAT;
    }
    if (status == QVK_OK)
        status = qvk_tokenize(model, prompt, strlen(prompt), &ids, &n_ids);
    if (status == QVK_OK) {
        struct sigaction on_interrupt = { .sa_handler = interrupt_reply }, previous;

        sigemptyset(&on_interrupt.sa_mask);
        interrupted = 0;
        sigaction(SIGINT, &on_interrupt, &previous);
        qvk_log_set_callback(print_log_line, &printer);
        status = qvk_generate(session, ids, (int32_t)n_ids, &g,
                              stream ? print_piece : continue_unless_interrupted, &printer,
                              generation);
        qvk_log_set_callback(NULL, NULL);
        sigaction(SIGINT, &previous, NULL);
    }
    free(request_text);
    free(prompt);
    free(ids);
    if (status != QVK_OK) {
        /* The reply stops here, so its line ends in every kind of output. */
        if (printer.terminal && in_reasoning(&printer))
            fputs(ANSI_RESET, stdout);
        if (printer.line_open)
            printf("\n");
        cli_flush_output();
        fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
        return status;
    }
    if (options->json) {
        print_json(generation);
    } else if (options->print_ids) {
        print_ids(generation);
    } else {
        if (in_reasoning(&printer))
            print_reasoning_end(&printer, generation, options);
        if (generation->tool_calls_json)
            printf("\n[tool calls] %s", generation->tool_calls_json);
        printf("\n");
    }
    if (interrupted)
        fprintf(stderr, "qwen3vk: reply interrupted (Ctrl-C)\n");
    cli_flush_output(); /* the reply before the stats line, also when both go to one pipe */
    if (!options->quiet)
        print_stats(generation, session);
    return QVK_OK;
}
