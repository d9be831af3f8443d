/* The interface every backend implements: execute the graph for one step and return logits. */
#ifndef QWEN3VK_BACKEND_BACKEND_H
#define QWEN3VK_BACKEND_BACKEND_H

#include <stddef.h>

#include "engine/graph.h"

typedef struct qvk_backend_config {
    int32_t n_ctx;        /* KV cache rows per layer */
    int32_t n_batch;      /* max tokens per step */
    int32_t n_threads;    /* CPU threads */
    int32_t device_index; /* Vulkan device, -1 for automatic choice */
    /* Fail instead of choosing a CPU-type Vulkan device (such as lavapipe) automatically: the
     * CPU backend computes the same on the same cores without the driver's overhead. */
    bool reject_cpu_devices;
    bool profile;         /* collect per-op timings */
    qvk_progress_callback progress; /* weight upload progress (Vulkan), may be NULL */
    void *progress_user_data;
} qvk_backend_config;

typedef struct qvk_backend qvk_backend;

typedef struct qvk_backend_vtable {
    /* Run the graph on step->n_tokens tokens and write step->n_out × vocab logits. The KV cache
     * rows pos .. pos + n_tokens - 1 are written; rows before pos are kept. */
    qvk_status (*forward)(qvk_backend *backend, const qvk_step *step, float *logits);
    /* Append a human-readable profile (per op kind: count, time) to out; may be NULL. */
    size_t (*profile_report)(qvk_backend *backend, char *out, size_t out_size);
    void (*destroy)(qvk_backend *backend);
} qvk_backend_vtable;

struct qvk_backend {
    const qvk_backend_vtable *vtable;
    char name[256];
};

qvk_status qvk_cpu_backend_create(const qvk_graph *graph, const qvk_backend_config *config,
                                  qvk_backend **out);

#ifdef QWEN3VK_HAVE_VULKAN
qvk_status qvk_vulkan_backend_create(const qvk_graph *graph, const qvk_backend_config *config,
                                     qvk_backend **out);
#endif

#endif
