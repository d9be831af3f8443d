#include "engine/sampler.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One token that may still be drawn: its penalized logit and, once the temperature is applied,
 * its unnormalized probability exp((logit - max_logit) / temperature). That is 1 for the argmax
 * and at most 1 for every other token, so it cannot overflow. */
typedef struct candidate {
    int32_t id;
    float logit;
    float weight;
    int32_t bucket; /* used by select_nucleus only */
} candidate;

struct qvk_sampler {
    qvk_sampling_params params;
    int32_t vocab_size;

    float *logits;           /* scratch copy of the caller's row, penalized in place */
    candidate *candidates;   /* vocab_size entries */

    uint8_t *in_context;       /* per token: seen in the prompt or the generated text */
    int32_t *context_ids;      /* the distinct tokens with in_context set */
    size_t n_context_ids;
    uint32_t *generated_count; /* per token: occurrences in the generated text */
    int32_t *generated_ids;    /* the distinct tokens with generated_count > 0 */
    size_t n_generated_ids;

    uint64_t rng[4]; /* xoshiro256** state */
};

/* ---- Parameters -------------------------------------------------------------------------- */

qvk_sampling_params qvk_sampling_default_params(void)
{
    qvk_sampling_params params = {
        .temperature = 1.0f,
        .top_k = 0,
        .top_p = 1.0f,
        .min_p = 0.0f,
        .repetition_penalty = 1.0f,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = 0,
    };
    return params;
}

qvk_status qvk_sampling_params_validate(const qvk_sampling_params *params)
{
    if (!params)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "sampling params are NULL");
    if (!isfinite(params->temperature) || params->temperature < 0.0f)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid temperature %g: use 0 for greedy decoding or a positive value",
                         (double)params->temperature);
    if (params->top_k < 0)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid top_k %d: use 0 to disable it or a positive count",
                         (int)params->top_k);
    if (!(params->top_p > 0.0f && params->top_p <= 1.0f))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid top_p %g: must be in (0, 1], and 1 disables it",
                         (double)params->top_p);
    if (!(params->min_p >= 0.0f && params->min_p <= 1.0f))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid min_p %g: must be in [0, 1], and 0 disables it",
                         (double)params->min_p);
    if (!isfinite(params->repetition_penalty) || params->repetition_penalty <= 0.0f)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid repetition_penalty %g: must be positive, and 1 disables it",
                         (double)params->repetition_penalty);
    if (!isfinite(params->presence_penalty))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid presence_penalty %g: must be a finite number, and 0 disables it",
                         (double)params->presence_penalty);
    if (!isfinite(params->frequency_penalty))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid frequency_penalty %g: must be a finite number, and 0 disables "
                         "it",
                         (double)params->frequency_penalty);
    return QVK_OK;
}

/* ---- Random numbers: xoshiro256** seeded through splitmix64 ------------------------------- */

static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotate_left(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void rng_seed(uint64_t rng[4], uint64_t seed)
{
    /* splitmix64 spreads any seed, 0 included, over a state that is never all zero. */
    for (int i = 0; i < 4; i++)
        rng[i] = splitmix64_next(&seed);
}

static uint64_t rng_next(uint64_t rng[4])
{
    uint64_t result = rotate_left(rng[1] * 5, 7) * 9;
    uint64_t t = rng[1] << 17;

    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotate_left(rng[3], 45);
    return result;
}

/* A uniform double in [0, 1): the top 53 bits of one draw, a double's mantissa width. */
static double rng_uniform(uint64_t rng[4])
{
    return (double)(rng_next(rng) >> 11) * 0x1.0p-53;
}

/* ---- Create, destroy, context ------------------------------------------------------------ */

qvk_status qvk_sampler_create(const qvk_sampling_params *params, int32_t vocab_size,
                              qvk_sampler **out)
{
    qvk_status status;
    qvk_sampler *s;
    size_t n;

    if (!out)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_sampler_create: out is NULL");
    *out = NULL;
    status = qvk_sampling_params_validate(params);
    if (status != QVK_OK)
        return status;
    if (vocab_size <= 0)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT,
                         "invalid vocab_size %d for the sampler: must be positive",
                         (int)vocab_size);

    n = (size_t)vocab_size;
    s = calloc(1, sizeof(*s));
    if (!s)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory allocating the sampler");
    s->params = *params;
    s->vocab_size = vocab_size;
    s->logits = malloc(n * sizeof(*s->logits));
    s->candidates = malloc(n * sizeof(*s->candidates));
    s->in_context = calloc(n, sizeof(*s->in_context));
    s->context_ids = malloc(n * sizeof(*s->context_ids));
    s->generated_count = calloc(n, sizeof(*s->generated_count));
    s->generated_ids = malloc(n * sizeof(*s->generated_ids));
    if (!s->logits || !s->candidates || !s->in_context || !s->context_ids ||
        !s->generated_count || !s->generated_ids) {
        qvk_sampler_destroy(s);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY,
                         "out of memory allocating the sampler for %d tokens", (int)vocab_size);
    }
    rng_seed(s->rng, params->seed);
    *out = s;
    return QVK_OK;
}

