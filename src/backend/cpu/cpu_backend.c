/* The CPU backend: runs the op list with the kernels of kernels.c on a thread pool. Weights are
 * read straight from the file mapping; activations and the KV cache are float32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/log.h"

typedef struct op_profile {
    int64_t count;
    double seconds;
} op_profile;

typedef struct cpu_backend {
    qvk_backend base;
    const qvk_graph *graph;
    qvk_backend_config config;
    qvk_threadpool *pool;
    float *buffers[QVK_BUF_COUNT];
    float *k_cache;  /* [n_layers][n_ctx][n_kv_heads × head_dim] */
    float *v_cache;
    float *rope_table;
    op_profile profile[QVK_OP_KIND_COUNT];
    int64_t profiled_tokens;
} cpu_backend;

static qvk_attention_shape attention_shape(const qvk_model_config *c)
{
    return (qvk_attention_shape){ c->n_heads, c->n_kv_heads, c->head_dim };
}

static void run_op(cpu_backend *cpu, const qvk_op *op, const qvk_step *step)
{
    const qvk_model_config *c = cpu->graph->config;
    int32_t rows = qvk_op_row_count(op, step);
    int32_t src_width = qvk_buffer_width(c, op->src);
    float *src = cpu->buffers[op->src], *dst = cpu->buffers[op->dst];
    size_t layer_offset = (size_t)(op->layer < 0 ? 0 : op->layer) * (size_t)cpu->config.n_ctx *
                          (size_t)(c->n_kv_heads * c->head_dim);

    if (op->rows == QVK_ROWS_SELECT_OUTPUT)
        src += (size_t)(step->n_tokens - step->n_out) * (size_t)src_width;
    switch (op->kind) {
    case QVK_OP_EMBED:
        qvk_cpu_embed(op->weight, step->tokens, rows, dst);
        break;
    case QVK_OP_RMSNORM:
        qvk_cpu_rmsnorm(src, op->weight, rows, src_width, c->rms_norm_eps, dst);
        break;
    case QVK_OP_MATMUL:
        qvk_cpu_matmul(cpu->pool, src, rows, op->weight, op->accumulate, dst);
        break;
    case QVK_OP_QK_NORM_ROPE:
        qvk_cpu_qk_norm_rope(cpu->buffers[QVK_BUF_Q], cpu->buffers[QVK_BUF_K],
                             cpu->buffers[QVK_BUF_V], rows, step->pos, op->weight, op->weight2,
                             cpu->rope_table, attention_shape(c), c->rms_norm_eps,
                             cpu->k_cache + layer_offset, cpu->v_cache + layer_offset);
        break;
    case QVK_OP_ATTENTION:
        qvk_cpu_attention(cpu->pool, src, rows, step->pos, cpu->k_cache + layer_offset,
                          cpu->v_cache + layer_offset, attention_shape(c), dst);
        break;
    case QVK_OP_SWIGLU:
        qvk_cpu_swiglu(dst, src, (size_t)rows * (size_t)src_width);
        break;
    case QVK_OP_KIND_COUNT:
        break;
    }
}

static qvk_status cpu_forward(qvk_backend *backend, const qvk_step *step, float *logits)
{
    cpu_backend *cpu = (cpu_backend *)backend;
    const qvk_model_config *c = cpu->graph->config;

    if (step->n_tokens < 1 || step->n_tokens > cpu->config.n_batch || step->n_out < 1 ||
        step->n_out > step->n_tokens)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "step of %d tokens (%d outputs) does not fit a "
                         "batch of %d", step->n_tokens, step->n_out, cpu->config.n_batch);
    if (step->pos < 0 || step->pos + step->n_tokens > cpu->config.n_ctx)
        return qvk_error(QVK_ERR_CONTEXT_FULL, "positions %d..%d are past the context of %d tokens",
                         step->pos, step->pos + step->n_tokens - 1, cpu->config.n_ctx);
    for (int32_t t = 0; t < step->n_tokens; t++)
        if (step->tokens[t] < 0 || step->tokens[t] >= c->vocab_size)
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "token id %d is outside the vocabulary "
                             "(0..%d)", step->tokens[t], c->vocab_size - 1);

    for (int32_t i = 0; i < cpu->graph->n_ops; i++) {
        const qvk_op *op = &cpu->graph->ops[i];
        double start = cpu->config.profile ? qvk_time_seconds() : 0.0;
        run_op(cpu, op, step);
        if (cpu->config.profile) {
            cpu->profile[op->kind].count++;
            cpu->profile[op->kind].seconds += qvk_time_seconds() - start;
        }
    }
    cpu->profiled_tokens += step->n_tokens;
    memcpy(logits, cpu->buffers[QVK_BUF_LOGITS],
           (size_t)step->n_out * (size_t)c->vocab_size * sizeof(float));
    return QVK_OK;
}

