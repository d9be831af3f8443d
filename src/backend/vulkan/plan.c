/* The device side of a graph: weights, activation buffers, KV cache, RoPE table, and one
 * descriptor set per dispatch, all made once when the backend is created. */
#include "backend/vulkan/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MIB (1024.0 * 1024.0)

static qvk_status op_error(const qvk_op *op, int32_t index, const char *problem)
{
    return qvk_error(QVK_ERR_INVALID_ARGUMENT, "graph op %d (%s, layer %d): %s", index,
                     qvk_op_kind_name(op->kind), op->layer, problem);
}

static int64_t tensor_length(const qvk_tensor *tensor)
{
    return tensor ? qvk_tensor_n_elements(tensor) : -1;
}

/* Check that the op's tensors and buffers fit together and that its row mode is handled. */
static qvk_status op_validate(const qvk_vk_backend *backend, const qvk_op *op, int32_t index)
{
    const qvk_model_config *config = &backend->config;
    int32_t src_width = qvk_buffer_width(config, op->src);
    int32_t dst_width = qvk_buffer_width(config, op->dst);
    bool layer_ok = op->layer >= 0 && op->layer < config->n_layers;

    switch (op->kind) {
    case QVK_OP_EMBED:
        if (!op->weight || op->weight->n_dims != 2 || op->weight->shape[1] != dst_width)
            return op_error(op, index, "the embedding table must be [vocab, width of dst]");
        return op->rows == QVK_ROWS_ALL ? QVK_OK : op_error(op, index, "rows must be ALL");
    case QVK_OP_RMSNORM:
        if (tensor_length(op->weight) != src_width || src_width != dst_width)
            return op_error(op, index, "the weight, src and dst widths differ");
        return QVK_OK;
    case QVK_OP_MATMUL:
        if (!op->weight || op->weight->n_dims != 2 || op->weight->shape[1] != src_width ||
            op->weight->shape[0] != dst_width)
            return op_error(op, index, "the weight must be [width of dst, width of src]");
        return QVK_OK;
    case QVK_OP_QK_NORM_ROPE:
        if (!layer_ok || tensor_length(op->weight) != config->head_dim ||
            tensor_length(op->weight2) != config->head_dim)
            return op_error(op, index, "needs a layer and q_norm, k_norm of head_dim floats");
        return op->rows == QVK_ROWS_ALL ? QVK_OK : op_error(op, index, "rows must be ALL");
    case QVK_OP_ATTENTION:
        if (!layer_ok)
            return op_error(op, index, "needs a layer");
        return op->rows == QVK_ROWS_ALL ? QVK_OK : op_error(op, index, "rows must be ALL");
    case QVK_OP_SWIGLU:
        if (src_width != dst_width)
            return op_error(op, index, "gate and up widths differ");
        return op->rows != QVK_ROWS_SELECT_OUTPUT ? QVK_OK
                                                  : op_error(op, index, "rows cannot select");
    default:
        return op_error(op, index, "unknown op kind");
    }
}

/* The device copy of source, uploading it on first use (a tied lm_head shares the embedding). */
static qvk_status tensor_find(qvk_vk_backend *backend, const qvk_tensor *source,
                              const qvk_vk_tensor **out)
{
    qvk_status status;

    *out = NULL;
    if (!source)
        return QVK_OK;
    for (int32_t i = 0; i < backend->n_tensors; i++)
        if (backend->tensors[i].source == source) {
            *out = &backend->tensors[i];
            return QVK_OK;
        }
    status = qvk_vk_tensor_upload(&backend->allocator, source,
                                  &backend->tensors[backend->n_tensors]);
    if (status != QVK_OK)
        return status;
    *out = &backend->tensors[backend->n_tensors++];
    backend->uploaded_bytes += source->n_bytes;
    if (backend->options.progress && backend->weight_bytes > 0)
        backend->options.progress((float)backend->uploaded_bytes / (float)backend->weight_bytes,
                                  backend->options.progress_user_data);
    return QVK_OK;
}

/* Whether an op before index uses tensor as its weight or weight2. */
static bool weight_seen_before(const qvk_graph *graph, int32_t index, const qvk_tensor *tensor)
{
    for (int32_t i = 0; i < index; i++)
        if (graph->ops[i].weight == tensor || graph->ops[i].weight2 == tensor)
            return true;
    return false;
}

