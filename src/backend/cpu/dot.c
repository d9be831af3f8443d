/* Dot products of float32 activations with weight rows, and the widening of weight rows to
 * float32, with the SIMD width picked at run time: AVX2+FMA(+F16C) on x86-64 when the CPU has it,
 * NEON on arm64, portable C otherwise. All sums are float32, and the vector paths keep 8 to 32
 * partial sums and add them at the end. Defining QWEN3VK_CPU_PORTABLE at build time forces the
 * portable code, and QWEN3VK_CPU_NO_AVX512 the AVX2 code, to test them on a machine with more. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(QWEN3VK_CPU_PORTABLE)
#include <immintrin.h>
#define QVK_X86_DISPATCH 1
#elif defined(__aarch64__) && !defined(QWEN3VK_CPU_PORTABLE)
#include <arm_neon.h>
#define QVK_NEON 1
#endif

/* How far ahead of the FMAs the four-row dot products prefetch each weight row. The hardware
 * prefetcher alone leaves a core's memory streams partly idle: on a 2-core Xeon VM, decode-shaped
 * matmuls over a memory-mapped model read about 10% faster with 0.5-1 KiB of prefetch than with
 * none or with 2 KiB. */
#define PREFETCH_BYTES 1024

static inline float weight_at(const void *row, int64_t i, qvk_dtype dtype)
{
    switch (dtype) {
    case QVK_DTYPE_BF16: return qvk_bf16_to_f32(((const uint16_t *)row)[i]);
    case QVK_DTYPE_F16: return qvk_f16_to_f32(((const uint16_t *)row)[i]);
    case QVK_DTYPE_F32: break;
    }
    return ((const float *)row)[i];
}

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

/* Eight weights of type dtype widened to float32. Every caller passes a constant dtype, so each
 * compiles to straight-line code for one format. */
AVX2_TARGET static inline __m256 load_weights8(const void *w, int64_t i, qvk_dtype dtype)
{
    switch (dtype) {
    case QVK_DTYPE_BF16: return load_bf16((const uint16_t *)w + i);
    case QVK_DTYPE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
    case QVK_DTYPE_F32: break;
    }
    return _mm256_loadu_ps((const float *)w + i);
}

/* Four weight rows against one vector: x is loaded once for all four rows, and the four rows are
 * four memory streams in flight, each prefetched PREFETCH_BYTES ahead. */
AVX2_TARGET __attribute__((always_inline)) static inline void
dot4_avx2(const float *x, const void *w, int64_t row_stride, int64_t n, qvk_dtype dtype,
          float out[4])
{
    const char *rows[4];
    __m256 a[4], b[4];
    size_t element = qvk_dtype_size(dtype);
    int64_t i = 0;

    for (int j = 0; j < 4; j++) {
        rows[j] = (const char *)w + (size_t)(j * row_stride) * element;
        a[j] = b[j] = _mm256_setzero_ps();
    }
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        for (int j = 0; j < 4; j++) {
            _mm_prefetch(rows[j] + (size_t)i * element + PREFETCH_BYTES, _MM_HINT_T0);
            a[j] = _mm256_fmadd_ps(x0, load_weights8(rows[j], i, dtype), a[j]);
            b[j] = _mm256_fmadd_ps(x1, load_weights8(rows[j], i + 8, dtype), b[j]);
        }
    }
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 4; j++)
            a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load_weights8(rows[j], i, dtype), a[j]);
    for (int j = 0; j < 4; j++) {
        float sum = horizontal_sum(_mm256_add_ps(a[j], b[j]));
        for (int64_t t = i; t < n; t++)
            sum += x[t] * weight_at(rows[j], t, dtype);
        out[j] = sum;
    }
}

AVX2_TARGET static void dot4_bf16_avx2(const float *x, const uint16_t *w, int64_t stride, int64_t n,
                                       float out[4])
{
    dot4_avx2(x, w, stride, n, QVK_DTYPE_BF16, out);
}

AVX2_TARGET static void dot4_f16_avx2(const float *x, const uint16_t *w, int64_t stride, int64_t n,
                                      float out[4])
{
    dot4_avx2(x, w, stride, n, QVK_DTYPE_F16, out);
}

AVX2_TARGET static void dot4_f32_avx2(const float *x, const float *w, int64_t stride, int64_t n,
                                      float out[4])
{
    dot4_avx2(x, w, stride, n, QVK_DTYPE_F32, out);
}

