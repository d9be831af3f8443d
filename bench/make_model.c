/* make_model: write a Hugging Face model folder with the shapes of Qwen3-4B and random bf16
 * weights, for benchmarks (the real weights cannot be downloaded everywhere).
 *
 *     make_model OUT_DIR TOKENIZER_DIR
 *
 * OUT_DIR gets config.json (the real Qwen3-4B configuration), model.safetensors (8.04 GB) and
 * copies of tokenizer.json, tokenizer_config.json and generation_config.json from TOKENIZER_DIR
 * (any Qwen3 model folder). The weights are deterministic: the same command writes the same bytes.
 *
 * Weight statistics follow a trained model closely enough for the arithmetic to stay finite over
 * 36 layers: linear weights have std 1/sqrt(in_features), the embedding std 0.25, and norm
 * weights are 1 plus noise of std 0.02. The "normal" numbers are the Irwin-Hall sum of four
 * uniforms rescaled to unit variance: close to normal within ±3.46 std and much faster to draw.
 * The values serve timing only. The model's output is noise. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Qwen3-4B's config.json. */
#define VOCAB 151936
#define HIDDEN 2560
#define LAYERS 36
#define HEADS 32
#define KV_HEADS 8
#define HEAD_DIM 128
#define INTERMEDIATE 9728

static const char config_json[] =
    "{\n"
    "  \"architectures\": [\"Qwen3ForCausalLM\"],\n"
    "  \"attention_bias\": false,\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n"
    "  \"eos_token_id\": 151645,\n"
    "  \"head_dim\": 128,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 2560,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 9728,\n"
    "  \"max_position_embeddings\": 40960,\n"
    "  \"max_window_layers\": 36,\n"
    "  \"model_type\": \"qwen3\",\n"
    "  \"num_attention_heads\": 32,\n"
    "  \"num_hidden_layers\": 36,\n"
    "  \"num_key_value_heads\": 8,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"rope_scaling\": null,\n"
    "  \"rope_theta\": 1000000,\n"
    "  \"sliding_window\": null,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.51.0\",\n"
    "  \"use_cache\": true,\n"
    "  \"use_sliding_window\": false,\n"
    "  \"vocab_size\": 151936\n"
    "}\n";

typedef enum fill_kind { FILL_LINEAR, FILL_EMBEDDING, FILL_NORM } fill_kind;

typedef struct tensor_spec {
    char name[96];
    int64_t rows;
    int64_t cols; /* 0 for a vector */
    fill_kind fill;
    uint64_t offset; /* bytes from the start of the data section */
} tensor_spec;

#define MAX_TENSORS (2 + LAYERS * 11)

static tensor_spec specs[MAX_TENSORS];
static int n_specs;

static void add_tensor(const char *name, int64_t rows, int64_t cols, fill_kind fill)
{
    tensor_spec *spec = &specs[n_specs++];
    snprintf(spec->name, sizeof(spec->name), "%s", name);
    spec->rows = rows;
    spec->cols = cols;
    spec->fill = fill;
}

static void add_layer_tensor(int layer, const char *suffix, int64_t rows, int64_t cols,
                             fill_kind fill)
{
    char name[96];
    snprintf(name, sizeof(name), "model.layers.%d.%s", layer, suffix);
    add_tensor(name, rows, cols, fill);
}