/* Bytes of the distinct weight tensors the graph uses (a tied lm_head counted once). */
static size_t graph_weight_bytes(const qvk_graph *graph)
{
    size_t total = 0;

    for (int32_t i = 0; i < graph->n_ops; i++) {
        const qvk_op *op = &graph->ops[i];
        if (op->weight && !weight_seen_before(graph, i, op->weight))
            total += op->weight->n_bytes;
        if (op->weight2 && op->weight2 != op->weight &&
            !weight_seen_before(graph, i, op->weight2))
            total += op->weight2->n_bytes;
    }
    return total;
}

static qvk_status rows_alloc(qvk_vk_backend *backend, qvk_buffer_id id, qvk_vk_memory_kind kind,
                             qvk_vk_rows *out)
{
    int32_t width = qvk_buffer_width(&backend->config, id);
    uint64_t row_bytes = (uint64_t)(width > 0 ? width : 1) * sizeof(float);
    char what[96];

    out->width = width;
    out->rows = backend->options.n_batch;
    out->rows_per_chunk = (int64_t)(backend->context->max_binding / row_bytes);
    if (out->rows_per_chunk == 0)
        return qvk_error(QVK_ERR_UNSUPPORTED, "one row of the %s buffer (%d floats) exceeds the "
                         "device's binding limit of %llu bytes", qvk_buffer_name(id), width,
                         (unsigned long long)backend->context->max_binding);
    if (out->rows_per_chunk > out->rows)
        out->rows_per_chunk = out->rows;
    out->n_chunks = (int32_t)((out->rows + out->rows_per_chunk - 1) / out->rows_per_chunk);
    if (out->n_chunks > 1 && id != QVK_BUF_LOGITS)
        return qvk_error(QVK_ERR_UNSUPPORTED, "a batch of %d tokens needs %llu bytes for the "
                         "%s buffer, above the device's binding limit of %llu bytes; use a "
                         "batch size (--batch, n_batch) of at most %lld",
                         backend->options.n_batch,
                         (unsigned long long)((uint64_t)out->rows * row_bytes),
                         qvk_buffer_name(id), (unsigned long long)backend->context->max_binding,
                         (long long)out->rows_per_chunk);
    out->chunks = calloc((size_t)out->n_chunks, sizeof(*out->chunks));
    if (!out->chunks)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int32_t c = 0; c < out->n_chunks; c++) {
        int64_t rows = out->rows - c * out->rows_per_chunk;
        if (rows > out->rows_per_chunk)
            rows = out->rows_per_chunk;
        snprintf(what, sizeof(what), "the %s buffer", qvk_buffer_name(id));
        qvk_status status = qvk_vk_alloc(&backend->allocator, kind, (VkDeviceSize)rows * row_bytes,
                                         what, &out->chunks[c]);
        if (status != QVK_OK)
            return status;
    }
    return QVK_OK;
}

static qvk_status caches_alloc(qvk_vk_backend *backend)
{
    const qvk_model_config *config = &backend->config;
    uint64_t bytes = (uint64_t)backend->options.n_ctx * (uint64_t)config->n_kv_heads *
                     (uint64_t)config->head_dim * sizeof(float);
    qvk_status status = QVK_OK;

    if (bytes > backend->context->max_binding) {
        uint64_t row = bytes / (uint64_t)backend->options.n_ctx;
        return qvk_error(QVK_ERR_UNSUPPORTED, "a context of %d tokens needs %llu bytes of K "
                         "cache per layer, above the device's binding limit of %llu bytes; use "
                         "a context size (--ctx, n_ctx) of at most %llu",
                         backend->options.n_ctx, (unsigned long long)bytes,
                         (unsigned long long)backend->context->max_binding,
                         (unsigned long long)(backend->context->max_binding / row));
    }
    backend->k_cache = calloc((size_t)config->n_layers, sizeof(*backend->k_cache));
    backend->v_cache = calloc((size_t)config->n_layers, sizeof(*backend->v_cache));
    if (!backend->k_cache || !backend->v_cache)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int32_t l = 0; l < config->n_layers && status == QVK_OK; l++) {
        status = qvk_vk_alloc(&backend->allocator, QVK_VK_MEMORY_DEVICE, bytes, "the K cache",
                              &backend->k_cache[l]);
        if (status == QVK_OK)
            status = qvk_vk_alloc(&backend->allocator, QVK_VK_MEMORY_DEVICE, bytes, "the V cache",
                                  &backend->v_cache[l]);
    }
    return status;
}

