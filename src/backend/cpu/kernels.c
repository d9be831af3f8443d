/* The CPU kernels other than the matmul (matmul.c) and the dot products (dot.c). */
#include "backend/cpu/kernels.h"

#include <math.h>
#include <string.h>

void qvk_cpu_embed(const qvk_tensor *table, const int32_t *tokens, int32_t n_tokens, float *out)
{
    int64_t width = qvk_tensor_cols(table);
    for (int32_t t = 0; t < n_tokens; t++)
        qvk_tensor_read_f32(table, (int64_t)tokens[t] * width, width, out + (size_t)t * width);
}

/* Norm weights are read from the tensor in chunks of this many values, so that no call needs a
 * heap buffer whatever the row width and dtype. */
#define GAMMA_CHUNK 256

/* The sum of squares is taken in double: the norm is the one place where a long float sum of
 * same-signed terms would lose precision. */
static void rmsnorm_row(const float *x, const qvk_tensor *weight, int32_t dim, float eps, float *out)
{
    float gamma[GAMMA_CHUNK];
    double sum = 0.0;

    for (int32_t i = 0; i < dim; i++)
        sum += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(sum / dim + eps));
    for (int32_t i0 = 0; i0 < dim; i0 += GAMMA_CHUNK) {
        int32_t n = dim - i0 < GAMMA_CHUNK ? dim - i0 : GAMMA_CHUNK;
        qvk_tensor_read_f32(weight, i0, n, gamma);
        for (int32_t i = 0; i < n; i++)
            out[i0 + i] = x[i0 + i] * scale * gamma[i];
    }
}

void qvk_cpu_rmsnorm(const float *x, const qvk_tensor *weight, int32_t n_rows, int32_t dim,
                     float eps, float *out)
{
    for (int32_t r = 0; r < n_rows; r++)
        rmsnorm_row(x + (size_t)r * dim, weight, dim, eps, out + (size_t)r * dim);
}

/* Rotate one head in place: pairs (i, i + d/2) turn by the angle of frequency i. */
static void rope_head(float *head, const float *angles, int32_t head_dim)
{
    int32_t half = head_dim / 2;
    for (int32_t i = 0; i < half; i++) {
        float cosine = angles[2 * i], sine = angles[2 * i + 1];
        float x0 = head[i], x1 = head[i + half];
        head[i] = x0 * cosine - x1 * sine;
        head[i + half] = x0 * sine + x1 * cosine;
    }
}

void qvk_cpu_qk_norm_rope(float *q, float *k, const float *v, int32_t n_rows, int32_t pos,
                          const qvk_tensor *q_norm, const qvk_tensor *k_norm,
                          const float *rope_table, qvk_attention_shape shape, float eps,
                          float *k_cache, float *v_cache)
{
    int32_t d = shape.head_dim;
    size_t q_width = (size_t)shape.n_heads * d, kv_width = (size_t)shape.n_kv_heads * d;

    for (int32_t t = 0; t < n_rows; t++) {
        const float *angles = rope_table + (size_t)(pos + t) * d;
        float *q_row = q + t * q_width, *k_row = k + t * kv_width;
        for (int32_t h = 0; h < shape.n_heads; h++) {
            rmsnorm_row(q_row + h * d, q_norm, d, eps, q_row + h * d);
            rope_head(q_row + h * d, angles, d);
        }
        for (int32_t h = 0; h < shape.n_kv_heads; h++) {
            rmsnorm_row(k_row + h * d, k_norm, d, eps, k_row + h * d);
            rope_head(k_row + h * d, angles, d);
        }
        memcpy(k_cache + (size_t)(pos + t) * kv_width, k_row, kv_width * sizeof(float));
        memcpy(v_cache + (size_t)(pos + t) * kv_width, v + t * kv_width, kv_width * sizeof(float));
    }
}

typedef struct attention_task {
    const float *q;
    int32_t n_rows;
    int32_t pos;
    const float *k_cache;
    const float *v_cache;
    qvk_attention_shape shape;
    float *out;
} attention_task;

/* One (token, head) pair in a single pass over the visible cache rows, with the softmax computed
 * online. Whenever a larger score appears, the running sum of exp(score - max) and the weighted
 * sum of values are both scaled by exp(old max - new max). So no buffer of scores is needed, and
 * the result equals softmax(scores) · V up to float rounding. */
static void attend(const attention_task *task, int32_t t, int32_t h)
{
    qvk_attention_shape s = task->shape;
    int32_t d = s.head_dim, kv_head = h / (s.n_heads / s.n_kv_heads), n_keys = task->pos + t + 1;
    size_t kv_width = (size_t)s.n_kv_heads * d;
    const float *query = task->q + ((size_t)t * s.n_heads + h) * d;
    float *out = task->out + ((size_t)t * s.n_heads + h) * d;
    float scale = 1.0f / sqrtf((float)d), max_score = -INFINITY, sum = 0.0f;

    memset(out, 0, (size_t)d * sizeof(float));
    for (int32_t j = 0; j < n_keys; j++) {
        const float *key = task->k_cache + j * kv_width + kv_head * d;
        const float *value = task->v_cache + j * kv_width + kv_head * d;
        float score = qvk_dot_f32_f32(query, key, d) * scale;
        if (score > max_score) {
            float rescale = expf(max_score - score); /* 0 for the first key */
            sum *= rescale;
            for (int32_t i = 0; i < d; i++)
                out[i] *= rescale;
            max_score = score;
        }
        float weight = expf(score - max_score);
        sum += weight;
        for (int32_t i = 0; i < d; i++)
            out[i] += weight * value[i];
    }
    for (int32_t i = 0; i < d; i++)
        out[i] /= sum;
}

static void attention_run(void *context, int32_t thread_index, int32_t n_threads)
{
    const attention_task *task = context;
    int64_t n_pairs = (int64_t)task->n_rows * task->shape.n_heads, begin, end;

    qvk_split_range(n_pairs, thread_index, n_threads, &begin, &end);
    for (int64_t pair = begin; pair < end; pair++)
        attend(task, (int32_t)(pair / task->shape.n_heads), (int32_t)(pair % task->shape.n_heads));
}

void qvk_cpu_attention(qvk_threadpool *pool, const float *q, int32_t n_rows, int32_t pos,
                       const float *k_cache, const float *v_cache, qvk_attention_shape shape,
                       float *out)
{
    attention_task task = { q, n_rows, pos, k_cache, v_cache, shape, out };
    qvk_threadpool_run(pool, attention_run, &task);
}

void qvk_cpu_swiglu(float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
