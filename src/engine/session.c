/* A session: the graph of a model, the backend that runs it, and the position in the context.
 * Long prompts are split into steps of n_batch tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/log.h"
#include "engine/session.h"

struct qvk_session {
    qvk_model *model;
    qvk_graph graph;
    qvk_backend *backend;
    qvk_session_options options;
    int32_t position;
    int32_t *tokens;         /* the tokens whose keys and values are in the cache */
    float *logits;           /* rows of vocab_size floats */
    int32_t logits_capacity; /* rows */
};

qvk_session_options qvk_session_default_options(void)
{
    return (qvk_session_options){
        .backend = QVK_BACKEND_AUTO,
        .device_index = -1,
        .n_ctx = 0,
        .n_batch = 64,
        .n_threads = 0,
        .profile = false,
    };
}

/* Create the CPU backend. It reads the weights in place from the file mapping, so with a progress
 * callback they are read from disk now, with reports, instead of during the first step. */
static qvk_status create_cpu_backend(qvk_session *session, const qvk_backend_config *config)
{
    qvk_status status = qvk_cpu_backend_create(&session->graph, config, &session->backend);

    if (status == QVK_OK && config->progress)
        qvk_model_read_weights(session->model, config->progress, config->progress_user_data);
    return status;
}

static qvk_status create_backend(qvk_session *session, const qvk_backend_config *config)
{
    qvk_backend_kind kind = session->options.backend;

    /* Naming a device requests Vulkan, so a wrong index is an error, not a reason to fall back. */
    if (kind == QVK_BACKEND_AUTO && config->device_index >= 0)
        kind = QVK_BACKEND_VULKAN;
    if (kind == QVK_BACKEND_CPU)
        return create_cpu_backend(session, config);
#ifdef QWEN3VK_HAVE_VULKAN
    qvk_backend_config vulkan_config = *config;
    vulkan_config.reject_cpu_devices = kind == QVK_BACKEND_AUTO;
    qvk_status status = qvk_vulkan_backend_create(&session->graph, &vulkan_config, &session->backend);
    if (status == QVK_OK || kind == QVK_BACKEND_VULKAN)
        return status;
    if (status == QVK_ERR_UNSUPPORTED)
        qvk_log_info("using the CPU backend: %s", qvk_last_error());
    else
        qvk_log_warn("falling back to the CPU backend: %s", qvk_last_error());
#else
    if (kind == QVK_BACKEND_VULKAN)
        return qvk_error(QVK_ERR_UNSUPPORTED, "this build of qwen3vk has no Vulkan backend; "
                         "rebuild with -DQWEN3VK_VULKAN=ON or use --backend cpu");
    qvk_log_info("using the CPU backend: this build has no Vulkan backend");
#endif
    return create_cpu_backend(session, config);
}

qvk_status qvk_session_create(qvk_model *model, const qvk_session_options *options,
                              qvk_session **out)
{
    const qvk_model_config *c = &model->config;
    qvk_session *session;
    qvk_backend_config config;
    qvk_status status;

    *out = NULL;
    if (options && (options->n_ctx < 0 || options->n_batch < 0 || options->n_threads < 0))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "invalid session options: n_ctx %d, n_batch "
                         "%d and n_threads %d must be 0 (the default) or more", options->n_ctx,
                         options->n_batch, options->n_threads);
    session = calloc(1, sizeof(*session));
    if (!session)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for a session");
    session->model = model;
    session->options = options ? *options : qvk_session_default_options();
    config = (qvk_backend_config){
        .n_ctx = session->options.n_ctx,
        .n_batch = session->options.n_batch,
        .n_threads = session->options.n_threads,
        .device_index = session->options.device_index,
        .profile = session->options.profile,
        .progress = session->options.progress,
        .progress_user_data = session->options.progress_user_data,
    };
    if (config.n_ctx <= 0)
        config.n_ctx = c->max_position_embeddings < 4096 ? c->max_position_embeddings : 4096;
    if (config.n_ctx > c->max_position_embeddings) {
        free(session);
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "context size %d is larger than the model's "
                         "max_position_embeddings %d", config.n_ctx, c->max_position_embeddings);
    }
    if (config.n_batch <= 0)
        config.n_batch = 64;
    if (config.n_batch > config.n_ctx)
        config.n_batch = config.n_ctx;
    if (config.n_threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        config.n_threads = cores > 0 ? (int32_t)cores : 1;
    }
    session->options.n_ctx = config.n_ctx;
    session->options.n_batch = config.n_batch;
    session->options.n_threads = config.n_threads;

    session->tokens = malloc((size_t)config.n_ctx * sizeof(int32_t));
    if (!session->tokens) {
        free(session);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for a context of %d tokens",
                         config.n_ctx);
    }
    status = qvk_graph_build(model, &session->graph);
    if (status == QVK_OK)
        status = create_backend(session, &config);
    if (status != QVK_OK) {
        qvk_session_destroy(session);
        return status;
    }
    *out = session;
    return QVK_OK;
}

