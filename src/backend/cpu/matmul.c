/* The matrix multiply of the CPU backend, out = x · wᵀ, in two shapes.
 *
 * Few token rows (decode): the multiply is bound by memory bandwidth, because each weight is
 * read from memory for one to a few multiply-adds. Threads claim chunks of DECODE_CHUNK outputs
 * from a shared counter, and qvk_dot4 streams four weight rows at a time against each token row.
 *
 * Many token rows (prompt processing): the multiply is bound by arithmetic, and it is blocked
 * in the manner of GotoBLAS. Each thread owns a range of outputs. For each chunk of up to
 * CHUNK_ROWS token rows and each block of up to BLOCK_K inputs, the thread transposes the
 * activations into tiles of tile.rows rows stored k-major. For each panel of tile.cols outputs it
 * widens the weights to float32 once. The micro-kernel then keeps a tile.rows × tile.cols block
 * of sums in registers. For every k it loads one vector of rows from the tile and broadcasts one
 * weight per output. So each weight is converted once per chunk of rows, every operand of the
 * multiply-adds comes from L1 or L2, and the sums need no horizontal adds.
 *
 * Both shapes sum in float32. The blocked shape adds the k-blocks' partial sums in order, and
 * within a block each output is one sequential sum. */
#include <stdatomic.h>
#include <string.h>

#include "backend/cpu/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(QWEN3VK_CPU_PORTABLE)
#include <immintrin.h>
#define QVK_X86_KERNELS 1
#endif

/* Token rows below this count take the decode shape. Measured with 2 threads on Qwen3-4B shapes,
 * the blocked shape was 2-4 times slower at 2 and 4 rows (a tile of 16 or 32 rows is then mostly
 * padding) and about as fast at 8 rows. */
#define GEMM_MIN_ROWS 8
/* Outputs that a thread claims at a time in the decode shape. Claiming small chunks from a shared
 * counter, rather than a fixed half each, keeps both threads busy to the end when one of them
 * loses its core to another process for a while. A chunk is 320 KiB of weights at 2560 bf16
 * inputs, so the cost of the claim is negligible. */
#define DECODE_CHUNK 64
/* Token rows per chunk and inputs per block, at most. The transposed activations (up to
 * CHUNK_ROWS × BLOCK_K floats, 512 KiB) and a widened weight panel (tile.cols × BLOCK_K floats,
 * up to 96 KiB) stay in L2 while every panel of the thread's outputs passes over them. Blocks of
 * 2048 inputs ran 5-10% faster than blocks of 512 or 1024 with AVX-512 on a Xeon (64 rows,
 * Qwen3-4B shapes, bench/bench_matmul), because each block ends with a scalar write-back. */
#define CHUNK_ROWS 64
#define BLOCK_K 2048

/* tile[j × rows + i] = Σ_{p<k} w[j × w_stride + p] · xt[p × rows + i] for j < cols, i < rows. */
typedef void (*gemm_kernel_fn)(const float *xt, const float *w, int64_t w_stride, int64_t k,
                               float *tile);

typedef struct gemm_kernel {
    int32_t rows;
    int32_t cols;
    gemm_kernel_fn run;
} gemm_kernel;

#define PORTABLE_ROWS 16
#define PORTABLE_COLS 6

/* Plain C, written so that compilers vectorize the loop over rows (NEON, SSE2). */
static void gemm_tile_portable(const float *xt, const float *w, int64_t w_stride, int64_t k,
                               float *tile)
{
    float sums[PORTABLE_COLS][PORTABLE_ROWS] = { { 0 } };
    for (int64_t p = 0; p < k; p++) {
        const float *x = xt + p * PORTABLE_ROWS;
        for (int j = 0; j < PORTABLE_COLS; j++) {
            float weight = w[j * w_stride + p];
            for (int i = 0; i < PORTABLE_ROWS; i++)
                sums[j][i] += weight * x[i];
        }
    }
    memcpy(tile, sums, sizeof(sums));
}

#ifdef QVK_X86_KERNELS
/* 16 rows × 6 outputs: 12 accumulators of 8 lanes. Per k, 2 loads, 6 broadcasts and 12 FMAs,
 * so the two FMA ports set the pace. */
