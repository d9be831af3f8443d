/* Token sampler: turns one row of logits into a token id.
 *
 * The steps run in the order of Hugging Face transformers and vLLM:
 *   1. penalties: repetition (over prompt and generated tokens), then frequency and presence
 *      (over generated tokens only);
 *   2. temperature (0 selects greedy decoding: the argmax, lowest id on ties);
 *   3. top_k, 4. top_p, 5. min_p;
 *   6. softmax over the surviving candidates and a draw from a seeded xoshiro256** generator.
 *
 * The caller's logits are never modified. The sampler is not thread-safe: use one per sequence.
 *
 * Cost per token: a copy of the row and a few passes over it, and no sort of the whole row.
 * top_k selects its candidates with a heap of k entries. top_p without top_k sums the
 * probability mass in buckets of logit distance and sorts only the bucket where the nucleus
 * ends.
 */
#ifndef QWEN3VK_ENGINE_SAMPLER_H
#define QWEN3VK_ENGINE_SAMPLER_H

#include "qwen3vk.h"

typedef struct qvk_sampling_params {
    float temperature;        /* 0: greedy; must be >= 0 */
    int32_t top_k;            /* 0: off; must be >= 0; values >= vocab_size also mean off */
    float top_p;              /* 1: off; must be in (0, 1] */
    float min_p;              /* 0: off; keep tokens with p >= min_p * p_max; must be in [0, 1] */
    float repetition_penalty; /* 1: off; must be > 0. As in Hugging Face: a logit l of every token
                                 in the prompt or the generated text becomes l / penalty when
                                 l > 0, else l * penalty */
    float presence_penalty;   /* 0: off; as in the OpenAI API: subtracted once from the logit of
                                 every token that appeared in the generated text */
    float frequency_penalty;  /* 0: off; subtracted count times, where count is how often the
                                 token appeared in the generated text */
    uint64_t seed;            /* seed of the generator; equal seeds give equal draws */
} qvk_sampling_params;

typedef struct qvk_sampler qvk_sampler;

/* Temperature 1, top_k 0, top_p 1, min_p 0, penalties off, seed 0: plain sampling from the
 * model's distribution. */
qvk_sampling_params qvk_sampling_default_params(void);

/* Check every field; on failure the message names the field, its value and the valid range. */
qvk_status qvk_sampling_params_validate(const qvk_sampling_params *params);

/* Allocate a sampler for rows of vocab_size logits; the params are validated and copied. */
qvk_status qvk_sampler_create(const qvk_sampling_params *params, int32_t vocab_size,
                              qvk_sampler **out);
void qvk_sampler_destroy(qvk_sampler *sampler);

/* Add prompt tokens to the context seen by the repetition penalty. Ids outside the vocabulary
 * are ignored (they cannot be penalized). */
void qvk_sampler_accept_prompt(qvk_sampler *sampler, const int32_t *ids, size_t n_ids);

/* Draw the next token from logits (vocab_size floats) and record it as generated, so the
 * penalties of later calls count it. NaN logits are treated as -infinity. Returns -1, with a
 * message for qvk_last_error(), when no logit is above -infinity; nothing is recorded then. */
int32_t qvk_sampler_sample(qvk_sampler *sampler, const float *logits);

/* Forget the prompt and the generated tokens, and reseed the generator with params.seed, so a
 * reset sampler repeats its earlier draws for the same logits. */
void qvk_sampler_reset(qvk_sampler *sampler);

#endif
