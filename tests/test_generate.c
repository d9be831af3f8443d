/* The generation loop on the bundled tiny model: greedy output, stop strings, prompt-prefix
 * reuse, the token limit and the context limit. */
#include "test.h"

#include <stdbool.h>

#include "qwen3vk.h"

static qvk_model *model;

static qvk_session *open_session(int32_t n_ctx)
{
    qvk_session_options options = qvk_session_default_options();
    qvk_session *session = NULL;
    options.backend = QVK_BACKEND_CPU;
    options.n_ctx = n_ctx;
    options.n_threads = 1;
    CHECK(qvk_session_create(model, &options, &session) == QVK_OK);
    return session;
}

static int32_t *tokenize(const char *text, size_t *n_ids)
{
    int32_t *ids = NULL;
    CHECK(qvk_tokenize(model, text, strlen(text), &ids, n_ids) == QVK_OK);
    return ids;
}

static qvk_generate_options greedy(int32_t max_tokens)
{
    qvk_generate_options options = qvk_generate_default_options(model);
    options.temperature = 0.0f;
    options.max_tokens = max_tokens;
    return options;
}

/* The streamed pieces, concatenated, equal the returned reasoning and content. */
typedef struct collected {
    char reasoning[65536];
    char content[65536];
} collected;

static bool collect(qvk_text_kind kind, const char *text, size_t length, void *user_data)
{
    collected *c = user_data;
    char *target = kind == QVK_TEXT_REASONING ? c->reasoning : c->content;
    strncat(target, text, length);
    return true;
}

static void stream_matches_result(void)
{
    qvk_session *session = open_session(256);
    size_t n_ids;
    int32_t *ids = tokenize("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", &n_ids);
    qvk_generate_options options = greedy(24);
    qvk_generation g;
    collected c = { "", "" };

    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, collect, &c, &g) == QVK_OK);
    CHECK_INT_EQ(g.n_completion_tokens, 24);
    CHECK_STR_EQ(g.finish_reason, "length");
    CHECK_STR_EQ(c.reasoning, g.reasoning_content);
    CHECK_STR_EQ(c.content, g.content);
    CHECK_INT_EQ(qvk_session_position(session), (int32_t)n_ids + 23);
    qvk_generation_free(&g);
    free(ids);
    qvk_session_destroy(session);
}

static void same_prompt_reuses_cache(void)
{
    qvk_session *session = open_session(256);
    size_t n_ids;
    int32_t *ids = tokenize("<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n", &n_ids);
    qvk_generate_options options = greedy(8);
    qvk_generation first, second;

    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, NULL, NULL, &first) == QVK_OK);
    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, NULL, NULL, &second) == QVK_OK);
    CHECK_INT_EQ(first.n_cached_tokens, 0);
    CHECK_INT_EQ(second.n_cached_tokens, (int32_t)n_ids - 1);
    CHECK_INT_EQ(second.n_completion_tokens, first.n_completion_tokens);
    CHECK(memcmp(first.ids, second.ids, (size_t)first.n_completion_tokens * sizeof(int32_t)) == 0);
    qvk_generation_free(&first);
    qvk_generation_free(&second);
    free(ids);
    qvk_session_destroy(session);
}

static void stop_string_ends_output(void)
{
    qvk_session *session = open_session(256);
    size_t n_ids;
    int32_t *ids = tokenize("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", &n_ids);
    qvk_generate_options options = greedy(24);
    qvk_generation full, cut;
    char stop[8];

    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, NULL, NULL, &full) == QVK_OK);
    /* Stop on two bytes from the middle of the first output's content. */
    CHECK(strlen(full.content) > 6);
    memcpy(stop, full.content + 4, 2);
    stop[2] = '\0';
    const char *stops[] = { stop };
    options.stop = stops;
    options.n_stop = 1;
    qvk_session_reset(session);
    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, NULL, NULL, &cut) == QVK_OK);
    CHECK_STR_EQ(cut.finish_reason, "stop");
    CHECK(strstr(cut.content, stop) == NULL);
    CHECK(strncmp(full.content, cut.content, strlen(cut.content)) == 0);
    qvk_generation_free(&full);
    qvk_generation_free(&cut);
    free(ids);
    qvk_session_destroy(session);
}

static void prompt_longer_than_context(void)
{
    qvk_session *session = open_session(8);
    size_t n_ids;
    int32_t *ids = tokenize("one two three four five six seven eight nine ten eleven", &n_ids);
    qvk_generate_options options = greedy(4);
    qvk_generation g;

    CHECK(n_ids > 8);
    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, NULL, NULL, &g) == QVK_ERR_CONTEXT_FULL);
    CHECK(strstr(qvk_last_error(), "context") != NULL);
    free(ids);
    qvk_session_destroy(session);
}

static void context_fills_during_generation(void)
{
    qvk_session *session = open_session(12);
    size_t n_ids;
    int32_t *ids = tokenize("one two three", &n_ids);
    qvk_generate_options options = greedy(100);
    qvk_generation g;

    CHECK(qvk_generate(session, ids, (int32_t)n_ids, &options, NULL, NULL, &g) == QVK_OK);
    CHECK_STR_EQ(g.finish_reason, "context_full");
    CHECK_INT_EQ(g.n_completion_tokens, 12 - (int32_t)n_ids + 1);
    qvk_generation_free(&g);
    free(ids);
    qvk_session_destroy(session);
}

/* The fractions reported while a prompt is evaluated. */
typedef struct progress_log {
    int n_calls;
    float fractions[16];
} progress_log;

static void record_progress(float fraction, void *user_data)
{
    progress_log *log = user_data;
    if (log->n_calls < 16)
        log->fractions[log->n_calls] = fraction;
    log->n_calls++;
}

