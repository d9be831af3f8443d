/* Every Vulkan op against the CPU kernel on random inputs, at sizes that are and are not
 * multiples of the workgroup and vector widths, with both reduction variants (subgroup and
 * shared memory), and with tensors split across bindings. */
#include <float.h>

#include "backend/cpu/kernels.h"
#include "vulkan_test_util.h"

static const qvk_dtype all_dtypes[] = { QVK_DTYPE_F32, QVK_DTYPE_F16, QVK_DTYPE_BF16 };

/* The kernel variants to test, all of which lavapipe supports:
 * - the device's own choice, which imports weights where the device can and the address allows;
 * - the same with every weight copied;
 * - on CPU devices, the row layout of matvec;
 * - the GPU layout of matvec with subgroup reductions, and with shared-memory reductions. */
typedef enum variant {
    VARIANT_DEVICE,
    VARIANT_COPIED,
    VARIANT_ROW,
    VARIANT_SUBGROUP,
    VARIANT_SHARED,
    VARIANT_COUNT
} variant;

static const char *const variant_names[VARIANT_COUNT] = { "device", "copied", "row", "subgroup",
                                                          "shared" };

static qvk_backend *backend_open(const qvk_graph *graph, int32_t n_ctx, int32_t n_batch,
                                 variant kernels, uint64_t max_binding)
{
    qvk_backend_config config = backend_config_make(n_ctx, n_batch);
    qvk_vk_context_options options = {
        .device_index = -1,
        .no_subgroups = kernels == VARIANT_SHARED,
        .reduction_matvec = kernels >= VARIANT_SUBGROUP,
        .row_matvec = kernels == VARIANT_ROW,
        .no_host_import = kernels == VARIANT_COPIED,
        .max_binding = max_binding,
    };
    qvk_backend *backend = NULL;
    qvk_status status = qvk_vk_backend_create(graph, &config, &options, &backend);
    if (status != QVK_OK)
        fprintf(stderr, "%s: backend: %s\n", test_current, qvk_last_error());
    CHECK_INT_EQ(status, QVK_OK);
    return backend;
}

static qvk_step step_make(const int32_t *tokens, int32_t n_tokens, int32_t pos)
{
    qvk_step step = { tokens, n_tokens, pos, n_tokens };
    return step;
}

/* ---- matmul ---------------------------------------------------------------------------------- */

/* Vulkan and CPU sum the K products in different orders. The rounding error of a float sum
 * behaves like a random walk, about sqrt(K) × FLT_EPSILON × Σ|x_i w_i|; 8 times that leaves
 * margin, yet is far below the error of one wrong product (about Σ|x_i w_i| / K). Weight
 * decoding is exact on both sides. */
static void matmul_tolerance(const float *x, const qvk_tensor *w, int32_t rows, bool accumulate,
                             const float *initial, double *tolerance)
{
    int64_t m = w->shape[0], k = w->shape[1];
    float *row = malloc((size_t)k * sizeof(float));
    for (int64_t o = 0; o < m; o++) {
        qvk_tensor_read_f32(w, o * k, k, row);
        for (int32_t r = 0; r < rows; r++) {
            double sum = 0.0;
            for (int64_t i = 0; i < k; i++)
                sum += fabs((double)x[r * k + i] * row[i]);
            double extra = accumulate ? FLT_EPSILON * fabs(initial[r * m + o]) : 0.0;
            tolerance[r * m + o] = 8.0 * sqrt((double)k) * FLT_EPSILON * sum + extra + 1e-30;
        }
    }
    free(row);
}

