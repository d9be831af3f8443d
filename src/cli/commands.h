/* The qwen3vk commands; each takes the parsed options and returns the process exit status. */
#ifndef QWEN3VK_CLI_COMMANDS_H
#define QWEN3VK_CLI_COMMANDS_H

#include "cli/options.h"

int cli_logits(const cli_options *options);
int cli_run(const cli_options *options);
int cli_run_tokens(const cli_options *options);
int cli_chat(const cli_options *options);
int cli_tokenize(const cli_options *options);
int cli_template(const cli_options *options);
int cli_devices(const cli_options *options);

/* Read all of stdin into a malloc'ed NUL-terminated buffer; NULL on failure. */
char *cli_read_stdin(size_t *length);

/* Create a session for model with the options' backend settings, drawing a progress bar while
 * the weights are read or copied to the device; NULL after printing the error. */
qvk_session *cli_create_session(qvk_model *model, const cli_options *options);

#endif
