/* qwen3vk: Qwen3 language models on Vulkan devices, with a CPU fallback.
 *
 * Usage:
 *
 *     qvk_model *model;
 *     if (qvk_model_load("Qwen3-4B-SafeRL", NULL, &model) != QVK_OK)
 *         fprintf(stderr, "%s\n", qvk_last_error());
 *     qvk_session_options options = qvk_session_default_options();
 *     qvk_session *session;
 *     qvk_session_create(model, &options, &session);
 *     const float *logits;
 *     qvk_session_eval(session, ids, n_ids, false, &logits);   // logits of the last token
 *     ...
 *     qvk_session_destroy(session);
 *     qvk_model_destroy(model);
 *
 * Supported: Hugging Face Qwen3 dense model folders (Qwen3ForCausalLM) with BF16, F16 or F32
 * safetensors, single-file or sharded. Not supported yet: GGUF files, quantized weights,
 * rope_scaling, sliding-window attention.
 *
 * The library never exits. It logs one line per notable event to stderr (info level and above
 * by default); qvk_log_set_level and qvk_log_set_callback change that. Every fallible call
 * returns a qvk_status, and qvk_last_error() returns a one-line message for the calling thread.
 *
 * Threads: a model may be shared by sessions on several threads; one session must be used by one
 * thread at a time. The log callback may be called from several threads at once. A model must
 * outlive its sessions (destroy the sessions first).
 */
#ifndef QWEN3VK_H
#define QWEN3VK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status, errors, logging ------------------------------------------------------------- */

typedef enum qvk_status {
    QVK_OK = 0,
    QVK_ERR_INVALID_ARGUMENT,
    QVK_ERR_IO,
    QVK_ERR_FORMAT,
    QVK_ERR_UNSUPPORTED,
    QVK_ERR_OUT_OF_MEMORY,
    QVK_ERR_DEVICE,
    QVK_ERR_CONTEXT_FULL,
} qvk_status;

/* The message of the last failed call on this thread ("no error" if none). */
const char *qvk_last_error(void);
const char *qvk_status_name(qvk_status status);

typedef enum qvk_log_level {
    QVK_LOG_DEBUG,
    QVK_LOG_INFO,
    QVK_LOG_WARN,
    QVK_LOG_ERROR,
    QVK_LOG_OFF,
} qvk_log_level;

typedef void (*qvk_log_callback)(qvk_log_level level, const char *line, void *user_data);

/* Messages below this level are dropped. The default is QWEN3VK_LOG (debug, info, warn, error,
 * off) when set, else info. */
void qvk_log_set_level(qvk_log_level level);
/* Send log lines to callback instead of stderr; NULL restores stderr. The callback may be called
 * from several threads at once. */
void qvk_log_set_callback(qvk_log_callback callback, void *user_data);
/* The level named by name, or -1 if it names none. */
int qvk_log_level_parse(const char *name);

/* ---- Model --------------------------------------------------------------------------------- */

typedef struct qvk_model qvk_model;

/* The numbers of config.json and generation_config.json that the engine uses. */
typedef struct qvk_model_config {
    int32_t vocab_size;
    int32_t hidden_size;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t intermediate_size;
    int32_t max_position_embeddings;
    float rms_norm_eps;
    float rope_theta;
    bool tie_word_embeddings;

    int32_t bos_token_id; /* -1 when absent */
    int32_t eos_token_ids[8];
    int32_t n_eos_token_ids;

    /* Sampling defaults from generation_config.json; absent keys keep the engine defaults. */
    float temperature;
    int32_t top_k;
    float top_p;
    float min_p;
    float repetition_penalty;
} qvk_model_config;

/* Called during long steps (reading weights, copying them to a device, evaluating a prompt),
 * with the fraction done (0 to 1). */
typedef void (*qvk_progress_callback)(float fraction, void *user_data);

typedef struct qvk_model_options {
    /* When set, the weights are read into memory during the load (instead of on first use),
     * reporting progress about every 1%. */
    qvk_progress_callback progress;
    void *progress_user_data;
} qvk_model_options;