/* dst = (dst +) x · wᵀ for rows × k inputs and an m × k weight; the output lands in GATE. */
static void check_matmul(qvk_dtype dtype, int32_t k, int32_t m, int32_t rows, bool accumulate,
                         variant kernels, uint64_t max_binding)
{
    uint32_t seed = (uint32_t)(k * 7919 + m * 104729 + rows * 31 + (int)dtype + 1);
    qvk_model_config config = config_make(k, m, 1, 1, 2, 16);
    qvk_tensor w = tensor_random("w", dtype, m, k, 0.5f, &seed);
    qvk_op op = { .kind = QVK_OP_MATMUL, .layer = 0, .weight = &w, .src = QVK_BUF_XN,
                  .dst = QVK_BUF_GATE, .accumulate = accumulate, .rows = QVK_ROWS_ALL };
    qvk_graph graph = { &config, &op, 1 };
    size_t n_out = (size_t)rows * (size_t)m;
    float *x = malloc((size_t)rows * (size_t)k * sizeof(float));
    float *initial = malloc(n_out * sizeof(float));
    float *expected = malloc(n_out * sizeof(float));
    float *actual = malloc(n_out * sizeof(float));
    double *tolerance = malloc(n_out * sizeof(double));
    int32_t *tokens = calloc((size_t)rows, sizeof(int32_t));
    qvk_backend *backend = backend_open(&graph, rows, rows, kernels, max_binding);
    char what[128];

    random_fill(x, (size_t)rows * (size_t)k, 1.0f, &seed);
    random_fill(initial, n_out, 2.0f, &seed);
    if (backend) {
        qvk_step step = step_make(tokens, rows, 0);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_XN, x, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_GATE, initial, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_run(backend, &step), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_read_rows(backend, QVK_BUF_GATE, actual, rows), QVK_OK);

        memcpy(expected, initial, n_out * sizeof(float));
        qvk_cpu_matmul(NULL, x, rows, &w, accumulate, expected);
        matmul_tolerance(x, &w, rows, accumulate, initial, tolerance);
        snprintf(what, sizeof(what), "matmul %s k=%d m=%d rows=%d%s (%s)", qvk_dtype_name(dtype),
                 k, m, rows, accumulate ? " accumulate" : "", variant_names[kernels]);
        CHECK(compare_scaled(what, actual, expected, tolerance, n_out) <= 1.0);
        backend->vtable->destroy(backend);
    }
    tensor_free(&w);
    free(x);
    free(initial);
    free(expected);
    free(actual);
    free(tolerance);
    free(tokens);
}

/* Rows 1 and 3 take the matvec kernel, 7 and 33 the matmul kernel. On lavapipe the device and
 * copied variants run matvec_texel.comp (decode, then token lanes of 16 tokens per workgroup).
 * The row variant runs matvec.comp's row layout and matmul.comp, the others matvec.comp's
 * reduction layouts and matmul.comp. k = 64 and 2560 take the vector loads (texels), and 100
 * takes them for f32 only (100 is a multiple of 4, not of 8), 7 never. m = 33, 5 and 40 leave
 * partial row groups (16 rows per texel subgroup and per token-lane workgroup) and partial
 * workgroups, and 7 and 33 rows leave partial token-lane workgroups. */
static void test_matmul_sizes(void)
{
    static const int32_t shapes[][2] = { { 64, 64 }, { 100, 33 }, { 7, 5 }, { 2560, 40 } };
    static const int32_t rows[] = { 1, 3, 7, 33 };
    for (size_t d = 0; d < 3; d++)
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
            for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
                for (int v = 0; v < VARIANT_COUNT; v++)
                    check_matmul(all_dtypes[d], shapes[s][0], shapes[s][1], rows[r], false,
                                 (variant)v, 0);
}

static void test_matmul_accumulate(void)
{
    for (int v = 0; v < VARIANT_COUNT; v++) {
        check_matmul(QVK_DTYPE_BF16, 64, 48, 1, true, (variant)v, 0);
        check_matmul(QVK_DTYPE_F32, 64, 48, 2, true, (variant)v, 0);
    }
    check_matmul(QVK_DTYPE_BF16, 100, 48, 9, true, VARIANT_DEVICE, 0);
    check_matmul(QVK_DTYPE_BF16, 64, 48, 20, true, VARIANT_DEVICE, 0);
    check_matmul(QVK_DTYPE_F16, 64, 48, 20, true, VARIANT_COPIED, 0);
}

