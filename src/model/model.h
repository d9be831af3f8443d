/* The loaded model: configuration, memory-mapped weight files and the tensors of each layer. */
#ifndef QWEN3VK_MODEL_MODEL_H
#define QWEN3VK_MODEL_MODEL_H

#include "model/safetensors.h"
#include "model/tensor.h"
#include "qwen3vk.h"

/* The weights of one decoder layer (names as in Hugging Face Qwen3ForCausalLM). */
typedef struct qvk_layer_weights {
    const qvk_tensor *attn_norm;  /* input_layernorm [hidden] */
    const qvk_tensor *wq;         /* q_proj [n_heads × head_dim, hidden] */
    const qvk_tensor *wk;         /* k_proj [n_kv_heads × head_dim, hidden] */
    const qvk_tensor *wv;         /* v_proj [n_kv_heads × head_dim, hidden] */
    const qvk_tensor *wo;         /* o_proj [hidden, n_heads × head_dim] */
    const qvk_tensor *q_norm;     /* [head_dim], applied to each query head */
    const qvk_tensor *k_norm;     /* [head_dim], applied to each key head */
    const qvk_tensor *ffn_norm;   /* post_attention_layernorm [hidden] */
    const qvk_tensor *w_gate;     /* gate_proj [intermediate, hidden] */
    const qvk_tensor *w_up;       /* up_proj [intermediate, hidden] */
    const qvk_tensor *w_down;     /* down_proj [hidden, intermediate] */
} qvk_layer_weights;

struct qvk_model {
    char dir[4096];
    qvk_model_config config;

    qvk_safetensors_file *files;
    int32_t n_files;

    const qvk_tensor *embed;       /* model.embed_tokens.weight [vocab, hidden] */
    const qvk_tensor *final_norm;  /* model.norm.weight [hidden] */
    const qvk_tensor *lm_head;     /* lm_head.weight, or embed when the embeddings are tied */
    qvk_layer_weights *layers;     /* n_layers entries */
    size_t weight_bytes;           /* all tensors together */

    /* Text processing, loaded with the model when tokenizer.json and tokenizer_config.json are
     * present; NULL otherwise (then only token ids can be used). */
    struct qvk_tokenizer *tokenizer;
    struct qvk_chat_template *chat_template;
};

/* Load tokenizer.json and the chat template of tokenizer_config.json from model->dir. */
qvk_status qvk_model_load_text(qvk_model *model);
void qvk_model_free_text(qvk_model *model);

/* Parse config.json and, when present, generation_config.json of dir into config. */
qvk_status qvk_config_load(const char *dir, qvk_model_config *config);

#endif
