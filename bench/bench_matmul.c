/* bench_matmul: the CPU matmul kernel alone, on the weight shapes of Qwen3-4B, with random bf16
 * weights in memory (no model folder needed).
 *
 *     bench_matmul [--threads N] [--rows N] [--repeat N]
 *     bench_matmul --check
 *
 * For each shape it prints the best of --repeat calls (default 5): milliseconds, GB/s of weights
 * read (GB = 1e9 bytes) and GFLOP/s (2 × rows × in × out per call). --rows is the number of
 * token rows per call (default: 1, the decode shape, then 64, a prompt batch). Calls cycle
 * through copies of the weights that total at least 1 GiB, more than the last-level cache, so
 * every call streams its weights from memory as in a forward pass.
 *
 * --check instead compares qvk_cpu_matmul with a double-precision sum and exits non-zero on a
 * mismatch. The cases cover odd shapes (tails of every block size, several k-blocks, both shapes
 * of the kernel), each weight dtype, accumulate on and off, and no pool or pools of 1-3 threads. */
#include <math.h>
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

/* ---- --check ---- */

typedef struct check_case {
    int64_t n_out;
    int64_t n_in;
    int32_t rows;
} check_case;

static const check_case check_cases[] = {
    { 37, 1000, 1 }, { 37, 1000, 3 }, { 5, 7, 9 }, { 100, 1537, 8 }, { 257, 2049, 67 },
    { 64, 512, 64 }, { 3, 4096, 130 },
};

static void fill_weights(qvk_dtype dtype, size_t n, void *data)
{
    for (size_t i = 0; i < n; i++) {
        float value = next_uniform();
        if (dtype == QVK_DTYPE_BF16)
            ((uint16_t *)data)[i] = qvk_f32_to_bf16(value);
        else if (dtype == QVK_DTYPE_F16)
            ((uint16_t *)data)[i] = qvk_f32_to_f16(value);
        else
            ((float *)data)[i] = value;
    }
}

/* Compare out with the double-precision result; the tolerance is the worst-case error bound of
 * float32 recursive summation, n × 2^-24 × Σ|x·w|, plus the rounding of the initial value. */
static int check_output(const qvk_tensor *w, const float *x, int32_t rows, const float *initial,
                        const float *out)
{
    int64_t n_out = w->shape[0], n_in = w->shape[1];
    float *row = malloc((size_t)n_in * sizeof(float));
    int failures = 0;

    for (int64_t o = 0; row && o < n_out; o++) {
        qvk_tensor_read_f32(w, o * n_in, n_in, row);
        for (int32_t r = 0; r < rows; r++) {
            double sum = initial ? initial[r * n_out + o] : 0.0, magnitude = fabs(sum);
            for (int64_t i = 0; i < n_in; i++) {
                sum += (double)x[r * n_in + i] * row[i];
                magnitude += fabs((double)x[r * n_in + i] * row[i]);
            }
            double tolerance = (double)(n_in + 1) * magnitude / 16777216.0 + 1e-30;
            if (fabs(out[r * n_out + o] - sum) > tolerance && failures++ < 3)
                fprintf(stderr, "mismatch at row %d output %lld: %.9g, expected %.9g (tolerance %.3g)\n",
                        r, (long long)o, out[r * n_out + o], sum, tolerance);
        }
    }
    free(row);
    return row ? failures : 1;
}

static int check_case_run(qvk_threadpool *pool, const check_case *c, qvk_dtype dtype,
                          bool accumulate)
{
    size_t n_w = (size_t)(c->n_out * c->n_in), n_x = (size_t)c->rows * (size_t)c->n_in;
    size_t n_y = (size_t)c->rows * (size_t)c->n_out;
    void *data = malloc(n_w * qvk_dtype_size(dtype));
    float *x = malloc(n_x * sizeof(float)), *out = malloc(n_y * sizeof(float));
    float *initial = malloc(n_y * sizeof(float));
    int failures = 1;

    if (data && x && out && initial) {
        qvk_tensor w = { .dtype = dtype, .n_dims = 2, .data = data,
                         .n_bytes = n_w * qvk_dtype_size(dtype) };
        w.shape[0] = c->n_out;
        w.shape[1] = c->n_in;
        fill_weights(dtype, n_w, data);
        fill_weights(QVK_DTYPE_F32, n_x, x);
        fill_weights(QVK_DTYPE_F32, n_y, initial);
        memcpy(out, initial, n_y * sizeof(float));
        qvk_cpu_matmul(pool, x, c->rows, &w, accumulate, out);
        failures = check_output(&w, x, c->rows, accumulate ? initial : NULL, out);
    }
    free(data);
    free(x);
    free(out);
    free(initial);
    return failures;
}

static int run_checks(void)
{
    static const qvk_dtype dtypes[] = { QVK_DTYPE_BF16, QVK_DTYPE_F16, QVK_DTYPE_F32 };
    int failed = 0, total = 0;

    for (int32_t n_threads = 0; n_threads <= 3; n_threads++) {
        qvk_threadpool *pool = NULL;
        if (n_threads > 0 && qvk_threadpool_create(n_threads, &pool) != QVK_OK)
            return 1;
        for (size_t c = 0; c < sizeof(check_cases) / sizeof(check_cases[0]); c++)
            for (size_t d = 0; d < 3; d++)
                for (int accumulate = 0; accumulate < 2; accumulate++) {
                    const check_case *cc = &check_cases[c];
                    total++;
                    if (check_case_run(pool, cc, dtypes[d], accumulate) != 0) {
                        failed++;
                        fprintf(stderr, "FAIL %lld x %lld, %d rows, %s, accumulate %d, %d threads\n",
                                (long long)cc->n_out, (long long)cc->n_in, cc->rows,
                                qvk_dtype_name(dtypes[d]), accumulate, n_threads);
                    }
                }
        qvk_threadpool_destroy(pool);
    }
    printf("bench_matmul --check (%s): %d of %d cases passed\n", qvk_cpu_simd_name(),
           total - failed, total);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    int32_t n_threads = 2, rows = 0, repeat = 5;
    qvk_threadpool *pool;

    if (argc == 2 && strcmp(argv[1], "--check") == 0)
        return run_checks();
    for (int i = 1; i + 1 < argc; i += 2) {
        int32_t value = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--threads") == 0 && value > 0)
            n_threads = value;
        else if (strcmp(argv[i], "--rows") == 0 && value > 0)
            rows = value;
        else if (strcmp(argv[i], "--repeat") == 0 && value > 0)
            repeat = value;
        else {
            fprintf(stderr, "usage: bench_matmul [--threads N] [--rows N] [--repeat N] | --check\n");
            return 2;
        }
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "usage: bench_matmul [--threads N] [--rows N] [--repeat N] | --check\n");
        return 2;
    }
    if (qvk_threadpool_create(n_threads, &pool) != QVK_OK) {
        fprintf(stderr, "bench_matmul: %s\n", qvk_last_error());
        return 1;
    }
    printf("bench_matmul: %d threads, %s, best of %d calls\n", n_threads, qvk_cpu_simd_name(),
           repeat);
    for (int pass = 0; pass < 2; pass++) {
        int32_t n = pass == 0 ? 1 : 64;
        if (rows)
            n = rows;
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
            bench_shape(pool, &shapes[s], n, repeat);
        if (rows)
            break;
    }
    qvk_threadpool_destroy(pool);
    return 0;
}
