/* Dot products of float32 activations with weight rows, with the SIMD width picked at run time:
 * AVX2+FMA(+F16C) on x86-64 when the CPU has it, NEON on arm64, portable C otherwise. All sums
 * are float32; the vector paths keep 8 to 32 partial sums and add them at the end. */
#include <stdint.h>

#include "backend/cpu/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QVK_X86_DISPATCH 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

static float dot_bf16_portable(const float *x, const uint16_t *w, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i] * qvk_bf16_to_f32(w[i]);
    return sum;
}

static float dot_f16_portable(const float *x, const uint16_t *w, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i] * qvk_f16_to_f32(w[i]);
    return sum;
}

static float dot_f32_portable(const float *x, const float *w, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i] * w[i];
    return sum;
}

#ifdef QVK_X86_DISPATCH
#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static float horizontal_sum(__m256 v)
{
    __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
    __m128 sum = _mm_add_ps(low, high);
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
}

/* bf16 is the upper half of a float32: widen each 16-bit lane and shift it up. */
AVX2_TARGET static inline __m256 load_bf16(const uint16_t *w)
{
    __m128i half = _mm_loadu_si128((const __m128i *)w);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

AVX2_TARGET static float dot_bf16_avx2(const float *x, const uint16_t *w, int64_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_bf16(w + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load_bf16(w + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), load_bf16(w + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), load_bf16(w + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_bf16(w + i), a0);
    float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    return sum + dot_bf16_portable(x + i, w + i, n - i);
}

AVX2_TARGET static float dot_f16_avx2(const float *x, const uint16_t *w, int64_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), w0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), w1, a1);
    }
    float sum = horizontal_sum(_mm256_add_ps(a0, a1));
    return sum + dot_f16_portable(x + i, w + i, n - i);
}

AVX2_TARGET static float dot_f32_avx2(const float *x, const float *w, int64_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(w + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(w + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(w + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
    float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    return sum + dot_f32_portable(x + i, w + i, n - i);
}

static int has_avx2(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                 __builtin_cpu_supports("f16c");
    }
    return cached;
}
#endif

#if defined(__aarch64__)
static float dot_bf16_neon(const float *x, const uint16_t *w, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t raw = vld1q_u16(w + i);
        float32x4_t w0 = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(raw), 16));
        float32x4_t w1 = vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(raw), 16));
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), w0);
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), w1);
    }
    return vaddvq_f32(vaddq_f32(a0, a1)) + dot_bf16_portable(x + i, w + i, n - i);
}

static float dot_f32_neon(const float *x, const float *w, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(w + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), vld1q_f32(w + i + 4));
    }
    return vaddvq_f32(vaddq_f32(a0, a1)) + dot_f32_portable(x + i, w + i, n - i);
}
#endif

float qvk_dot_f32_bf16(const float *x, const uint16_t *w, int64_t n)
{
#ifdef QVK_X86_DISPATCH
    if (has_avx2())
        return dot_bf16_avx2(x, w, n);
#elif defined(__aarch64__)
    return dot_bf16_neon(x, w, n);
#endif
    return dot_bf16_portable(x, w, n);
}

float qvk_dot_f32_f16(const float *x, const uint16_t *w, int64_t n)
{
#ifdef QVK_X86_DISPATCH
    if (has_avx2())
        return dot_f16_avx2(x, w, n);
#endif
    return dot_f16_portable(x, w, n);
}

float qvk_dot_f32_f32(const float *x, const float *w, int64_t n)
{
#ifdef QVK_X86_DISPATCH
    if (has_avx2())
        return dot_f32_avx2(x, w, n);
#elif defined(__aarch64__)
    return dot_f32_neon(x, w, n);
#endif
    return dot_f32_portable(x, w, n);
}

const char *qvk_cpu_simd_name(void)
{
#ifdef QVK_X86_DISPATCH
    return has_avx2() ? "avx2+fma" : "portable";
#elif defined(__aarch64__)
    return "neon";
#else
    return "portable";
#endif
}