AVX2_TARGET static void widen_avx2(const uint16_t *in, int64_t n, qvk_dtype dtype, float *out)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, load_weights8(in, i, dtype));
    for (; i < n; i++)
        out[i] = weight_at(in, i, dtype);
}

/* The feature checks run once. Threads that race to the first call store the same value, and the
 * atomics make that race well defined. */
static int has_avx2(void)
{
    static atomic_int cached = -1;
    int value = atomic_load_explicit(&cached, memory_order_relaxed);
    if (value < 0) {
        __builtin_cpu_init();
        value = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                __builtin_cpu_supports("f16c");
        atomic_store_explicit(&cached, value, memory_order_relaxed);
    }
    return value;
}

/* AVX-512 F is used by the matmul micro-kernel only; the dot products stay 256 bits wide because
 * they are bound by memory bandwidth, not arithmetic. */
static int has_avx512(void)
{
    static atomic_int cached = -1;
    int value = atomic_load_explicit(&cached, memory_order_relaxed);
    if (value < 0) {
        __builtin_cpu_init();
#ifdef QWEN3VK_CPU_NO_AVX512
        value = 0;
#else
        value = __builtin_cpu_supports("avx512f");
#endif
        atomic_store_explicit(&cached, value, memory_order_relaxed);
    }
    return value;
}
#endif

#ifdef QVK_NEON
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
#elif defined(QVK_NEON)
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
#elif defined(QVK_NEON)
    return dot_f32_neon(x, w, n);
#endif
    return dot_f32_portable(x, w, n);
}

const char *qvk_cpu_simd_name(void)
{
    switch (qvk_cpu_simd_level()) {
    case QVK_CPU_SIMD_AVX2: return "avx2+fma";
    case QVK_CPU_SIMD_AVX512: return "avx512+avx2+fma";
    case QVK_CPU_SIMD_NEON: return "neon";
    case QVK_CPU_SIMD_PORTABLE: break;
    }
    return "portable";
}

/* Four single dot products: the portable and NEON path of the four-row kernels. */
static void dot4_rows(const float *x, const void *w, int64_t row_stride, int64_t n, qvk_dtype dtype,
                      float out[4])
{
    size_t row_bytes = (size_t)row_stride * qvk_dtype_size(dtype);
    for (int j = 0; j < 4; j++) {
        const void *row = (const char *)w + (size_t)j * row_bytes;
        switch (dtype) {
        case QVK_DTYPE_BF16: out[j] = qvk_dot_f32_bf16(x, row, n); break;
        case QVK_DTYPE_F16: out[j] = qvk_dot_f32_f16(x, row, n); break;
        case QVK_DTYPE_F32: out[j] = qvk_dot_f32_f32(x, row, n); break;
        }
    }
}

void qvk_dot4(const float *x, const void *w, qvk_dtype dtype, int64_t row_stride, int64_t n,
              float out[4])
{
#ifdef QVK_X86_DISPATCH
    if (has_avx2()) {
        switch (dtype) {
        case QVK_DTYPE_BF16: dot4_bf16_avx2(x, w, row_stride, n, out); return;
        case QVK_DTYPE_F16: dot4_f16_avx2(x, w, row_stride, n, out); return;
        case QVK_DTYPE_F32: dot4_f32_avx2(x, w, row_stride, n, out); return;
        }
    }
#endif
    dot4_rows(x, w, row_stride, n, dtype, out);
}

void qvk_widen_f32(const void *in, qvk_dtype dtype, int64_t n, float *out)
{
    if (dtype == QVK_DTYPE_F32) {
        memcpy(out, in, (size_t)n * sizeof(float));
        return;
    }
#ifdef QVK_X86_DISPATCH
    if (has_avx2()) {
        widen_avx2(in, n, dtype, out);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        out[i] = weight_at(in, i, dtype);
}

qvk_cpu_simd qvk_cpu_simd_level(void)
{
#ifdef QVK_X86_DISPATCH
    if (!has_avx2())
        return QVK_CPU_SIMD_PORTABLE;
    return has_avx512() ? QVK_CPU_SIMD_AVX512 : QVK_CPU_SIMD_AVX2;
#elif defined(QVK_NEON)
    return QVK_CPU_SIMD_NEON;
#else
    return QVK_CPU_SIMD_PORTABLE;
#endif
}
