/* The Vulkan backend object: creation (device, pipelines, weights, buffers), forward (record the
 * step into one command buffer, submit once, wait, read the logits) and destruction. */
#include "backend/vulkan/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MIB (1024.0 * 1024.0)
/* Grid y and z carry token rows and attention chunks; every device allows 65535. */
#define MAX_GRID_ROWS 65535

static qvk_vk_backend *backend_of(qvk_backend *base)
{
    return (qvk_vk_backend *)base;
}

static qvk_status step_validate(const qvk_vk_backend *backend, const qvk_step *step)
{
    const qvk_backend_config *options = &backend->options;

    if (backend->context->lost)
        return qvk_error(QVK_ERR_DEVICE, "the Vulkan device was lost earlier; create a new "
                         "session");
    if (step->n_tokens < 1 || step->n_tokens > options->n_batch)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "a step of %d tokens: the Vulkan backend "
                         "takes 1 to n_batch = %d tokens per step", step->n_tokens,
                         options->n_batch);
    if (step->n_out < 1 || step->n_out > step->n_tokens)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "n_out %d is not in 1 .. n_tokens (%d)",
                         step->n_out, step->n_tokens);
    if (step->pos < 0 || (int64_t)step->pos + step->n_tokens > options->n_ctx)
        return qvk_error(QVK_ERR_CONTEXT_FULL, "positions %d .. %d do not fit the context of %d "
                         "tokens", step->pos, step->pos + step->n_tokens - 1, options->n_ctx);
    if (!step->tokens)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "the step has no token ids");
    for (int32_t t = 0; t < step->n_tokens; t++)
        if (step->tokens[t] < 0 || step->tokens[t] >= backend->config.vocab_size)
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "token id %d at index %d is outside the "
                             "vocabulary (0 .. %d)", step->tokens[t], t,
                             backend->config.vocab_size - 1);
    return QVK_OK;
}

/* Record the step, submit it once and wait for it; *cpu_seconds receives the time spent
 * recording and in vkQueueSubmit. */
static qvk_status step_run(qvk_vk_backend *backend, const qvk_step *step, double cpu_seconds[2])
{
    qvk_vk_context *context = backend->context;
    VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO };
    qvk_status status = step_validate(backend, step);
    double start;

    if (status != QVK_OK)
        return status;
    /* Host writes before vkQueueSubmit are visible to the submitted work. */
    memcpy(backend->tokens.mapped, step->tokens, (size_t)step->n_tokens * sizeof(int32_t));
    status = qvk_vk_slice_flush(&backend->allocator, &backend->tokens);
    if (status != QVK_OK)
        return status;

    start = qvk_time_seconds();
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    status = qvk_vk_check(context, vkBeginCommandBuffer(backend->commands, &begin),
                          "vkBeginCommandBuffer");
    if (status == QVK_OK)
        status = qvk_vk_record_step(backend, step);
    if (status == QVK_OK)
        status = qvk_vk_check(context, vkEndCommandBuffer(backend->commands), "vkEndCommandBuffer");
    if (status != QVK_OK)
        return status;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &backend->commands;
    double submit_start = qvk_time_seconds();
    status = qvk_vk_check(context, vkQueueSubmit(context->queue, 1, &submit, backend->fence),
                          "vkQueueSubmit");
    cpu_seconds[0] = submit_start - start;
    cpu_seconds[1] = qvk_time_seconds() - submit_start;
    if (status != QVK_OK)
        return status;
    status = qvk_vk_check(context, vkWaitForFences(context->device, 1, &backend->fence, VK_TRUE,
                                                   UINT64_MAX), "vkWaitForFences");
    if (status == QVK_OK)
        status = qvk_vk_check(context, vkResetFences(context->device, 1, &backend->fence),
                              "vkResetFences");
    return status;
}

