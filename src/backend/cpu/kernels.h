/* The CPU kernels, one per graph op. They are the CPU backend's arithmetic and the reference the
 * Vulkan op tests compare against. All accumulate in float32. A NULL pool runs single-threaded.
 * Matrices follow qvk_tensor: weight rows are output features. */
#ifndef QWEN3VK_BACKEND_CPU_KERNELS_H
#define QWEN3VK_BACKEND_CPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "model/tensor.h"

/* The shape of attention: n_heads query heads share n_kv_heads key/value heads. */
typedef struct qvk_attention_shape {
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
} qvk_attention_shape;

/* out[t] = table[tokens[t]] as float32 rows of width table->shape[1]. */
void qvk_cpu_embed(const qvk_tensor *table, const int32_t *tokens, int32_t n_tokens, float *out);

/* out[r] = x[r] / sqrt(mean(x[r]²) + eps) × weight, for n_rows rows of dim floats. */
void qvk_cpu_rmsnorm(const float *x, const qvk_tensor *weight, int32_t n_rows, int32_t dim,
                     float eps, float *out);

/* out[r][o] = Σ_i x[r][i] · w[o][i] for n_rows rows of x (w->shape[1] floats each) and every
 * output o < w->shape[0]; adds to out instead when accumulate is set. Defined in matmul.c. */
void qvk_cpu_matmul(qvk_threadpool *pool, const float *x, int32_t n_rows, const qvk_tensor *w,
                    bool accumulate, float *out);

/* For token rows t < n_rows at position pos + t: RMSNorm each head of q with q_norm and of k with
 * k_norm, rotate both with NeoX RoPE (pairs i and i + head_dim/2) using rope_table (see
 * qvk_rope_table_create), then store k and v rows in k_cache and v_cache at row pos + t.
 * Cache rows are n_kv_heads × head_dim floats. */
void qvk_cpu_qk_norm_rope(float *q, float *k, const float *v, int32_t n_rows, int32_t pos,
                          const qvk_tensor *q_norm, const qvk_tensor *k_norm,
                          const float *rope_table, qvk_attention_shape shape, float eps,
                          float *k_cache, float *v_cache);

/* out[t] = softmax(q[t] · Kᵀ / sqrt(head_dim)) · V over cache rows 0 .. pos + t, per query head,
 * query head h reading kv head h / (n_heads / n_kv_heads). */
void qvk_cpu_attention(qvk_threadpool *pool, const float *q, int32_t n_rows, int32_t pos,
                       const float *k_cache, const float *v_cache, qvk_attention_shape shape,
                       float *out);

/* gate[i] = silu(gate[i]) × up[i], silu(x) = x / (1 + e^-x). */
void qvk_cpu_swiglu(float *gate, const float *up, size_t n);

/* Dot products of one float32 vector with one weight row of n elements, using the widest SIMD
 * the CPU offers (chosen once at run time). */
float qvk_dot_f32_bf16(const float *x, const uint16_t *w, int64_t n);
float qvk_dot_f32_f16(const float *x, const uint16_t *w, int64_t n);
float qvk_dot_f32_f32(const float *x, const float *w, int64_t n);
/* The instruction set the dot products use: "avx2+fma", "avx512+avx2+fma", "neon" or
 * "portable". */
const char *qvk_cpu_simd_name(void);

/* ---- Building blocks of qvk_cpu_matmul (dot.c, matmul.c) ---- */

typedef enum qvk_cpu_simd {
    QVK_CPU_SIMD_PORTABLE,
    QVK_CPU_SIMD_AVX2,   /* AVX2, FMA and F16C */
    QVK_CPU_SIMD_AVX512, /* AVX-512 F as well */
    QVK_CPU_SIMD_NEON,
} qvk_cpu_simd;

/* The widest instruction set of this CPU that the kernels use, detected once. */
qvk_cpu_simd qvk_cpu_simd_level(void);

/* out[j] = Σ_{i<n} x[i] · w[j × row_stride + i] for j < 4: four weight rows of type dtype against
 * one vector, loading x once for the four. */
void qvk_dot4(const float *x, const void *w, qvk_dtype dtype, int64_t row_stride, int64_t n,
              float out[4]);

/* Convert n weights of type dtype to float32. */
void qvk_widen_f32(const void *in, qvk_dtype dtype, int64_t n, float *out);

#endif