static qvk_status rope_upload(qvk_vk_backend *backend)
{
    const qvk_model_config *config = &backend->config;
    size_t bytes = (size_t)backend->options.n_ctx * (size_t)config->head_dim * sizeof(float);
    float *table = qvk_rope_table_create(backend->options.n_ctx, config->head_dim,
                                         config->rope_theta);
    qvk_status status;

    if (!table)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory for the RoPE table");
    if (bytes > backend->context->max_binding)
        status = qvk_error(QVK_ERR_UNSUPPORTED, "the RoPE table of n_ctx %d (%.1f MiB) exceeds "
                           "the device's binding limit; use a smaller n_ctx",
                           backend->options.n_ctx, (double)bytes / MIB);
    else
        status = qvk_vk_alloc(&backend->allocator, QVK_VK_MEMORY_DEVICE, bytes, "the RoPE table",
                              &backend->rope);
    if (status == QVK_OK)
        status = qvk_vk_write(&backend->allocator, &backend->rope, table, bytes);
    free(table);
    return status;
}

static qvk_status buffers_alloc(qvk_vk_backend *backend)
{
    const qvk_model_config *config = &backend->config;
    qvk_vk_allocator *allocator = &backend->allocator;
    uint64_t partial_floats = (uint64_t)QVK_VK_MATVEC_MAX_ROWS * (uint64_t)config->n_heads *
                              QVK_VK_MAX_ATTENTION_CHUNKS * (uint64_t)(config->head_dim + 2);
    qvk_status status = QVK_OK;

    for (int b = 0; b < QVK_BUF_COUNT && status == QVK_OK; b++)
        status = rows_alloc(backend, (qvk_buffer_id)b,
                            b == QVK_BUF_LOGITS ? QVK_VK_MEMORY_READBACK : QVK_VK_MEMORY_DEVICE,
                            &backend->buffers[b]);
    if (status == QVK_OK)
        status = qvk_vk_alloc(allocator, QVK_VK_MEMORY_UPLOAD,
                              (VkDeviceSize)backend->options.n_batch * sizeof(int32_t),
                              "the token ids", &backend->tokens);
    if (status == QVK_OK)
        status = qvk_vk_alloc(allocator, QVK_VK_MEMORY_DEVICE, partial_floats * sizeof(float),
                              "the attention partials", &backend->partials);
    if (status == QVK_OK)
        status = qvk_vk_alloc(allocator, QVK_VK_MEMORY_DEVICE, 256, "a placeholder binding",
                              &backend->dummy);
    if (status == QVK_OK)
        status = caches_alloc(backend);
    if (status == QVK_OK)
        status = rope_upload(backend);
    return status;
}

/* ---- Descriptor sets ------------------------------------------------------------------------ */

/* A write of one texel view, or of the placeholder where view is VK_NULL_HANDLE. */
static VkWriteDescriptorSet texel_write(VkDescriptorSet set, uint32_t binding,
                                        const VkBufferView *view, const VkBufferView *dummy)
{
    VkWriteDescriptorSet write = { .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET };
    write.dstSet = set;
    write.dstBinding = binding;
    write.descriptorCount = 1;
    write.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    write.pTexelBufferView = *view != VK_NULL_HANDLE ? view : dummy;
    return write;
}

/* A set with slices[b] at storage binding b (the placeholder where NULL) and, in the texel
 * layout, views[0] and views[1] (or placeholder views) at the weight and input texel
 * bindings. */
static qvk_status set_create(qvk_vk_backend *backend,
                             const qvk_vk_slice *slices[QVK_VK_MAX_BINDINGS],
                             const VkBufferView views[2], VkDescriptorSet *out)
{
    VkDescriptorSetAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO };
    VkDescriptorBufferInfo infos[QVK_VK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[QVK_VK_MAX_BINDINGS + 2];
    uint32_t n_writes = QVK_VK_MAX_BINDINGS;
    VkDevice device = backend->context->device;
    qvk_status status;

    allocate.descriptorPool = backend->descriptor_pool;
    allocate.descriptorSetCount = 1;
    allocate.pSetLayouts = &backend->pipelines.set_layout;
    status = qvk_vk_check(backend->context, vkAllocateDescriptorSets(device, &allocate, out),
                          "vkAllocateDescriptorSets");
    if (status != QVK_OK)
        return status;
    for (int b = 0; b < QVK_VK_MAX_BINDINGS; b++) {
        const qvk_vk_slice *slice = slices[b] ? slices[b] : &backend->dummy;
        VkDeviceSize range = slice->size;
        /* Slices are padded to the allocation alignment; the descriptor stays in the limit. */
        if (range > backend->context->info.max_storage_buffer_range)
            range = backend->context->info.max_storage_buffer_range;
        infos[b] = (VkDescriptorBufferInfo){ slice->buffer, slice->offset, range };
        writes[b] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET };
        writes[b].dstSet = *out;
        writes[b].dstBinding = (uint32_t)b;
        writes[b].descriptorCount = 1;
        writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[b].pBufferInfo = &infos[b];
    }
    if (backend->pipelines.n_bindings > QVK_VK_MAX_BINDINGS) {
        writes[n_writes++] = texel_write(*out, QVK_VK_TEXEL_BINDING, &views[0],
                                         &backend->dummy_view);
        writes[n_writes++] = texel_write(*out, QVK_VK_TEXEL_INPUT_BINDING, &views[1],
                                         &backend->dummy_input_view);
    }
    vkUpdateDescriptorSets(device, n_writes, writes, 0, NULL);
    return QVK_OK;
}

