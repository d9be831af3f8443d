/* Weight tensors as stored in a model file: dtype, shape and a pointer into the file mapping. */
#ifndef QWEN3VK_MODEL_TENSOR_H
#define QWEN3VK_MODEL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum qvk_dtype {
    QVK_DTYPE_F32,
    QVK_DTYPE_F16,
    QVK_DTYPE_BF16,
} qvk_dtype;

size_t qvk_dtype_size(qvk_dtype dtype);
const char *qvk_dtype_name(qvk_dtype dtype);

#define QVK_TENSOR_MAX_DIMS 4

/* A row-major tensor. 2-D weights are [out_features, in_features] as in PyTorch's nn.Linear,
 * so row r contains the weights of output r. */
typedef struct qvk_tensor {
    char name[128];
    qvk_dtype dtype;
    int32_t n_dims;
    int64_t shape[QVK_TENSOR_MAX_DIMS];
    /* In a read-only file mapping (or its aligned copy), or owned by the code that made the tensor. */
    const void *data;
    size_t n_bytes;
    const char *file;  /* the file it came from, for messages */
} qvk_tensor;

int64_t qvk_tensor_n_elements(const qvk_tensor *tensor);
int64_t qvk_tensor_rows(const qvk_tensor *tensor);  /* shape[0] (1 for scalars) */
int64_t qvk_tensor_cols(const qvk_tensor *tensor);  /* product of the other dims */

/* Convert count elements starting at element first to float32. */
void qvk_tensor_read_f32(const qvk_tensor *tensor, int64_t first, int64_t count, float *out);

/* bf16 and f16 conversions; float_to_bf16 rounds to nearest even. */
static inline float qvk_bf16_to_f32(uint16_t value)
{
    union { uint32_t u; float f; } bits = { (uint32_t)value << 16 };
    return bits.f;
}

uint16_t qvk_f32_to_bf16(float value);
float qvk_f16_to_f32(uint16_t value);
uint16_t qvk_f32_to_f16(float value);

#endif
