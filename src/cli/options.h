/* Command-line options shared by the qwen3vk commands. */
#ifndef QWEN3VK_CLI_OPTIONS_H
#define QWEN3VK_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "qwen3vk.h"

#define CLI_MAX_STOP_STRINGS 8

typedef struct cli_options {
    const char *command;
    const char *model_dir;
    const char *prompt;          /* the positional argument */
    const char *out_path;        /* logits: output file */
    const char *template_path;   /* a chat template file overriding the model's */
    const char *system_prompt;
    int32_t *tokens;             /* --tokens */
    int32_t n_tokens;
    qvk_session_options session;
    int32_t n_predict;           /* -n */
    /* sampling: negative / NAN means "the model's default" */
    float temperature;
    int32_t top_k;
    float top_p;
    float min_p;
    float repetition_penalty;
    float presence_penalty;
    float frequency_penalty;
    uint64_t seed;
    bool seed_set;
    const char *stop[CLI_MAX_STOP_STRINGS];
    int32_t n_stop;
    int thinking;                /* 1 --think, 0 --no-think, -1 the template's default */
    int32_t think_budget;        /* --think-budget, -1 for none */
    bool json;
    bool print_ids;
    bool quiet;
    /* The long name, without the dashes, of the first flag given that only sets text
     * generation (e.g. "temp"), or NULL. --temp 0 does not count, because --tokens decodes
     * greedily anyway. */
    const char *text_generation_flag;
    /* The long name of the first flag given that sets what is generated (-n, --print-ids),
     * or NULL. */
    const char *generation_flag;
} cli_options;

/* Parse argv after the command name. Returns 0 on success, 2 on a usage error (message
 * printed), 1 when help was printed. */
int cli_options_parse(int argc, char **argv, cli_options *options);
void cli_options_free(cli_options *options);
void cli_print_usage(FILE *stream);

/* Print an error naming what (e.g. "the prompt") and return false if the length bytes of text
 * contain a NUL byte or are not valid UTF-8. */
bool cli_check_text(const char *what, const char *text, size_t length);

/* Flush stdout, keeping the reason of the first failed write for cli_output_failed. */
void cli_flush_output(void);
/* Flush stdout and return true, after printing the error, if any write to it failed. */
bool cli_output_failed(void);

/* The state of a progress bar: its label and when the work started. */
typedef struct cli_progress {
    const char *label;
    double start;
} cli_progress;

/* Draw a progress bar on stderr (a qvk_progress_callback taking a cli_progress). */
void cli_draw_progress(float fraction, void *user_data);
double cli_seconds_now(void);

/* Load the model named by -m, printing the error on failure. The weights are read later, when
 * a session is created (cli_create_session). */
qvk_model *cli_load_model(const cli_options *options);

#endif
