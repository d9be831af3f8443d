/* Whole-model checks through the qwen3vk command, shared by the CPU and Vulkan tests:
 * `qwen3vk logits` against the reference logits and `qwen3vk run --temp 0` against the
 * reference greedy continuation. */
#ifndef QWEN3VK_TEST_MODEL_CHECK_H
#define QWEN3VK_TEST_MODEL_CHECK_H

#include <unistd.h>

#include "reference.h"

/* The reference is llama.cpp's float32 CPU path; it agrees with a float64 forward pass to
 * about 5e-6. Our float32 accumulation order differs from it, so rows may differ by a few
 * 1e-5 × max|logit|; 1e-3 × max|logit| leaves room for the GPU's order of operations too. */
#define LOGITS_RELATIVE_TOLERANCE 1e-3

static void format_ids(char *out, size_t size, const int32_t *ids, int32_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%d", i ? "," : "", ids[i]);
}

static void check_model(const char *backend, const char *model_dir, const char *golden_dir,
                        const char *golden_name, const char *extra_args)
{
    golden g;
    char ids[8192], args[16384], logits_path[] = "/tmp/qwen3vk-logits-XXXXXX";
    char ids_path[] = "/tmp/qwen3vk-ids-XXXXXX";
    int64_t rows, cols;
    double max_difference, max_reference;

    if (!golden_load(golden_dir, golden_name, &g)) {
        CHECK(!"golden files readable");
        return;
    }
    close(mkstemp(logits_path));
    close(mkstemp(ids_path));
    format_ids(ids, sizeof(ids), g.prompt_ids, g.n_prompt);

    snprintf(args, sizeof(args), "logits -m '%s' --backend %s --tokens %s --out %s --log-level warn %s",
             model_dir, backend, ids, logits_path, extra_args);
    CHECK_INT_EQ(run_cli(args, NULL), 0);
    {
        char *data;
        size_t size;
        CHECK(qvk_file_read(logits_path, &data, &size) == QVK_OK);
        rows = (int64_t)(size / sizeof(float)) / g.n_vocab;
        cols = g.n_vocab;
        CHECK_INT_EQ(size, (size_t)g.n_prompt * (size_t)g.n_vocab * sizeof(float));
        if (rows == g.n_prompt) {
            double worst_ratio = 0.0;
            for (int64_t r = 0; r < rows; r++) {
                logits_difference((const float *)data + r * cols, g.logits + r * cols, (size_t)cols,
                                  &max_difference, &max_reference);
                CHECK(max_difference <= LOGITS_RELATIVE_TOLERANCE * max_reference);
                if (max_difference / max_reference > worst_ratio)
                    worst_ratio = max_difference / max_reference;
            }
            printf("%s %s/%s: worst row max|Δ| = %.2e × max|ref| over %lld rows (tolerance %.0e)\n",
                   backend, model_dir, golden_name, worst_ratio, (long long)rows,
                   LOGITS_RELATIVE_TOLERANCE);
        }
        free(data);
    }

    snprintf(args, sizeof(args), "run -m '%s' --backend %s --tokens %s -n %d --temp 0 --print-ids "
             "--log-level warn %s", model_dir, backend, ids, g.n_greedy, extra_args);
    CHECK_INT_EQ(run_cli(args, ids_path), 0);
    {
        char *text, expected[8192];
        format_ids(expected, sizeof(expected), g.greedy_ids, g.n_greedy);
        CHECK(qvk_file_read(ids_path, &text, NULL) == QVK_OK);
        text[strcspn(text, "\n")] = '\0';
        CHECK_STR_EQ(text, expected);
        free(text);
    }
    unlink(logits_path);
    unlink(ids_path);
    golden_free(&g);
}

#endif