static qvk_status logits_read(qvk_vk_backend *backend, int32_t n_out, float *logits)
{
    const qvk_vk_rows *rows = &backend->buffers[QVK_BUF_LOGITS];
    size_t row_bytes = (size_t)rows->width * sizeof(float);

    for (int32_t c = 0; c < rows->n_chunks; c++) {
        int64_t first = c * rows->rows_per_chunk;
        if (first >= n_out)
            break;
        int64_t count = n_out - first < rows->rows_per_chunk ? n_out - first : rows->rows_per_chunk;
        qvk_status status = qvk_vk_slice_invalidate(&backend->allocator, &rows->chunks[c]);
        if (status != QVK_OK)
            return status;
        memcpy(logits + first * rows->width, rows->chunks[c].mapped, (size_t)count * row_bytes);
    }
    return QVK_OK;
}

static qvk_status vulkan_forward(qvk_backend *base, const qvk_step *step, float *logits)
{
    qvk_vk_backend *backend = backend_of(base);
    double start = qvk_time_seconds();
    double cpu_seconds[2] = { 0.0, 0.0 };
    qvk_status status = step_run(backend, step, cpu_seconds);

    if (status == QVK_OK && logits)
        status = logits_read(backend, step->n_out, logits);
    if (status == QVK_OK)
        status = qvk_vk_profiler_end(&backend->profiler, step->n_tokens, cpu_seconds[0],
                                     cpu_seconds[1], qvk_time_seconds() - start);
    return status;
}

qvk_status qvk_vk_backend_run(qvk_backend *base, const qvk_step *step)
{
    return vulkan_forward(base, step, NULL);
}

static size_t vulkan_profile_report(qvk_backend *base, char *out, size_t out_size)
{
    return qvk_vk_profiler_report(&backend_of(base)->profiler, out, out_size);
}

static void vulkan_destroy(qvk_backend *base)
{
    qvk_vk_backend *backend = backend_of(base);
    VkDevice device;

    if (!backend)
        return;
    if (backend->context) {
        device = backend->context->device;
        vkDeviceWaitIdle(device);
        qvk_vk_profiler_free(&backend->profiler);
        qvk_vk_plan_destroy(backend);
        qvk_vk_pipelines_destroy(&backend->pipelines);
        if (backend->fence != VK_NULL_HANDLE)
            vkDestroyFence(device, backend->fence, NULL);
        if (backend->commands != VK_NULL_HANDLE)
            vkFreeCommandBuffers(device, backend->context->command_pool, 1, &backend->commands);
        qvk_vk_allocator_free(&backend->allocator);
        qvk_vk_context_destroy(backend->context);
    }
    free(backend->written);
    free(backend->read);
    free(backend->barriers);
    free(backend);
}

static const qvk_backend_vtable vulkan_vtable = {
    vulkan_forward,
    vulkan_profile_report,
    vulkan_destroy,
};

static qvk_status config_validate(const qvk_graph *graph, const qvk_backend_config *options)
{
    const qvk_model_config *config = graph->config;

    if (options->n_ctx < 1 || options->n_batch < 1)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "n_ctx (%d) and n_batch (%d) must be positive",
                         options->n_ctx, options->n_batch);
    if (options->n_batch > MAX_GRID_ROWS)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "n_batch %d exceeds the Vulkan backend's "
                         "maximum of %d tokens per step", options->n_batch, MAX_GRID_ROWS);
    if (config->n_heads < 1 || config->n_kv_heads < 1 || config->n_heads % config->n_kv_heads)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%d query heads cannot share %d key/value heads",
                         config->n_heads, config->n_kv_heads);
    /* attention.comp keeps 4 output dimensions per invocation of a 64-wide workgroup. */
    if (config->head_dim < 2 || config->head_dim % 2 || config->head_dim > 256)
        return qvk_error(QVK_ERR_UNSUPPORTED, "head_dim %d is not supported by the Vulkan "
                         "backend: it must be even and at most 256", config->head_dim);
    return QVK_OK;
}

/* Mark the weight dtypes that the embedding and matmul kernels must handle. */
static void graph_dtypes(const qvk_graph *graph, bool dtypes[QVK_VK_DTYPE_COUNT])
{
    memset(dtypes, 0, QVK_VK_DTYPE_COUNT * sizeof(bool));
    for (int32_t i = 0; i < graph->n_ops; i++) {
        const qvk_op *op = &graph->ops[i];
        if ((op->kind == QVK_OP_EMBED || op->kind == QVK_OP_MATMUL) && op->weight &&
            (int)op->weight->dtype < QVK_VK_DTYPE_COUNT)
            dtypes[op->weight->dtype] = true;
    }
}