/* 4096-byte bindings split the 100 × 64 bf16 weight (128-byte rows) into 4 chunks of 32 rows. */
static void test_matmul_split_weight(void)
{
    check_matmul(QVK_DTYPE_BF16, 64, 100, 1, false, VARIANT_DEVICE, 4096);
    check_matmul(QVK_DTYPE_BF16, 64, 100, 3, true, VARIANT_SUBGROUP, 4096);
    check_matmul(QVK_DTYPE_F32, 64, 100, 5, false, VARIANT_DEVICE, 4096);
    check_matmul(QVK_DTYPE_BF16, 64, 100, 9, false, VARIANT_COPIED, 4096);
}

/* ---- rmsnorm --------------------------------------------------------------------------------- */

/* The CPU sums squares in double, the shader in float (in a tree or subgroup order): a relative
 * difference of a few FLT_EPSILON × log2(dim), well under 1e-5. */
static void check_rmsnorm(int32_t dim, int32_t rows, int32_t n_out, variant kernels)
{
    uint32_t seed = (uint32_t)(dim * 31 + rows * 7 + n_out);
    qvk_model_config config = config_make(dim, 8, 1, 1, 2, 16);
    qvk_tensor gamma = tensor_random("gamma", QVK_DTYPE_BF16, 0, dim, 2.0f, &seed);
    qvk_op op = { .kind = QVK_OP_RMSNORM, .layer = 0, .weight = &gamma, .src = QVK_BUF_X,
                  .dst = QVK_BUF_XN,
                  .rows = n_out < rows ? QVK_ROWS_SELECT_OUTPUT : QVK_ROWS_ALL };
    qvk_graph graph = { &config, &op, 1 };
    float *x = malloc((size_t)rows * (size_t)dim * sizeof(float));
    float *expected = malloc((size_t)n_out * (size_t)dim * sizeof(float));
    float *actual = malloc((size_t)n_out * (size_t)dim * sizeof(float));
    int32_t *tokens = calloc((size_t)rows, sizeof(int32_t));
    qvk_backend *backend = backend_open(&graph, rows, rows, kernels, 0);
    char what[96];

    random_fill(x, (size_t)rows * (size_t)dim, 3.0f, &seed);
    if (backend) {
        qvk_step step = { tokens, rows, 0, n_out };
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_X, x, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_run(backend, &step), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_read_rows(backend, QVK_BUF_XN, actual, n_out), QVK_OK);
        qvk_cpu_rmsnorm(x + (size_t)(rows - n_out) * dim, &gamma, n_out, dim, 1e-6f, expected);
        snprintf(what, sizeof(what), "rmsnorm dim=%d rows=%d out=%d (%s)", dim, rows, n_out,
                 variant_names[kernels]);
        CHECK(compare_relative(what, actual, expected, (size_t)n_out * dim, 1e-5, 1e-6) <= 1.0);
        backend->vtable->destroy(backend);
    }
    tensor_free(&gamma);
    free(x);
    free(expected);
    free(actual);
    free(tokens);
}

static void test_rmsnorm_sizes(void)
{
    static const int32_t dims[] = { 64, 100, 2560, 5 };
    static const int32_t rows[] = { 1, 7, 33 };
    for (int v = VARIANT_SUBGROUP; v < VARIANT_COUNT; v++)
        for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
            for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
                check_rmsnorm(dims[d], rows[r], rows[r], (variant)v);
}

/* The final norm reads only the last n_out rows of the step. */
static void test_rmsnorm_select_output(void)
{
    check_rmsnorm(64, 7, 1, VARIANT_SUBGROUP);
    check_rmsnorm(100, 33, 5, VARIANT_SHARED);
}

/* ---- embed ----------------------------------------------------------------------------------- */