/* Load a Hugging Face model folder: config.json, generation_config.json (optional),
 * model.safetensors or the shards named by model.safetensors.index.json. Tensors are
 * memory-mapped; every tensor's presence, dtype, shape and byte range is checked. */
qvk_status qvk_model_load(const char *dir, const qvk_model_options *options, qvk_model **out);
void qvk_model_destroy(qvk_model *model);
/* Read one byte of every page of the weight files, reporting progress about every 1%, so that
 * the disk reads happen now instead of during the first forward pass. */
void qvk_model_read_weights(const qvk_model *model, qvk_progress_callback progress,
                            void *user_data);
const qvk_model_config *qvk_model_get_config(const qvk_model *model);

/* ---- Session: a backend, its KV cache and position ------------------------------------------ */

typedef struct qvk_session qvk_session;

typedef enum qvk_backend_kind {
    QVK_BACKEND_AUTO,   /* the best Vulkan GPU, else the CPU; never a CPU-type Vulkan device */
    QVK_BACKEND_CPU,
    QVK_BACKEND_VULKAN,
} qvk_backend_kind;

typedef struct qvk_session_options {
    qvk_backend_kind backend;
    int32_t device_index;  /* Vulkan device, -1 to choose by type and memory */
    int32_t n_ctx;         /* KV cache length in tokens; 0: min(4096, max_position_embeddings) */
    int32_t n_batch;       /* prompt tokens per forward pass; 0: 64 */
    int32_t n_threads;     /* CPU threads; 0: one per online core. Negative sizes are rejected. */
    bool profile;          /* collect per-op timings, read with qvk_session_profile_report */
    /* Called while the session readies the weights, with the fraction done (0 to 1): a Vulkan
     * backend copying them to its device, or the CPU backend reading them from disk
     * (qvk_model_read_weights). Without it, the CPU backend reads them during the first step. */
    qvk_progress_callback progress;
    void *progress_user_data;
} qvk_session_options;

qvk_session_options qvk_session_default_options(void);
qvk_status qvk_session_create(qvk_model *model, const qvk_session_options *options,
                              qvk_session **out);
void qvk_session_destroy(qvk_session *session);

/* Append tokens to the context and run the model over them. *logits points at
 * n_tokens × vocab_size floats when all_logits is set, else at the last token's vocab_size floats;
 * it stays valid until the next call. QVK_ERR_CONTEXT_FULL when the tokens do not fit. */
qvk_status qvk_session_eval(qvk_session *session, const int32_t *tokens, int32_t n_tokens,
                            bool all_logits, const float **logits);
/* Forget the context: the next eval starts at position 0. */
void qvk_session_reset(qvk_session *session);
int32_t qvk_session_position(const qvk_session *session);
int32_t qvk_session_context_size(const qvk_session *session);
/* Name of the backend in use, e.g. "cpu" or "vulkan (llvmpipe ...)". */
const char *qvk_session_backend_name(const qvk_session *session);
/* Write the per-op profile (needs options.profile) to out, NUL-terminated, as snprintf does:
 * returns the length of the whole report, which is out_size or more when out was too small. */
size_t qvk_session_profile_report(const qvk_session *session, char *out, size_t out_size);

/* ---- Text ------------------------------------------------------------------------------- */

/* Encode UTF-8 text with the model's tokenizer (tokenizer.json). Special tokens written in the
 * text, such as <|im_start|>, become their ids. *ids is malloc'ed; free() it. */
qvk_status qvk_tokenize(const qvk_model *model, const char *text, size_t length, int32_t **ids,
                        size_t *n_ids);
/* Decode ids to UTF-8 bytes; *text is malloc'ed and NUL-terminated. An id outside the
 * vocabulary is QVK_ERR_INVALID_ARGUMENT. */
qvk_status qvk_detokenize(const qvk_model *model, const int32_t *ids, size_t n_ids, char **text,
                          size_t *length);
