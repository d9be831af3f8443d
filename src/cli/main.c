/* qwen3vk: the command-line front end. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#ifdef QWEN3VK_HAVE_VULKAN
#include "backend/vulkan/vulkan.h"
#endif

/* With QWEN3VK_VALIDATION=1 the Vulkan validation layers report to the log; a run that drew any
 * report fails, so that tests running the command catch them. */
static int check_validation(int status)
{
#ifdef QWEN3VK_HAVE_VULKAN
    long long count = (long long)qvk_vulkan_validation_message_count();
    if (count > 0) {
        fprintf(stderr, "qwen3vk: %lld Vulkan validation message%s (see above)\n", count,
                count == 1 ? "" : "s");
        return status ? status : 3;
    }
#endif
    return status;
}

typedef struct cli_command {
    const char *name;
    int (*run)(const cli_options *options);
    bool needs_model;
} cli_command;

static const cli_command commands[] = {
    { "run", cli_run, true },
    { "chat", cli_chat, true },
    { "logits", cli_logits, true },
    { "tokenize", cli_tokenize, true },
    { "template", cli_template, true },
    { "devices", cli_devices, false },
};

/* Run the command named by argv[1] and return its exit status. */
static int run_command(int argc, char **argv)
{
    cli_options options;
    int status;

    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        cli_print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("qwen3vk %s\n", QWEN3VK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        status = cli_options_parse(argc - 1, argv + 1, &options);
        if (status == 0 && commands[i].needs_model && !options.model_dir) {
            fprintf(stderr, "qwen3vk %s: missing -m MODEL_DIR (a Hugging Face model folder)\n",
                    commands[i].name);
            status = 2;
        } else if (status == 0) {
            status = commands[i].run(&options);
        }
        else if (status == 1)
            status = 0;
        cli_options_free(&options);
        return check_validation(status);
    }
    fprintf(stderr, "qwen3vk: unknown command \"%s\"; run qwen3vk --help for the list\n", argv[1]);
    return 2;
}

int main(int argc, char **argv)
{
    int status;

    if (argc < 2) {
        cli_print_usage(stderr);
        return 2;
    }
    status = run_command(argc, argv);
    /* Output that was lost (a full disk, a closed stdout) must not look like success. */
    if (cli_output_failed() && status == 0)
        status = 1;
    return status;
}
