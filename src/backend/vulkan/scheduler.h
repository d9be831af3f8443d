/* The Vulkan backend object and its scheduler: the device buffers of one graph, one descriptor
 * set per dispatch, and the recording of a step's op list into one command buffer with only the
 * barriers that the data dependencies need. Internal to the backend and its tests. */
#ifndef QWEN3VK_BACKEND_VULKAN_SCHEDULER_H
#define QWEN3VK_BACKEND_VULKAN_SCHEDULER_H

#include "backend/backend.h"
#include "backend/vulkan/context.h"
#include "backend/vulkan/memory.h"
#include "backend/vulkan/pipelines.h"
#include "backend/vulkan/profile.h"

/* Decode steps of at most this many rows use matvec.comp and split attention over the
 * sequence. Larger steps use the tiled matmul.comp and one attention chunk per row. */
#define QVK_VK_MATVEC_MAX_ROWS 4
/* Maximum attention chunks per row, which sizes the partials buffer. */
#define QVK_VK_MAX_ATTENTION_CHUNKS 32
/* Minimum keys per attention chunk when the sequence is split. */
#define QVK_VK_MIN_CHUNK_KEYS 256

/* A device buffer of rows: one slice, or several of rows_per_chunk rows each when the whole
 * would exceed one binding (only the logits can be that large). */
typedef struct qvk_vk_rows {
    int32_t width;  /* floats per row */
    int64_t rows;
    int64_t rows_per_chunk;
    int32_t n_chunks;
    qvk_vk_slice *chunks;
    VkBufferView view; /* chunk 0 as R32G32B32A32_SFLOAT texels (texel layout, one chunk) */
} qvk_vk_rows;

/* The things the barrier tracker follows: activation buffers by qvk_buffer_id, then these, then
 * the K and V cache of each layer. */
enum {
    QVK_VK_RESOURCE_PARTIALS = QVK_BUF_COUNT,
    QVK_VK_RESOURCE_TOKENS,
    QVK_VK_RESOURCE_CACHES, /* K cache of layer l: CACHES + 2l, V cache: CACHES + 2l + 1 */
};

/* The descriptor set of one dispatch of an op: which weight chunk and output chunk it binds. */
typedef struct qvk_vk_binding_set {
    VkDescriptorSet set;
    int32_t weight_chunk;
    int32_t dst_chunk;
} qvk_vk_binding_set;

typedef struct qvk_vk_op_plan {
    const qvk_op *op;
    const qvk_vk_tensor *weight;
    const qvk_vk_tensor *weight2;
    int32_t n_sets;
    qvk_vk_binding_set *sets; /* attention_combine.comp shares the attention set */
} qvk_vk_op_plan;

typedef struct qvk_vk_backend {
    qvk_backend base;
    qvk_vk_context *context;
    qvk_vk_allocator allocator;
    qvk_vk_pipelines pipelines;

    const qvk_graph *graph;
    qvk_model_config config;
    qvk_backend_config options;

    qvk_vk_tensor *tensors;  /* every distinct weight tensor of the graph */
    int32_t n_tensors;
    qvk_vk_rows buffers[QVK_BUF_COUNT];
    qvk_vk_slice tokens;     /* host-visible: the step's token ids */
    qvk_vk_slice rope;       /* [n_ctx][head_dim / 2][cos, sin] */
    qvk_vk_slice partials;   /* attention chunk results */
    qvk_vk_slice dummy;      /* bound to the bindings a kernel does not use */
    VkBufferView dummy_view; /* the dummy as texels, for unused texel bindings (texel layout) */
    VkBufferView dummy_input_view;
    size_t weight_bytes;     /* of the graph's weights, for upload progress */
    size_t uploaded_bytes;
    qvk_vk_slice *k_cache;   /* per layer: [n_ctx][n_kv_heads][head_dim] float32 */
    qvk_vk_slice *v_cache;

    VkDescriptorPool descriptor_pool;
    qvk_vk_op_plan *plans;   /* one per graph op */

    VkCommandBuffer commands;
    VkFence fence;

    /* Barrier tracker: per resource, whether it was written or read since the last barrier.
     * It persists across steps so the first op of a step waits for the last one's writes. */
    int32_t n_resources;
    uint8_t *written;
    uint8_t *read;
    VkBufferMemoryBarrier *barriers; /* room for one per slice of every resource */
    int32_t barrier_capacity;

    qvk_vk_profiler profiler;
} qvk_vk_backend;

/* ---- Plan (plan.c): buffers and descriptor sets -------------------------------------------- */

qvk_status qvk_vk_plan_create(qvk_vk_backend *backend);
void qvk_vk_plan_destroy(qvk_vk_backend *backend);

/* ---- Recording (scheduler.c) ---------------------------------------------------------------- */

/* Record the whole op list of a step into backend->commands (begun by the caller). */
qvk_status qvk_vk_record_step(qvk_vk_backend *backend, const qvk_step *step);

/* ---- The backend (backend.c); the functions below exist for the tests ---------------------- */

/* qvk_vulkan_backend_create with forced context options. */
qvk_status qvk_vk_backend_create(const qvk_graph *graph, const qvk_backend_config *config,
                                 const qvk_vk_context_options *options, qvk_backend **out);
/* Run a step without reading logits back. */
qvk_status qvk_vk_backend_run(qvk_backend *backend, const qvk_step *step);
/* Copy the first n_rows rows of an activation buffer to or from the host. */
qvk_status qvk_vk_backend_write_rows(qvk_backend *backend, qvk_buffer_id buffer,
                                     const float *data, int32_t n_rows);
qvk_status qvk_vk_backend_read_rows(qvk_backend *backend, qvk_buffer_id buffer, float *data,
                                    int32_t n_rows);
/* Copy the first n_positions rows of a layer's K and V cache to the host. */
qvk_status qvk_vk_backend_read_cache(qvk_backend *backend, int32_t layer, float *k, float *v,
                                     int32_t n_positions);
const qvk_vk_context *qvk_vk_backend_context(const qvk_backend *backend);

#endif