/* Render an OpenAI-style chat request (JSON text with messages, tools, add_generation_prompt
 * and chat_template_kwargs such as enable_thinking) with the model's Jinja chat template.
 * *prompt is malloc'ed. */
qvk_status qvk_chat_render(const qvk_model *model, const char *request_json, char **prompt);
/* Replace the model's chat template with the Jinja source in path. */
qvk_status qvk_model_load_chat_template(qvk_model *model, const char *path);

/* ---- Generation --------------------------------------------------------------------------- */

typedef struct qvk_generate_options {
    float temperature;        /* 0: greedy */
    int32_t top_k;            /* 0: off */
    float top_p;              /* 1: off */
    float min_p;              /* 0: off */
    float repetition_penalty; /* 1: off */
    float presence_penalty;   /* 0: off */
    float frequency_penalty;  /* 0: off */
    uint64_t seed;            /* the same seed gives the same tokens; 0 is a seed like any other */
    int32_t max_tokens;
    const char *const *stop;  /* stop strings; generation ends before the first one */
    int32_t n_stop;
    /* Start the reply inside a <think> block: "<think>\n" is appended to a prompt that does not
     * already end in one, as Qwen3-2507 thinking templates do themselves. */
    bool open_reasoning;
    /* At most this many tokens of reasoning, then "\n</think>\n\n" is inserted and the answer
     * follows; negative for no limit. */
    int32_t reasoning_budget;
    /* Called after each forward pass of a prompt that takes more than one (n_batch tokens),
     * with the fraction done. */
    qvk_progress_callback prompt_progress;
    void *prompt_progress_user_data;
} qvk_generate_options;

/* The model's defaults: sampling from generation_config.json, 512 tokens, no stop strings,
 * no reasoning budget. */
qvk_generate_options qvk_generate_default_options(const qvk_model *model);

typedef enum qvk_text_kind {
    QVK_TEXT_REASONING,  /* inside the model's <think> block */
    QVK_TEXT_CONTENT,    /* the answer, without tool-call blocks */
} qvk_text_kind;

/* Called with each new piece of text as it is generated (always whole UTF-8 characters).
 * Return false to stop generating: qvk_generate then returns with finish_reason "stop", and text
 * held back until then (a possible stop string, a partial tool call) is dropped. */
typedef bool (*qvk_stream_callback)(qvk_text_kind kind, const char *text, size_t length,
                                    void *user_data);

typedef struct qvk_generation {
    char *reasoning_content;  /* NUL-terminated, never NULL after success */
    char *content;
    char *tool_calls_json;    /* a JSON array of OpenAI-style tool calls, or NULL when none */
    int32_t *ids;             /* generated token ids, n_completion_tokens of them */
    int32_t n_prompt_tokens;
    int32_t n_cached_tokens;  /* prompt tokens reused from the session's KV cache */
    int32_t n_completion_tokens;
    double prompt_seconds;
    double generation_seconds;
    const char *finish_reason; /* "stop", "length", "tool_calls" or "context_full" */
} qvk_generation;

/* Generate a continuation of prompt ids in session. The prompt's longest prefix already in the
 * session's KV cache is reused, so a chat that re-sends its history only evaluates what is new.
 * The text is split into reasoning and content as Qwen3's reasoning parsers in vLLM and SGLang
 * do; a prompt ending in <think> starts inside the reasoning. Free *out with
 * qvk_generation_free, also after a failure, when *out is zeroed.
 * Afterwards the KV cache contains the prompt and every generated token but the last one (it was
 * sampled, never evaluated): qvk_session_position() is n_prompt + n_completion_tokens - 1. */
qvk_status qvk_generate(qvk_session *session, const int32_t *prompt, int32_t n_prompt,
                        const qvk_generate_options *options, qvk_stream_callback callback,
                        void *user_data, qvk_generation *out);
/* Free what qvk_generate allocated in generation; NULL is allowed. */
void qvk_generation_free(qvk_generation *generation);

#ifdef __cplusplus
}
#endif

#endif
