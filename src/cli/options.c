#include "cli/options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

enum {
    OPT_TOKENS = 256, OPT_OUT, OPT_BACKEND, OPT_DEVICE, OPT_CTX, OPT_BATCH, OPT_THREADS,
    OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT, OPT_PRESENCE, OPT_FREQUENCY, OPT_SEED,
    OPT_STOP, OPT_THINK, OPT_NO_THINK, OPT_JSON, OPT_PRINT_IDS, OPT_PROFILE, OPT_LOG_LEVEL,
    OPT_TEMPLATE, OPT_SYSTEM, OPT_QUIET, OPT_THINK_BUDGET, OPT_COUNT,
};

/* The flags that only set how text is generated, so run --tokens, which continues the ids
 * greedily and prints ids, has no use for them. */
static const int text_generation_options[] = {
    OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT, OPT_PRESENCE, OPT_FREQUENCY, OPT_SEED,
    OPT_STOP, OPT_SYSTEM, OPT_TEMPLATE, OPT_JSON, OPT_THINK, OPT_NO_THINK, OPT_THINK_BUDGET,
};

static const struct option long_options[] = {
    { "model", required_argument, NULL, 'm' },
    { "n-predict", required_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { "tokens", required_argument, NULL, OPT_TOKENS },
    { "out", required_argument, NULL, OPT_OUT },
    { "backend", required_argument, NULL, OPT_BACKEND },
    { "device", required_argument, NULL, OPT_DEVICE },
    { "ctx", required_argument, NULL, OPT_CTX },
    { "batch", required_argument, NULL, OPT_BATCH },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "temp", required_argument, NULL, OPT_TEMP },
    { "top-k", required_argument, NULL, OPT_TOP_K },
    { "top-p", required_argument, NULL, OPT_TOP_P },
    { "min-p", required_argument, NULL, OPT_MIN_P },
    { "repeat-penalty", required_argument, NULL, OPT_REPEAT },
    { "presence-penalty", required_argument, NULL, OPT_PRESENCE },
    { "frequency-penalty", required_argument, NULL, OPT_FREQUENCY },
    { "seed", required_argument, NULL, OPT_SEED },
    { "stop", required_argument, NULL, OPT_STOP },
    { "think", no_argument, NULL, OPT_THINK },
    { "no-think", no_argument, NULL, OPT_NO_THINK },
    { "think-budget", required_argument, NULL, OPT_THINK_BUDGET },
    { "json", no_argument, NULL, OPT_JSON },
    { "print-ids", no_argument, NULL, OPT_PRINT_IDS },
    { "profile", no_argument, NULL, OPT_PROFILE },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "template", required_argument, NULL, OPT_TEMPLATE },
    { "system", required_argument, NULL, OPT_SYSTEM },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { NULL, 0, NULL, 0 },
};

