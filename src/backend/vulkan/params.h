/* Push constants of the compute shaders, mirroring each shader's `Push` block (std430 layout of
 * 32-bit scalars, so plain C structs of uint32_t and float match byte for byte). */
#ifndef QWEN3VK_BACKEND_VULKAN_PARAMS_H
#define QWEN3VK_BACKEND_VULKAN_PARAMS_H

#include <stdint.h>

/* embed.comp */
typedef struct qvk_embed_params {
    uint32_t dim;
    uint32_t first_row;
    uint32_t n_rows;
} qvk_embed_params;

/* rmsnorm.comp */
typedef struct qvk_rmsnorm_params {
    uint32_t dim;
    uint32_t src_row;
    float eps;
} qvk_rmsnorm_params;

/* qk_norm_rope.comp */
typedef struct qvk_qk_norm_rope_params {
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t head_dim;
    uint32_t pos;
    float eps;
} qvk_qk_norm_rope_params;

/* matvec.comp and matmul.comp */
typedef struct qvk_matmul_params {
    uint32_t k;           /* input features */
    uint32_t m;           /* output features in the weight chunk */
    uint32_t x_row;       /* first input row */
    uint32_t dst_row;     /* first output row, inside the dst binding */
    uint32_t dst_stride;  /* floats per output row */
    uint32_t dst_col;     /* first output column: the chunk's first weight row */
    uint32_t n_rows;      /* token rows */
    uint32_t accumulate;  /* non-zero: dst += result */
} qvk_matmul_params;

/* attention.comp and attention_combine.comp */
typedef struct qvk_attention_params {
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t head_dim;
    uint32_t pos;
    uint32_t chunk_len;
    uint32_t n_chunks;
    float scale;
} qvk_attention_params;

/* swiglu.comp */
typedef struct qvk_swiglu_params {
    uint32_t n;
} qvk_swiglu_params;

#endif