/* Widening bf16/f16/f32 to float32 is exact, so the rows must match bit for bit. */
static void check_embed(qvk_dtype dtype, int32_t vocab, int32_t dim, int32_t rows,
                        uint64_t max_binding)
{
    uint32_t seed = (uint32_t)(vocab + dim * 3 + rows * 11 + (int)dtype);
    qvk_model_config config = config_make(dim, 8, 1, 1, 2, vocab);
    qvk_tensor table = tensor_random("embed", dtype, vocab, dim, 1.0f, &seed);
    qvk_op op = { .kind = QVK_OP_EMBED, .layer = -1, .weight = &table, .src = QVK_BUF_X,
                  .dst = QVK_BUF_X, .rows = QVK_ROWS_ALL };
    qvk_graph graph = { &config, &op, 1 };
    int32_t *tokens = malloc((size_t)rows * sizeof(int32_t));
    float *expected = malloc((size_t)rows * (size_t)dim * sizeof(float));
    float *actual = malloc((size_t)rows * (size_t)dim * sizeof(float));
    qvk_backend *backend = backend_open(&graph, rows, rows, VARIANT_DEVICE, max_binding);

    for (int32_t t = 0; t < rows; t++)
        tokens[t] = (int32_t)(random_uniform(&seed, 0.0f, 1.0f) * (float)vocab) % vocab;
    tokens[0] = vocab - 1; /* the last row of the last chunk */
    if (rows > 1)
        tokens[1] = 0;
    if (backend) {
        qvk_step step = step_make(tokens, rows, 0);
        CHECK_INT_EQ(qvk_vk_backend_run(backend, &step), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_read_rows(backend, QVK_BUF_X, actual, rows), QVK_OK);
        qvk_cpu_embed(&table, tokens, rows, expected);
        CHECK(memcmp(actual, expected, (size_t)rows * (size_t)dim * sizeof(float)) == 0);
        backend->vtable->destroy(backend);
    }
    tensor_free(&table);
    free(tokens);
    free(expected);
    free(actual);
}

static void test_embed_dtypes(void)
{
    for (size_t d = 0; d < 3; d++) {
        check_embed(all_dtypes[d], 1000, 64, 7, 0);
        check_embed(all_dtypes[d], 301, 33, 1, 0);
    }
}

/* 4096-byte bindings hold 32 rows of the 1000 × 64 bf16 table: 32 chunks. */
static void test_embed_split(void)
{
    check_embed(QVK_DTYPE_BF16, 1000, 64, 9, 4096);
    check_embed(QVK_DTYPE_F32, 1000, 64, 3, 4096);
}

/* ---- swiglu ---------------------------------------------------------------------------------- */

/* GLSL's exp is accurate to (3 + 2|x|) ulp (GLSL 4.60, section 4.7.1); with |gate| <= 8 that is
 * under 20 ulp, about 2.4e-6 relative, so 1e-5 relative covers it. */
static void check_swiglu(int32_t width, int32_t rows)
{
    uint32_t seed = (uint32_t)(width * 13 + rows);
    qvk_model_config config = config_make(8, width, 1, 1, 2, 16);
    qvk_op op = { .kind = QVK_OP_SWIGLU, .layer = 0, .src = QVK_BUF_UP, .dst = QVK_BUF_GATE,
                  .rows = QVK_ROWS_ALL };
    qvk_graph graph = { &config, &op, 1 };
    size_t n = (size_t)rows * (size_t)width;
    float *gate = malloc(n * sizeof(float));
    float *up = malloc(n * sizeof(float));
    float *actual = malloc(n * sizeof(float));
    int32_t *tokens = calloc((size_t)rows, sizeof(int32_t));
    qvk_backend *backend = backend_open(&graph, rows, rows, VARIANT_DEVICE, 0);
    char what[64];

    random_fill(gate, n, 8.0f, &seed);
    random_fill(up, n, 2.0f, &seed);
    if (backend) {
        qvk_step step = step_make(tokens, rows, 0);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_GATE, gate, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_UP, up, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_run(backend, &step), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_read_rows(backend, QVK_BUF_GATE, actual, rows), QVK_OK);
        qvk_cpu_swiglu(gate, up, n);
        snprintf(what, sizeof(what), "swiglu width=%d rows=%d", width, rows);
        CHECK(compare_relative(what, actual, gate, n, 1e-5, 1e-7) <= 1.0);
        backend->vtable->destroy(backend);
    }
    free(gate);
    free(up);
    free(actual);
    free(tokens);
}

