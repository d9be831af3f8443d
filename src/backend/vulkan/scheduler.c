/* Recording a step: one or more dispatches per op. A barrier goes only where an op reads what an
 * earlier op wrote since the last barrier (read after write), or writes what an earlier op read
 * or wrote (write after read, write after write). Independent ops such as the q, k and v
 * projections follow each other with no barrier. So do the dispatches of one op over the chunks
 * of a split tensor, because they write disjoint elements of their output. */
#include "backend/vulkan/scheduler.h"

#include <math.h>
#include <string.h>

#include "backend/vulkan/params.h"

typedef struct recorder {
    qvk_vk_backend *backend;
    VkCommandBuffer commands;
    const qvk_step *step;
    VkPipeline bound;
    int32_t op_dispatches; /* dispatches of the current op */
} recorder;

static const qvk_vk_slice *resource_slices(const qvk_vk_backend *backend, int32_t resource,
                                           int32_t *count)
{
    *count = 1;
    if (resource < QVK_BUF_COUNT) {
        *count = backend->buffers[resource].n_chunks;
        return backend->buffers[resource].chunks;
    }
    if (resource == QVK_VK_RESOURCE_PARTIALS)
        return &backend->partials;
    if (resource == QVK_VK_RESOURCE_TOKENS)
        return &backend->tokens;
    int32_t cache = resource - QVK_VK_RESOURCE_CACHES;
    return cache % 2 == 0 ? &backend->k_cache[cache / 2] : &backend->v_cache[cache / 2];
}

static int32_t k_cache_resource(int32_t layer)
{
    return QVK_VK_RESOURCE_CACHES + 2 * layer;
}

/* One pipeline barrier making every write since the last barrier visible to later compute
 * work. Without pending writes (a write after a read only) it is an execution dependency. */
static void barrier_emit(recorder *rec)
{
    qvk_vk_backend *backend = rec->backend;
    uint32_t n = 0;

    for (int32_t r = 0; r < backend->n_resources; r++) {
        if (!backend->written[r])
            continue;
        int32_t count;
        const qvk_vk_slice *slices = resource_slices(backend, r, &count);
        for (int32_t c = 0; c < count && (int32_t)n < backend->barrier_capacity; c++) {
            VkBufferMemoryBarrier *barrier = &backend->barriers[n++];
            *barrier = (VkBufferMemoryBarrier){ .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER };
            barrier->srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
            barrier->dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
            barrier->srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
            barrier->dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
            barrier->buffer = slices[c].buffer;
            barrier->offset = slices[c].offset;
            barrier->size = slices[c].size;
        }
    }
    vkCmdPipelineBarrier(rec->commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 0, NULL, n, backend->barriers,
                         0, NULL);
    backend->profiler.step_barriers++;
    memset(backend->written, 0, (size_t)backend->n_resources);
    memset(backend->read, 0, (size_t)backend->n_resources);
}

/* Declare what the next dispatch group reads and writes; emits a barrier first when needed. */
static void access(recorder *rec, const int32_t *reads, int32_t n_reads, const int32_t *writes,
                   int32_t n_writes)
{
    qvk_vk_backend *backend = rec->backend;
    bool hazard = false;

    for (int32_t i = 0; i < n_reads; i++)
        hazard |= backend->written[reads[i]] != 0;
    for (int32_t i = 0; i < n_writes; i++)
        hazard |= backend->written[writes[i]] || backend->read[writes[i]];
    if (hazard)
        barrier_emit(rec);
    for (int32_t i = 0; i < n_reads; i++)
        backend->read[reads[i]] = 1;
    for (int32_t i = 0; i < n_writes; i++)
        backend->written[writes[i]] = 1;
}