void cli_print_usage(FILE *stream)
{
    fprintf(stream,
        "usage: qwen3vk COMMAND [options]\n"
        "\n"
        "commands:\n"
        "  run -m DIR [options] \"prompt\"   generate a reply (streams reasoning, then the answer)\n"
        "  run -m DIR --tokens ID,... [-n N] --print-ids   continue token ids, print ids\n"
        "  chat -m DIR                      interactive chat (/think, /no_think, /reset, /exit)\n"
        "  logits -m DIR --tokens ID,... --out FILE   write float32 logits of every position\n"
        "  tokenize -m DIR [TEXT]           print the ids of TEXT (or stdin) as a JSON array\n"
        "  template -m DIR                  read an OpenAI-style request on stdin, print the prompt\n"
        "  devices                          list the Vulkan devices\n"
        "  version                          print the version\n"
        "\n"
        "model and backend:\n"
        "  -m, --model DIR         Hugging Face model folder\n"
        "  --backend auto|vulkan|cpu   auto: the best Vulkan GPU, else the CPU backend; a CPU-only\n"
        "                          Vulkan driver (lavapipe) only with --backend vulkan (default auto)\n"
        "  --device N              Vulkan device index (see qwen3vk devices)\n"
        "  --ctx N                 context size in tokens (default min(4096, the model's maximum))\n"
        "  --batch N               prompt tokens per forward pass (default 64)\n"
        "  --threads N             CPU threads (default: one per core)\n"
        "  --profile               print per-op timings at the end\n"
        "  --log-level LEVEL       debug, info, warn, error or off (default info; env QWEN3VK_LOG)\n"
        "\n"
        "generation:\n"
        "  -n, --n-predict N       maximum tokens to generate (default 512)\n"
        "  --think, --no-think     turn the model's thinking on or off (default: the template's);\n"
        "                          --think also opens the <think> block if the template does not\n"
        "  --think-budget N        close the reasoning after N tokens and let the answer follow\n"
        "  --temp T                temperature, 0 for greedy (default from generation_config.json)\n"
        "  --top-k K, --top-p P, --min-p P   sampling cut-offs (defaults from generation_config.json)\n"
        "  --repeat-penalty R, --presence-penalty P, --frequency-penalty F\n"
        "  --seed S                random seed (default: time-based)\n"
        "  --stop TEXT             stop when TEXT is generated (repeatable, up to %d)\n"
        "  --system TEXT           system message\n"
        "  --template FILE         use this Jinja chat template instead of the model's\n"
        "  --json                  print one JSON object with reasoning, content, tool calls, usage\n"
        "  --print-ids             print generated token ids instead of text\n"
        "  --quiet                 no stats line\n",
        CLI_MAX_STOP_STRINGS);
}

static int parse_int(const char *name, const char *text, int32_t min, int32_t max, int32_t *out)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno || *end || end == text || value < min || value > max) {
        fprintf(stderr, "qwen3vk: invalid %s \"%s\": expected an integer from %d to %d\n", name,
                text, min, max);
        return 0;
    }
    *out = (int32_t)value;
    return 1;
}

/* A number in [min, max]; an open end is written as the exclusive flag. */
static int parse_float(const char *name, const char *text, double min, bool min_open, double max,
                       float *out)
{
    char *end;
    double value = strtod(text, &end);

    if (*end || end == text || !isfinite(value) || value < min || (min_open && value == min) ||
        value > max) {
        fprintf(stderr, "qwen3vk: invalid %s \"%s\": expected a number %s %g", name, text,
                min_open ? "above" : "from", min);
        if (max < 1e30)
            fprintf(stderr, " %s %g", min_open ? "up to" : "to", max);
        fprintf(stderr, "\n");
        return 0;
    }
    *out = (float)value;
    return 1;
}

/* "1,2,3" into a malloc'ed array. */
static int parse_token_list(const char *text, cli_options *options)
{
    size_t capacity = 1;
    for (const char *c = text; *c; c++)
        capacity += *c == ',';
    options->tokens = malloc(capacity * sizeof(int32_t));
    if (!options->tokens)
        return 0;
    options->n_tokens = 0;
    for (const char *c = text; *c;) {
        char *end;
        long value;
        errno = 0;
        value = strtol(c, &end, 10);
        if (errno || end == c || value < 0 || value > INT32_MAX || (*end && *end != ',')) {
            fprintf(stderr, "qwen3vk: invalid --tokens \"%s\": expected comma-separated token ids\n",
                    text);
            return 0;
        }
        options->tokens[options->n_tokens++] = (int32_t)value;
        c = *end ? end + 1 : end;
    }
    if (options->n_tokens == 0) {
        fprintf(stderr, "qwen3vk: --tokens is empty\n");
        return 0;
    }
    return 1;
}

static int parse_backend(const char *text, qvk_backend_kind *kind)
{
    if (strcmp(text, "auto") == 0)
        *kind = QVK_BACKEND_AUTO;
    else if (strcmp(text, "cpu") == 0)
        *kind = QVK_BACKEND_CPU;
    else if (strcmp(text, "vulkan") == 0)
        *kind = QVK_BACKEND_VULKAN;
    else {
        fprintf(stderr, "qwen3vk: invalid --backend \"%s\": expected auto, vulkan or cpu\n", text);
        return 0;
    }
    return 1;
}