__attribute__((target("avx2,fma")))
static void gemm_tile_avx2(const float *xt, const float *w, int64_t w_stride, int64_t k,
                           float *tile)
{
    __m256 sums[6][2];
    for (int j = 0; j < 6; j++)
        sums[j][0] = sums[j][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m256 x0 = _mm256_load_ps(xt + p * 16), x1 = _mm256_load_ps(xt + p * 16 + 8);
        for (int j = 0; j < 6; j++) {
            __m256 weight = _mm256_broadcast_ss(w + j * w_stride + p);
            sums[j][0] = _mm256_fmadd_ps(weight, x0, sums[j][0]);
            sums[j][1] = _mm256_fmadd_ps(weight, x1, sums[j][1]);
        }
    }
    for (int j = 0; j < 6; j++) {
        _mm256_store_ps(tile + j * 16, sums[j][0]);
        _mm256_store_ps(tile + j * 16 + 8, sums[j][1]);
    }
}

/* 32 rows × 12 outputs: 24 accumulators of 16 lanes out of the 32 registers. Per k, 2 loads,
 * 12 broadcasts and 24 FMAs. */
__attribute__((target("avx512f")))
static void gemm_tile_avx512(const float *xt, const float *w, int64_t w_stride, int64_t k,
                             float *tile)
{
    __m512 sums[12][2];
    for (int j = 0; j < 12; j++)
        sums[j][0] = sums[j][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m512 x0 = _mm512_load_ps(xt + p * 32), x1 = _mm512_load_ps(xt + p * 32 + 16);
        for (int j = 0; j < 12; j++) {
            __m512 weight = _mm512_set1_ps(w[j * w_stride + p]);
            sums[j][0] = _mm512_fmadd_ps(weight, x0, sums[j][0]);
            sums[j][1] = _mm512_fmadd_ps(weight, x1, sums[j][1]);
        }
    }
    for (int j = 0; j < 12; j++) {
        _mm512_store_ps(tile + j * 32, sums[j][0]);
        _mm512_store_ps(tile + j * 32 + 16, sums[j][1]);
    }
}
#endif

static gemm_kernel select_gemm_kernel(void)
{
    switch (qvk_cpu_simd_level()) {
#ifdef QVK_X86_KERNELS
    case QVK_CPU_SIMD_AVX512: return (gemm_kernel){ 32, 12, gemm_tile_avx512 };
    case QVK_CPU_SIMD_AVX2: return (gemm_kernel){ 16, 6, gemm_tile_avx2 };
#endif
    default: break;
    }
    return (gemm_kernel){ PORTABLE_ROWS, PORTABLE_COLS, gemm_tile_portable };
}

typedef struct matmul_task {
    qvk_threadpool *pool;
    const float *x;
    int32_t n_rows;
    const qvk_tensor *w;
    bool accumulate;
    float *out;
    gemm_kernel kernel;
    atomic_int_fast64_t next_chunk; /* the decode shape's next unclaimed chunk of outputs */
} matmul_task;

static void store_output(const matmul_task *task, int64_t row, int64_t col, float value, bool add)
{
    float *target = task->out + row * qvk_tensor_rows(task->w) + col;
    *target = add ? *target + value : value;
}

/* ---- Decode shape ---- */

/* Outputs [begin, end) four at a time, then the remaining ones singly. */
static void matmul_rows_run(const matmul_task *task, int64_t begin, int64_t end)
{
    const qvk_tensor *w = task->w;
    int64_t n_in = qvk_tensor_cols(w);
    size_t row_bytes = (size_t)n_in * qvk_dtype_size(w->dtype);

    for (int64_t o = begin; o < end; o += 4) {
        const char *rows = (const char *)w->data + (size_t)o * row_bytes;
        int64_t n_cols = end - o < 4 ? end - o : 4;
        for (int32_t r = 0; r < task->n_rows; r++) {
            const float *x = task->x + (size_t)r * (size_t)n_in;
            float sums[4];
            if (n_cols == 4) {
                qvk_dot4(x, rows, w->dtype, n_in, n_in, sums);
            } else {
                for (int64_t j = 0; j < n_cols; j++) {
                    const void *row = rows + (size_t)j * row_bytes;
                    sums[j] = w->dtype == QVK_DTYPE_BF16 ? qvk_dot_f32_bf16(x, row, n_in)
                            : w->dtype == QVK_DTYPE_F16 ? qvk_dot_f32_f16(x, row, n_in)
                            : qvk_dot_f32_f32(x, row, n_in);
                }
            }
            for (int64_t j = 0; j < n_cols; j++)
                store_output(task, r, o + j, sums[j], task->accumulate);
        }
    }
}