static qvk_status tracker_create(qvk_vk_backend *backend)
{
    backend->n_resources = QVK_VK_RESOURCE_CACHES + 2 * backend->config.n_layers;
    backend->barrier_capacity = backend->n_resources;
    for (int b = 0; b < QVK_BUF_COUNT; b++)
        backend->barrier_capacity += backend->buffers[b].n_chunks;
    backend->written = calloc((size_t)backend->n_resources, 1);
    backend->read = calloc((size_t)backend->n_resources, 1);
    backend->barriers = calloc((size_t)backend->barrier_capacity, sizeof(*backend->barriers));
    if (!backend->written || !backend->read || !backend->barriers)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory");
    return QVK_OK;
}

static qvk_status commands_create(qvk_vk_backend *backend)
{
    qvk_vk_context *context = backend->context;
    VkCommandBufferAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO };
    VkFenceCreateInfo fence = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    qvk_status status;

    allocate.commandPool = context->command_pool;
    allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    allocate.commandBufferCount = 1;
    status = qvk_vk_check(context, vkAllocateCommandBuffers(context->device, &allocate,
                                                            &backend->commands),
                          "vkAllocateCommandBuffers");
    if (status == QVK_OK)
        status = qvk_vk_check(context, vkCreateFence(context->device, &fence, NULL,
                                                     &backend->fence), "vkCreateFence");
    return status;
}

/* Everything after the context: pipelines, weights and buffers, commands, tracker, profiler. */
static qvk_status backend_build(qvk_vk_backend *backend)
{
    bool dtypes[QVK_VK_DTYPE_COUNT];
    double start;
    qvk_status status;

    qvk_vk_allocator_init(&backend->allocator, backend->context);
    graph_dtypes(backend->graph, dtypes);
    status = qvk_vk_pipelines_create(backend->context, dtypes, &backend->pipelines);
    if (status != QVK_OK)
        return status;
    start = qvk_time_seconds();
    status = qvk_vk_plan_create(backend);
    qvk_vk_allocator_release_staging(&backend->allocator);
    if (status != QVK_OK)
        return status;
    double upload_seconds = qvk_time_seconds() - start;
    status = commands_create(backend);
    if (status == QVK_OK)
        status = tracker_create(backend);
    if (status == QVK_OK)
        status = qvk_vk_profiler_init(&backend->profiler, backend->context,
                                      backend->options.profile, backend->graph->n_ops);
    if (status != QVK_OK)
        return status;
    backend->profiler.pipeline_seconds = backend->pipelines.create_seconds;
    backend->profiler.pipeline_cache_warm = backend->pipelines.cache_warm;
    backend->profiler.upload_seconds = upload_seconds;

    bool in_place = !backend->context->staged_weights &&
                    qvk_vk_allocator_has_mapped_device_memory(&backend->allocator);
    const char *copied = in_place ? "written in place" : "uploaded through staging";
    int32_t n_imported = 0;
    char weights[128];

    for (int32_t i = 0; i < backend->n_tensors; i++)
        n_imported += backend->tensors[i].imported;
    if (n_imported > 0)
        snprintf(weights, sizeof(weights), "%d imported from host memory (%.1f MiB), %d %s",
                 n_imported, (double)backend->allocator.imported_bytes / MIB,
                 backend->n_tensors - n_imported, copied);
    else
        snprintf(weights, sizeof(weights), "all %s", copied);
    qvk_log_info("vulkan: %d weight tensors and the buffers ready in %.1f ms: %s; KV cache "
                 "%d tokens, %.1f MiB; %.1f MiB of device memory in use of %.1f MiB allocated",
                 backend->n_tensors, upload_seconds * 1e3, weights, backend->options.n_ctx,
                 2.0 * (double)backend->config.n_layers * (double)backend->k_cache[0].size / MIB,
                 (double)qvk_vk_allocator_used_bytes(&backend->allocator) / MIB,
                 (double)qvk_vk_allocator_allocated_bytes(&backend->allocator) / MIB);
    if (backend->options.profile && !backend->context->info.timestamps)
        qvk_log_warn("vulkan: the device has no timestamp queries on its compute queue; the "
                     "profile will count dispatches but show no GPU times");
    return QVK_OK;
}