static int parse_option(int c, cli_options *o)
{
    int level;

    switch (c) {
    case 'm': o->model_dir = optarg; return 1;
    case 'n': return parse_int("-n", optarg, 0, 1 << 24, &o->n_predict);
    case OPT_TOKENS: return parse_token_list(optarg, o);
    case OPT_OUT: o->out_path = optarg; return 1;
    case OPT_BACKEND: return parse_backend(optarg, &o->session.backend);
    case OPT_DEVICE: return parse_int("--device", optarg, 0, 1024, &o->session.device_index);
    case OPT_CTX: return parse_int("--ctx", optarg, 1, 1 << 24, &o->session.n_ctx);
    case OPT_BATCH: return parse_int("--batch", optarg, 1, 1 << 16, &o->session.n_batch);
    case OPT_THREADS: return parse_int("--threads", optarg, 1, 1024, &o->session.n_threads);
    case OPT_TEMP: return parse_float("--temp", optarg, 0.0, false, 1e38, &o->temperature);
    case OPT_TOP_K: return parse_int("--top-k", optarg, 0, 1 << 24, &o->top_k);
    case OPT_TOP_P: return parse_float("--top-p", optarg, 0.0, true, 1.0, &o->top_p);
    case OPT_MIN_P: return parse_float("--min-p", optarg, 0.0, false, 1.0, &o->min_p);
    case OPT_REPEAT:
        return parse_float("--repeat-penalty", optarg, 0.0, true, 1e38, &o->repetition_penalty);
    case OPT_PRESENCE:
        return parse_float("--presence-penalty", optarg, -2.0, false, 2.0, &o->presence_penalty);
    case OPT_FREQUENCY:
        return parse_float("--frequency-penalty", optarg, -2.0, false, 2.0, &o->frequency_penalty);
    case OPT_SEED: {
        char *end;
        errno = 0;
        o->seed = strtoull(optarg, &end, 10);
        o->seed_set = true;
        if (*end || end == optarg || errno == ERANGE || optarg[0] == '-') {
            fprintf(stderr, "qwen3vk: invalid --seed \"%s\": expected an unsigned integer\n", optarg);
            return 0;
        }
        return 1;
    }
    case OPT_STOP:
        if (optarg[0] == '\0') {
            fprintf(stderr, "qwen3vk: --stop needs a non-empty text\n");
            return 0;
        }
        if (!cli_check_text("the --stop text", optarg, strlen(optarg)))
            return 0;
        if (o->n_stop == CLI_MAX_STOP_STRINGS) {
            fprintf(stderr, "qwen3vk: at most %d --stop strings\n", CLI_MAX_STOP_STRINGS);
            return 0;
        }
        o->stop[o->n_stop++] = optarg;
        return 1;
    case OPT_THINK: o->thinking = 1; return 1;
    case OPT_NO_THINK: o->thinking = 0; return 1;
    case OPT_THINK_BUDGET: return parse_int("--think-budget", optarg, 0, 1 << 24, &o->think_budget);
    case OPT_JSON: o->json = true; return 1;
    case OPT_PRINT_IDS: o->print_ids = true; return 1;
    case OPT_PROFILE: o->session.profile = true; return 1;
    case OPT_TEMPLATE: o->template_path = optarg; return 1;
    case OPT_SYSTEM:
        o->system_prompt = optarg;
        return cli_check_text("the --system text", optarg, strlen(optarg));
    case OPT_QUIET: o->quiet = true; return 1;
    case OPT_LOG_LEVEL:
        level = qvk_log_level_parse(optarg);
        if (level < 0) {
            fprintf(stderr, "qwen3vk: invalid --log-level \"%s\": expected debug, info, warn, "
                    "error or off\n", optarg);
            return 0;
        }
        qvk_log_set_level((qvk_log_level)level);
        return 1;
    }
    return 0;
}

static const char *option_name(int code)
{
    for (const struct option *option = long_options; option->name; option++)
        if (option->val == code)
            return option->name;
    return "?";
}