static void dispatch(recorder *rec, qvk_vk_kernel kernel, qvk_dtype dtype, VkDescriptorSet set,
                     const void *params, uint32_t params_size, uint32_t x, uint32_t y, uint32_t z)
{
    qvk_vk_backend *backend = rec->backend;
    VkPipeline pipeline = qvk_vk_pipeline_get(&backend->pipelines, kernel, dtype);

    if (pipeline != rec->bound) {
        vkCmdBindPipeline(rec->commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
        rec->bound = pipeline;
    }
    vkCmdBindDescriptorSets(rec->commands, VK_PIPELINE_BIND_POINT_COMPUTE,
                            backend->pipelines.layout, 0, 1, &set, 0, NULL);
    vkCmdPushConstants(rec->commands, backend->pipelines.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                       params_size, params);
    vkCmdDispatch(rec->commands, x, y, z);
    rec->op_dispatches++;
}

static uint32_t ceil_div(uint64_t a, uint64_t b)
{
    return (uint32_t)((a + b - 1) / b);
}

/* Grid width for kernels whose invocations stride over their work: enough workgroups to cover
 * it, within the device limit, and few on a CPU device where each workgroup costs a call. */
static uint32_t strided_groups(const qvk_vk_backend *backend, uint64_t items, uint32_t per_group)
{
    const qvk_vk_device_info *info = &backend->context->info;
    uint32_t groups = ceil_div(items, per_group);
    uint32_t limit = info->properties.limits.maxComputeWorkGroupCount[0];
    if (info->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU && limit > 64)
        limit = 64;
    if (groups == 0)
        groups = 1;
    return groups < limit ? groups : limit;
}

static void record_embed(recorder *rec, const qvk_vk_op_plan *plan, int32_t n_rows)
{
    qvk_vk_backend *backend = rec->backend;
    int32_t reads[] = { QVK_VK_RESOURCE_TOKENS };
    int32_t writes[] = { plan->op->dst };
    uint32_t dim = (uint32_t)plan->weight->cols;

    access(rec, reads, 1, writes, 1);
    for (int32_t s = 0; s < plan->n_sets; s++) {
        const qvk_vk_chunk *chunk = &plan->weight->chunks[plan->sets[s].weight_chunk];
        qvk_embed_params params = { dim, (uint32_t)chunk->first_row, (uint32_t)chunk->n_rows };
        dispatch(rec, QVK_KERNEL_EMBED, plan->weight->dtype, plan->sets[s].set, &params,
                 sizeof(params), strided_groups(backend, dim, backend->pipelines.sizes.workgroup),
                 (uint32_t)n_rows, 1);
    }
}

static uint32_t src_row(const qvk_op *op, const qvk_step *step)
{
    return op->rows == QVK_ROWS_SELECT_OUTPUT ? (uint32_t)(step->n_tokens - step->n_out) : 0;
}

static void record_rmsnorm(recorder *rec, const qvk_vk_op_plan *plan, int32_t n_rows)
{
    int32_t reads[] = { plan->op->src };
    int32_t writes[] = { plan->op->dst };
    qvk_rmsnorm_params params = { (uint32_t)plan->weight->cols, src_row(plan->op, rec->step),
                                  rec->backend->config.rms_norm_eps };

    access(rec, reads, 1, writes, 1);
    dispatch(rec, QVK_KERNEL_RMSNORM, QVK_DTYPE_F32, plan->sets[0].set, &params, sizeof(params),
             (uint32_t)n_rows, 1, 1);
}

/* The grid of one matmul dispatch over m weight rows and count token rows: matvec for decode
 * steps (or every step where there is no MATMUL kernel), else the tiled matmul (GPUs) or the
 * token lanes (texel layout). Grids of kernels that stride over their rows are capped at
 * maxComputeWorkGroupCount. */
static qvk_vk_kernel matmul_grid(const qvk_vk_backend *backend, uint64_t m, int64_t count,
                                 uint32_t grid[2])
{
    const qvk_vk_kernel_sizes *sizes = &backend->pipelines.sizes;
    qvk_vk_matvec_layout layout = backend->context->matvec_layout;
    uint32_t max_groups = backend->context->info.properties.limits.maxComputeWorkGroupCount[0];

    if (count <= QVK_VK_MATVEC_MAX_ROWS || !sizes->matmul) {
        /* A row workgroup computes a row per invocation, a reduction workgroup matvec_rows
         * rows, a texel workgroup matvec_rows rows per subgroup. */
        uint32_t rows_per_group = layout == QVK_VK_MATVEC_ROW ? sizes->matvec_workgroup
                                                              : sizes->matvec_rows;
        if (layout == QVK_VK_MATVEC_TEXEL)
            rows_per_group *= sizes->matvec_workgroup / backend->context->info.subgroup_size;
        grid[0] = ceil_div(m, rows_per_group);
        grid[1] = (uint32_t)count;
        if (grid[0] > max_groups)
            grid[0] = max_groups;
        return QVK_KERNEL_MATVEC;
    }
    if (layout == QVK_VK_MATVEC_TEXEL) {
        grid[0] = ceil_div(m, sizes->matmul_rows);
        grid[1] = ceil_div((uint64_t)count,
                           (uint64_t)sizes->matmul_workgroup * sizes->matmul_tokens);
        if (grid[0] > max_groups)
            grid[0] = max_groups;
        return QVK_KERNEL_MATMUL;
    }
    grid[0] = ceil_div(m, 64);
    grid[1] = ceil_div((uint64_t)count, 32);
    return QVK_KERNEL_MATMUL;
}

/* One dispatch per (weight chunk, output chunk): output rows [first, first + count) of the
 * step that fall in the output chunk, columns of the weight chunk. */
static void record_matmul(recorder *rec, const qvk_vk_op_plan *plan, int32_t n_rows)
{
    qvk_vk_backend *backend = rec->backend;
    const qvk_op *op = plan->op;
    const qvk_vk_rows *dst = &backend->buffers[op->dst];
    int32_t reads[] = { op->src, op->dst };
    int32_t writes[] = { op->dst };

    access(rec, reads, op->accumulate ? 2 : 1, writes, 1);
    for (int32_t s = 0; s < plan->n_sets; s++) {
        const qvk_vk_chunk *chunk = &plan->weight->chunks[plan->sets[s].weight_chunk];
        int64_t first = plan->sets[s].dst_chunk * dst->rows_per_chunk;
        int64_t count = n_rows - first < dst->rows_per_chunk ? n_rows - first : dst->rows_per_chunk;
        if (count <= 0)
            continue;
        qvk_matmul_params params = {
            (uint32_t)plan->weight->cols, (uint32_t)chunk->n_rows,
            src_row(op, rec->step) + (uint32_t)first, 0, (uint32_t)dst->width,
            (uint32_t)chunk->first_row, (uint32_t)count, op->accumulate ? 1u : 0u,
        };
        uint32_t grid[2];
        qvk_vk_kernel kernel = matmul_grid(backend, (uint64_t)chunk->n_rows, count, grid);
        dispatch(rec, kernel, plan->weight->dtype, plan->sets[s].set, &params, sizeof(params),
                 grid[0], grid[1], 1);
    }
}

static void record_qk_norm_rope(recorder *rec, const qvk_vk_op_plan *plan, int32_t n_rows)
{
    const qvk_model_config *config = &rec->backend->config;
    int32_t layer = plan->op->layer;
    int32_t reads[] = { QVK_BUF_Q, QVK_BUF_K, QVK_BUF_V };
    int32_t writes[] = { QVK_BUF_Q, QVK_BUF_K, k_cache_resource(layer),
                         k_cache_resource(layer) + 1 };
    qvk_qk_norm_rope_params params = {
        (uint32_t)config->n_heads, (uint32_t)config->n_kv_heads, (uint32_t)config->head_dim,
        (uint32_t)rec->step->pos, config->rms_norm_eps,
    };

    access(rec, reads, 3, writes, 4);
    dispatch(rec, QVK_KERNEL_QK_NORM_ROPE, QVK_DTYPE_F32, plan->sets[0].set, &params,
             sizeof(params), (uint32_t)(config->n_heads + config->n_kv_heads), (uint32_t)n_rows, 1);
}

/* Flash-decoding: a decode step's few rows split their keys into chunks of at least
 * QVK_VK_MIN_CHUNK_KEYS, so long contexts occupy n_heads × n_chunks workgroups. A prompt step
 * already has n_heads × rows workgroups and keeps one chunk per row. */
static void record_attention(recorder *rec, const qvk_vk_op_plan *plan, int32_t n_rows)
{
    const qvk_model_config *config = &rec->backend->config;
    const qvk_op *op = plan->op;
    int32_t layer = op->layer;
    uint32_t n_keys = (uint32_t)(rec->step->pos + n_rows);
    uint32_t n_chunks = 1;
    int32_t reads[] = { op->src, k_cache_resource(layer), k_cache_resource(layer) + 1 };
    int32_t partials[] = { QVK_VK_RESOURCE_PARTIALS };
    int32_t writes[] = { op->dst };

    if (n_rows <= QVK_VK_MATVEC_MAX_ROWS) {
        n_chunks = ceil_div(n_keys, QVK_VK_MIN_CHUNK_KEYS);
        if (n_chunks > QVK_VK_MAX_ATTENTION_CHUNKS)
            n_chunks = QVK_VK_MAX_ATTENTION_CHUNKS;
    }
    qvk_attention_params params = {
        (uint32_t)config->n_heads, (uint32_t)config->n_kv_heads, (uint32_t)config->head_dim,
        (uint32_t)rec->step->pos, ceil_div(n_keys, n_chunks), n_chunks,
        1.0f / sqrtf((float)config->head_dim),
    };

    if (n_chunks == 1) {
        access(rec, reads, 3, writes, 1);
        dispatch(rec, QVK_KERNEL_ATTENTION, QVK_DTYPE_F32, plan->sets[0].set, &params,
                 sizeof(params), (uint32_t)config->n_heads, (uint32_t)n_rows, 1);
        return;
    }
    access(rec, reads, 3, partials, 1);
    dispatch(rec, QVK_KERNEL_ATTENTION, QVK_DTYPE_F32, plan->sets[0].set, &params, sizeof(params),
             (uint32_t)config->n_heads, (uint32_t)n_rows, n_chunks);
    access(rec, partials, 1, writes, 1);
    dispatch(rec, QVK_KERNEL_ATTENTION_COMBINE, QVK_DTYPE_F32, plan->sets[0].set, &params,
             sizeof(params), (uint32_t)config->n_heads, (uint32_t)n_rows, 1);
}

static void record_swiglu(recorder *rec, const qvk_vk_op_plan *plan, int32_t n_rows)
{
    qvk_vk_backend *backend = rec->backend;
    int32_t reads[] = { plan->op->dst, plan->op->src };
    int32_t writes[] = { plan->op->dst };
    uint64_t n = (uint64_t)n_rows * (uint64_t)backend->buffers[plan->op->dst].width;
    qvk_swiglu_params params = { (uint32_t)n };

    access(rec, reads, 2, writes, 1);
    dispatch(rec, QVK_KERNEL_SWIGLU, QVK_DTYPE_F32, plan->sets[0].set, &params, sizeof(params),
             strided_groups(backend, n, backend->pipelines.sizes.workgroup), 1, 1);
}

/* Make the logits written by the shaders visible to the host once the fence signals. */
static void logits_barrier(recorder *rec)
{
    qvk_vk_backend *backend = rec->backend;
    const qvk_vk_rows *logits = &backend->buffers[QVK_BUF_LOGITS];
    int32_t n = 0;

    for (int32_t c = 0; c < logits->n_chunks && n < backend->barrier_capacity; c++) {
        VkBufferMemoryBarrier *barrier = &backend->barriers[n++];
        *barrier = (VkBufferMemoryBarrier){ .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER };
        barrier->srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        barrier->dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        barrier->srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        barrier->dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        barrier->buffer = logits->chunks[c].buffer;
        barrier->offset = logits->chunks[c].offset;
        barrier->size = logits->chunks[c].size;
    }
    vkCmdPipelineBarrier(rec->commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 0, NULL, (uint32_t)n, backend->barriers,
                         0, NULL);
    backend->profiler.step_barriers++;
}

qvk_status qvk_vk_record_step(qvk_vk_backend *backend, const qvk_step *step)
{
    recorder rec = { backend, backend->commands, step, VK_NULL_HANDLE, 0 };

    qvk_vk_profiler_begin(&backend->profiler, backend->commands);
    for (int32_t i = 0; i < backend->graph->n_ops; i++) {
        const qvk_vk_op_plan *plan = &backend->plans[i];
        int32_t n_rows = qvk_op_row_count(plan->op, step);

        rec.op_dispatches = 0;
        if (n_rows > 0) {
            switch (plan->op->kind) {
            case QVK_OP_EMBED: record_embed(&rec, plan, n_rows); break;
            case QVK_OP_RMSNORM: record_rmsnorm(&rec, plan, n_rows); break;
            case QVK_OP_MATMUL: record_matmul(&rec, plan, n_rows); break;
            case QVK_OP_QK_NORM_ROPE: record_qk_norm_rope(&rec, plan, n_rows); break;
            case QVK_OP_ATTENTION: record_attention(&rec, plan, n_rows); break;
            case QVK_OP_SWIGLU: record_swiglu(&rec, plan, n_rows); break;
            default: break;
            }
        }
        qvk_vk_profiler_op_end(&backend->profiler, backend->commands, plan->op->kind,
                               rec.op_dispatches);
    }
    logits_barrier(&rec);
    return QVK_OK;
}