/* Sets of an op: EMBED one per table chunk, MATMUL one per (weight chunk, output chunk), the
 * others one. */
static int32_t op_set_count(const qvk_vk_backend *backend, const qvk_vk_op_plan *plan)
{
    switch (plan->op->kind) {
    case QVK_OP_EMBED: return plan->weight->n_chunks;
    case QVK_OP_MATMUL: return plan->weight->n_chunks * backend->buffers[plan->op->dst].n_chunks;
    default: return 1;
    }
}

static qvk_status op_sets_create(qvk_vk_backend *backend, qvk_vk_op_plan *plan)
{
    const qvk_op *op = plan->op;
    qvk_vk_rows *buffers = backend->buffers;
    qvk_status status = QVK_OK;

    plan->n_sets = op_set_count(backend, plan);
    plan->sets = calloc((size_t)plan->n_sets, sizeof(*plan->sets));
    if (!plan->sets)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int32_t s = 0; s < plan->n_sets && status == QVK_OK; s++) {
        const qvk_vk_slice *slices[QVK_VK_MAX_BINDINGS] = { NULL };
        VkBufferView views[2] = { VK_NULL_HANDLE, VK_NULL_HANDLE };
        int32_t dst_chunks = buffers[op->dst].n_chunks;
        qvk_vk_binding_set *set = &plan->sets[s];

        set->weight_chunk = op->kind == QVK_OP_MATMUL ? s / dst_chunks : s;
        set->dst_chunk = op->kind == QVK_OP_MATMUL ? s % dst_chunks : 0;
        switch (op->kind) {
        case QVK_OP_EMBED:
            slices[0] = &backend->tokens;
            slices[1] = &plan->weight->chunks[set->weight_chunk].slice;
            slices[2] = &buffers[op->dst].chunks[0];
            break;
        case QVK_OP_RMSNORM:
        case QVK_OP_MATMUL:
            slices[0] = &buffers[op->src].chunks[0];
            slices[1] = &plan->weight->chunks[set->weight_chunk].slice;
            slices[2] = &buffers[op->dst].chunks[set->dst_chunk];
            views[0] = plan->weight->chunks[set->weight_chunk].view;
            views[1] = buffers[op->src].view;
            break;
        case QVK_OP_QK_NORM_ROPE:
            slices[0] = &buffers[QVK_BUF_Q].chunks[0];
            slices[1] = &buffers[QVK_BUF_K].chunks[0];
            slices[2] = &buffers[QVK_BUF_V].chunks[0];
            slices[3] = &plan->weight->chunks[0].slice;
            slices[4] = &plan->weight2->chunks[0].slice;
            slices[5] = &backend->rope;
            slices[6] = &backend->k_cache[op->layer];
            slices[7] = &backend->v_cache[op->layer];
            break;
        case QVK_OP_ATTENTION:
            slices[0] = &buffers[op->src].chunks[0];
            slices[1] = &backend->k_cache[op->layer];
            slices[2] = &backend->v_cache[op->layer];
            slices[3] = &buffers[op->dst].chunks[0];
            slices[4] = &backend->partials;
            break;
        case QVK_OP_SWIGLU:
            slices[0] = &buffers[op->dst].chunks[0];
            slices[1] = &buffers[op->src].chunks[0];
            break;
        default:
            break;
        }
        status = set_create(backend, slices, views, &set->set);
    }
    return status;
}

/* The texel views of the texel layout: each single-chunk activation buffer as input rows, and
 * the placeholder views bound where a set has no weight or input (every set fills every
 * binding). */