/* A 150-token prompt with the default n_batch of 64 takes 3 forward passes, each reported;
 * a prompt that fits one pass is not. The result is the same as without reports. */
static void prompt_progress_per_pass(void)
{
    qvk_session *session = open_session(512);
    int32_t prompt[150];
    qvk_generate_options options = greedy(4);
    progress_log log = { 0 };
    qvk_generation reported, plain;

    for (int i = 0; i < 150; i++)
        prompt[i] = 1000 + i;
    options.prompt_progress = record_progress;
    options.prompt_progress_user_data = &log;
    CHECK(qvk_generate(session, prompt, 150, &options, NULL, NULL, &reported) == QVK_OK);
    CHECK_INT_EQ(log.n_calls, 3);
    CHECK(log.fractions[0] == 64.0f / 150.0f);
    CHECK(log.fractions[1] == 128.0f / 150.0f);
    CHECK(log.fractions[2] == 1.0f);

    qvk_session_reset(session);
    options.prompt_progress = NULL;
    CHECK(qvk_generate(session, prompt, 150, &options, NULL, NULL, &plain) == QVK_OK);
    CHECK_INT_EQ(plain.n_completion_tokens, reported.n_completion_tokens);
    CHECK(memcmp(plain.ids, reported.ids, (size_t)plain.n_completion_tokens * sizeof(int32_t)) == 0);
    qvk_generation_free(&plain);

    log.n_calls = 0;
    qvk_session_reset(session);
    options.prompt_progress = record_progress;
    CHECK(qvk_generate(session, prompt, 64, &options, NULL, NULL, &plain) == QVK_OK);
    CHECK_INT_EQ(log.n_calls, 0);
    qvk_generation_free(&reported);
    qvk_generation_free(&plain);
    qvk_session_destroy(session);
}

static void invalid_utf8_prompt_rejected(void)
{
    int32_t *ids = NULL;
    size_t n_ids = 0;
    CHECK(qvk_tokenize(model, "caf\xc3", 4, &ids, &n_ids) == QVK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(qvk_last_error(), "UTF-8") != NULL);
}

static void detokenize_rejects_bad_id(void)
{
    const int32_t ids[] = { 5, 999999 };
    char *text = NULL;
    size_t length = 0;

    CHECK_INT_EQ(qvk_detokenize(model, ids, 2, &text, &length), QVK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(qvk_last_error(), "999999") != NULL);
    CHECK(text == NULL);
}

static void null_arguments_rejected(void)
{
    char *prompt = NULL;

    CHECK_INT_EQ(qvk_chat_render(model, NULL, &prompt), QVK_ERR_INVALID_ARGUMENT);
    CHECK(prompt == NULL);
    qvk_generation_free(NULL);
}

static void negative_session_sizes_rejected(void)
{
    qvk_session_options options = qvk_session_default_options();
    qvk_session *session = NULL;

    options.backend = QVK_BACKEND_CPU;
    options.n_ctx = -5;
    CHECK_INT_EQ(qvk_session_create(model, &options, &session), QVK_ERR_INVALID_ARGUMENT);
    CHECK(session == NULL);
    CHECK(strstr(qvk_last_error(), "n_ctx -5") != NULL);
    options.n_ctx = 0;
    options.n_batch = -3;
    CHECK_INT_EQ(qvk_session_create(model, &options, &session), QVK_ERR_INVALID_ARGUMENT);
    options.n_batch = 0;
    options.n_threads = -2;
    CHECK_INT_EQ(qvk_session_create(model, &options, &session), QVK_ERR_INVALID_ARGUMENT);
}

/* The profile report behaves like snprintf: a short buffer gets a NUL-terminated prefix, and
 * the return value is the whole report's length. */
static void profile_report_like_snprintf(void)
{
    qvk_session_options options = qvk_session_default_options();
    qvk_session *session = NULL;
    const int32_t ids[] = { 1, 2, 3 };
    const float *logits;
    char whole[8192], part[10];
    size_t length;

    options.backend = QVK_BACKEND_CPU;
    options.n_ctx = 64;
    options.profile = true;
    CHECK(qvk_session_create(model, &options, &session) == QVK_OK);
    if (!session)
        return;
    CHECK(qvk_session_eval(session, ids, 3, false, &logits) == QVK_OK);
    length = qvk_session_profile_report(session, whole, sizeof(whole));
    CHECK(length > sizeof(part));
    CHECK_INT_EQ(strlen(whole), length);
    CHECK_INT_EQ(qvk_session_profile_report(session, part, sizeof(part)), length);
    CHECK_INT_EQ(strlen(part), sizeof(part) - 1);
    CHECK(strncmp(part, whole, sizeof(part) - 1) == 0);
    qvk_session_destroy(session);
}

int main(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/qwen3-tiny", test_data_dir());
    qvk_log_set_level(QVK_LOG_WARN);
    if (qvk_model_load(dir, NULL, &model) != QVK_OK) {
        fprintf(stderr, "%s\n", qvk_last_error());
        return 1;
    }
    RUN_TEST(stream_matches_result);
    RUN_TEST(same_prompt_reuses_cache);
    RUN_TEST(stop_string_ends_output);
    RUN_TEST(prompt_longer_than_context);
    RUN_TEST(context_fills_during_generation);
    RUN_TEST(invalid_utf8_prompt_rejected);
    RUN_TEST(prompt_progress_per_pass);
    RUN_TEST(detokenize_rejects_bad_id);
    RUN_TEST(null_arguments_rejected);
    RUN_TEST(negative_session_sizes_rejected);
    RUN_TEST(profile_report_like_snprintf);
    qvk_model_destroy(model);
    return test_finish();
}