void qvk_sampler_destroy(qvk_sampler *sampler)
{
    if (!sampler)
        return;
    free(sampler->logits);
    free(sampler->candidates);
    free(sampler->in_context);
    free(sampler->context_ids);
    free(sampler->generated_count);
    free(sampler->generated_ids);
    free(sampler);
}

static void add_to_context(qvk_sampler *s, int32_t id)
{
    if (!s->in_context[id]) {
        s->in_context[id] = 1;
        s->context_ids[s->n_context_ids++] = id;
    }
}

void qvk_sampler_accept_prompt(qvk_sampler *sampler, const int32_t *ids, size_t n_ids)
{
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] >= 0 && ids[i] < sampler->vocab_size)
            add_to_context(sampler, ids[i]);
    }
}

static void record_generated(qvk_sampler *s, int32_t id)
{
    add_to_context(s, id);
    if (s->generated_count[id]++ == 0)
        s->generated_ids[s->n_generated_ids++] = id;
}

void qvk_sampler_reset(qvk_sampler *sampler)
{
    /* Only the entries listed in the id arrays are set, so clearing them is cheaper than
     * clearing the whole vocabulary. */
    for (size_t i = 0; i < sampler->n_context_ids; i++)
        sampler->in_context[sampler->context_ids[i]] = 0;
    for (size_t i = 0; i < sampler->n_generated_ids; i++)
        sampler->generated_count[sampler->generated_ids[i]] = 0;
    sampler->n_context_ids = 0;
    sampler->n_generated_ids = 0;
    rng_seed(sampler->rng, sampler->params.seed);
}

/* ---- Penalties --------------------------------------------------------------------------- */

static void apply_penalties(qvk_sampler *s)
{
    const qvk_sampling_params *p = &s->params;

    if (p->repetition_penalty != 1.0f) {
        for (size_t i = 0; i < s->n_context_ids; i++) {
            float *logit = &s->logits[s->context_ids[i]];
            *logit = *logit > 0.0f ? *logit / p->repetition_penalty
                                   : *logit * p->repetition_penalty;
        }
    }
    if (p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f) {
        for (size_t i = 0; i < s->n_generated_ids; i++) {
            int32_t id = s->generated_ids[i];
            s->logits[id] -= p->frequency_penalty * (float)s->generated_count[id] +
                             p->presence_penalty;
        }
    }
}

/* ---- Candidate selection ----------------------------------------------------------------- */

/* The ranking of tokens: higher logit first, and the lower id first among equal logits, so
 * every selection and the greedy choice agree on ties. */
