/* Workers wait on a condition variable for a new generation number, run the task, and count
 * themselves done; the caller runs its share as thread 0 and then waits for the count. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>

struct qvk_threadpool {
    int32_t n_threads;
    pthread_t *threads;
    pthread_mutex_t mutex;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    qvk_task_fn task;
    void *context;
    uint64_t generation;
    int32_t n_pending;
    int stop;
};

typedef struct worker_start {
    qvk_threadpool *pool;
    int32_t index;
} worker_start;

static void *worker_main(void *argument)
{
    worker_start start = *(worker_start *)argument;
    qvk_threadpool *pool = start.pool;
    uint64_t seen = 0;

    free(argument);
    for (;;) {
        pthread_mutex_lock(&pool->mutex);
        while (pool->generation == seen && !pool->stop)
            pthread_cond_wait(&pool->work_ready, &pool->mutex);
        if (pool->stop) {
            pthread_mutex_unlock(&pool->mutex);
            return NULL;
        }
        seen = pool->generation;
        pthread_mutex_unlock(&pool->mutex);

        pool->task(pool->context, start.index, pool->n_threads);

        pthread_mutex_lock(&pool->mutex);
        if (--pool->n_pending == 0)
            pthread_cond_signal(&pool->work_done);
        pthread_mutex_unlock(&pool->mutex);
    }
}

qvk_status qvk_threadpool_create(int32_t n_threads, qvk_threadpool **out)
{
    qvk_threadpool *pool = calloc(1, sizeof(*pool));

    *out = NULL;
    if (n_threads < 1)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "thread count %d must be at least 1", n_threads);
    if (!pool || !(pool->threads = calloc((size_t)n_threads, sizeof(pthread_t)))) {
        free(pool);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for a pool of %d threads", n_threads);
    }
    pool->n_threads = 1;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->work_done, NULL);
    for (int32_t i = 1; i < n_threads; i++) {
        worker_start *start = malloc(sizeof(*start));
        if (!start)
            break;
        *start = (worker_start){ pool, i };
        if (pthread_create(&pool->threads[i], NULL, worker_main, start) != 0) {
            free(start);
            break;
        }
        pool->n_threads++;
    }
    *out = pool;
    return QVK_OK;
}

void qvk_threadpool_destroy(qvk_threadpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mutex);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->mutex);
    for (int32_t i = 1; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    free(pool->threads);
    free(pool);
}

int32_t qvk_threadpool_size(const qvk_threadpool *pool)
{
    return pool ? pool->n_threads : 1;
}

void qvk_threadpool_run(qvk_threadpool *pool, qvk_task_fn task, void *context)
{
    if (!pool || pool->n_threads == 1) {
        task(context, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool->mutex);
    pool->task = task;
    pool->context = context;
    pool->n_pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->mutex);

    task(context, 0, pool->n_threads);

    pthread_mutex_lock(&pool->mutex);
    while (pool->n_pending > 0)
        pthread_cond_wait(&pool->work_done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
}

void qvk_split_range(int64_t n, int32_t thread_index, int32_t n_threads, int64_t *begin,
                     int64_t *end)
{
    *begin = n * thread_index / n_threads;
    *end = n * (thread_index + 1) / n_threads;
}