qvk_status qvk_vk_backend_create(const qvk_graph *graph, const qvk_backend_config *config,
                                 const qvk_vk_context_options *options, qvk_backend **out)
{
    qvk_vk_backend *backend;
    qvk_status status;

    *out = NULL;
    status = config_validate(graph, config);
    if (status != QVK_OK)
        return status;
    backend = calloc(1, sizeof(*backend));
    if (!backend)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory");
    backend->base.vtable = &vulkan_vtable;
    backend->graph = graph;
    backend->config = *graph->config;
    backend->options = *config;

    status = qvk_vk_context_create(options, &backend->context);
    if (status == QVK_OK)
        status = backend_build(backend);
    if (status != QVK_OK) {
        vulkan_destroy(&backend->base);
        return status;
    }
    snprintf(backend->base.name, sizeof(backend->base.name), "vulkan (%.200s)",
             backend->context->info.properties.deviceName);
    *out = &backend->base;
    return QVK_OK;
}

qvk_status qvk_vulkan_backend_create(const qvk_graph *graph, const qvk_backend_config *config,
                                     qvk_backend **out)
{
    qvk_vk_context_options options = {
        .device_index = config->device_index,
        .reject_cpu_devices = config->reject_cpu_devices,
    };
    return qvk_vk_backend_create(graph, config, &options, out);
}

/* ---- For tests ------------------------------------------------------------------------------ */

static qvk_status rows_slice(qvk_vk_backend *backend, qvk_buffer_id buffer, int32_t n_rows,
                             const qvk_vk_slice **slice, size_t *bytes)
{
    if ((int)buffer < 0 || buffer >= QVK_BUF_COUNT)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "no buffer %d", (int)buffer);
    const qvk_vk_rows *rows = &backend->buffers[buffer];
    if (n_rows < 0 || n_rows > rows->rows_per_chunk)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "%d rows of the %s buffer are out of range",
                         n_rows, qvk_buffer_name(buffer));
    *slice = &rows->chunks[0];
    *bytes = (size_t)n_rows * (size_t)rows->width * sizeof(float);
    return QVK_OK;
}

qvk_status qvk_vk_backend_write_rows(qvk_backend *base, qvk_buffer_id buffer, const float *data,
                                     int32_t n_rows)
{
    qvk_vk_backend *backend = backend_of(base);
    const qvk_vk_slice *slice = NULL;
    size_t bytes = 0;
    qvk_status status = rows_slice(backend, buffer, n_rows, &slice, &bytes);
    return status == QVK_OK ? qvk_vk_write(&backend->allocator, slice, data, bytes) : status;
}

qvk_status qvk_vk_backend_read_rows(qvk_backend *base, qvk_buffer_id buffer, float *data,
                                    int32_t n_rows)
{
    qvk_vk_backend *backend = backend_of(base);
    const qvk_vk_slice *slice = NULL;
    size_t bytes = 0;
    qvk_status status = rows_slice(backend, buffer, n_rows, &slice, &bytes);
    return status == QVK_OK ? qvk_vk_read(&backend->allocator, slice, data, bytes) : status;
}

qvk_status qvk_vk_backend_read_cache(qvk_backend *base, int32_t layer, float *k, float *v,
                                     int32_t n_positions)
{
    qvk_vk_backend *backend = backend_of(base);
    size_t bytes = (size_t)n_positions * (size_t)backend->config.n_kv_heads *
                   (size_t)backend->config.head_dim * sizeof(float);
    qvk_status status;

    if (layer < 0 || layer >= backend->config.n_layers || n_positions < 0 ||
        n_positions > backend->options.n_ctx)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "cache layer %d, %d positions out of range",
                         layer, n_positions);
    status = qvk_vk_read(&backend->allocator, &backend->k_cache[layer], k, bytes);
    if (status == QVK_OK)
        status = qvk_vk_read(&backend->allocator, &backend->v_cache[layer], v, bytes);
    return status;
}

const qvk_vk_context *qvk_vk_backend_context(const qvk_backend *base)
{
    return ((const qvk_vk_backend *)base)->context;
}