void qvk_session_destroy(qvk_session *session)
{
    if (!session)
        return;
    if (session->backend)
        session->backend->vtable->destroy(session->backend);
    qvk_graph_free(&session->graph);
    free(session->logits);
    free(session->tokens);
    free(session);
}

static qvk_status reserve_logits(qvk_session *session, int32_t rows)
{
    size_t vocab = (size_t)session->model->config.vocab_size;
    float *logits;

    if (rows <= session->logits_capacity)
        return QVK_OK;
    logits = realloc(session->logits, (size_t)rows * vocab * sizeof(float));
    if (!logits)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for %d rows of logits (%.1f MiB)",
                         rows, (double)rows * (double)vocab * 4.0 / (1 << 20));
    session->logits = logits;
    session->logits_capacity = rows;
    return QVK_OK;
}

/* Fail on the first NaN or infinite logit of rows × vocab, the first row at position first.
 * Finite weights and inputs give finite logits, so one means corrupt weights; without the check
 * sampling would silently pick from garbage. */
static qvk_status check_finite(const float *logits, int32_t rows, size_t vocab, int32_t first)
{
    for (int32_t r = 0; r < rows; r++)
        for (size_t i = 0; i < vocab; i++) {
            float value = logits[(size_t)r * vocab + i];
            const char *name = "NaN";

            if (isfinite(value))
                continue;
            if (isinf(value))
                name = value > 0 ? "+infinity" : "-infinity";
            return qvk_error(QVK_ERR_FORMAT, "the logit of token %zu at position %d is %s: the "
                             "model's weights contain NaN or infinite values; check or download "
                             "the model files again", i, first + r, name);
        }
    return QVK_OK;
}

qvk_status qvk_session_eval(qvk_session *session, const int32_t *tokens, int32_t n_tokens,
                            bool all_logits, const float **logits)
{
    size_t vocab = (size_t)session->model->config.vocab_size;
    int32_t n_batch = session->options.n_batch;
    qvk_status status;

    if (n_tokens < 1)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "eval needs at least one token");
    if (session->position + n_tokens > session->options.n_ctx)
        return qvk_error(QVK_ERR_CONTEXT_FULL, "%d tokens at position %d do not fit the context of "
                         "%d tokens; shorten the prompt or raise the context size (--ctx)", n_tokens,
                         session->position, session->options.n_ctx);
    if ((status = reserve_logits(session, all_logits ? n_tokens : 1)) != QVK_OK)
        return status;

    for (int32_t done = 0; done < n_tokens;) {
        int32_t n = n_tokens - done < n_batch ? n_tokens - done : n_batch;
        qvk_step step = {
            .tokens = tokens + done,
            .n_tokens = n,
            .pos = session->position,
            .n_out = all_logits ? n : 1,
        };
        /* Without all_logits only the very last row is kept; earlier steps still need an output
         * row, which is written and then overwritten. */
        float *out = session->logits + (all_logits ? (size_t)done * vocab : 0);
        status = session->backend->vtable->forward(session->backend, &step, out);
        if (status == QVK_OK)
            status = check_finite(out, step.n_out, vocab, session->position + n - step.n_out);
        if (status != QVK_OK)
            return status;
        memcpy(session->tokens + session->position, step.tokens, (size_t)n * sizeof(int32_t));
        session->position += n;
        done += n;
    }
    *logits = session->logits;
    return QVK_OK;
}

void qvk_session_reset(qvk_session *session)
{
    session->position = 0;
}

const int32_t *qvk_session_tokens(const qvk_session *session)
{
    return session->tokens;
}

void qvk_session_truncate(qvk_session *session, int32_t n_tokens)
{
    if (n_tokens >= 0 && n_tokens < session->position)
        session->position = n_tokens;
}

qvk_model *qvk_session_model(const qvk_session *session)
{
    return session->model;
}

int32_t qvk_session_batch_size(const qvk_session *session)
{
    return session->options.n_batch;
}

int32_t qvk_session_position(const qvk_session *session)
{
    return session->position;
}

int32_t qvk_session_context_size(const qvk_session *session)
{
    return session->options.n_ctx;
}

const char *qvk_session_backend_name(const qvk_session *session)
{
    return session->backend->name;
}

size_t qvk_session_profile_report(const qvk_session *session, char *out, size_t out_size)
{
    if (out && out_size > 0)
        out[0] = '\0';
    if (!session->backend->vtable->profile_report)
        return 0;
    return session->backend->vtable->profile_report(session->backend, out, out_size);
}
