/* qwen3vk tokenize and qwen3vk template: the text stages on their own, for checking them
 * against other tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

/* Read all of stdin into a NUL-terminated buffer. */
char *cli_read_stdin(size_t *length)
{
    size_t capacity = 4096, used = 0, n;
    char *data = malloc(capacity);

    while (data && (n = fread(data + used, 1, capacity - used - 1, stdin)) > 0) {
        used += n;
        if (capacity - used - 1 == 0) {
            char *larger = realloc(data, capacity * 2);
            if (!larger) {
                free(data);
                return NULL;
            }
            data = larger;
            capacity *= 2;
        }
    }
    if (data) {
        data[used] = '\0';
        *length = used;
    }
    return data;
}

int cli_tokenize(const cli_options *options)
{
    qvk_model *model = cli_load_model(options);
    size_t length, n_ids;
    int32_t *ids;
    char *text;
    int status = 1;

    if (!model)
        return 1;
    text = options->prompt ? strdup(options->prompt) : cli_read_stdin(&length);
    if (text && options->prompt)
        length = strlen(text);
    if (!text)
        fprintf(stderr, "qwen3vk tokenize: cannot read stdin\n");
    else if (qvk_tokenize(model, text, length, &ids, &n_ids) != QVK_OK)
        fprintf(stderr, "qwen3vk tokenize: error: %s\n", qvk_last_error());
    else {
        printf("[");
        for (size_t i = 0; i < n_ids; i++)
            printf("%s%d", i ? ", " : "", ids[i]);
        printf("]\n");
        free(ids);
        status = 0;
    }
    free(text);
    qvk_model_destroy(model);
    return status;
}

int cli_template(const cli_options *options)
{
    qvk_model *model = cli_load_model(options);
    size_t length;
    char *request, *prompt;
    int status = 1;

    if (!model)
        return 1;
    if (options->template_path && qvk_model_load_chat_template(model, options->template_path) != QVK_OK)
        fprintf(stderr, "qwen3vk template: error: %s\n", qvk_last_error());
    else if (!(request = cli_read_stdin(&length)))
        fprintf(stderr, "qwen3vk template: cannot read stdin\n");
    else {
        if (qvk_chat_render(model, request, &prompt) != QVK_OK)
            fprintf(stderr, "qwen3vk template: error: %s\n", qvk_last_error());
        else {
            fputs(prompt, stdout);
            free(prompt);
            status = 0;
        }
        free(request);
    }
    qvk_model_destroy(model);
    return status;
}