static int ranks_above(const candidate *a, const candidate *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void swap_candidates(candidate *a, candidate *b)
{
    candidate tmp = *a;
    *a = *b;
    *b = tmp;
}

/* Restore the heap below index i. The heap keeps its lowest-ranked entry at the root. */
static void heap_sift_down(candidate *heap, size_t n, size_t i)
{
    for (;;) {
        size_t lowest = i, left = 2 * i + 1, right = left + 1;

        if (left < n && ranks_above(&heap[lowest], &heap[left]))
            lowest = left;
        if (right < n && ranks_above(&heap[lowest], &heap[right]))
            lowest = right;
        if (lowest == i)
            return;
        swap_candidates(&heap[i], &heap[lowest]);
        i = lowest;
    }
}

/* Put the k highest-ranked finite tokens of logits into out, best first, and return how many
 * there are (fewer than k when the row has fewer tokens above -infinity). The heap of k
 * entries makes this O(vocab + hits * log k) instead of a sort of the whole row. */
static size_t select_top(const float *logits, int32_t vocab_size, size_t k, candidate *out)
{
    size_t n = 0;
    float worst_kept = -INFINITY; /* the root's logit once the heap is full */

    for (int32_t id = 0; id < vocab_size; id++) {
        candidate c = {id, logits[id], 0.0f, 0};

        /* Most tokens fall below the heap's worst entry: reject them before any other test. */
        if (c.logit == -INFINITY || c.logit < worst_kept)
            continue;
        if (n < k) {
            /* Sift up: the new entry rises while it ranks below its parent. */
            size_t i = n++;
            while (i > 0 && ranks_above(&out[(i - 1) / 2], &c)) {
                out[i] = out[(i - 1) / 2];
                i = (i - 1) / 2;
            }
            out[i] = c;
        } else if (ranks_above(&c, &out[0])) {
            out[0] = c;
            heap_sift_down(out, n, 0);
        } else {
            continue;
        }
        if (n == k)
            worst_kept = out[0].logit;
    }

    /* Heap sort: moving the lowest-ranked root to the end each time leaves the best first. */
    for (size_t end = n; end > 1; end--) {
        swap_candidates(&out[0], &out[end - 1]);
        heap_sift_down(out, end - 1, 0);
    }
    return n;
}

/* Set each candidate's weight exp((logit - max_logit) / temperature) and return their sum. */
static double weigh_candidates(candidate *c, size_t n, float max_logit, float temperature)
{
    double total = 0.0;

    for (size_t i = 0; i < n; i++) {
        c[i].weight = expf((c[i].logit - max_logit) / temperature);
        total += c[i].weight;
    }
    return total;
}

/* Return how many leading candidates (sorted best first) form the top_p nucleus of a
 * distribution whose weights sum to total. A token is kept when the mass ranked above it is
 * below top_p. This keeps the smallest prefix whose mass reaches top_p, as Hugging Face's
 * TopPLogitsWarper does. */
static size_t nucleus_size(const candidate *c, size_t n, double total, float top_p)
{
    double mass_above = 0.0, limit = (double)top_p * total;

    for (size_t i = 0; i < n; i++) {
        mass_above += c[i].weight;
        if (mass_above >= limit)
            return i + 1;
    }
    return n; /* only reached when rounding leaves the full sum just short of the limit */
}

/* Bucketing of the nucleus search without top_k. A token's bucket is its distance below the
 * best token in nats, (max_logit - logit) / temperature = -ln(weight), in steps of
 * 1 / NUCLEUS_BUCKETS_PER_NAT; the last bucket gathers every token further down. Higher logits
 * never land in a later bucket, so whole buckets are ranked against each other. */
enum { NUCLEUS_BUCKETS_PER_NAT = 32, NUCLEUS_BUCKETS = 32 * NUCLEUS_BUCKETS_PER_NAT + 1 };

static int compare_rank(const void *a, const void *b)
{
    if (ranks_above(a, b))
        return -1;
    return ranks_above(b, a) ? 1 : 0;
}

/* Weigh every finite token into s->candidates and sum the weights per bucket; returns the
 * candidate count and sets *total to the sum of all weights. */
static size_t weigh_all_bucketed(qvk_sampler *s, float max_logit, double *mass, double *total)
{
    const float temperature = s->params.temperature;
    size_t n = 0;

    *total = 0.0;
    for (int32_t id = 0; id < s->vocab_size; id++) {
        candidate *c = &s->candidates[n];
        float distance;

        if (s->logits[id] == -INFINITY)
            continue;
        c->id = id;
        c->logit = s->logits[id];
        c->weight = expf((c->logit - max_logit) / temperature);
        /* Divide before multiplying: 32 / temperature overflows for a tiny temperature. */
        distance = (max_logit - c->logit) / temperature * NUCLEUS_BUCKETS_PER_NAT;
        c->bucket = distance < (float)(NUCLEUS_BUCKETS - 1) ? (int32_t)distance
                                                            : NUCLEUS_BUCKETS - 1;
        mass[c->bucket] += c->weight;
        *total += c->weight;
        n++;
    }
    return n;
}

/* Select the top_p nucleus without top_k and without sorting the row. Walking the buckets from
 * the best, the first one whose cumulative mass reaches top_p is the boundary. Tokens in
 * earlier buckets are all in the nucleus and those in later ones all out, so only the boundary
 * bucket is sorted to find the exact cut. Returns the nucleus size; the kept candidates end up
 * at the front in no particular order, which is all the draw needs. */
static size_t select_nucleus(qvk_sampler *s, float max_logit)
{
    double mass[NUCLEUS_BUCKETS] = {0}, total, limit, mass_above = 0.0;
    size_t n, low = 0, middle = 0, high;
    int32_t boundary = 0;
    candidate *c = s->candidates;

    n = weigh_all_bucketed(s, max_logit, mass, &total);
    limit = (double)s->params.top_p * total;
    while (boundary < NUCLEUS_BUCKETS - 1 && mass_above + mass[boundary] < limit)
        mass_above += mass[boundary++];

    /* Three-way partition in one pass: earlier buckets go to [0, low), the boundary bucket to
     * [low, middle), later buckets to [high, n). */
    high = n;
    while (middle < high) {
        if (c[middle].bucket < boundary)
            swap_candidates(&c[low++], &c[middle++]);
        else if (c[middle].bucket == boundary)
            middle++;
        else
            swap_candidates(&c[middle], &c[--high]);
    }

    /* Within the boundary bucket, keep tokens in rank order while the mass ranked above them is
     * short of top_p. The first one always stays: the earlier buckets' mass is below it. */
    qsort(c + low, middle - low, sizeof(candidate), compare_rank);
    for (size_t i = low; i < middle; i++) {
        if (i > low && mass_above >= limit)
            return i;
        mass_above += c[i].weight;
    }
    return middle;
}

/* Every finite token in id order, for sampling with neither top_k nor top_p. */
static size_t select_all(qvk_sampler *s, float max_logit)
{
    size_t n = 0;

    for (int32_t id = 0; id < s->vocab_size; id++) {
        if (s->logits[id] != -INFINITY) {
            s->candidates[n].id = id;
            s->candidates[n].logit = s->logits[id];
            n++;
        }
    }
    weigh_candidates(s->candidates, n, max_logit, s->params.temperature);
    return n;
}

/* Drop candidates with p < min_p * p_max. A weight is p / p_max, so the test is weight >= min_p,
 * and it does not depend on the renormalization after top_k and top_p. */
static size_t apply_min_p(candidate *c, size_t n, float min_p)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (c[i].weight >= min_p)
            c[kept++] = c[i];
    }
    return kept;
}