static qvk_status texel_views_create(qvk_vk_backend *backend)
{
    qvk_vk_context *context = backend->context;
    qvk_status status = qvk_vk_slice_view_create(context, &backend->dummy,
                                                 VK_FORMAT_R32G32B32A32_UINT, &backend->dummy_view);
    if (status == QVK_OK)
        status = qvk_vk_slice_view_create(context, &backend->dummy, VK_FORMAT_R32G32B32A32_SFLOAT,
                                          &backend->dummy_input_view);
    for (int b = 0; b < QVK_BUF_COUNT && status == QVK_OK; b++)
        if (backend->buffers[b].n_chunks == 1)
            status = qvk_vk_slice_view_create(context, &backend->buffers[b].chunks[0],
                                              VK_FORMAT_R32G32B32A32_SFLOAT,
                                              &backend->buffers[b].view);
    return status;
}

static qvk_status descriptors_create(qvk_vk_backend *backend)
{
    VkDescriptorPoolCreateInfo create = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO };
    VkDescriptorPoolSize sizes[2] = { { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 0 },
                                      { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 0 } };
    uint32_t n_sets = 0;
    bool texel = backend->pipelines.n_bindings > QVK_VK_MAX_BINDINGS;
    qvk_status status = QVK_OK;

    for (int32_t i = 0; i < backend->graph->n_ops; i++)
        n_sets += (uint32_t)op_set_count(backend, &backend->plans[i]);
    sizes[0].descriptorCount = n_sets * QVK_VK_MAX_BINDINGS;
    sizes[1].descriptorCount = 2 * n_sets;
    create.maxSets = n_sets;
    create.poolSizeCount = texel ? 2 : 1;
    create.pPoolSizes = sizes;
    if (texel)
        status = texel_views_create(backend);
    if (status != QVK_OK)
        return status;
    status = qvk_vk_check(backend->context,
                          vkCreateDescriptorPool(backend->context->device, &create, NULL,
                                                 &backend->descriptor_pool),
                          "vkCreateDescriptorPool");
    for (int32_t i = 0; i < backend->graph->n_ops && status == QVK_OK; i++)
        status = op_sets_create(backend, &backend->plans[i]);
    return status;
}

qvk_status qvk_vk_plan_create(qvk_vk_backend *backend)
{
    const qvk_graph *graph = backend->graph;
    qvk_status status = QVK_OK;

    backend->plans = calloc((size_t)(graph->n_ops ? graph->n_ops : 1), sizeof(*backend->plans));
    /* At most two tensors per op. */
    backend->tensors = calloc((size_t)(2 * graph->n_ops + 1), sizeof(*backend->tensors));
    if (!backend->plans || !backend->tensors)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int32_t i = 0; i < graph->n_ops && status == QVK_OK; i++)
        status = op_validate(backend, &graph->ops[i], i);
    backend->weight_bytes = graph_weight_bytes(graph);
    backend->uploaded_bytes = 0;
    for (int32_t i = 0; i < graph->n_ops && status == QVK_OK; i++) {
        qvk_vk_op_plan *plan = &backend->plans[i];
        plan->op = &graph->ops[i];
        status = tensor_find(backend, plan->op->weight, &plan->weight);
        if (status == QVK_OK)
            status = tensor_find(backend, plan->op->weight2, &plan->weight2);
    }
    if (status == QVK_OK)
        status = buffers_alloc(backend);
    if (status == QVK_OK)
        status = descriptors_create(backend);
    return status;
}

void qvk_vk_plan_destroy(qvk_vk_backend *backend)
{
    if (backend->descriptor_pool != VK_NULL_HANDLE)
        vkDestroyDescriptorPool(backend->context->device, backend->descriptor_pool, NULL);
    backend->descriptor_pool = VK_NULL_HANDLE;
    vkDestroyBufferView(backend->context->device, backend->dummy_view, NULL);
    vkDestroyBufferView(backend->context->device, backend->dummy_input_view, NULL);
    backend->dummy_view = backend->dummy_input_view = VK_NULL_HANDLE;
    if (backend->plans)
        for (int32_t i = 0; i < backend->graph->n_ops; i++)
            free(backend->plans[i].sets);
    free(backend->plans);
    backend->plans = NULL;
    for (int32_t i = 0; i < backend->n_tensors; i++)
        qvk_vk_tensor_free(&backend->allocator, &backend->tensors[i]);
    free(backend->tensors);
    backend->tensors = NULL;
    for (int b = 0; b < QVK_BUF_COUNT; b++) {
        vkDestroyBufferView(backend->context->device, backend->buffers[b].view, NULL);
        backend->buffers[b].view = VK_NULL_HANDLE;
        free(backend->buffers[b].chunks);
        backend->buffers[b].chunks = NULL;
    }
    free(backend->k_cache);
    free(backend->v_cache);
    backend->k_cache = backend->v_cache = NULL;
}
