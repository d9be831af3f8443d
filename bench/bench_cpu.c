/* bench_cpu: prompt processing and decode speed of the CPU backend on one model folder.
 *
 *     bench_cpu -m DIR [--threads N] [--prompt N] [--decode N] [--repeat N] [--profile]
 *
 * Steps, each in a fresh session so that the numbers do not mix:
 *   1. warm-up: one token, untimed; it faults the memory-mapped weights in from the page cache.
 *   2. prefill: a prompt of --prompt tokens (default 64) evaluated as one batch, --repeat times
 *      (default 2); the best run is reported in tokens/s.
 *   3. decode: one token, then --decode single-token steps (default 8) at positions 1 .., timed
 *      together; reported as tokens/s and as the bytes of weights read per token divided by the
 *      time per token (GB/s, GB = 1e9 bytes).
 * Last, the process's peak resident memory (VmHWM) beside the size of the weights. With
 * --profile, the per-op times of the prefill and decode sessions are printed too.
 *
 * The token ids are fixed arbitrary ids: the speed of a dense model does not depend on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "model/model.h"
#include "qwen3vk.h"

typedef struct bench_options {
    const char *model_dir;
    int32_t n_threads;
    int32_t n_prompt;
    int32_t n_decode;
    int32_t n_repeat;
    int profile;
} bench_options;

/* Bytes of weights one decode step reads: every matmul weight once (the layers' projections and
 * the output matrix), the norm vectors, and one row of the embedding. */
static double decode_weight_bytes(const qvk_model *model)
{
    const qvk_model_config *c = &model->config;
    double bytes = (double)model->lm_head->n_bytes + (double)model->final_norm->n_bytes +
                   (double)model->embed->n_bytes / (double)c->vocab_size;

    for (int32_t l = 0; l < c->n_layers; l++) {
        const qvk_layer_weights *w = &model->layers[l];
        const qvk_tensor *tensors[] = { w->attn_norm, w->wq, w->wk, w->wv, w->wo, w->q_norm,
                                        w->k_norm, w->ffn_norm, w->w_gate, w->w_up, w->w_down };
        for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++)
            bytes += (double)tensors[i]->n_bytes;
    }
    return bytes;
}

static qvk_session *open_session(qvk_model *model, const bench_options *o, int32_t n_batch,
                                 int profile)
{
    qvk_session_options options = qvk_session_default_options();
    qvk_session *session;

    options.backend = QVK_BACKEND_CPU;
    options.n_threads = o->n_threads;
    options.n_ctx = o->n_prompt + o->n_decode + 2;
    options.n_batch = n_batch;
    options.profile = profile;
    if (qvk_session_create(model, &options, &session) != QVK_OK) {
        fprintf(stderr, "bench_cpu: %s\n", qvk_last_error());
        return NULL;
    }
    return session;
}

static void print_profile(const qvk_session *session, const char *title)
{
    char report[4096];
    if (qvk_session_profile_report(session, report, sizeof(report)) > 0)
        printf("profile (%s):\n%s", title, report);
}

static int eval(qvk_session *session, const int32_t *tokens, int32_t n)
{
    const float *logits;
    if (qvk_session_eval(session, tokens, n, false, &logits) != QVK_OK) {
        fprintf(stderr, "bench_cpu: %s\n", qvk_last_error());
        return 0;
    }
    return 1;
}

/* The best prefill time of o->n_repeat runs, or a negative number on failure. */
static double bench_prefill(qvk_model *model, const bench_options *o, const int32_t *tokens)
{
    qvk_session *session = open_session(model, o, o->n_prompt, o->profile);
    double best = -1.0;

    for (int32_t r = 0; session && r < o->n_repeat; r++) {
        double start = qvk_time_seconds();
        if (!eval(session, tokens, o->n_prompt)) {
            best = -1.0;
            break;
        }
        double seconds = qvk_time_seconds() - start;
        best = best < 0 || seconds < best ? seconds : best;
        qvk_session_reset(session);
    }
    if (session && o->profile && best > 0)
        print_profile(session, "prefill");
    qvk_session_destroy(session);
    return best;
}

/* Seconds for o->n_decode single-token steps after a first one, or a negative number on failure. */
static double bench_decode(qvk_model *model, const bench_options *o, const int32_t *tokens)
{
    qvk_session *session = open_session(model, o, 1, o->profile);
    double seconds = -1.0, start;
    int ok;

    if (!session)
        return -1.0;
    ok = eval(session, tokens, 1);
    start = qvk_time_seconds();
    for (int32_t i = 1; ok && i <= o->n_decode; i++)
        ok = eval(session, tokens + i, 1);
    if (ok)
        seconds = qvk_time_seconds() - start;
    if (ok && o->profile)
        print_profile(session, "decode, including the first step");
    qvk_session_destroy(session);
    return seconds;
}

