/* bench_matmul: the CPU matmul kernel alone, on the weight shapes of Qwen3-4B, with random bf16
 * weights in memory (no model folder needed).
 *
 *     bench_matmul [--threads N] [--rows N] [--repeat N]
 *
 * For each shape it prints the best of --repeat calls (default 5): milliseconds, GB/s of weights
 * read (GB = 1e9 bytes) and GFLOP/s (2 × rows × in × out per call). --rows is the number of
 * token rows per call (default: 1, the decode shape, then 64, a prompt batch). Calls cycle
 * through copies of the weights that total at least 1 GiB, more than the last-level cache, so
 * every call streams its weights from memory as in a forward pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/kernels.h"
#include "core/log.h"

typedef struct shape {
    const char *name;
    int64_t n_out;
    int64_t n_in;
} shape;

static const shape shapes[] = {
    { "q_proj", 4096, 2560 },    { "k_proj", 1024, 2560 }, { "o_proj", 2560, 4096 },
    { "gate_proj", 9728, 2560 }, { "down_proj", 2560, 9728 },
};

#define MAX_COPIES 64
#define COPIES_BYTES ((size_t)1 << 30)

static uint64_t random_state = 0x853c49e6748fea9bull;

static float next_uniform(void)
{
    random_state = random_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(random_state >> 40) / (float)(1u << 24) - 0.5f;
}

/* A bf16 tensor of shape s, random when first is NULL, else a copy of first's data. */
static int fill_tensor(qvk_tensor *tensor, const shape *s, const qvk_tensor *first)
{
    size_t n = (size_t)(s->n_out * s->n_in);
    uint16_t *data = malloc(n * sizeof(uint16_t));

    if (!data)
        return 0;
    if (first)
        memcpy(data, first->data, n * sizeof(uint16_t));
    else
        for (size_t i = 0; i < n; i++)
            data[i] = qvk_f32_to_bf16(next_uniform());
    *tensor = (qvk_tensor){ .dtype = QVK_DTYPE_BF16, .n_dims = 2, .data = data,
                            .n_bytes = n * sizeof(uint16_t) };
    snprintf(tensor->name, sizeof(tensor->name), "%s", s->name);
    tensor->shape[0] = s->n_out;
    tensor->shape[1] = s->n_in;
    return 1;
}

static void bench_shape(qvk_threadpool *pool, const shape *s, int32_t rows, int32_t repeat)
{
    qvk_tensor copies[MAX_COPIES];
    size_t bytes_each = (size_t)(s->n_out * s->n_in) * sizeof(uint16_t);
    int n_copies = (int)((COPIES_BYTES + bytes_each - 1) / bytes_each);
    float *x = malloc((size_t)rows * (size_t)s->n_in * sizeof(float));
    float *out = malloc((size_t)rows * (size_t)s->n_out * sizeof(float));
    double best = 1e30;
    int n_made = 0;

    if (n_copies > MAX_COPIES)
        n_copies = MAX_COPIES;
    while (n_made < n_copies && fill_tensor(&copies[n_made], s, n_made ? &copies[0] : NULL))
        n_made++;
    if (!x || !out || n_made < n_copies) {
        fprintf(stderr, "bench_matmul: out of memory for %s\n", s->name);
    } else {
        for (size_t i = 0; i < (size_t)rows * (size_t)s->n_in; i++)
            x[i] = next_uniform();
        /* The first pass over the copies is a warm-up and is not timed. */
        for (int32_t r = 0; r < n_copies + repeat; r++) {
            double start = qvk_time_seconds();
            qvk_cpu_matmul(pool, x, rows, &copies[r % n_copies], false, out);
            double seconds = qvk_time_seconds() - start;
            best = r >= n_copies && seconds < best ? seconds : best;
        }
        double bytes = (double)copies[0].n_bytes;
        double flops = 2.0 * rows * (double)s->n_in * (double)s->n_out;
        printf("%-10s %5lld x %-5lld rows %3d: %8.3f ms %7.2f GB/s %8.1f GFLOP/s\n", s->name,
               (long long)s->n_out, (long long)s->n_in, rows, best * 1e3, bytes / best / 1e9,
               flops / best / 1e9);
    }
    for (int i = 0; i < n_made; i++)
        free((void *)copies[i].data);
    free(x);
    free(out);
}

int main(int argc, char **argv)
{
    int32_t n_threads = 2, rows = 0, repeat = 5;
    qvk_threadpool *pool;

    for (int i = 1; i + 1 < argc; i += 2) {
        int32_t value = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--threads") == 0 && value > 0)
            n_threads = value;
        else if (strcmp(argv[i], "--rows") == 0 && value > 0)
            rows = value;
        else if (strcmp(argv[i], "--repeat") == 0 && value > 0)
            repeat = value;
        else {
            fprintf(stderr, "usage: bench_matmul [--threads N] [--rows N] [--repeat N]\n");
            return 2;
        }
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "usage: bench_matmul [--threads N] [--rows N] [--repeat N]\n");
        return 2;
    }
    if (qvk_threadpool_create(n_threads, &pool) != QVK_OK) {
        fprintf(stderr, "bench_matmul: %s\n", qvk_last_error());
        return 1;
    }
    printf("bench_matmul: %d threads, %s, best of %d calls\n", n_threads, qvk_cpu_simd_name(),
           repeat);
    for (int pass = 0; pass < 2; pass++) {
        int32_t n = rows ? rows : pass == 0 ? 1 : 64;
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
            bench_shape(pool, &shapes[s], n, repeat);
        if (rows)
            break;
    }
    qvk_threadpool_destroy(pool);
    return 0;
}