/* ---- Blocked shape ---- */

/* xt[t][p][i] = x[t × rows + i][p] for the n_rows rows of the chunk, zero for the padding rows
 * up to a whole number of tiles. */
static void transpose_chunk(const float *x, int64_t x_stride, int32_t n_rows, int64_t k,
                            int32_t rows, float *xt)
{
    int32_t n_tiles = (n_rows + rows - 1) / rows;
    for (int32_t t = 0; t < n_tiles; t++) {
        float *tile = xt + (size_t)t * (size_t)k * (size_t)rows;
        for (int32_t i = 0; i < rows; i++) {
            int32_t r = t * rows + i;
            const float *row = x + (size_t)r * (size_t)x_stride;
            if (r < n_rows)
                for (int64_t p = 0; p < k; p++)
                    tile[p * rows + i] = row[p];
            else
                for (int64_t p = 0; p < k; p++)
                    tile[p * rows + i] = 0.0f;
        }
    }
}

/* The weights of outputs o .. o + n_cols - 1, inputs k0 .. k0 + k - 1, as float32 rows of
 * *stride floats: in place for full float32 panels, else widened into panel with zero rows up
 * to the kernel's width. */
static const float *weight_panel(const qvk_tensor *w, int64_t o, int32_t n_cols, int32_t cols,
                                 int64_t k0, int64_t k, float *panel, int64_t *stride)
{
    int64_t n_in = qvk_tensor_cols(w);
    size_t element = qvk_dtype_size(w->dtype);

    if (w->dtype == QVK_DTYPE_F32 && n_cols == cols) {
        *stride = n_in;
        return (const float *)w->data + o * n_in + k0;
    }
    for (int32_t j = 0; j < cols; j++) {
        if (j < n_cols)
            qvk_widen_f32((const char *)w->data + ((size_t)(o + j) * (size_t)n_in + (size_t)k0) *
                          element, w->dtype, k, panel + (size_t)j * (size_t)k);
        else
            memset(panel + (size_t)j * (size_t)k, 0, (size_t)k * sizeof(float));
    }
    *stride = k;
    return panel;
}

/* Prefetch into L2 the weights of the next panel (rows o .. o + n_cols - 1, inputs k0 .. k0 + k - 1)
 * while the current panel is computed. The hardware prefetchers do not follow the jump from one
 * panel to the next, because its rows are 1-20 KiB apart. */
static void prefetch_panel(const qvk_tensor *w, int64_t o, int32_t n_cols, int64_t k0, int64_t k)
{
#ifdef QVK_X86_KERNELS
    size_t element = qvk_dtype_size(w->dtype), n_in = (size_t)qvk_tensor_cols(w);
    for (int32_t j = 0; j < n_cols; j++) {
        const char *row = (const char *)w->data + ((size_t)(o + j) * n_in + (size_t)k0) * element;
        for (size_t byte = 0; byte < (size_t)k * element; byte += 64)
            _mm_prefetch(row + byte, _MM_HINT_T1);
    }
#else
    (void)w, (void)o, (void)n_cols, (void)k0, (void)k;
#endif
}

/* out[r0 + i][o + j] (+)= tile[j × rows + i] for the valid rows and outputs of a tile. */
static void store_tile(const matmul_task *task, const float *tile, int32_t rows, int32_t r0,
                       int32_t n_rows, int64_t o, int32_t n_cols, bool add)
{
    int64_t n_out = qvk_tensor_rows(task->w);
    for (int32_t i = 0; i < n_rows; i++) {
        float *target = task->out + (size_t)(r0 + i) * (size_t)n_out + (size_t)o;
        if (add)
            for (int32_t j = 0; j < n_cols; j++)
                target[j] += tile[j * rows + i];
        else
            for (int32_t j = 0; j < n_cols; j++)
                target[j] = tile[j * rows + i];
    }
}

