/* Counters and GPU timings of the Vulkan backend. Dispatches, barriers and submits per step are
 * always counted. With profiling on and timestamp support, a timestamp follows every op and the
 * intervals are summed per op kind. */
#ifndef QWEN3VK_BACKEND_VULKAN_PROFILE_H
#define QWEN3VK_BACKEND_VULKAN_PROFILE_H

#include <stddef.h>

#include "backend/vulkan/context.h"
#include "engine/graph.h"

/* Totals over the steps of one class (prompt steps of several tokens, or decode steps). */
typedef struct qvk_vk_step_totals {
    int64_t steps;
    int64_t tokens;
    int64_t dispatches;
    int64_t barriers;
    int64_t submits;
    double record_seconds; /* CPU time recording the command buffer */
    double submit_seconds; /* CPU time in vkQueueSubmit */
    double wall_seconds;   /* the whole forward call */
} qvk_vk_step_totals;

typedef struct qvk_vk_profiler {
    qvk_vk_context *context;
    bool timestamps;       /* timestamps requested and supported */
    VkQueryPool pool;
    uint32_t capacity;     /* queries: one before the first op, one after each op */
    uint32_t n_queries;    /* written in the current step */
    qvk_op_kind *query_kind;  /* the op kind ending at each query */

    /* The current step. */
    int64_t step_dispatches;
    int64_t step_barriers;

    /* Per op kind, over all steps. */
    int64_t kind_ops[QVK_OP_KIND_COUNT];
    int64_t kind_dispatches[QVK_OP_KIND_COUNT];
    double kind_seconds[QVK_OP_KIND_COUNT];

    qvk_vk_step_totals prompt;
    qvk_vk_step_totals decode;

    /* Start-up, filled in by the backend. */
    double pipeline_seconds;
    bool pipeline_cache_warm;
    double upload_seconds;
} qvk_vk_profiler;

qvk_status qvk_vk_profiler_init(qvk_vk_profiler *profiler, qvk_vk_context *context,
                                bool timestamps, int32_t n_ops);
void qvk_vk_profiler_free(qvk_vk_profiler *profiler);

/* Reset the step counters and, with timestamps, the queries, and write the first timestamp. */
void qvk_vk_profiler_begin(qvk_vk_profiler *profiler, VkCommandBuffer commands);
/* Count an op's dispatches and write the timestamp that ends it. */
void qvk_vk_profiler_op_end(qvk_vk_profiler *profiler, VkCommandBuffer commands,
                            qvk_op_kind kind, int32_t n_dispatches);
/* After the step's fence: read the timestamps and add the step to the totals. */
qvk_status qvk_vk_profiler_end(qvk_vk_profiler *profiler, int32_t n_tokens,
                               double record_seconds, double submit_seconds,
                               double wall_seconds);

/* Write the report into out (snprintf-style: returns the length the whole report needs). */
size_t qvk_vk_profiler_report(const qvk_vk_profiler *profiler, char *out, size_t out_size);

#endif
