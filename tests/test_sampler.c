/* Sampler: greedy, top_k, top_p, min_p, temperature, penalties, seeds and parameter checks on
 * fixed logits. Statistical checks draw many tokens and state their tolerance. */
#include "core/log.h"
#include "engine/sampler.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

/* Logits whose softmax is probs: log(p) is a valid logit because softmax ignores shifts. */
static void logits_from_probs(const double *probs, int n, float *logits)
{
    for (int i = 0; i < n; i++)
        logits[i] = probs[i] > 0.0 ? (float)log(probs[i]) : -INFINITY;
}

/* Pseudo-random logits in [-scale, scale] from a fixed LCG, independent of the sampler's PRNG. */
static void fill_random_logits(float *logits, int n, uint32_t seed, float scale)
{
    uint32_t state = seed;
    for (int i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        logits[i] = scale * ((float)(state >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
    }
}

static qvk_sampler *make_sampler(qvk_sampling_params params, int vocab_size)
{
    qvk_sampler *s = NULL;
    qvk_status status = qvk_sampler_create(&params, vocab_size, &s);
    if (status != QVK_OK)
        fprintf(stderr, "qvk_sampler_create: %s\n", qvk_last_error());
    return s;
}

/* Draw n_draws tokens from the same logits and count each id. The generated tokens are forgotten
 * after each draw (no penalties are set, so they would not matter anyway). */
static void count_draws(qvk_sampler *s, const float *logits, int vocab_size, int n_draws,
                        int *counts)
{
    memset(counts, 0, (size_t)vocab_size * sizeof(*counts));
    for (int i = 0; i < n_draws; i++) {
        int32_t token = qvk_sampler_sample(s, logits);
        if (token >= 0 && token < vocab_size)
            counts[token]++;
    }
}

static void greedy_picks_argmax(void)
{
    float logits[6] = {0.5f, 2.0f, -1.0f, 3.5f, 3.5f, 1.0f};
    qvk_sampling_params params = qvk_sampling_default_params();
    params.temperature = 0.0f;
    qvk_sampler *s = make_sampler(params, 6);

    CHECK(s != NULL);
    if (!s)
        return;
    /* Ids 3 and 4 tie: the lower id wins. */
    CHECK_INT_EQ(qvk_sampler_sample(s, logits), 3);
    logits[1] = 9.0f;
    CHECK_INT_EQ(qvk_sampler_sample(s, logits), 1);
    qvk_sampler_destroy(s);
}

static void top_k_one_equals_greedy(void)
{
    enum { VOCAB = 1000 };
    static float logits[VOCAB];
    qvk_sampling_params params = qvk_sampling_default_params();
    params.top_k = 1;
    params.temperature = 1.5f;
    qvk_sampler *s = make_sampler(params, VOCAB);

    CHECK(s != NULL);
    if (!s)
        return;
    for (uint32_t row = 0; row < 50; row++) {
        int best = 0;
        fill_random_logits(logits, VOCAB, row + 1, 4.0f);
        for (int i = 1; i < VOCAB; i++)
            if (logits[i] > logits[best])
                best = i;
        CHECK_INT_EQ(qvk_sampler_sample(s, logits), best);
    }
    qvk_sampler_destroy(s);
}

static void tiny_temperature_acts_greedy(void)
{
    /* A temperature near the smallest float must not overflow into NaN on any path. */
    enum { VOCAB = 300 };
    static float logits[VOCAB];
    const int32_t top_ks[3] = {0, 0, 50};
    const float top_ps[3] = {1.0f, 0.9f, 0.9f};

    fill_random_logits(logits, VOCAB, 5, 3.0f);
    logits[123] = 3.5f;
    for (int c = 0; c < 3; c++) {
        qvk_sampling_params params = qvk_sampling_default_params();
        params.temperature = 1e-38f;
        params.top_k = top_ks[c];
        params.top_p = top_ps[c];
        qvk_sampler *s = make_sampler(params, VOCAB);

        CHECK(s != NULL);
        if (!s)
            return;
        for (int i = 0; i < 20; i++)
            CHECK_INT_EQ(qvk_sampler_sample(s, logits), 123);
        qvk_sampler_destroy(s);
    }
}

static void top_k_keeps_k_best(void)
{
    /* Ids 2, 5 and 7 have the three largest logits; 20000 draws must reach all of them and
     * nothing else. */
    float logits[8] = {0.0f, 0.1f, 2.0f, 0.2f, -1.0f, 2.2f, 0.3f, 1.9f};
    int counts[8];
    qvk_sampling_params params = qvk_sampling_default_params();
    params.top_k = 3;
    qvk_sampler *s = make_sampler(params, 8);

    CHECK(s != NULL);
    if (!s)
        return;
    count_draws(s, logits, 8, 20000, counts);
    for (int i = 0; i < 8; i++) {
        if (i == 2 || i == 5 || i == 7)
            CHECK(counts[i] > 0);
        else
            CHECK_INT_EQ(counts[i], 0);
    }
    qvk_sampler_destroy(s);
}

/* Draws from probs [0.5, 0.3, 0.15, 0.05] with the given top_p (and top_k) must stay inside the
 * first n_inside tokens and reach each of them. */
static void check_nucleus(float top_p, int top_k, int n_inside)
{
    const double probs[4] = {0.5, 0.3, 0.15, 0.05};
    float logits[4];
    int counts[4];
    qvk_sampling_params params = qvk_sampling_default_params();
    params.top_p = top_p;
    params.top_k = top_k;
    qvk_sampler *s = make_sampler(params, 4);

    CHECK(s != NULL);
    if (!s)
        return;
    logits_from_probs(probs, 4, logits);
    count_draws(s, logits, 4, 20000, counts);
    for (int i = 0; i < 4; i++) {
        if (i < n_inside)
            CHECK(counts[i] > 0);
        else
            CHECK_INT_EQ(counts[i], 0);
    }
    qvk_sampler_destroy(s);
}

static void top_p_cuts_tail(void)
{
    /* Mass above token 1 is 0.5 < 0.7, above token 2 it is 0.8 >= 0.7. */
    check_nucleus(0.7f, 0, 2);
    /* 0.8 < 0.85 keeps token 2; 0.95 >= 0.85 drops token 3. */
    check_nucleus(0.85f, 0, 3);
    /* 0.5 reaches top_p 0.45 on its own. */
    check_nucleus(0.45f, 0, 1);
    check_nucleus(1.0f, 0, 4);
    /* top_k 3 renormalizes to [0.526, 0.316, 0.158]: mass above token 2 is 0.842 >= 0.8. */
    check_nucleus(0.8f, 3, 2);
    /* Without top_k, 0.5 + 0.3 < 0.81 keeps token 2. */
    check_nucleus(0.81f, 0, 3);
}

static void top_p_large_nucleus(void)
{
    /* 200 tokens at logit 0 and 1800 at -3: the nucleus is the first ceil(0.4 * Z) of the equal
     * tokens, where Z = 200 + 1800 e^-3 = 289.6, so ids 0..115 because ties go to the lower id.
     * The cut falls inside a run of equal logits, which all share one bucket of the search. */
    enum { VOCAB = 2000, N_HIGH = 200, N_INSIDE = 116 };
    static float logits[VOCAB];
    static int counts[VOCAB];
    qvk_sampling_params params = qvk_sampling_default_params();
    params.top_p = 0.4f;
    qvk_sampler *s = make_sampler(params, VOCAB);
    int outside = 0, inside_missed = 0;

    CHECK(s != NULL);
    if (!s)
        return;
    for (int i = 0; i < VOCAB; i++)
        logits[i] = i < N_HIGH ? 0.0f : -3.0f;
    count_draws(s, logits, VOCAB, 10000, counts);
    for (int i = 0; i < VOCAB; i++) {
        if (i < N_INSIDE)
            inside_missed += counts[i] == 0;
        else
            outside += counts[i];
    }
    CHECK_INT_EQ(outside, 0);
    CHECK_INT_EQ(inside_missed, 0);
    qvk_sampler_destroy(s);
}

static int compare_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    if (x > y)
        return -1;
    return x < y ? 1 : 0;
}

/* The top_p nucleus of the n_kept largest of sorted weights (descending), renormalized as
 * after top_k: returns its size and sets the smallest kept weight and the nucleus mass. */
static int reference_nucleus(const double *sorted, int n_kept, double top_p, double *cut,
                             double *mass)
{
    double total = 0.0;
    int n_inside = 0;

    for (int i = 0; i < n_kept; i++)
        total += sorted[i];
    *mass = 0.0;
    while (*mass < top_p * total) {
        *cut = sorted[n_inside];
        *mass += sorted[n_inside++];
    }
    return n_inside;
}

/* The nucleus of random logits, computed here by a full sort in double precision, must match
 * the sampler's. The sampler runs without top_k (bucketed search) and with a top_k above and
 * below the nucleus size (heap selection, renormalization, then the cut). No token outside is
 * drawn, and every token inside whose expected count is at least 30 is drawn (missing one has
 * probability below e^-30). */
static void top_p_matches_sorted_reference(void)
{
    enum { VOCAB = 1000, N_DRAWS = 15000 };
    static float logits[VOCAB];
    static int counts[VOCAB];
    double weights[VOCAB], sorted[VOCAB];
    const float temperature = 0.7f, top_p = 0.9f;
    const int top_ks[3] = {0, 150, 60};

    fill_random_logits(logits, VOCAB, 2024, 6.0f);
    for (int i = 0; i < VOCAB; i++) {
        weights[i] = exp((double)logits[i] / temperature);
        sorted[i] = weights[i];
    }
    qsort(sorted, VOCAB, sizeof(double), compare_desc);

    for (int c = 0; c < 3; c++) {
        qvk_sampling_params params = qvk_sampling_default_params();
        double cut = 0.0, mass = 0.0;
        int n_inside = reference_nucleus(sorted, top_ks[c] ? top_ks[c] : VOCAB, top_p, &cut,
                                         &mass);
        int outside = 0, inside_missed = 0;
        qvk_sampler *s;

        /* Without top_k the nucleus has 134 tokens, several buckets of the search. */
        if (top_ks[c] == 0)
            CHECK(n_inside > 64);
        params.temperature = temperature;
        params.top_p = top_p;
        params.top_k = top_ks[c];
        s = make_sampler(params, VOCAB);
        CHECK(s != NULL);
        if (!s)
            return;
        count_draws(s, logits, VOCAB, N_DRAWS, counts);
        for (int i = 0; i < VOCAB; i++) {
            if (weights[i] < cut)
                outside += counts[i];
            else if (weights[i] / mass * N_DRAWS >= 30.0 && counts[i] == 0)
                inside_missed++;
        }
        CHECK_INT_EQ(outside, 0);
        CHECK_INT_EQ(inside_missed, 0);
        qvk_sampler_destroy(s);
    }
}

static void min_p_cuts_tail(void)
{
    /* probs [0.4, 0.3, 0.2, 0.1], min_p 0.3: the threshold is 0.12, so token 3 goes. */
    const double probs[4] = {0.4, 0.3, 0.2, 0.1};
    float logits[4];
    int counts[4];
    qvk_sampling_params params = qvk_sampling_default_params();
    params.min_p = 0.3f;
    qvk_sampler *s = make_sampler(params, 4);

    CHECK(s != NULL);
    if (!s)
        return;
    logits_from_probs(probs, 4, logits);
    count_draws(s, logits, 4, 20000, counts);
    CHECK(counts[0] > 0);
    CHECK(counts[1] > 0);
    CHECK(counts[2] > 0);
    CHECK_INT_EQ(counts[3], 0);
    qvk_sampler_destroy(s);

    /* min_p 0.6: threshold 0.24 leaves tokens 0 and 1. */
    params.min_p = 0.6f;
    s = make_sampler(params, 4);
    count_draws(s, logits, 4, 20000, counts);
    CHECK(counts[0] > 0);
    CHECK(counts[1] > 0);
    CHECK_INT_EQ(counts[2], 0);
    CHECK_INT_EQ(counts[3], 0);
    qvk_sampler_destroy(s);
}

static void seed_fixes_sequence(void)
{
    enum { VOCAB = 100, N = 200 };
    float logits[VOCAB];
    int32_t first[N], second[N], other[N], after_reset[N];
    qvk_sampling_params params = qvk_sampling_default_params();
    qvk_sampler *a, *b, *c;
    int same_as_other = 0;

    fill_random_logits(logits, VOCAB, 7, 1.0f);
    params.seed = 1234;
    a = make_sampler(params, VOCAB);
    b = make_sampler(params, VOCAB);
    params.seed = 1235;
    c = make_sampler(params, VOCAB);
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(c != NULL);
    if (!a || !b || !c)
        return;
    for (int i = 0; i < N; i++) {
        first[i] = qvk_sampler_sample(a, logits);
        second[i] = qvk_sampler_sample(b, logits);
        other[i] = qvk_sampler_sample(c, logits);
    }
    qvk_sampler_reset(a);
    for (int i = 0; i < N; i++)
        after_reset[i] = qvk_sampler_sample(a, logits);

    CHECK(memcmp(first, second, sizeof(first)) == 0);
    CHECK(memcmp(first, after_reset, sizeof(first)) == 0);
    for (int i = 0; i < N; i++)
        same_as_other += first[i] == other[i];
    /* About N / VOCAB = 2 coincidences are expected from chance; 20 would mean no effect. */
    CHECK(same_as_other < 20);
    qvk_sampler_destroy(a);
    qvk_sampler_destroy(b);
    qvk_sampler_destroy(c);
}

/* Frequencies of 100000 draws at the given temperature against softmax(logits / T). The
 * standard error of a frequency is at most sqrt(0.25 / 100000) = 0.0016, so a tolerance of
 * 0.008 (5 standard errors) fails by chance with probability below 1e-6. */
static void check_temperature(float temperature)
{
    enum { N_DRAWS = 100000 };
    const float logits[4] = {2.0f, 1.0f, 0.0f, -1.0f};
    double expected[4], total = 0.0;
    int counts[4];
    qvk_sampling_params params = qvk_sampling_default_params();
    params.temperature = temperature;
    params.seed = 42;
    qvk_sampler *s = make_sampler(params, 4);

    CHECK(s != NULL);
    if (!s)
        return;
    for (int i = 0; i < 4; i++) {
        expected[i] = exp(logits[i] / temperature);
        total += expected[i];
    }
    count_draws(s, logits, 4, N_DRAWS, counts);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR((double)counts[i] / N_DRAWS, expected[i] / total, 0.008);
    qvk_sampler_destroy(s);
}

static void temperature_matches_softmax(void)
{
    check_temperature(1.0f);
    check_temperature(0.5f);
    check_temperature(2.0f);
}

/* Greedy choices over logits [3, 2, 1] with the given penalties and prompt. */
static void greedy_sequence(qvk_sampling_params params, const int32_t *prompt, size_t n_prompt,
                            int n, int32_t *out)
{
    const float logits[3] = {3.0f, 2.0f, 1.0f};
    qvk_sampler *s;

    params.temperature = 0.0f;
    s = make_sampler(params, 3);
    CHECK(s != NULL);
    if (!s)
        return;
    qvk_sampler_accept_prompt(s, prompt, n_prompt);
    for (int i = 0; i < n; i++)
        out[i] = qvk_sampler_sample(s, logits);
    qvk_sampler_destroy(s);
}

static void repetition_penalty_divides(void)
{
    const int32_t prompt[1] = {0};
    int32_t out[4] = {-1, -1, -1, -1};
    qvk_sampling_params params = qvk_sampling_default_params();

    /* Token 0 is in the prompt: 3 / 2 = 1.5 < 2, so token 1 wins; then 2 / 2 = 1 < 1.5 and
     * token 0 wins again. */
    params.repetition_penalty = 2.0f;
    greedy_sequence(params, prompt, 1, 3, out);
    CHECK_INT_EQ(out[0], 1);
    CHECK_INT_EQ(out[1], 0);
    CHECK_INT_EQ(out[2], 0);

    /* Without a prompt the first token is 0, then its own repetition penalizes it. */
    greedy_sequence(params, NULL, 0, 2, out);
    CHECK_INT_EQ(out[0], 0);
    CHECK_INT_EQ(out[1], 1);
}

static void repetition_penalty_negative_logit(void)
{
    /* A negative logit is multiplied: -1 * 3 = -3 < -2. */
    const float logits[2] = {-1.0f, -2.0f};
    const int32_t prompt[1] = {0};
    qvk_sampling_params params = qvk_sampling_default_params();
    params.temperature = 0.0f;
    params.repetition_penalty = 3.0f;
    qvk_sampler *s = make_sampler(params, 2);

    CHECK(s != NULL);
    if (!s)
        return;
    qvk_sampler_accept_prompt(s, prompt, 1);
    CHECK_INT_EQ(qvk_sampler_sample(s, logits), 1);
    qvk_sampler_destroy(s);
}

static void presence_penalty_once(void)
{
    const int32_t prompt[1] = {0};
    int32_t out[4];
    qvk_sampling_params params = qvk_sampling_default_params();

    /* 3 - 0.5 = 2.5 stays above 2 however often token 0 repeats. */
    params.presence_penalty = 0.5f;
    greedy_sequence(params, NULL, 0, 4, out);
    for (int i = 0; i < 4; i++)
        CHECK_INT_EQ(out[i], 0);

    /* 3 - 1.5 = 1.5 < 2 after the first token 0. */
    params.presence_penalty = 1.5f;
    greedy_sequence(params, NULL, 0, 2, out);
    CHECK_INT_EQ(out[0], 0);
    CHECK_INT_EQ(out[1], 1);

    /* Prompt tokens do not count for the presence penalty. */
    params.presence_penalty = 10.0f;
    greedy_sequence(params, prompt, 1, 1, out);
    CHECK_INT_EQ(out[0], 0);
}

static void frequency_penalty_grows(void)
{
    /* Token 0 scores 3, 2.6, 2.2, 1.8 after 0..3 repeats; token 1 scores 2, then 1.6 after one
     * repeat: the choices are 0 0 0 1 0. */
    const int32_t expected[5] = {0, 0, 0, 1, 0};
    const int32_t prompt[1] = {0};
    int32_t out[5];
    qvk_sampling_params params = qvk_sampling_default_params();

    params.frequency_penalty = 0.4f;
    greedy_sequence(params, NULL, 0, 5, out);
    for (int i = 0; i < 5; i++)
        CHECK_INT_EQ(out[i], expected[i]);

    params.frequency_penalty = 10.0f;
    greedy_sequence(params, prompt, 1, 1, out);
    CHECK_INT_EQ(out[0], 0);
}

static void logits_left_unchanged(void)
{
    float logits[3] = {3.0f, 2.0f, 1.0f};
    const int32_t prompt[2] = {0, 1};
    qvk_sampling_params params = qvk_sampling_default_params();
    params.repetition_penalty = 1.3f;
    params.presence_penalty = 0.7f;
    params.frequency_penalty = 0.2f;
    qvk_sampler *s = make_sampler(params, 3);

    CHECK(s != NULL);
    if (!s)
        return;
    qvk_sampler_accept_prompt(s, prompt, 2);
    for (int i = 0; i < 10; i++)
        qvk_sampler_sample(s, logits);
    CHECK(logits[0] == 3.0f);
    CHECK(logits[1] == 2.0f);
    CHECK(logits[2] == 1.0f);
    qvk_sampler_destroy(s);
}

static void masked_logits_never_drawn(void)
{
    float logits[4] = {-INFINITY, NAN, 0.0f, -INFINITY};
    int counts[4];
    qvk_sampling_params params = qvk_sampling_default_params();
    qvk_sampler *s = make_sampler(params, 4);

    CHECK(s != NULL);
    if (!s)
        return;
    count_draws(s, logits, 4, 1000, counts);
    CHECK_INT_EQ(counts[2], 1000);

    logits[2] = -INFINITY;
    CHECK_INT_EQ(qvk_sampler_sample(s, logits), -1);
    CHECK(strstr(qvk_last_error(), "-infinity") != NULL);
    qvk_sampler_destroy(s);
}

/* Creating a sampler with one field changed must fail and name the field. */
static void check_rejected(qvk_sampling_params params, const char *field)
{
    qvk_sampler *s = (qvk_sampler *)&params; /* any non-NULL value, to see it cleared */

    CHECK_INT_EQ(qvk_sampler_create(&params, 10, &s), QVK_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    if (!strstr(qvk_last_error(), field)) {
        fprintf(stderr, "message \"%s\" does not name %s\n", qvk_last_error(), field);
        CHECK(0);
    }
}

static void invalid_params_rejected(void)
{
    const qvk_sampling_params good = qvk_sampling_default_params();
    qvk_sampling_params p;
    qvk_sampler *s = NULL;

    p = good, p.temperature = -0.1f, check_rejected(p, "temperature");
    p = good, p.temperature = NAN, check_rejected(p, "temperature");
    p = good, p.temperature = INFINITY, check_rejected(p, "temperature");
    p = good, p.top_k = -1, check_rejected(p, "top_k");
    p = good, p.top_p = 0.0f, check_rejected(p, "top_p");
    p = good, p.top_p = 1.5f, check_rejected(p, "top_p");
    p = good, p.top_p = NAN, check_rejected(p, "top_p");
    p = good, p.min_p = -0.1f, check_rejected(p, "min_p");
    p = good, p.min_p = 1.1f, check_rejected(p, "min_p");
    p = good, p.repetition_penalty = 0.0f, check_rejected(p, "repetition_penalty");
    p = good, p.repetition_penalty = -1.0f, check_rejected(p, "repetition_penalty");
    p = good, p.presence_penalty = INFINITY, check_rejected(p, "presence_penalty");
    p = good, p.frequency_penalty = NAN, check_rejected(p, "frequency_penalty");

    CHECK_INT_EQ(qvk_sampler_create(&good, 0, &s), QVK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(qvk_last_error(), "vocab_size") != NULL);
    CHECK_INT_EQ(qvk_sampler_create(NULL, 10, &s), QVK_ERR_INVALID_ARGUMENT);

    /* The edges of each range are valid. */
    p = good, p.temperature = 0.0f, p.top_p = 1.0f, p.min_p = 1.0f, p.top_k = 0;
    CHECK_INT_EQ(qvk_sampling_params_validate(&p), QVK_OK);
    p.min_p = 0.0f, p.top_k = 1000000, p.presence_penalty = -2.0f;
    CHECK_INT_EQ(qvk_sampling_params_validate(&p), QVK_OK);
}

/* Time per token for the Qwen3 vocabulary with the recommended settings; printed, not checked,
 * because the machine running the tests is unknown. */
static void speed_full_vocabulary(void)
{
    enum { VOCAB = 151936, N = 50 };
    static float logits[VOCAB];
    const struct {
        const char *name;
        float temperature;
        int32_t top_k;
        float top_p;
    } cases[] = {
        {"top_k 20, top_p 0.95, T 0.6", 0.6f, 20, 0.95f},
        {"top_p 0.95, T 0.6 (no top_k)", 0.6f, 0, 0.95f},
        {"plain sampling, T 1", 1.0f, 0, 1.0f},
        {"greedy", 0.0f, 0, 1.0f},
    };

    fill_random_logits(logits, VOCAB, 99, 10.0f);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qvk_sampling_params params = qvk_sampling_default_params();
        params.temperature = cases[c].temperature;
        params.top_k = cases[c].top_k;
        params.top_p = cases[c].top_p;
        params.repetition_penalty = 1.1f;
        qvk_sampler *s = make_sampler(params, VOCAB);
        double start;

        CHECK(s != NULL);
        if (!s)
            return;
        start = qvk_time_seconds();
        for (int i = 0; i < N; i++)
            CHECK(qvk_sampler_sample(s, logits) >= 0);
        printf("  %-32s %8.1f us/token (vocab %d)\n", cases[c].name,
               (qvk_time_seconds() - start) * 1e6 / N, VOCAB);
        qvk_sampler_destroy(s);
    }
}

int main(void)
{
    RUN_TEST(greedy_picks_argmax);
    RUN_TEST(top_k_one_equals_greedy);
    RUN_TEST(tiny_temperature_acts_greedy);
    RUN_TEST(top_k_keeps_k_best);
    RUN_TEST(top_p_cuts_tail);
    RUN_TEST(top_p_large_nucleus);
    RUN_TEST(top_p_matches_sorted_reference);
    RUN_TEST(min_p_cuts_tail);
    RUN_TEST(seed_fixes_sequence);
    RUN_TEST(temperature_matches_softmax);
    RUN_TEST(repetition_penalty_divides);
    RUN_TEST(repetition_penalty_negative_logit);
    RUN_TEST(presence_penalty_once);
    RUN_TEST(frequency_penalty_grows);
    RUN_TEST(logits_left_unchanged);
    RUN_TEST(masked_logits_never_drawn);
    RUN_TEST(invalid_params_rejected);
    RUN_TEST(speed_full_vocabulary);
    return test_finish();
}
