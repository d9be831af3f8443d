/* The CPU backend on the bundled tiny model against the reference logits and greedy ids. */
#include "model_check.h"

static void bundled_tiny_model(void)
{
    char model[4096], goldens[4096];
    snprintf(model, sizeof(model), "%s/qwen3-tiny", test_data_dir());
    snprintf(goldens, sizeof(goldens), "%s/goldens", test_data_dir());
    check_model("cpu", model, goldens, "user_plain", "");
}

static void bundled_tiny_model_small_batches(void)
{
    char model[4096], goldens[4096];
    snprintf(model, sizeof(model), "%s/qwen3-tiny", test_data_dir());
    snprintf(goldens, sizeof(goldens), "%s/goldens", test_data_dir());
    /* 15 prompt tokens in steps of 4: the KV cache carries across steps. */
    check_model("cpu", model, goldens, "user_plain", "--batch 4 --threads 1");
}

int main(void)
{
    RUN_TEST(bundled_tiny_model);
    RUN_TEST(bundled_tiny_model_small_batches);
    return test_finish();
}
