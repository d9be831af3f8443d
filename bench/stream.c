/* stream: main-memory bandwidth in the manner of the STREAM benchmark, as the ceiling that CPU
 * decode is measured against.
 *
 *     stream [--mib N] [--repeat N] [--threads N]
 *
 * One buffer of N MiB is written once. The default of 2048 MiB exceeds the last-level cache of
 * most machines; lscpu shows it, and --mib sets a larger buffer. Then two passes are timed,
 * each the best of --repeat runs:
 *   read  sums the whole buffer as 64-bit integers (bytes counted: the buffer size). This is
 *         the access pattern of a decode matmul, which reads each weight byte once.
 *   copy  copies the first half of the buffer onto the second with memcpy (bytes counted: read
 *         plus written, as STREAM counts them). glibc may use non-temporal stores for it.
 * Each thread count from 1 to --threads (default 2) works on equal slices of the buffer. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum kernel { KERNEL_READ, KERNEL_COPY } kernel;

typedef struct job {
    uint8_t *buffer;
    size_t size;
    kernel kind;
    int index;
    int n_threads;
    pthread_barrier_t *start;
    uint64_t checksum;
} job;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Eight independent sums, so the loop is limited by loads and not by the add latency; the
 * compiler vectorizes it. */
static uint64_t sum_words(const uint64_t *words, size_t n)
{
    uint64_t s[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += words[i + k];
    for (; i < n; i++)
        s[0] += words[i];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static void *run_job(void *argument)
{
    job *j = argument;
    size_t half = j->size / 2;

    pthread_barrier_wait(j->start);
    if (j->kind == KERNEL_READ) {
        size_t words = j->size / 8, begin = words * (size_t)j->index / (size_t)j->n_threads;
        size_t end = words * (size_t)(j->index + 1) / (size_t)j->n_threads;
        j->checksum = sum_words((const uint64_t *)j->buffer + begin, end - begin);
    } else {
        size_t begin = half * (size_t)j->index / (size_t)j->n_threads;
        size_t end = half * (size_t)(j->index + 1) / (size_t)j->n_threads;
        memcpy(j->buffer + half + begin, j->buffer + begin, end - begin);
    }
    return NULL;
}

/* One timed pass with n_threads threads; returns GB/s (10^9 bytes per second). */
static double measure(uint8_t *buffer, size_t size, kernel kind, int n_threads, uint64_t *checksum)
{
    pthread_t threads[64];
    job jobs[64];
    pthread_barrier_t start;
    double begin, seconds;

    pthread_barrier_init(&start, NULL, (unsigned)n_threads + 1);
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (job){ buffer, size, kind, t, n_threads, &start, 0 };
        pthread_create(&threads[t], NULL, run_job, &jobs[t]);
    }
    pthread_barrier_wait(&start);
    begin = now_seconds();
    for (int t = 0; t < n_threads; t++) {
        pthread_join(threads[t], NULL);
        *checksum += jobs[t].checksum;
    }
    seconds = now_seconds() - begin;
    pthread_barrier_destroy(&start);
    return (double)(kind == KERNEL_READ ? size : size / 2 * 2) / seconds / 1e9;
}

static int parse_arg(const char *text, long min, long max, long *out)
{
    char *end;
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end || value < min || value > max)
        return 0;
    *out = value;
    return 1;
}

int main(int argc, char **argv)
{
    long mib = 2048, repeat = 5, max_threads = 2;
    uint64_t checksum = 0;

    for (int i = 1; i < argc; i++) {
        int ok = i + 1 < argc;
        if (ok && strcmp(argv[i], "--mib") == 0)
            ok = parse_arg(argv[++i], 16, 1 << 20, &mib);
        else if (ok && strcmp(argv[i], "--repeat") == 0)
            ok = parse_arg(argv[++i], 1, 1000, &repeat);
        else if (ok && strcmp(argv[i], "--threads") == 0)
            ok = parse_arg(argv[++i], 1, 64, &max_threads);
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "usage: stream [--mib N] [--repeat N] [--threads N]\n"
                            "  --mib N      buffer size in MiB (default 2048)\n"
                            "  --repeat N   timed runs per figure; the best is printed (default 5)\n"
                            "  --threads N  measure with 1 .. N threads (default 2, at most 64)\n");
            return 2;
        }
    }

    size_t size = (size_t)mib << 20;
    uint8_t *buffer = malloc(size);
    if (!buffer) {
        fprintf(stderr, "stream: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    memset(buffer, 1, size); /* fault every page in before timing */

    printf("stream: buffer %ld MiB, best of %ld runs, GB = 1e9 bytes\n", mib, repeat);
    for (int n = 1; n <= max_threads; n++) {
        double best_read = 0.0, best_copy = 0.0;
        for (long r = 0; r < repeat; r++) {
            double read = measure(buffer, size, KERNEL_READ, n, &checksum);
            double copy = measure(buffer, size, KERNEL_COPY, n, &checksum);
            best_read = read > best_read ? read : best_read;
            best_copy = copy > best_copy ? copy : best_copy;
        }
        printf("threads %d: read %.1f GB/s  copy %.1f GB/s\n", n, best_read, best_copy);
    }
    /* The checksum keeps the compiler from dropping the sums. */
    if (checksum == 42)
        printf("checksum %llu\n", (unsigned long long)checksum);
    free(buffer);
    return 0;
}
