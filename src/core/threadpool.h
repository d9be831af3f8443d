/* A fixed pool of worker threads that all run the same task, each on its share of the work. */
#ifndef QWEN3VK_CORE_THREADPOOL_H
#define QWEN3VK_CORE_THREADPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct qvk_threadpool qvk_threadpool;

/* The task: thread thread_index of n_threads does its part of the work described by context. */
typedef void (*qvk_task_fn)(void *context, int32_t thread_index, int32_t n_threads);

qvk_status qvk_threadpool_create(int32_t n_threads, qvk_threadpool **out);
void qvk_threadpool_destroy(qvk_threadpool *pool);
int32_t qvk_threadpool_size(const qvk_threadpool *pool);

/* Run task on every thread (the caller is thread 0) and return when all have finished.
 * A NULL pool runs the task on the calling thread alone. */
void qvk_threadpool_run(qvk_threadpool *pool, qvk_task_fn task, void *context);

/* A buffer of at least size bytes, 64-byte aligned, that belongs to thread thread_index of pool.
 * Only that thread may use it, and only during a task. The buffer is kept until the pool is
 * destroyed and grows when a larger size is requested. Returns NULL for a NULL pool or when out
 * of memory. */
void *qvk_threadpool_scratch(qvk_threadpool *pool, int32_t thread_index, size_t size);

/* The range [*begin, *end) of n items that thread_index of n_threads handles. */
void qvk_split_range(int64_t n, int32_t thread_index, int32_t n_threads, int64_t *begin,
                     int64_t *end);

#endif
