/* The forward pass as a list of ops over named activation buffers. The engine builds it once per
 * model. Each backend executes the same list: the CPU with C kernels on threads, Vulkan as one
 * recorded command buffer per step. So the backends can be compared op by op.
 *
 * Activation buffers hold one row per token of the step. A step evaluates n_tokens new tokens
 * at positions pos .. pos + n_tokens - 1 and produces logits for the last n_out of them. */
#ifndef QWEN3VK_ENGINE_GRAPH_H
#define QWEN3VK_ENGINE_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"

typedef enum qvk_buffer_id {
    QVK_BUF_X,       /* residual stream [hidden] */
    QVK_BUF_XN,      /* normalized residual [hidden] */
    QVK_BUF_Q,       /* queries [n_heads × head_dim] */
    QVK_BUF_K,       /* keys of the step [n_kv_heads × head_dim] */
    QVK_BUF_V,       /* values of the step [n_kv_heads × head_dim] */
    QVK_BUF_ATTN,    /* attention output [n_heads × head_dim] */
    QVK_BUF_GATE,    /* MLP gate, then silu(gate) × up [intermediate] */
    QVK_BUF_UP,      /* MLP up projection [intermediate] */
    QVK_BUF_LOGITS,  /* [vocab] */
    QVK_BUF_COUNT
} qvk_buffer_id;

typedef enum qvk_op_kind {
    /* X[t] = embed[tokens[t]] */
    QVK_OP_EMBED,
    /* dst = src / rms(src) × weight, per row; in float32 */
    QVK_OP_RMSNORM,
    /* dst = src · weightᵀ, or dst += src · weightᵀ when accumulate is set (the residual add) */
    QVK_OP_MATMUL,
    /* Per head: RMSNorm of Q with weight (q_norm) and of K with weight2 (k_norm), then NeoX RoPE
     * on both at the token's position. Then K and V are written to the layer's KV cache. */
    QVK_OP_QK_NORM_ROPE,
    /* Causal grouped-query attention of Q over the layer's cache rows [0, pos + t]. */
    QVK_OP_ATTENTION,
    /* GATE = silu(GATE) × UP */
    QVK_OP_SWIGLU,
    QVK_OP_KIND_COUNT
} qvk_op_kind;

/* Which rows an op covers. The last ops run only on the rows whose logits are wanted. */
typedef enum qvk_op_rows {
    QVK_ROWS_ALL,            /* rows 0 .. n_tokens - 1 */
    QVK_ROWS_SELECT_OUTPUT,  /* reads src rows n_tokens - n_out .., writes dst rows 0 .. n_out - 1 */
    QVK_ROWS_OUTPUT,         /* rows 0 .. n_out - 1 */
} qvk_op_rows;

typedef struct qvk_op {
    qvk_op_kind kind;
    int32_t layer;             /* -1 for ops outside the layers */
    const qvk_tensor *weight;  /* EMBED table, RMSNORM gamma, MATMUL matrix, QK_NORM_ROPE q_norm */
    const qvk_tensor *weight2; /* QK_NORM_ROPE k_norm */
    qvk_buffer_id src;
    qvk_buffer_id dst;
    bool accumulate;
    qvk_op_rows rows;
} qvk_op;

typedef struct qvk_graph {
    const qvk_model_config *config;
    qvk_op *ops;
    int32_t n_ops;
} qvk_graph;

typedef struct qvk_step {
    const int32_t *tokens;
    int32_t n_tokens;
    int32_t pos;     /* position of tokens[0], so the KV cache contains rows 0 .. pos - 1 */
    int32_t n_out;   /* logits rows wanted: the last n_out tokens (1 or n_tokens) */
} qvk_step;

qvk_status qvk_graph_build(const qvk_model *model, qvk_graph *graph);
void qvk_graph_free(qvk_graph *graph);

/* Floats per row of a buffer. */
int32_t qvk_buffer_width(const qvk_model_config *config, qvk_buffer_id buffer);
const char *qvk_buffer_name(qvk_buffer_id buffer);
const char *qvk_op_kind_name(qvk_op_kind kind);
/* Number of rows an op covers in a step. */
int32_t qvk_op_row_count(const qvk_op *op, const qvk_step *step);

/* The RoPE angles cos(p·θ_i) and sin(p·θ_i), θ_i = theta^(-2i/head_dim), for positions
 * 0 .. n_positions - 1 and i < head_dim / 2, computed in double and stored as float:
 * table[(p × head_dim / 2 + i) × 2 + {0: cos, 1: sin}]. Both backends use it so that large
 * positions lose no precision to float angle arithmetic. The caller frees it. */
float *qvk_rope_table_create(int32_t n_positions, int32_t head_dim, double theta);

#endif
