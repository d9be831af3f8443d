/* Compute pipelines: one per kernel (and weight dtype), all sharing one descriptor set layout of
 * storage buffers and one push-constant range, built through a VkPipelineCache kept on disk. */
#ifndef QWEN3VK_BACKEND_VULKAN_PIPELINES_H
#define QWEN3VK_BACKEND_VULKAN_PIPELINES_H

#include <stddef.h>

#include "backend/vulkan/context.h"
#include "model/tensor.h"

typedef enum qvk_vk_kernel {
    QVK_KERNEL_EMBED,             /* embed.comp, per weight dtype */
    QVK_KERNEL_RMSNORM,           /* rmsnorm.comp */
    QVK_KERNEL_QK_NORM_ROPE,      /* qk_norm_rope.comp */
    QVK_KERNEL_MATVEC,            /* matvec.comp or matvec_texel.comp, per weight dtype */
    QVK_KERNEL_MATMUL,            /* matmul.comp or matvec_texel.comp's token lanes, per dtype */
    QVK_KERNEL_ATTENTION,         /* attention.comp */
    QVK_KERNEL_ATTENTION_COMBINE, /* attention_combine.comp */
    QVK_KERNEL_SWIGLU,            /* swiglu.comp */
    QVK_KERNEL_COUNT
} qvk_vk_kernel;

#define QVK_VK_DTYPE_COUNT 3
/* Storage-buffer bindings in the shared set layout; qk_norm_rope.comp uses all eight. */
#define QVK_VK_MAX_BINDINGS 8
/* The uniform texel buffer bindings of the texel matvec layout: a weight chunk as
 * R32G32B32A32_UINT, and the input rows (binding 0's buffer) as R32G32B32A32_SFLOAT. */
#define QVK_VK_TEXEL_BINDING 8
#define QVK_VK_TEXEL_INPUT_BINDING 9
/* Bytes of the shared push-constant range (the largest block is 32 bytes; 128 is the minimum
 * maxPushConstantsSize every device offers). */
#define QVK_VK_PUSH_BYTES 64

/* The sizes chosen for this device. */
typedef struct qvk_vk_kernel_sizes {
    uint32_t workgroup;         /* WG of the reduction kernels */
    uint32_t matvec_workgroup;  /* WG of the matvec kernel */
    uint32_t matvec_rows;       /* output rows per reduction workgroup or texel subgroup */
    uint32_t matmul_workgroup;  /* WG of the texel layout's token-lane matmul */
    uint32_t matmul_rows;       /* output rows per token-lane workgroup */
    uint32_t matmul_tokens;     /* token rows per token-lane invocation */
    uint32_t attention_block;   /* keys per attention block: its WG */
    /* A MATMUL kernel exists for prompts: the tiled matmul.comp (needs 256 invocations per
     * workgroup) or, in the texel layout, the token lanes. Else prompts use matvec. */
    bool matmul;
} qvk_vk_kernel_sizes;

typedef struct qvk_vk_pipelines {
    qvk_vk_context *context;
    qvk_vk_kernel_sizes sizes;
    VkDescriptorSetLayout set_layout;
    uint32_t n_bindings;       /* in set_layout: QVK_VK_MAX_BINDINGS, plus 2 texel bindings */
    VkPipelineLayout layout;
    VkPipelineCache cache;
    VkPipeline pipelines[QVK_KERNEL_COUNT][QVK_VK_DTYPE_COUNT];
    int32_t n_pipelines;
    double create_seconds;     /* wall time of vkCreateComputePipelines */
    bool cache_warm;           /* the disk cache file was valid and loaded */
    char cache_path[4096];     /* empty when no cache folder could be found */
} qvk_vk_pipelines;

/* Build the pipelines of every kernel; the weight kernels only for dtypes[d] set (indexed by
 * qvk_dtype). */
qvk_status qvk_vk_pipelines_create(qvk_vk_context *context,
                                   const bool dtypes[QVK_VK_DTYPE_COUNT],
                                   qvk_vk_pipelines *out);
void qvk_vk_pipelines_destroy(qvk_vk_pipelines *pipelines);
/* The pipeline of kernel (for dtype when it has per-dtype variants); VK_NULL_HANDLE if absent. */
VkPipeline qvk_vk_pipeline_get(const qvk_vk_pipelines *pipelines, qvk_vk_kernel kernel,
                               qvk_dtype dtype);
const char *qvk_vk_kernel_name(qvk_vk_kernel kernel);

/* ---- The pipeline cache file (pipeline_cache.c) --------------------------------------------- */

/* Create a VkPipelineCache, seeded from the cache file of this device and driver when it exists
 * and is intact. A corrupt or foreign file is ignored with a log line. path receives the file
 * name (empty when neither XDG_CACHE_HOME nor HOME is set). */
qvk_status qvk_vk_pipeline_cache_open(qvk_vk_context *context, VkPipelineCache *cache,
                                      char *path, size_t path_size, bool *warm);
/* Write the cache to path after a cold start (warm false), or after a warm start when its
 * contents changed; failures are logged, not returned. */
void qvk_vk_pipeline_cache_save(qvk_vk_context *context, VkPipelineCache cache, const char *path,
                                bool warm);

#endif