/* One chunk of token rows against one block of inputs, for outputs [begin, end). */
static void gemm_block(const matmul_task *task, float *scratch, int32_t r0, int32_t n_rows,
                       int64_t k0, int64_t k, int64_t begin, int64_t end)
{
    gemm_kernel kernel = task->kernel;
    int64_t n_in = qvk_tensor_cols(task->w);
    int32_t n_tiles = (n_rows + kernel.rows - 1) / kernel.rows;
    float *xt = scratch;
    float *panel = xt + (size_t)CHUNK_ROWS * BLOCK_K;
    float *tile = panel + (size_t)kernel.cols * BLOCK_K;
    bool add = task->accumulate || k0 > 0;

    transpose_chunk(task->x + (size_t)r0 * (size_t)n_in + (size_t)k0, n_in, n_rows, k,
                    kernel.rows, xt);
    for (int64_t o = begin; o < end; o += kernel.cols) {
        int32_t n_cols = (int32_t)(end - o < kernel.cols ? end - o : kernel.cols);
        int64_t stride, next = o + kernel.cols;
        const float *weights = weight_panel(task->w, o, n_cols, kernel.cols, k0, k, panel, &stride);
        if (next < end)
            prefetch_panel(task->w, next, (int32_t)(end - next < kernel.cols ? end - next : kernel.cols),
                           k0, k);
        for (int32_t t = 0; t < n_tiles; t++) {
            int32_t tile_rows = n_rows - t * kernel.rows;
            kernel.run(xt + (size_t)t * (size_t)k * (size_t)kernel.rows, weights, stride, k, tile);
            store_tile(task, tile, kernel.rows, r0 + t * kernel.rows,
                       tile_rows < kernel.rows ? tile_rows : kernel.rows, o, n_cols, add);
        }
    }
}

static size_t gemm_scratch_bytes(gemm_kernel kernel)
{
    return ((size_t)CHUNK_ROWS * BLOCK_K + (size_t)kernel.cols * BLOCK_K +
            (size_t)kernel.rows * (size_t)kernel.cols) * sizeof(float);
}

static void matmul_gemm_run(const matmul_task *task, int64_t begin, int64_t end, float *scratch)
{
    int64_t n_in = qvk_tensor_cols(task->w);
    /* Equal blocks of at most BLOCK_K inputs: 2560 inputs make two blocks of 1280, not a full
     * block and a short one. */
    int64_t n_blocks = (n_in + BLOCK_K - 1) / BLOCK_K;
    int64_t block = (n_in + n_blocks - 1) / n_blocks;

    for (int32_t r0 = 0; r0 < task->n_rows; r0 += CHUNK_ROWS) {
        int32_t n_rows = task->n_rows - r0 < CHUNK_ROWS ? task->n_rows - r0 : CHUNK_ROWS;
        for (int64_t k0 = 0; k0 < n_in; k0 += block)
            gemm_block(task, scratch, r0, n_rows, k0, n_in - k0 < block ? n_in - k0 : block,
                       begin, end);
    }
}

static void matmul_run(void *context, int32_t thread_index, int32_t n_threads)
{
    matmul_task *task = context;
    int64_t n_out = qvk_tensor_rows(task->w), cols = task->kernel.cols, begin, end;
    float *scratch = NULL;

    if (task->n_rows < GEMM_MIN_ROWS) {
        for (;;) {
            begin = atomic_fetch_add_explicit(&task->next_chunk, 1, memory_order_relaxed) *
                    DECODE_CHUNK;
            if (begin >= n_out)
                return;
            matmul_rows_run(task, begin, begin + DECODE_CHUNK < n_out ? begin + DECODE_CHUNK : n_out);
        }
    }

    /* The blocked shape gives each thread a fixed range of whole panels, so that each thread
     * transposes the activations once. Only the last panel of the matrix can be partial. */
    qvk_split_range((n_out + cols - 1) / cols, thread_index, n_threads, &begin, &end);
    begin *= cols;
    end = end * cols < n_out ? end * cols : n_out;
    scratch = qvk_threadpool_scratch(task->pool, thread_index, gemm_scratch_bytes(task->kernel));
    /* Without a scratch buffer (no pool, or out of memory) the decode shape computes the same
     * range, slower for many rows but with no memory. */
    if (scratch)
        matmul_gemm_run(task, begin, end, scratch);
    else
        matmul_rows_run(task, begin, end);
}

void qvk_cpu_matmul(qvk_threadpool *pool, const float *x, int32_t n_rows, const qvk_tensor *w,
                    bool accumulate, float *out)
{
    matmul_task task = { pool, x, n_rows, w, accumulate, out, select_gemm_kernel(), 0 };
    atomic_init(&task.next_chunk, 0);
    qvk_threadpool_run(pool, matmul_run, &task);
}
