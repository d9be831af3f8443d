#include "engine/graph.h"

#include <math.h>
#include <stdlib.h>

static const char *const buffer_names[QVK_BUF_COUNT] = {
    "x", "xn", "q", "k", "v", "attn", "gate", "up", "logits",
};

static const char *const op_kind_names[QVK_OP_KIND_COUNT] = {
    "embed", "rmsnorm", "matmul", "qk_norm_rope", "attention", "swiglu",
};

const char *qvk_buffer_name(qvk_buffer_id buffer)
{
    return buffer < QVK_BUF_COUNT ? buffer_names[buffer] : "?";
}

const char *qvk_op_kind_name(qvk_op_kind kind)
{
    return kind < QVK_OP_KIND_COUNT ? op_kind_names[kind] : "?";
}

int32_t qvk_buffer_width(const qvk_model_config *config, qvk_buffer_id buffer)
{
    switch (buffer) {
    case QVK_BUF_X:
    case QVK_BUF_XN: return config->hidden_size;
    case QVK_BUF_Q:
    case QVK_BUF_ATTN: return config->n_heads * config->head_dim;
    case QVK_BUF_K:
    case QVK_BUF_V: return config->n_kv_heads * config->head_dim;
    case QVK_BUF_GATE:
    case QVK_BUF_UP: return config->intermediate_size;
    case QVK_BUF_LOGITS: return config->vocab_size;
    case QVK_BUF_COUNT: break;
    }
    return 0;
}

int32_t qvk_op_row_count(const qvk_op *op, const qvk_step *step)
{
    return op->rows == QVK_ROWS_ALL ? step->n_tokens : step->n_out;
}

static qvk_op *append(qvk_graph *graph, qvk_op_kind kind, int32_t layer, const qvk_tensor *weight,
                      qvk_buffer_id src, qvk_buffer_id dst)
{
    qvk_op *op = &graph->ops[graph->n_ops++];
    *op = (qvk_op){ .kind = kind, .layer = layer, .weight = weight, .src = src, .dst = dst };
    return op;
}

/* One decoder layer:
 *   h += o_proj(attention(rope(q_norm(q)), rope(k_norm(k)), v)), q, k, v from input_layernorm(h)
 *   h += down(silu(gate(x)) × up(x)),                            x = post_attention_layernorm(h)
 * The residual adds are the matmuls' accumulate flag. */
static void append_layer(qvk_graph *graph, const qvk_layer_weights *w, int32_t layer)
{
    append(graph, QVK_OP_RMSNORM, layer, w->attn_norm, QVK_BUF_X, QVK_BUF_XN);
    append(graph, QVK_OP_MATMUL, layer, w->wq, QVK_BUF_XN, QVK_BUF_Q);
    append(graph, QVK_OP_MATMUL, layer, w->wk, QVK_BUF_XN, QVK_BUF_K);
    append(graph, QVK_OP_MATMUL, layer, w->wv, QVK_BUF_XN, QVK_BUF_V);
    append(graph, QVK_OP_QK_NORM_ROPE, layer, w->q_norm, QVK_BUF_Q, QVK_BUF_Q)->weight2 = w->k_norm;
    append(graph, QVK_OP_ATTENTION, layer, NULL, QVK_BUF_Q, QVK_BUF_ATTN);
    append(graph, QVK_OP_MATMUL, layer, w->wo, QVK_BUF_ATTN, QVK_BUF_X)->accumulate = true;

    append(graph, QVK_OP_RMSNORM, layer, w->ffn_norm, QVK_BUF_X, QVK_BUF_XN);
    append(graph, QVK_OP_MATMUL, layer, w->w_gate, QVK_BUF_XN, QVK_BUF_GATE);
    append(graph, QVK_OP_MATMUL, layer, w->w_up, QVK_BUF_XN, QVK_BUF_UP);
    append(graph, QVK_OP_SWIGLU, layer, NULL, QVK_BUF_UP, QVK_BUF_GATE);
    append(graph, QVK_OP_MATMUL, layer, w->w_down, QVK_BUF_GATE, QVK_BUF_X)->accumulate = true;
}

#define OPS_PER_LAYER 12

qvk_status qvk_graph_build(const qvk_model *model, qvk_graph *graph)
{
    const qvk_model_config *config = &model->config;

    graph->config = config;
    graph->n_ops = 0;
    graph->ops = calloc((size_t)config->n_layers * OPS_PER_LAYER + 3, sizeof(qvk_op));
    if (!graph->ops)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the op list");

    append(graph, QVK_OP_EMBED, -1, model->embed, QVK_BUF_X, QVK_BUF_X);
    for (int32_t layer = 0; layer < config->n_layers; layer++)
        append_layer(graph, &model->layers[layer], layer);
    /* Only the rows whose logits are wanted go through the final norm and the output head. */
    append(graph, QVK_OP_RMSNORM, -1, model->final_norm, QVK_BUF_X, QVK_BUF_XN)->rows =
        QVK_ROWS_SELECT_OUTPUT;
    append(graph, QVK_OP_MATMUL, -1, model->lm_head, QVK_BUF_XN, QVK_BUF_LOGITS)->rows =
        QVK_ROWS_OUTPUT;
    return QVK_OK;
}

void qvk_graph_free(qvk_graph *graph)
{
    free(graph->ops);
    graph->ops = NULL;
    graph->n_ops = 0;
}

float *qvk_rope_table_create(int32_t n_positions, int32_t head_dim, double theta)
{
    int32_t half = head_dim / 2;
    float *table = malloc((size_t)n_positions * (size_t)half * 2 * sizeof(float));

    if (!table)
        return NULL;
    for (int32_t i = 0; i < half; i++) {
        double frequency = pow(theta, -2.0 * i / head_dim);
        for (int32_t p = 0; p < n_positions; p++) {
            double angle = p * frequency;
            table[((size_t)p * half + i) * 2 + 0] = (float)cos(angle);
            table[((size_t)p * half + i) * 2 + 1] = (float)sin(angle);
        }
    }
    return table;
}