/* Reject flags that contradict each other, and find the first text generation flag given. */
static int check_combinations(cli_options *o, const bool given[OPT_COUNT])
{
    if (given[OPT_THINK] && given[OPT_NO_THINK]) {
        fprintf(stderr, "qwen3vk %s: --think and --no-think contradict each other; give one of "
                "them\n", o->command);
        return 0;
    }
    if (given[OPT_PRINT_IDS] && given[OPT_JSON]) {
        fprintf(stderr, "qwen3vk %s: --print-ids and --json select different outputs; give one "
                "of them\n", o->command);
        return 0;
    }
    if (given[OPT_DEVICE] && o->session.backend == QVK_BACKEND_CPU) {
        fprintf(stderr, "qwen3vk %s: --device selects a Vulkan device; it does not apply to "
                "--backend cpu\n", o->command);
        return 0;
    }
    if (given['n'] || given[OPT_PRINT_IDS])
        o->generation_flag = given['n'] ? "n-predict" : "print-ids";
    for (size_t i = 0; i < sizeof(text_generation_options) / sizeof(int); i++) {
        int code = text_generation_options[i];
        if (given[code] && !(code == OPT_TEMP && o->temperature == 0.0f)) {
            o->text_generation_flag = option_name(code);
            break;
        }
    }
    return 1;
}

int cli_options_parse(int argc, char **argv, cli_options *o)
{
    bool given[OPT_COUNT] = { false };
    int c;

    memset(o, 0, sizeof(*o));
    o->command = argv[0];
    o->session = qvk_session_default_options();
    o->n_predict = 512;
    o->temperature = NAN;
    o->top_k = -1;
    o->top_p = NAN;
    o->min_p = NAN;
    o->repetition_penalty = NAN;
    o->thinking = -1;
    o->think_budget = -1;
    o->session.device_index = -1;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:n:h", long_options, NULL)) != -1) {
        if (c == 'h') {
            cli_print_usage(stdout);
            return 1;
        }
        if (c == '?' || c == ':') {
            fprintf(stderr, "qwen3vk %s: %s option %s; run qwen3vk --help for the options\n",
                    o->command, c == ':' ? "missing the value of" : "unknown", argv[optind - 1]);
            return 2;
        }
        if (!parse_option(c, o))
            return 2;
        given[c] = true;
    }
    if (!check_combinations(o, given))
        return 2;
    if (optind < argc)
        o->prompt = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "qwen3vk: unexpected argument \"%s\"; quote the prompt as one argument\n",
                argv[optind]);
        return 2;
    }
    return 0;
}

void cli_options_free(cli_options *options)
{
    free(options->tokens);
    options->tokens = NULL;
}

bool cli_check_text(const char *what, const char *text, size_t length)
{
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)text;
    const char *nul = memchr(text, '\0', length);
    size_t offset = 0;

    if (nul) {
        fprintf(stderr, "qwen3vk: %s contains a NUL byte at byte %zu; remove it\n", what,
                (size_t)(nul - text));
        return false;
    }
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

/* The errno of the first failed flush of stdout, 0 if none failed. */
static int output_errno;

void cli_flush_output(void)
{
    if (fflush(stdout) != 0 && output_errno == 0)
        output_errno = errno;
}

bool cli_output_failed(void)
{
    cli_flush_output();
    if (!ferror(stdout))
        return false;
    /* A write that failed while printf filled the buffer leaves no errno behind. */
    if (output_errno)
        fprintf(stderr, "qwen3vk: error: cannot write the output: %s\n", strerror(output_errno));
    else
        fprintf(stderr, "qwen3vk: error: cannot write the output\n");
    return true;
}

double cli_seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* A bar on stderr, drawn only on a terminal and only for work that takes a while. */
void cli_draw_progress(float fraction, void *user_data)
{
    cli_progress *progress = user_data;
    int width = 40, filled = (int)(fraction * (float)width);

    if (!isatty(STDERR_FILENO) || cli_seconds_now() - progress->start < 0.5)
        return;
    fprintf(stderr, "\r%-8s [%.*s%*s] %3d%%", progress->label, filled,
            "########################################", width - filled, "",
            (int)(fraction * 100.0f));
    if (fraction >= 1.0f)
        fprintf(stderr, "\n");
}

qvk_model *cli_load_model(const cli_options *options)
{
    qvk_model *model;

    if (qvk_model_load(options->model_dir, NULL, &model) != QVK_OK) {
        fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
        return NULL;
    }
    return model;
}