static void list_tensors(void)
{
    add_tensor("model.embed_tokens.weight", VOCAB, HIDDEN, FILL_EMBEDDING);
    for (int l = 0; l < LAYERS; l++) {
        add_layer_tensor(l, "input_layernorm.weight", HIDDEN, 0, FILL_NORM);
        add_layer_tensor(l, "self_attn.q_proj.weight", HEADS * HEAD_DIM, HIDDEN, FILL_LINEAR);
        add_layer_tensor(l, "self_attn.k_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN, FILL_LINEAR);
        add_layer_tensor(l, "self_attn.v_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN, FILL_LINEAR);
        add_layer_tensor(l, "self_attn.o_proj.weight", HIDDEN, HEADS * HEAD_DIM, FILL_LINEAR);
        add_layer_tensor(l, "self_attn.q_norm.weight", HEAD_DIM, 0, FILL_NORM);
        add_layer_tensor(l, "self_attn.k_norm.weight", HEAD_DIM, 0, FILL_NORM);
        add_layer_tensor(l, "post_attention_layernorm.weight", HIDDEN, 0, FILL_NORM);
        add_layer_tensor(l, "mlp.gate_proj.weight", INTERMEDIATE, HIDDEN, FILL_LINEAR);
        add_layer_tensor(l, "mlp.up_proj.weight", INTERMEDIATE, HIDDEN, FILL_LINEAR);
        add_layer_tensor(l, "mlp.down_proj.weight", HIDDEN, INTERMEDIATE, FILL_LINEAR);
    }
    add_tensor("model.norm.weight", HIDDEN, 0, FILL_NORM);
}

static int64_t element_count(const tensor_spec *spec)
{
    return spec->rows * (spec->cols ? spec->cols : 1);
}

/* splitmix64: a small, fast generator with good statistics, seeded per tensor. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One draw of an approximately standard normal number: four 16-bit uniforms summed have mean
 * 2 × 65535 and variance 4 × (65536² - 1) / 12, so subtracting the mean and dividing by
 * 65536 / sqrt(3) gives unit variance. */
static float next_normal(uint64_t *state)
{
    uint64_t bits = next_random(state);
    int64_t sum = (int64_t)(bits & 0xffff) + (int64_t)((bits >> 16) & 0xffff) +
                  (int64_t)((bits >> 32) & 0xffff) + (int64_t)(bits >> 48);
    return (float)(sum - 2 * 65535) * (1.7320508f / 65536.0f);
}

/* float32 to bf16, rounding to nearest even (the values are finite). */
static uint16_t to_bf16(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof(bits));
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

static uint64_t name_seed(const char *name)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (const char *c = name; *c; c++)
        hash = (hash ^ (uint8_t)*c) * 1099511628211ull;
    return hash;
}

static int write_tensor(FILE *file, const tensor_spec *spec, uint16_t *buffer, size_t capacity)
{
    uint64_t state = name_seed(spec->name);
    float scale = spec->fill == FILL_LINEAR ? 1.0f / sqrtf((float)spec->cols)
                : spec->fill == FILL_EMBEDDING ? 0.25f : 0.02f;
    float shift = spec->fill == FILL_NORM ? 1.0f : 0.0f;
    int64_t left = element_count(spec);

    while (left > 0) {
        size_t n = left < (int64_t)capacity ? (size_t)left : capacity;
        for (size_t i = 0; i < n; i++)
            buffer[i] = to_bf16(shift + scale * next_normal(&state));
        if (fwrite(buffer, sizeof(uint16_t), n, file) != n)
            return 0;
        left -= (int64_t)n;
    }
    return 1;
}

/* The safetensors header: JSON with each tensor's dtype, shape and byte range, padded with
 * spaces so that the data section starts on a 64-byte boundary. */
static char *build_header(uint64_t *padded_length)
{
    size_t capacity = (size_t)MAX_TENSORS * 200 + 64, used = 0;
    char *header = malloc(capacity);
    uint64_t offset = 0;

    if (!header)
        return NULL;
    used += (size_t)snprintf(header + used, capacity - used, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n_specs; i++) {
        tensor_spec *spec = &specs[i];
        uint64_t bytes = (uint64_t)element_count(spec) * 2;
        char shape[48];
        if (spec->cols)
            snprintf(shape, sizeof(shape), "%" PRId64 ",%" PRId64, spec->rows, spec->cols);
        else
            snprintf(shape, sizeof(shape), "%" PRId64, spec->rows);
        spec->offset = offset;
        used += (size_t)snprintf(header + used, capacity - used,
                                 ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%s],\"data_offsets\":[%"
                                 PRIu64 ",%" PRIu64 "]}", spec->name, shape, offset, offset + bytes);
        offset += bytes;
    }
    used += (size_t)snprintf(header + used, capacity - used, "}");
    while ((used + 8) % 64 != 0)
        header[used++] = ' ';
    *padded_length = used;
    return header;
}

static int write_safetensors(const char *path)
{
    uint64_t header_length;
    char *header = build_header(&header_length);
    size_t capacity = (size_t)1 << 22;
    uint16_t *buffer = malloc(capacity * sizeof(uint16_t));
    FILE *file = fopen(path, "wb");
    int ok = header && buffer && file;

    if (!file)
        fprintf(stderr, "make_model: cannot create %s: %s\n", path, strerror(errno));
    /* The header length is a little-endian u64; x86-64 and arm64 are little-endian. */
    ok = ok && fwrite(&header_length, sizeof(header_length), 1, file) == 1 &&
         fwrite(header, 1, header_length, file) == header_length;
    for (int i = 0; ok && i < n_specs; i++) {
        ok = write_tensor(file, &specs[i], buffer, capacity);
        if (i % 40 == 0)
            fprintf(stderr, "make_model: %d/%d tensors\n", i, n_specs);
    }
    if (file && fclose(file) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "make_model: writing %s failed: %s\n", path, strerror(errno));
    free(header);
    free(buffer);
    return ok;
}

static int copy_file(const char *from_dir, const char *to_dir, const char *name)
{
    char from[4200], to[4200], block[65536];
    size_t n;
    int ok = 1;

    snprintf(from, sizeof(from), "%s/%s", from_dir, name);
    snprintf(to, sizeof(to), "%s/%s", to_dir, name);
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) {
        fprintf(stderr, "make_model: cannot copy %s to %s: %s\n", from, to, strerror(errno));
        if (in)
            fclose(in);
        return 0;
    }
    while ((n = fread(block, 1, sizeof(block), in)) > 0)
        ok = ok && fwrite(block, 1, n, out) == n;
    fclose(in);
    return fclose(out) == 0 && ok;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    if (!file) {
        fprintf(stderr, "make_model: cannot create %s: %s\n", path, strerror(errno));
        return 0;
    }
    fputs(text, file);
    return fclose(file) == 0;
}

int main(int argc, char **argv)
{
    char path[4200];

    if (argc != 3) {
        fprintf(stderr, "usage: make_model OUT_DIR TOKENIZER_DIR\n"
                        "  writes a Qwen3-4B-shaped model with random bf16 weights (8.04 GB) to\n"
                        "  OUT_DIR, with the tokenizer files of the Qwen3 model folder TOKENIZER_DIR\n");
        return 2;
    }
    if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_model: cannot create %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (!copy_file(argv[2], argv[1], "tokenizer.json") ||
        !copy_file(argv[2], argv[1], "tokenizer_config.json") ||
        !copy_file(argv[2], argv[1], "generation_config.json"))
        return 1;

    list_tensors();
    snprintf(path, sizeof(path), "%s/model.safetensors", argv[1]);
    if (!write_safetensors(path))
        return 1;
    /* config.json last: a folder without it is visibly unfinished. */
    if (!write_text(argv[1], "config.json", config_json))
        return 1;
    fprintf(stderr, "make_model: wrote %s\n", argv[1]);
    return 0;
}