static size_t cpu_profile_report(qvk_backend *backend, char *out, size_t out_size)
{
    cpu_backend *cpu = (cpu_backend *)backend;
    size_t used = 0;
    double total = 0.0;

    for (int32_t kind = 0; kind < QVK_OP_KIND_COUNT; kind++)
        total += cpu->profile[kind].seconds;
    /* Like snprintf: the whole report's length is returned, even when out is too small. */
    for (int32_t kind = 0; kind < QVK_OP_KIND_COUNT; kind++) {
        const op_profile *p = &cpu->profile[kind];
        size_t room = used < out_size ? out_size - used : 0;
        int n;

        if (p->count == 0)
            continue;
        n = snprintf(room ? out + used : NULL, room, "%-14s %8lld calls %10.3f ms %5.1f%%\n",
                     qvk_op_kind_name((qvk_op_kind)kind), (long long)p->count, p->seconds * 1e3,
                     total > 0 ? 100.0 * p->seconds / total : 0.0);
        if (n > 0)
            used += (size_t)n;
    }
    return used;
}

static void cpu_destroy(qvk_backend *backend)
{
    cpu_backend *cpu = (cpu_backend *)backend;
    if (!cpu)
        return;
    qvk_threadpool_destroy(cpu->pool);
    for (int32_t i = 0; i < QVK_BUF_COUNT; i++)
        free(cpu->buffers[i]);
    free(cpu->k_cache);
    free(cpu->v_cache);
    free(cpu->rope_table);
    free(cpu);
}

static const qvk_backend_vtable cpu_vtable = { cpu_forward, cpu_profile_report, cpu_destroy };

qvk_status qvk_cpu_backend_create(const qvk_graph *graph, const qvk_backend_config *config,
                                  qvk_backend **out)
{
    const qvk_model_config *c = graph->config;
    size_t kv_floats = (size_t)c->n_layers * (size_t)config->n_ctx * (size_t)(c->n_kv_heads * c->head_dim);
    cpu_backend *cpu = calloc(1, sizeof(*cpu));
    qvk_status status;

    *out = NULL;
    if (!cpu)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the CPU backend");
    cpu->base.vtable = &cpu_vtable;
    cpu->graph = graph;
    cpu->config = *config;
    snprintf(cpu->base.name, sizeof(cpu->base.name), "cpu (%d threads, %s)", config->n_threads,
             qvk_cpu_simd_name());
    if ((status = qvk_threadpool_create(config->n_threads, &cpu->pool)) != QVK_OK) {
        cpu_destroy(&cpu->base);
        return status;
    }
    for (int32_t i = 0; i < QVK_BUF_COUNT; i++) {
        size_t floats = (size_t)config->n_batch * (size_t)qvk_buffer_width(c, (qvk_buffer_id)i);
        if (!(cpu->buffers[i] = malloc(floats * sizeof(float))))
            break;
    }
    cpu->k_cache = calloc(kv_floats, sizeof(float));
    cpu->v_cache = calloc(kv_floats, sizeof(float));
    cpu->rope_table = qvk_rope_table_create(config->n_ctx, c->head_dim, c->rope_theta);
    if (!cpu->buffers[QVK_BUF_COUNT - 1] || !cpu->k_cache || !cpu->v_cache || !cpu->rope_table) {
        cpu_destroy(&cpu->base);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the CPU backend: the KV cache "
                         "of %d tokens needs %.1f MiB; lower the context size (--ctx)", config->n_ctx,
                         2.0 * (double)kv_floats * sizeof(float) / (1 << 20));
    }
    qvk_log_info("backend %s: KV cache %d tokens, %.1f MiB", cpu->base.name, config->n_ctx,
                 2.0 * (double)kv_floats * sizeof(float) / (1 << 20));
    *out = &cpu->base;
    return QVK_OK;
}
