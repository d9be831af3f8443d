#include "backend/cpu/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qvk_cpu_embed(const qvk_tensor *table, const int32_t *tokens, int32_t n_tokens, float *out)
{
    int64_t width = qvk_tensor_cols(table);
    for (int32_t t = 0; t < n_tokens; t++)
        qvk_tensor_read_f32(table, (int64_t)tokens[t] * width, width, out + (size_t)t * width);
}

/* The sum of squares is taken in double: the norm is the one place where a long float sum of
 * same-signed terms would lose precision. */
static void rmsnorm_row(const float *x, const float *weight, int32_t dim, float eps, float *out)
{
    double sum = 0.0;
    for (int32_t i = 0; i < dim; i++)
        sum += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(sum / dim + eps));
    for (int32_t i = 0; i < dim; i++)
        out[i] = x[i] * scale * weight[i];
}

/* Norm weights are small; reading them to float32 once per call is cheaper than a dtype switch
 * per element. */
static float *read_vector(const qvk_tensor *tensor)
{
    int64_t n = qvk_tensor_n_elements(tensor);
    float *values = malloc((size_t)n * sizeof(float));
    if (values)
        qvk_tensor_read_f32(tensor, 0, n, values);
    return values;
}

void qvk_cpu_rmsnorm(const float *x, const qvk_tensor *weight, int32_t n_rows, int32_t dim,
                     float eps, float *out)
{
    float *gamma = read_vector(weight);
    if (!gamma)
        abort(); /* a few KiB: failing here means the process is already out of memory */
    for (int32_t r = 0; r < n_rows; r++)
        rmsnorm_row(x + (size_t)r * dim, gamma, dim, eps, out + (size_t)r * dim);
    free(gamma);
}

typedef struct matmul_task {
    const float *x;
    int32_t n_rows;
    const qvk_tensor *w;
    bool accumulate;
    float *out;
} matmul_task;

static float dot_row(const float *x, const qvk_tensor *w, int64_t row, int64_t n)
{
    switch (w->dtype) {
    case QVK_DTYPE_BF16: return qvk_dot_f32_bf16(x, (const uint16_t *)w->data + row * n, n);
    case QVK_DTYPE_F16: return qvk_dot_f32_f16(x, (const uint16_t *)w->data + row * n, n);
    case QVK_DTYPE_F32: return qvk_dot_f32_f32(x, (const float *)w->data + row * n, n);
    }
    return 0.0f;
}

/* Each thread takes a range of output features. With several token rows, each weight row is
 * widened to float32 once and reused for every token row, so the weights are read once per
 * call whatever the number of rows. */
static void matmul_run(void *context, int32_t thread_index, int32_t n_threads)
{
    const matmul_task *task = context;
    int64_t n_in = qvk_tensor_cols(task->w), n_out = qvk_tensor_rows(task->w);
    int64_t begin, end;
    float *row = NULL;

    qvk_split_range(n_out, thread_index, n_threads, &begin, &end);
    if (task->n_rows > 1 && task->w->dtype != QVK_DTYPE_F32)
        row = malloc((size_t)n_in * sizeof(float));
    for (int64_t o = begin; o < end; o++) {
        const float *weights = row;
        if (row)
            qvk_tensor_read_f32(task->w, o * n_in, n_in, row);
        else if (task->w->dtype == QVK_DTYPE_F32)
            weights = (const float *)task->w->data + o * n_in;
        for (int32_t r = 0; r < task->n_rows; r++) {
            const float *x = task->x + (size_t)r * n_in;
            float value = weights ? qvk_dot_f32_f32(x, weights, n_in) : dot_row(x, task->w, o, n_in);
            float *target = task->out + (size_t)r * n_out + o;
            *target = task->accumulate ? *target + value : value;
        }
    }
    free(row);
}

void qvk_cpu_matmul(qvk_threadpool *pool, const float *x, int32_t n_rows, const qvk_tensor *w,
                    bool accumulate, float *out)
{
    matmul_task task = { x, n_rows, w, accumulate, out };
    qvk_threadpool_run(pool, matmul_run, &task);
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
    float *q_gamma = read_vector(q_norm), *k_gamma = read_vector(k_norm);

    if (!q_gamma || !k_gamma)
        abort(); /* a few hundred bytes: failing here means the process is already out of memory */
    for (int32_t t = 0; t < n_rows; t++) {
        const float *angles = rope_table + (size_t)(pos + t) * d;
        float *q_row = q + t * q_width, *k_row = k + t * kv_width;
        for (int32_t h = 0; h < shape.n_heads; h++) {
            rmsnorm_row(q_row + h * d, q_gamma, d, eps, q_row + h * d);
            rope_head(q_row + h * d, angles, d);
        }
        for (int32_t h = 0; h < shape.n_kv_heads; h++) {
            rmsnorm_row(k_row + h * d, k_gamma, d, eps, k_row + h * d);
            rope_head(k_row + h * d, angles, d);
        }
        memcpy(k_cache + (size_t)(pos + t) * kv_width, k_row, kv_width * sizeof(float));
        memcpy(v_cache + (size_t)(pos + t) * kv_width, v + t * kv_width, kv_width * sizeof(float));
    }
    free(q_gamma);
    free(k_gamma);
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

/* One (token, head) pair: scores over the visible cache rows, softmax, weighted sum of values. */
static void attend(const attention_task *task, int32_t t, int32_t h, float *scores)
{
    qvk_attention_shape s = task->shape;
    int32_t d = s.head_dim, kv_head = h / (s.n_heads / s.n_kv_heads), n_keys = task->pos + t + 1;
    size_t kv_width = (size_t)s.n_kv_heads * d;
    const float *query = task->q + ((size_t)t * s.n_heads + h) * d;
    float *out = task->out + ((size_t)t * s.n_heads + h) * d;
    float scale = 1.0f / sqrtf((float)d), max_score = -INFINITY, sum = 0.0f;

    for (int32_t j = 0; j < n_keys; j++) {
        scores[j] = qvk_dot_f32_f32(query, task->k_cache + j * kv_width + kv_head * d, d) * scale;
        max_score = fmaxf(max_score, scores[j]);
    }
    for (int32_t j = 0; j < n_keys; j++) {
        scores[j] = expf(scores[j] - max_score);
        sum += scores[j];
    }
    memset(out, 0, (size_t)d * sizeof(float));
    for (int32_t j = 0; j < n_keys; j++) {
        const float *value = task->v_cache + j * kv_width + kv_head * d;
        float weight = scores[j] / sum;
        for (int32_t i = 0; i < d; i++)
            out[i] += weight * value[i];
    }
}

static void attention_run(void *context, int32_t thread_index, int32_t n_threads)
{
    const attention_task *task = context;
    int64_t n_pairs = (int64_t)task->n_rows * task->shape.n_heads, begin, end;
    float *scores = malloc((size_t)(task->pos + task->n_rows) * sizeof(float));

    if (!scores)
        abort(); /* at most n_ctx floats: failing here means the process is out of memory */
    qvk_split_range(n_pairs, thread_index, n_threads, &begin, &end);
    for (int64_t pair = begin; pair < end; pair++)
        attend(task, (int32_t)(pair / task->shape.n_heads), (int32_t)(pair % task->shape.n_heads),
               scores);
    free(scores);
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