/* ---- Sampling ---------------------------------------------------------------------------- */

/* The id of the highest logit, the lowest id among equal ones; -1 when all are -infinity.
 * The max is found first with 8 independent running maxima, which the compiler can keep in
 * one vector register (a single running max is a serial chain of dependent compares), then a
 * second pass finds its first position. */
static int32_t argmax(const float *logits, int32_t vocab_size)
{
    float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                      -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    float max_logit = -INFINITY;
    int32_t id = 0;

    for (; id + 8 <= vocab_size; id += 8) {
        for (int lane = 0; lane < 8; lane++)
            lanes[lane] = logits[id + lane] > lanes[lane] ? logits[id + lane] : lanes[lane];
    }
    for (; id < vocab_size; id++)
        max_logit = logits[id] > max_logit ? logits[id] : max_logit;
    for (int lane = 0; lane < 8; lane++)
        max_logit = lanes[lane] > max_logit ? lanes[lane] : max_logit;

    if (max_logit == -INFINITY)
        return -1;
    for (id = 0; logits[id] != max_logit; id++)
        ;
    return id;
}

/* Draw one candidate with probability weight / sum of weights. */
static int32_t draw(uint64_t rng[4], const candidate *c, size_t n)
{
    double total = 0.0, target, cumulative = 0.0;

    for (size_t i = 0; i < n; i++)
        total += c[i].weight;
    target = rng_uniform(rng) * total;
    for (size_t i = 0; i < n; i++) {
        cumulative += c[i].weight;
        if (target < cumulative)
            return c[i].id;
    }
    return c[n - 1].id; /* target fell on the rounding error of the last sum */
}

int32_t qvk_sampler_sample(qvk_sampler *s, const float *logits)
{
    const qvk_sampling_params *p = &s->params;
    int32_t best, token;
    size_t n;

    for (int32_t id = 0; id < s->vocab_size; id++)
        s->logits[id] = isnan(logits[id]) ? -INFINITY : logits[id];
    apply_penalties(s);

    best = argmax(s->logits, s->vocab_size);
    if (best < 0) {
        qvk_error(QVK_ERR_INVALID_ARGUMENT,
                  "cannot sample: all %d logits are -infinity or NaN", (int)s->vocab_size);
        return -1;
    }
    /* Greedy decoding, top_k 1 and a +infinity logit all leave only the argmax. */
    if (p->temperature == 0.0f || p->top_k == 1 || s->logits[best] == INFINITY) {
        record_generated(s, best);
        return best;
    }

    if (p->top_k > 0 && p->top_k < s->vocab_size) {
        n = select_top(s->logits, s->vocab_size, (size_t)p->top_k, s->candidates);
        double total = weigh_candidates(s->candidates, n, s->logits[best], p->temperature);
        if (p->top_p < 1.0f)
            n = nucleus_size(s->candidates, n, total, p->top_p);
    } else if (p->top_p < 1.0f) {
        n = select_nucleus(s, s->logits[best]);
    } else {
        n = select_all(s, s->logits[best]);
    }
    if (p->min_p > 0.0f)
        n = apply_min_p(s->candidates, n, p->min_p); /* the argmax, weight 1, always stays */

    token = draw(s->rng, s->candidates, n);
    record_generated(s, token);
    return token;
}
