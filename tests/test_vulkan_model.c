/* The Vulkan backend on the bundled tiny model. It checks the logits against the CPU backend
 * step by step (prompt, then decode), also with small bindings and with staged weights, the
 * dispatch and barrier counts of a decode step, the profile report and step errors. Through the
 * qwen3vk command it checks the reference logits and greedy continuation. */
#include "model_check.h"
#include "vulkan_test_util.h"

static qvk_model *model;
static qvk_graph graph;

/* Both backends compute in float32 but sum in different orders; on this model their logits
 * (magnitude up to about 10) differ by a few 1e-6, so 1e-4 × max|logit| is a loose bound that
 * still catches any wrong op. */
#define BACKEND_RELATIVE_TOLERANCE 1e-4

static const int32_t prompt[] = { 151644, 872, 198, 3838, 374, 279, 6722, 315, 9625, 30, 151645,
                                  198, 151644, 77091, 198 };
#define N_PROMPT ((int32_t)(sizeof(prompt) / sizeof(prompt[0])))

static int32_t argmax(const float *values, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

static double max_ratio(const float *actual, const float *expected, size_t n)
{
    double max_difference, max_reference;
    logits_difference(actual, expected, n, &max_difference, &max_reference);
    return max_difference / max_reference;
}

/* Options of the backend under test; the tests change them for a case and restore them. */
static qvk_vk_context_options vulkan_options = { .device_index = -1 };

static qvk_backend *vulkan_open(int32_t n_batch, bool profile, uint64_t max_binding)
{
    qvk_backend_config config = { .n_ctx = 64, .n_batch = n_batch, .n_threads = 1,
                                  .device_index = -1, .profile = profile };
    qvk_vk_context_options options = vulkan_options;
    options.max_binding = max_binding;
    qvk_backend *backend = NULL;
    CHECK_INT_EQ(qvk_vk_backend_create(&graph, &config, &options, &backend), QVK_OK);
    if (!backend)
        fprintf(stderr, "vulkan backend: %s\n", qvk_last_error());
    return backend;
}

/* Prompt in steps of n_batch with every row's logits, then greedy decode steps; each step's
 * logits must match the CPU backend's. */
static void compare_with_cpu(int32_t n_batch, uint64_t max_binding)
{
    int32_t vocab = graph.config->vocab_size;
    qvk_backend_config config = { .n_ctx = 64, .n_batch = n_batch, .n_threads = 1, .device_index = -1 };
    qvk_backend *cpu = NULL, *vulkan = vulkan_open(n_batch, false, max_binding);
    float *expected = malloc((size_t)n_batch * (size_t)vocab * sizeof(float));
    float *actual = malloc((size_t)n_batch * (size_t)vocab * sizeof(float));
    double worst = 0.0;
    int32_t pos = 0, token = 0;

    CHECK_INT_EQ(qvk_cpu_backend_create(&graph, &config, &cpu), QVK_OK);
    for (; vulkan && cpu && pos < N_PROMPT; pos += n_batch) {
        int32_t n = N_PROMPT - pos < n_batch ? N_PROMPT - pos : n_batch;
        qvk_step step = { prompt + pos, n, pos, n };
        CHECK_INT_EQ(cpu->vtable->forward(cpu, &step, expected), QVK_OK);
        CHECK_INT_EQ(vulkan->vtable->forward(vulkan, &step, actual), QVK_OK);
        double ratio = max_ratio(actual, expected, (size_t)n * (size_t)vocab);
        worst = ratio > worst ? ratio : worst;
        token = argmax(expected + (size_t)(n - 1) * vocab, vocab);
    }
    for (int32_t i = 0; vulkan && cpu && i < 6; i++, pos++) {
        qvk_step step = { &token, 1, pos, 1 };
        CHECK_INT_EQ(cpu->vtable->forward(cpu, &step, expected), QVK_OK);
        CHECK_INT_EQ(vulkan->vtable->forward(vulkan, &step, actual), QVK_OK);
        double ratio = max_ratio(actual, expected, (size_t)vocab);
        worst = ratio > worst ? ratio : worst;
        CHECK_INT_EQ(argmax(actual, vocab), argmax(expected, vocab));
        token = argmax(expected, vocab);
    }
    printf("batch %d, binding limit %llu: worst max|vulkan - cpu| = %.2e x max|logit|\n",
           n_batch, (unsigned long long)max_binding, worst);
    CHECK(worst <= BACKEND_RELATIVE_TOLERANCE);
    if (vulkan)
        vulkan->vtable->destroy(vulkan);
    if (cpu)
        cpu->vtable->destroy(cpu);
    free(expected);
    free(actual);
}

static void logits_match_cpu(void)
{
    compare_with_cpu(16, 0);
}

static void logits_match_cpu_small_batches(void)
{
    compare_with_cpu(4, 0); /* rows 4 take matvec, the 3-row tail too */
    compare_with_cpu(6, 0); /* 6-row steps take the matmul kernel */
}

/* 1 MiB bindings split the 151936 × 64 bf16 embedding (19 MiB) into 20 chunks and the logits
 * (607744 bytes a row) into one chunk per row. */
static void logits_match_cpu_split_bindings(void)
{
    compare_with_cpu(5, 1 << 20);
}

/* Discrete GPUs take weights through a staging buffer; lavapipe can run that path too, and
 * the GPU layout of matvec.comp with it. */
static void logits_match_cpu_staged_weights(void)
{
    vulkan_options.staged_weights = true;
    vulkan_options.reduction_matvec = true;
    compare_with_cpu(4, 0);
    vulkan_options = (qvk_vk_context_options){ .device_index = -1 };
}

/* CPU devices without texel buffers compute a matvec row per invocation and prompts with the
 * tiled matmul; lavapipe can run that layout too. */
static void logits_match_cpu_row_layout(void)
{
    vulkan_options.row_matvec = true;
    compare_with_cpu(6, 0);
    vulkan_options = (qvk_vk_context_options){ .device_index = -1 };
}

/* A decode step has 1 embed + 3 layers × 12 ops + final norm + head = 39 dispatches, and 30
 * barriers. None precedes the embedding, because the barrier before the last step's head
 * already ordered the final norm's read of X. Each layer has 9, since the k and v projections
 * share the q projection's barrier and up shares gate's. The final norm and the head have one
 * each, and one more makes the logits visible to the host. */
static void decode_step_counts(void)
{
    qvk_backend *backend = vulkan_open(16, true, 0);
    float *logits = malloc((size_t)graph.config->vocab_size * sizeof(float));
    char report[4096];

    for (int32_t pos = 0; backend && pos < 3; pos++) {
        qvk_step step = { prompt + pos, 1, pos, 1 };
        CHECK_INT_EQ(backend->vtable->forward(backend, &step, logits), QVK_OK);
    }
    if (backend) {
        const qvk_vk_profiler *profiler = &((qvk_vk_backend *)backend)->profiler;
        CHECK_INT_EQ(profiler->decode.steps, 3);
        CHECK_INT_EQ(profiler->decode.dispatches, 3 * 39);
        CHECK_INT_EQ(profiler->decode.barriers, 3 * 30);
        CHECK_INT_EQ(profiler->decode.submits, 3);
        size_t length = backend->vtable->profile_report(backend, report, sizeof(report));
        CHECK(length > 0);
        CHECK(length < sizeof(report));
        CHECK(strstr(report, "matmul") != NULL);
        CHECK(strstr(report, "decode: 3 steps") != NULL);
        CHECK(profiler->kind_seconds[QVK_OP_MATMUL] > 0.0);
        backend->vtable->destroy(backend);
    }
    free(logits);
}

static void step_errors(void)
{
    qvk_backend *backend = vulkan_open(4, false, 0);
    float *logits = malloc(5 * (size_t)graph.config->vocab_size * sizeof(float));
    int32_t bad_token = graph.config->vocab_size;

    if (backend) {
        qvk_step too_many = { prompt, 5, 0, 1 };
        CHECK_INT_EQ(backend->vtable->forward(backend, &too_many, logits),
                     QVK_ERR_INVALID_ARGUMENT);
        qvk_step past_context = { prompt, 2, 63, 1 };
        CHECK_INT_EQ(backend->vtable->forward(backend, &past_context, logits),
                     QVK_ERR_CONTEXT_FULL);
        qvk_step outside_vocabulary = { &bad_token, 1, 0, 1 };
        CHECK_INT_EQ(backend->vtable->forward(backend, &outside_vocabulary, logits),
                     QVK_ERR_INVALID_ARGUMENT);
        CHECK(strstr(qvk_last_error(), "vocabulary") != NULL);
        qvk_step no_output = { prompt, 2, 0, 0 };
        CHECK_INT_EQ(backend->vtable->forward(backend, &no_output, logits),
                     QVK_ERR_INVALID_ARGUMENT);
        /* The backend still works after rejected steps. */
        qvk_step fine = { prompt, 1, 0, 1 };
        CHECK_INT_EQ(backend->vtable->forward(backend, &fine, logits), QVK_OK);
        backend->vtable->destroy(backend);
    }
    free(logits);
}

static void cli_matches_reference(void)
{
    char model_dir[4096], goldens[4096];
    snprintf(model_dir, sizeof(model_dir), "%s/qwen3-tiny", test_data_dir());
    snprintf(goldens, sizeof(goldens), "%s/goldens", test_data_dir());
    check_model("vulkan", model_dir, goldens, "user_plain", "");
    check_model("vulkan", model_dir, goldens, "user_plain", "--batch 4");
}

int main(void)
{
    char dir[4096];

    vulkan_require_device();
    qvk_log_set_level(QVK_LOG_WARN);
    snprintf(dir, sizeof(dir), "%s/qwen3-tiny", test_data_dir());
    if (qvk_model_load(dir, NULL, &model) != QVK_OK || qvk_graph_build(model, &graph) != QVK_OK) {
        fprintf(stderr, "cannot load %s: %s\n", dir, qvk_last_error());
        return 1;
    }
    RUN_TEST(logits_match_cpu);
    RUN_TEST(logits_match_cpu_small_batches);
    RUN_TEST(logits_match_cpu_split_bindings);
    RUN_TEST(logits_match_cpu_staged_weights);
    RUN_TEST(logits_match_cpu_row_layout);
    RUN_TEST(decode_step_counts);
    RUN_TEST(step_errors);
    if (getenv("QWEN3VK_BIN"))
        RUN_TEST(cli_matches_reference);
    qvk_graph_free(&graph);
    qvk_model_destroy(model);
    CHECK_INT_EQ(qvk_vulkan_validation_message_count(), 0);
    return test_finish();
}