static void test_swiglu_sizes(void)
{
    check_swiglu(192, 1);
    check_swiglu(100, 7);
    check_swiglu(9728, 3);
    check_swiglu(33, 33);
}

/* ---- qk_norm_rope and attention ------------------------------------------------------------- */

typedef struct attention_case {
    int32_t n_heads, n_kv_heads, head_dim;
    int32_t steps[3]; /* rows of each step, 0 ends */
} attention_case;

/* The CPU side of a QK_NORM_ROPE + ATTENTION graph. */
typedef struct cpu_layer {
    float *k_cache, *v_cache, *rope;
} cpu_layer;

/* Runs each step on both backends with fresh random q, k, v and compares the rotated q and k,
 * the new cache rows and the attention output. Tolerances: the norm and rotation differ by a
 * few float roundings (1e-5 relative); the attention output is a convex combination of V rows
 * of magnitude <= 1, and its scores, exponentials and sums round differently in the shader
 * (the chunked softmax reorders the sums), which stays under 2e-5 absolute. */
static void check_attention(const attention_case *c, variant kernels)
{
    uint32_t seed = (uint32_t)(c->n_heads * 100 + c->head_dim + c->steps[0]);
    qvk_model_config config = config_make(64, 8, c->n_heads, c->n_kv_heads, c->head_dim, 16);
    qvk_attention_shape shape = { c->n_heads, c->n_kv_heads, c->head_dim };
    int32_t n_ctx = 0, n_batch = 0;
    for (int s = 0; s < 3 && c->steps[s]; s++) {
        n_ctx += c->steps[s];
        n_batch = c->steps[s] > n_batch ? c->steps[s] : n_batch;
    }
    qvk_tensor q_norm = tensor_random("q_norm", QVK_DTYPE_BF16, 0, c->head_dim, 1.5f, &seed);
    qvk_tensor k_norm = tensor_random("k_norm", QVK_DTYPE_BF16, 0, c->head_dim, 1.5f, &seed);
    qvk_op ops[2] = {
        { .kind = QVK_OP_QK_NORM_ROPE, .layer = 0, .weight = &q_norm, .weight2 = &k_norm,
          .src = QVK_BUF_Q, .dst = QVK_BUF_Q, .rows = QVK_ROWS_ALL },
        { .kind = QVK_OP_ATTENTION, .layer = 0, .src = QVK_BUF_Q, .dst = QVK_BUF_ATTN,
          .rows = QVK_ROWS_ALL },
    };
    qvk_graph graph = { &config, ops, 2 };
    size_t q_width = (size_t)c->n_heads * c->head_dim;
    size_t kv_width = (size_t)c->n_kv_heads * c->head_dim;
    size_t cache_floats = (size_t)n_ctx * kv_width;
    cpu_layer cpu = { calloc(cache_floats, sizeof(float)), calloc(cache_floats, sizeof(float)),
                      qvk_rope_table_create(n_ctx, c->head_dim, 1e6) };
    float *q = malloc((size_t)n_batch * q_width * sizeof(float));
    float *k = malloc((size_t)n_batch * kv_width * sizeof(float));
    float *v = malloc((size_t)n_batch * kv_width * sizeof(float));
    float *expected = malloc((size_t)n_batch * q_width * sizeof(float));
    float *actual = malloc((size_t)n_batch * q_width * sizeof(float));
    float *k_cache = malloc(cache_floats * sizeof(float));
    float *v_cache = malloc(cache_floats * sizeof(float));
    int32_t *tokens = calloc((size_t)n_batch, sizeof(int32_t));
    qvk_backend *backend = backend_open(&graph, n_ctx, n_batch, kernels, 0);
    int32_t pos = 0;
    char what[128];

    for (int s = 0; backend && s < 3 && c->steps[s]; s++) {
        int32_t rows = c->steps[s];
        qvk_step step = step_make(tokens, rows, pos);
        random_fill(q, (size_t)rows * q_width, 2.0f, &seed);
        random_fill(k, (size_t)rows * kv_width, 2.0f, &seed);
        random_fill(v, (size_t)rows * kv_width, 1.0f, &seed);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_Q, q, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_K, k, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_V, v, rows), QVK_OK);
        CHECK_INT_EQ(qvk_vk_backend_run(backend, &step), QVK_OK);

        qvk_cpu_qk_norm_rope(q, k, v, rows, pos, &q_norm, &k_norm, cpu.rope, shape, 1e-6f,
                             cpu.k_cache, cpu.v_cache);
        qvk_cpu_attention(NULL, q, rows, pos, cpu.k_cache, cpu.v_cache, shape, expected);

        snprintf(what, sizeof(what), "heads %d/%d dim %d step %d (%d rows at %d, %s)",
                 c->n_heads, c->n_kv_heads, c->head_dim, s, rows, pos, variant_names[kernels]);
        CHECK_INT_EQ(qvk_vk_backend_read_rows(backend, QVK_BUF_Q, actual, rows), QVK_OK);
        CHECK(compare_relative(what, actual, q, (size_t)rows * q_width, 1e-5, 1e-5) <= 1.0);
        CHECK_INT_EQ(qvk_vk_backend_read_cache(backend, 0, k_cache, v_cache, pos + rows), QVK_OK);
        CHECK(compare_relative(what, k_cache + (size_t)pos * kv_width,
                               cpu.k_cache + (size_t)pos * kv_width, (size_t)rows * kv_width,
                               1e-5, 1e-5) <= 1.0);
        CHECK(memcmp(v_cache + (size_t)pos * kv_width, cpu.v_cache + (size_t)pos * kv_width,
                     (size_t)rows * kv_width * sizeof(float)) == 0);
        CHECK_INT_EQ(qvk_vk_backend_read_rows(backend, QVK_BUF_ATTN, actual, rows), QVK_OK);
        CHECK(compare_relative(what, actual, expected, (size_t)rows * q_width, 0.0, 2e-5) <= 1.0);
        pos += rows;
    }
    if (backend)
        backend->vtable->destroy(backend);
    tensor_free(&q_norm);
    tensor_free(&k_norm);
    free(cpu.k_cache);
    free(cpu.v_cache);
    free(cpu.rope);
    free(q);
    free(k);
    free(v);
    free(expected);
    free(actual);
    free(k_cache);
    free(v_cache);
    free(tokens);
}

