/* qwen3vk run: generate from a prompt or from token ids. */
#include <stdio.h>

#include "cli/commands.h"

static int32_t argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* --tokens with --temp 0: greedy continuation of the ids, printed as ids. */
int cli_run_tokens(const cli_options *options)
{
    qvk_model *model = cli_load_model(options);
    qvk_session *session;
    const float *logits;
    int32_t vocab, token;
    int ok = 1;

    if (!model)
        return 1;
    if (!(session = cli_create_session(model, options))) {
        qvk_model_destroy(model);
        return 1;
    }
    vocab = qvk_model_get_config(model)->vocab_size;
    if (qvk_session_eval(session, options->tokens, options->n_tokens, false, &logits) != QVK_OK)
        ok = 0;
    for (int32_t i = 0; ok && i < options->n_predict; i++) {
        token = argmax(logits, vocab);
        printf("%s%d", i ? "," : "", token);
        fflush(stdout);
        if (i + 1 < options->n_predict && qvk_session_eval(session, &token, 1, false, &logits) != QVK_OK)
            ok = 0;
    }
    printf("\n");
    if (!ok)
        fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
    qvk_session_destroy(session);
    qvk_model_destroy(model);
    return ok ? 0 : 1;
}

int cli_run(const cli_options *options)
{
    if (options->tokens)
        return cli_run_tokens(options);
    fprintf(stderr, "qwen3vk run: text prompts need the tokenizer (not built yet); use --tokens\n");
    return 2;
}