/* The process's peak resident memory (VmHWM of /proc/self/status) in bytes; 0 if unavailable.
 * It counts the pages of the weight mapping that were touched, like any resident memory. */
static double peak_rss_bytes(void)
{
    char line[256];
    long kb = 0;
    FILE *status = fopen("/proc/self/status", "r");

    if (!status)
        return 0.0;
    while (fgets(line, sizeof(line), status))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(status);
    return kb * 1024.0;
}

static int parse_options(int argc, char **argv, bench_options *o)
{
    *o = (bench_options){ NULL, 0, 64, 8, 2, 0 };
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int32_t *target = NULL;
        if (strcmp(argv[i], "--profile") == 0) {
            o->profile = 1;
            continue;
        }
        if (!value)
            return 0;
        if (strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--model") == 0)
            o->model_dir = value;
        else if (strcmp(argv[i], "--threads") == 0)
            target = &o->n_threads;
        else if (strcmp(argv[i], "--prompt") == 0)
            target = &o->n_prompt;
        else if (strcmp(argv[i], "--decode") == 0)
            target = &o->n_decode;
        else if (strcmp(argv[i], "--repeat") == 0)
            target = &o->n_repeat;
        else
            return 0;
        if (target) {
            char *end;
            long number = strtol(value, &end, 10);
            if (*end || end == value || number < 1 || number > 8192)
                return 0;
            *target = (int32_t)number;
        }
        i++;
    }
    return o->model_dir != NULL;
}

int main(int argc, char **argv)
{
    bench_options o;
    qvk_model *model;
    int32_t *tokens;
    int32_t n_tokens;

    if (!parse_options(argc, argv, &o)) {
        fprintf(stderr,
                "usage: bench_cpu -m DIR [--threads N] [--prompt N] [--decode N] [--repeat N] "
                "[--profile]\n"
                "  --threads N  CPU threads (default: one per online core)\n"
                "  --prompt N   prompt tokens per prefill run (default 64)\n"
                "  --decode N   timed decode steps (default 8)\n"
                "  --repeat N   prefill runs; the best is reported (default 2)\n"
                "  --profile    print per-op times of the prefill and decode runs\n");
        return 2;
    }
    qvk_log_set_level(QVK_LOG_WARN);
    double load_start = qvk_time_seconds();
    if (qvk_model_load(o.model_dir, NULL, &model) != QVK_OK) {
        fprintf(stderr, "bench_cpu: %s\n", qvk_last_error());
        return 1;
    }
    double load_seconds = qvk_time_seconds() - load_start;

    const qvk_model_config *c = qvk_model_get_config(model);
    n_tokens = (o.n_prompt > o.n_decode ? o.n_prompt : o.n_decode) + 1;
    tokens = malloc((size_t)n_tokens * sizeof(int32_t));
    if (!tokens) {
        qvk_model_destroy(model);
        return 1;
    }
    for (int32_t i = 0; i < n_tokens; i++)
        tokens[i] = (int32_t)((1000 + 7919 * (int64_t)i) % c->vocab_size);

    /* Warm-up: fault the weights in so that neither measurement pays for it. */
    double warm_start = qvk_time_seconds();
    qvk_session *warm = open_session(model, &o, 1, 0);
    char backend_name[256] = "";
    int ok = warm && eval(warm, tokens, 1);
    if (warm)
        snprintf(backend_name, sizeof(backend_name), "%s", qvk_session_backend_name(warm));
    qvk_session_destroy(warm);
    double warm_seconds = qvk_time_seconds() - warm_start;

    double prefill = ok ? bench_prefill(model, &o, tokens) : -1.0;
    double decode = prefill > 0 ? bench_decode(model, &o, tokens) : -1.0;
    if (decode > 0) {
        double bytes = decode_weight_bytes(model), per_token = decode / o.n_decode;
        double rss = peak_rss_bytes(), weights = (double)model->weight_bytes;
        printf("model: %s, %.2f GB of weights (%.2f GB read per decode token)\n", o.model_dir,
               (double)model->weight_bytes / 1e9, bytes / 1e9);
        printf("backend: %s, load %.2f s, warm-up token %.2f s\n", backend_name, load_seconds,
               warm_seconds);
        printf("prefill: %d tokens in %.3f s = %.2f tokens/s (best of %d)\n", o.n_prompt, prefill,
               o.n_prompt / prefill, o.n_repeat);
        printf("decode: %d tokens in %.3f s = %.3f tokens/s, %.1f ms/token, %.2f GB/s of weights\n",
               o.n_decode, decode, o.n_decode / decode, 1e3 * per_token, bytes / per_token / 1e9);
        printf("memory: peak RSS %.2f GB, weights %.2f GB (%+.1f%%)\n", rss / 1e9, weights / 1e9,
               100.0 * (rss / weights - 1.0));
    }
    free(tokens);
    qvk_model_destroy(model);
    return decode > 0 ? 0 : 1;
}
