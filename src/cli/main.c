/* qwen3vk: the command-line front end. */
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
} cli_command;

static const cli_command commands[] = {
    { "run", cli_run },
    { "chat", cli_chat },
    { "logits", cli_logits },
    { "tokenize", cli_tokenize },
    { "template", cli_template },
    { "devices", cli_devices },
};

int main(int argc, char **argv)
{
    cli_options options;
    int status;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        cli_print_usage(NULL);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        status = cli_options_parse(argc - 1, argv + 1, &options);
        if (status == 0)
            status = commands[i].run(&options);
        else if (status == 1)
            status = 0;
        cli_options_free(&options);
        return check_validation(status);
    }
    fprintf(stderr, "qwen3vk: unknown command \"%s\"; run qwen3vk --help for the list\n", argv[1]);
    return 2;
}
