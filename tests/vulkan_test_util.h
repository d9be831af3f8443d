/* Helpers for the Vulkan tests: skip without a device, random tensors of each dtype, one-op
 * graphs over a synthetic model configuration, and element-wise comparisons. */
#ifndef QWEN3VK_TEST_VULKAN_UTIL_H
#define QWEN3VK_TEST_VULKAN_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vulkan/scheduler.h"
#include "backend/vulkan/vulkan.h"
#include "test.h"

/* Exit with the skip status unless a Vulkan device can be opened. */
static inline void vulkan_require_device(void)
{
    qvk_vk_context_options options = { .device_index = -1 };
    qvk_vk_context *context;
    if (qvk_vk_context_create(&options, &context) != QVK_OK) {
        printf("skipped: no Vulkan device (%s)\n", qvk_last_error());
        exit(TEST_SKIP_STATUS);
    }
    qvk_vk_context_destroy(context);
}

/* xorshift32: the same numbers on every machine. */
static inline float random_uniform(uint32_t *state, float low, float high)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return low + (high - low) * (float)(x >> 8) / 16777216.0f;
}

static inline void random_fill(float *values, size_t n, float scale, uint32_t *state)
{
    for (size_t i = 0; i < n; i++)
        values[i] = random_uniform(state, -scale, scale);
}

/* A rows × cols tensor (a vector when rows is 0) of random values in [-scale, scale], stored
 * in dtype. Free its data with tensor_free. */
static inline qvk_tensor tensor_random(const char *name, qvk_dtype dtype, int64_t rows,
                                       int64_t cols, float scale, uint32_t *state)
{
    qvk_tensor tensor;
    int64_t n = (rows ? rows : 1) * cols;
    void *data = malloc((size_t)n * qvk_dtype_size(dtype));

    memset(&tensor, 0, sizeof(tensor));
    snprintf(tensor.name, sizeof(tensor.name), "%s", name);
    tensor.dtype = dtype;
    tensor.n_dims = rows ? 2 : 1;
    tensor.shape[0] = rows ? rows : cols;
    tensor.shape[1] = rows ? cols : 0;
    for (int64_t i = 0; i < n; i++) {
        float value = random_uniform(state, -scale, scale);
        if (dtype == QVK_DTYPE_F32)
            ((float *)data)[i] = value;
        else if (dtype == QVK_DTYPE_F16)
            ((uint16_t *)data)[i] = qvk_f32_to_f16(value);
        else
            ((uint16_t *)data)[i] = qvk_f32_to_bf16(value);
    }
    tensor.data = data;
    tensor.n_bytes = (size_t)n * qvk_dtype_size(dtype);
    tensor.file = "test";
    return tensor;
}

static inline void tensor_free(qvk_tensor *tensor)
{
    free((void *)tensor->data);
    tensor->data = NULL;
}

/* A model configuration with the given sizes and Qwen3's constants. */
static inline qvk_model_config config_make(int32_t hidden, int32_t intermediate, int32_t n_heads,
                                           int32_t n_kv_heads, int32_t head_dim, int32_t vocab)
{
    qvk_model_config config;
    memset(&config, 0, sizeof(config));
    config.vocab_size = vocab;
    config.hidden_size = hidden;
    config.n_layers = 1;
    config.n_heads = n_heads;
    config.n_kv_heads = n_kv_heads;
    config.head_dim = head_dim;
    config.intermediate_size = intermediate;
    config.max_position_embeddings = 40960;
    config.rms_norm_eps = 1e-6f;
    config.rope_theta = 1e6f;
    return config;
}

static inline qvk_backend_config backend_config_make(int32_t n_ctx, int32_t n_batch)
{
    qvk_backend_config config = { .n_ctx = n_ctx, .n_batch = n_batch, .n_threads = 1, .device_index = -1 };
    return config;
}

/* Largest |actual - expected| / (tolerance(i)), so a result <= 1 means every element is within
 * its tolerance; prints the worst element otherwise. */
static inline double compare_scaled(const char *what, const float *actual, const float *expected,
                                    const double *tolerance, size_t n)
{
    double worst = 0.0;
    size_t worst_index = 0;
    for (size_t i = 0; i < n; i++) {
        double error = fabs((double)actual[i] - (double)expected[i]);
        double ratio = error / tolerance[i];
        if (!(ratio <= worst)) { /* also catches NaN */
            worst = isnan(ratio) ? INFINITY : ratio;
            worst_index = i;
        }
    }
    if (worst > 1.0)
        fprintf(stderr, "%s: element %zu is %.9g, expected %.9g (tolerance %.3g)\n", what,
                worst_index, actual[worst_index], expected[worst_index], tolerance[worst_index]);
    return worst;
}

/* compare_scaled with tolerance absolute + relative × |expected|. */
static inline double compare_relative(const char *what, const float *actual,
                                      const float *expected, size_t n, double relative,
                                      double absolute)
{
    double *tolerance = malloc(n * sizeof(*tolerance));
    for (size_t i = 0; i < n; i++)
        tolerance[i] = absolute + relative * fabs((double)expected[i]);
    double worst = compare_scaled(what, actual, expected, tolerance, n);
    free(tolerance);
    return worst;
}

#endif