static void test_attention_shapes(void)
{
    static const attention_case cases[] = {
        { 4, 2, 32, { 7, 1, 1 } },    /* the tiny model's shape: prompt, then decode */
        { 8, 2, 64, { 33, 3, 0 } },   /* GQA groups of 4 */
        { 2, 1, 128, { 1, 5, 2 } },   /* Qwen3's head_dim, starting with a single token */
        { 2, 2, 38, { 6, 1, 0 } },    /* head_dim not a multiple of 4: scalar key loads */
    };
    for (int v = VARIANT_SUBGROUP; v < VARIANT_COUNT; v++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            check_attention(&cases[i], (variant)v);
}

/* Decode steps over 600 and more keys split the sequence into chunks of at least 256 keys and
 * merge them in attention_combine.comp. */
static void test_attention_split_sequence(void)
{
    static const attention_case cases[] = {
        { 4, 2, 32, { 600, 1, 4 } },
        { 2, 1, 64, { 300, 2, 0 } },
    };
    for (int v = VARIANT_SUBGROUP; v < VARIANT_COUNT; v++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            check_attention(&cases[i], (variant)v);
}

/* ---- logits split by rows -------------------------------------------------------------------- */

/* With 8192-byte bindings a 1000-float logits row takes 4000 bytes, so 7 rows of logits span 4
 * bindings, and the 1000 × 64 bf16 head spans 16; forward() gathers the rows. */
static void test_logits_split(void)
{
    uint32_t seed = 17;
    qvk_model_config config = config_make(64, 8, 1, 1, 2, 1000);
    qvk_tensor head = tensor_random("lm_head", QVK_DTYPE_BF16, 1000, 64, 0.5f, &seed);
    qvk_op op = { .kind = QVK_OP_MATMUL, .layer = -1, .weight = &head, .src = QVK_BUF_XN,
                  .dst = QVK_BUF_LOGITS, .rows = QVK_ROWS_OUTPUT };
    qvk_graph graph = { &config, &op, 1 };
    float x[7 * 64];
    float *expected = malloc(7 * 1000 * sizeof(float));
    float *actual = malloc(7 * 1000 * sizeof(float));
    double *tolerance = malloc(7 * 1000 * sizeof(double));
    int32_t tokens[7] = { 0 };
    qvk_backend *backend = backend_open(&graph, 7, 7, VARIANT_DEVICE, 8192);

    random_fill(x, 7 * 64, 1.0f, &seed);
    if (backend) {
        const qvk_vk_backend *vk = (const qvk_vk_backend *)backend;
        CHECK_INT_EQ(vk->buffers[QVK_BUF_LOGITS].n_chunks, 4);
        qvk_step step = step_make(tokens, 7, 0);
        CHECK_INT_EQ(qvk_vk_backend_write_rows(backend, QVK_BUF_XN, x, 7), QVK_OK);
        CHECK_INT_EQ(backend->vtable->forward(backend, &step, actual), QVK_OK);
        qvk_cpu_matmul(NULL, x, 7, &head, false, expected);
        matmul_tolerance(x, &head, 7, false, NULL, tolerance);
        CHECK(compare_scaled("split logits", actual, expected, tolerance, 7 * 1000) <= 1.0);
        backend->vtable->destroy(backend);
    }
    tensor_free(&head);
    free(expected);
    free(actual);
    free(tolerance);
}

/* QWEN3VK_VULKAN_MAX_BINDING lowers the binding limit for every backend of the process. */
static void test_max_binding_environment(void)
{
    qvk_vk_context_options options = { .device_index = -1 };
    qvk_vk_context *context = NULL;

    setenv("QWEN3VK_VULKAN_MAX_BINDING", "1048576", 1);
    CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_OK);
    if (context)
        CHECK_INT_EQ(context->max_binding, 1048576);
    qvk_vk_context_destroy(context);

    setenv("QWEN3VK_VULKAN_MAX_BINDING", "12abc", 1);
    CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(qvk_last_error(), "QWEN3VK_VULKAN_MAX_BINDING") != NULL);
    unsetenv("QWEN3VK_VULKAN_MAX_BINDING");
}

int main(void)
{
    vulkan_require_device();
    qvk_log_set_level(QVK_LOG_WARN);
    RUN_TEST(test_matmul_sizes);
    RUN_TEST(test_matmul_accumulate);
    RUN_TEST(test_matmul_split_weight);
    RUN_TEST(test_rmsnorm_sizes);
    RUN_TEST(test_rmsnorm_select_output);
    RUN_TEST(test_embed_dtypes);
    RUN_TEST(test_embed_split);
    RUN_TEST(test_swiglu_sizes);
    RUN_TEST(test_attention_shapes);
    RUN_TEST(test_attention_split_sequence);
    RUN_TEST(test_logits_split);
    RUN_TEST(test_max_binding_environment);
    CHECK_INT_EQ(qvk_vulkan_validation_message_count(), 0);
    return test_finish();
}
