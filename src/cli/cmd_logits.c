/* qwen3vk logits: the float32 logits of every position of a token list, for comparing the
 * engine with other implementations. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

qvk_session *cli_create_session(qvk_model *model, const cli_options *options)
{
    cli_progress progress = { "weights", cli_seconds_now() };
    qvk_session_options session_options = options->session;
    qvk_session *session;

    session_options.progress = cli_draw_progress;
    session_options.progress_user_data = &progress;
    if (qvk_session_create(model, &session_options, &session) != QVK_OK) {
        fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
        return NULL;
    }
    return session;
}

static int write_logits(const char *path, const float *logits, size_t count)
{
    FILE *file = fopen(path, "wb");

    if (!file) {
        fprintf(stderr, "qwen3vk logits: cannot create %s: %s\n", path, strerror(errno));
        return 0;
    }
    /* Little-endian float32 rows: the in-memory layout on every supported host. */
    if ((count > 0 && fwrite(logits, sizeof(float), count, file) != count) || fclose(file) != 0) {
        fprintf(stderr, "qwen3vk logits: cannot write %s: %s\n", path, strerror(errno));
        return 0;
    }
    return 1;
}

int cli_logits(const cli_options *options)
{
    qvk_model *model;
    qvk_session *session;
    const float *logits;
    int ok = 0;

    const char *flag = options->text_generation_flag ? options->text_generation_flag
                                                     : options->generation_flag;

    if (!options->tokens || !options->out_path) {
        fprintf(stderr, "qwen3vk logits: needs --tokens ID,ID,... and --out FILE\n");
        return 2;
    }
    if (flag) {
        fprintf(stderr, "qwen3vk logits: --%s does not apply to logits, which writes the logits "
                "of the given ids and generates nothing; drop --%s\n", flag, flag);
        return 2;
    }
    /* Find out that the output cannot be written before the model is loaded. */
    if (!write_logits(options->out_path, NULL, 0))
        return 1;
    if (!(model = cli_load_model(options)))
        return 1;
    if ((session = cli_create_session(model, options))) {
        if (qvk_session_eval(session, options->tokens, options->n_tokens, true, &logits) != QVK_OK)
            fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
        else
            ok = write_logits(options->out_path, logits,
                              (size_t)options->n_tokens * (size_t)qvk_model_get_config(model)->vocab_size);
        qvk_session_destroy(session);
    }
    qvk_model_destroy(model);
    return ok ? 0 : 1;
}
