/* Bad model folders and bad command lines given to `qwen3vk logits`. Each case builds a
 * corrupted copy of the bundled tiny model in a fresh folder under /tmp and runs the CLI on it.
 * The process must exit with status 1 (2 for some command-line usage errors), not by a signal,
 * and print exactly one line to stderr, naming the file, tensor or key at fault and the
 * problem. Under the sanitizers, any report fails the case.
 *
 * The copies are cheap: tokenizer files are symlinks, and each safetensors file is a rewritten
 * header followed by a sparse (all-zero) data section of the right size, so no case copies the
 * 19 MiB of weights. The control cases load such copies successfully, which shows that each
 * failure comes from the one corruption the case applies. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_STDERR_BYTES 16384
#define SAFETENSORS_ALIGNMENT 8

/* The bundled model, parsed once in main(). */
static char source_dir[PATH_MAX];
static cJSON *source_config;
static cJSON *source_header;
static uint64_t source_data_size;

typedef struct model_copy {
    char work[64];     /* the case's temp folder: stderr, logits output */
    char model[128];   /* work/model, the model folder given to -m */
} model_copy;

typedef struct cli_result {
    int exit_status;   /* -1 when the process did not exit normally */
    int signal;        /* the signal that ended it, or 0 */
    int n_lines;
    char text[MAX_STDERR_BYTES];
} cli_result;

/* ---- files ---------------------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    int ok;

    if (!file) {
        fprintf(stderr, "cannot create %s\n", path);
        return 0;
    }
    ok = fwrite(data, 1, size, file) == size;
    return fclose(file) == 0 && ok;
}

static int write_text(const char *path, const char *text)
{
    return write_file(path, text, strlen(text));
}

static int write_json(const char *path, const cJSON *json)
{
    char *text = cJSON_Print(json);
    int ok = text && write_text(path, text);

    free(text);
    return ok;
}

static cJSON *read_json(const char *path)
{
    FILE *file = fopen(path, "rb");
    char buffer[1 << 16];
    size_t size;

    if (!file)
        return NULL;
    size = fread(buffer, 1, sizeof(buffer) - 1, file);
    fclose(file);
    buffer[size] = '\0';
    return cJSON_Parse(buffer);
}

static uint64_t file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (uint64_t)info.st_size : 0;
}

/* Write a safetensors file: the 8-byte little-endian header length, the header, then data_size
 * bytes of zeros left as a hole in the file. The header is padded with spaces to a multiple of
 * 8 bytes, as the safetensors library writes it, so the data section starts aligned.
 * Returns the padded header length, or 0 on failure. */
static uint64_t write_safetensors(const char *path, const cJSON *header, uint64_t data_size)
{
    char *json = cJSON_PrintUnformatted(header);
    size_t json_length = json ? strlen(json) : 0;
    uint64_t header_length = (json_length + SAFETENSORS_ALIGNMENT - 1) / SAFETENSORS_ALIGNMENT *
                             SAFETENSORS_ALIGNMENT;
    uint8_t length_bytes[8];
    FILE *file = fopen(path, "wb");
    int ok = json && file;

    for (int i = 0; i < 8; i++)
        length_bytes[i] = (uint8_t)(header_length >> (8 * i));
    if (ok) {
        ok = fwrite(length_bytes, 1, 8, file) == 8 && fwrite(json, 1, json_length, file) == json_length;
        for (size_t i = json_length; ok && i < header_length; i++)
            ok = fputc(' ', file) != EOF;
    }
    if (file)
        ok = fclose(file) == 0 && ok;
    if (ok)
        ok = truncate(path, (off_t)(8 + header_length + data_size)) == 0;
    free(json);
    if (!ok)
        fprintf(stderr, "cannot write %s\n", path);
    return ok ? header_length : 0;
}

/* Overwrite the 8-byte header length field of a safetensors file. */
static int patch_header_length(const char *path, uint64_t header_length)
{
    uint8_t bytes[8];
    int fd = open(path, O_WRONLY);
    int ok;

    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(header_length >> (8 * i));
    if (fd < 0)
        return 0;
    ok = pwrite(fd, bytes, 8, 0) == 8;
    return close(fd) == 0 && ok;
}

static int remove_entry(const char *path, const struct stat *info, int type, struct FTW *walk)
{
    (void)info, (void)type, (void)walk;
    return remove(path);
}

/* A NULL-terminated list of strings that an error line must contain. */
#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- model copies --------------------------------------------------------------------- */

/* Make work/ and work/model/ with generation_config.json and symlinks to the tokenizer files;
 * config.json and the weights are each case's to write. */
static int copy_begin(model_copy *copy)
{
    static const char *const linked[] = { "tokenizer.json", "tokenizer_config.json" };
    char source[4200], target[256];
    cJSON *generation;
    int ok;

    snprintf(copy->work, sizeof(copy->work), "/tmp/qwen3vk-model-errors-XXXXXX");
    if (!mkdtemp(copy->work)) {
        fprintf(stderr, "mkdtemp failed under /tmp\n");
        return 0;
    }
    snprintf(copy->model, sizeof(copy->model), "%s/model", copy->work);
    if (mkdir(copy->model, 0700) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(linked) / sizeof(linked[0]); i++) {
        snprintf(source, sizeof(source), "%s/%s", source_dir, linked[i]);
        snprintf(target, sizeof(target), "%s/%s", copy->model, linked[i]);
        if (symlink(source, target) != 0)
            return 0;
    }
    snprintf(source, sizeof(source), "%s/generation_config.json", source_dir);
    snprintf(target, sizeof(target), "%s/generation_config.json", copy->model);
    generation = read_json(source);
    ok = generation && write_json(target, generation);
    cJSON_Delete(generation);
    return ok;
}

static void copy_path(const model_copy *copy, const char *name, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s/%s", copy->model, name);
}

/* A complete copy: config (NULL: the original) and model.safetensors from header (NULL: the
 * original) with data_size bytes of data. Returns the header length, 0 on failure. */
static uint64_t copy_create(model_copy *copy, const cJSON *config, const cJSON *header,
                            uint64_t data_size)
{
    char path[256];

    if (!copy_begin(copy))
        return 0;
    copy_path(copy, "config.json", path, sizeof(path));
    if (!write_json(path, config ? config : source_config))
        return 0;
    copy_path(copy, "model.safetensors", path, sizeof(path));
    return write_safetensors(path, header ? header : source_header,
                             header ? data_size : source_data_size);
}

static void copy_remove(const model_copy *copy)
{
    if (copy->work[0])
        nftw(copy->work, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- header edits --------------------------------------------------------------------- */

/* A copy of the original header, to edit. */
static cJSON *header_copy(void)
{
    return cJSON_Duplicate(source_header, 1);
}

static cJSON *header_entry(cJSON *header, const char *name)
{
    cJSON *entry = cJSON_GetObjectItemCaseSensitive(header, name);
    if (!entry)
        fprintf(stderr, "test bug: no tensor %s in the bundled model\n", name);
    return entry;
}

static double entry_offset(cJSON *header, const char *name, int index)
{
    cJSON *entry = header_entry(header, name);
    return cJSON_GetArrayItem(cJSON_GetObjectItem(entry, "data_offsets"), index)->valuedouble;
}

static void set_offsets(cJSON *header, const char *name, double begin, double end)
{
    cJSON *entry = header_entry(header, name);
    double offsets[2] = { begin, end };
    cJSON_ReplaceItemInObjectCaseSensitive(entry, "data_offsets", cJSON_CreateDoubleArray(offsets, 2));
}

static void set_shape(cJSON *header, const char *name, int n_dims, const int *dims)
{
    cJSON *entry = header_entry(header, name);
    cJSON_ReplaceItemInObjectCaseSensitive(entry, "shape", cJSON_CreateIntArray(dims, n_dims));
}

static void set_dtype(cJSON *header, const char *name, const char *dtype)
{
    cJSON *entry = header_entry(header, name);
    cJSON_ReplaceItemInObjectCaseSensitive(entry, "dtype", cJSON_CreateString(dtype));
}

/* Append a BF16 tensor of n_elements after the current data; returns the new data size. */
static uint64_t add_tensor(cJSON *header, const char *name, int n_elements, uint64_t data_size)
{
    cJSON *entry = cJSON_CreateObject();
    double offsets[2] = { (double)data_size, (double)(data_size + 2 * (uint64_t)n_elements) };

    cJSON_AddStringToObject(entry, "dtype", "BF16");
    cJSON_AddItemToObject(entry, "shape", cJSON_CreateIntArray(&n_elements, 1));
    cJSON_AddItemToObject(entry, "data_offsets", cJSON_CreateDoubleArray(offsets, 2));
    cJSON_AddItemToObject(header, name, entry);
    return data_size + 2 * (uint64_t)n_elements;
}

/* Move the listed tensors (NULL-terminated) from the original header into a new header with
 * contiguous offsets; *data_size receives the new data size. */
static cJSON *header_subset(const char *const *names, uint64_t *data_size)
{
    cJSON *header = cJSON_CreateObject();

    *data_size = 0;
    for (; *names; names++) {
        cJSON *entry = cJSON_Duplicate(header_entry(source_header, *names), 1);
        double begin = cJSON_GetArrayItem(cJSON_GetObjectItem(entry, "data_offsets"), 0)->valuedouble;
        double end = cJSON_GetArrayItem(cJSON_GetObjectItem(entry, "data_offsets"), 1)->valuedouble;
        double offsets[2] = { (double)*data_size, (double)*data_size + (end - begin) };

        cJSON_ReplaceItemInObjectCaseSensitive(entry, "data_offsets",
                                               cJSON_CreateDoubleArray(offsets, 2));
        cJSON_AddItemToObject(header, *names, entry);
        *data_size += (uint64_t)(end - begin);
    }
    return header;
}

/* ---- running the CLI ------------------------------------------------------------------ */

/* Run qwen3vk with args (NULL-terminated), stdout to /dev/null, stderr into result. */
static void run_qwen3vk(const model_copy *copy, const char *const *args, cli_result *result)
{
    const char *bin = getenv("QWEN3VK_BIN");
    char stderr_path[128];
    char *argv[32];
    int n_args = 0, status;
    pid_t pid;
    FILE *file;
    size_t size = 0;

    memset(result, 0, sizeof(*result));
    result->exit_status = -1;
    snprintf(stderr_path, sizeof(stderr_path), "%s/stderr.txt", copy->work);
    argv[n_args++] = (char *)(bin ? bin : "qwen3vk");
    while (*args && n_args < 31)
        argv[n_args++] = (char *)*args++;
    argv[n_args] = NULL;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int err = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int out = open("/dev/null", O_WRONLY);
        if (err < 0 || out < 0 || dup2(err, 2) < 0 || dup2(out, 1) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        snprintf(result->text, sizeof(result->text), "fork or waitpid failed");
        return;
    }
    if (WIFEXITED(status))
        result->exit_status = WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        result->signal = WTERMSIG(status);

    if ((file = fopen(stderr_path, "rb"))) {
        size = fread(result->text, 1, sizeof(result->text) - 1, file);
        fclose(file);
    }
    result->text[size] = '\0';
    for (size_t i = 0; i < size; i++)
        result->n_lines += result->text[i] == '\n';
    if (size > 0 && result->text[size - 1] != '\n')
        result->n_lines++;
}

/* `qwen3vk logits -m model_dir --backend cpu --tokens tokens --out work/logits.bin`, with only
 * errors logged. */
static void run_logits(const model_copy *copy, const char *model_dir, const char *tokens,
                       cli_result *result)
{
    char out_path[128];
    const char *const args[] = { "logits", "-m", model_dir, "--backend", "cpu", "--tokens", tokens,
                                 "--out", out_path, "--log-level", "error", NULL };

    snprintf(out_path, sizeof(out_path), "%s/logits.bin", copy->work);
    run_qwen3vk(copy, args, result);
}

static void check_contains(const cli_result *result, const char *needle)
{
    test_checks++;
    if (!strstr(result->text, needle)) {
        test_failures++;
        fprintf(stderr, "%s: stderr lacks \"%s\"\n", test_current, needle);
    }
}

/* The process exited with one of the expected statuses (exit_low..exit_high), printed one line,
 * no sanitizer report, and the line contains every needle (NULL-terminated). */
static void check_error_line(const cli_result *result, int exit_low, int exit_high,
                             const char *const *needles)
{
    int failures_before = test_failures;

    CHECK_INT_EQ(result->signal, 0);
    CHECK(result->exit_status >= exit_low);
    CHECK(result->exit_status <= exit_high);
    CHECK_INT_EQ(result->n_lines, 1);
    CHECK(!strstr(result->text, "Sanitizer"));
    CHECK(!strstr(result->text, "runtime error"));
    for (; *needles; needles++)
        check_contains(result, *needles);
    if (test_failures != failures_before)
        fprintf(stderr, "%s: exit status %d, signal %d, stderr:\n%s\n", test_current,
                result->exit_status, result->signal, result->text);
    else
        printf("     %s", result->text);
}

/* Run logits on copy->model and expect a load error with status 1 naming every needle. */
static void expect_load_error(const model_copy *copy, const char *const *needles)
{
    cli_result result;
    run_logits(copy, copy->model, "1,2", &result);
    check_error_line(&result, 1, 1, needles);
}

/* Run logits on copy->model and expect success with nothing on stderr. */
static void expect_load_success(const model_copy *copy)
{
    cli_result result;
    char out_path[128];

    run_logits(copy, copy->model, "1,2", &result);
    snprintf(out_path, sizeof(out_path), "%s/logits.bin", copy->work);
    CHECK_INT_EQ(result.signal, 0);
    CHECK_INT_EQ(result.exit_status, 0);
    CHECK_STR_EQ(result.text, "");
    CHECK_INT_EQ(file_size(out_path), 2 * 151936 * sizeof(float));
}

/* ---- control cases -------------------------------------------------------------------- */

static void rewritten_copy_loads(void)
{
    model_copy copy = { 0 };
    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    expect_load_success(&copy);
    copy_remove(&copy);
}

static void tied_copy_with_lm_head_loads(void)
{
    model_copy copy = { 0 };
    cJSON *header = header_copy();
    uint64_t data_size;

    /* Some tied checkpoints carry a copy of the embedding as lm_head.weight; it is not needed. */
    data_size = add_tensor(header, "lm_head.weight", 151936 * 64, source_data_size);
    set_shape(header, "lm_head.weight", 2, (const int[]){ 151936, 64 });
    CHECK(copy_create(&copy, NULL, header, data_size) != 0);
    expect_load_success(&copy);
    cJSON_Delete(header);
    copy_remove(&copy);
}

static void untied_copy_loads(void)
{
    model_copy copy = { 0 };
    cJSON *config = cJSON_Duplicate(source_config, 1);
    cJSON *header = header_copy();
    uint64_t data_size;

    cJSON_ReplaceItemInObjectCaseSensitive(config, "tie_word_embeddings", cJSON_CreateFalse());
    data_size = add_tensor(header, "lm_head.weight", 151936 * 64, source_data_size);
    set_shape(header, "lm_head.weight", 2, (const int[]){ 151936, 64 });
    CHECK(copy_create(&copy, config, header, data_size) != 0);
    expect_load_success(&copy);
    cJSON_Delete(config);
    cJSON_Delete(header);
    copy_remove(&copy);
}

/* ---- safetensors file layout ---------------------------------------------------------- */

static void safetensors_truncated_in_data(void)
{
    const char *name = "model.layers.1.mlp.up_proj.weight";
    model_copy copy = { 0 };
    char path[256];
    uint64_t header_length = copy_create(&copy, NULL, NULL, 0);

    /* Cut the file 100 bytes into up_proj: it is the first tensor, in header order, whose
     * data_offsets end lies past the end. */
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    CHECK(truncate(path, (off_t)(8 + header_length + (uint64_t)entry_offset(source_header, name, 0) +
                                 100)) == 0);
    expect_load_error(&copy, NEEDLES("model.safetensors", name, "truncated"));
    copy_remove(&copy);
}

static void safetensors_truncated_in_length(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    CHECK(truncate(path, 5) == 0);
    expect_load_error(&copy, NEEDLES("model.safetensors", "5 bytes", "truncated"));
    copy_remove(&copy);
}

static void safetensors_empty_file(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    CHECK(truncate(path, 0) == 0);
    expect_load_error(&copy, NEEDLES("model.safetensors", "0 bytes", "truncated"));
    copy_remove(&copy);
}

static void safetensors_header_length_past_end(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    CHECK(patch_header_length(path, file_size(path)));
    expect_load_error(&copy, NEEDLES("model.safetensors", "header length", "past the end"));
    copy_remove(&copy);
}

static void safetensors_header_length_max(void)
{
    model_copy copy = { 0 };
    char path[256];

    /* 2^64 - 1: any arithmetic on the length that wraps around would pass the bounds check. */
    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    CHECK(patch_header_length(path, UINT64_MAX));
    expect_load_error(&copy, NEEDLES("model.safetensors", "header length", "past the end"));
    copy_remove(&copy);
}

static void safetensors_header_not_object(void)
{
    model_copy copy = { 0 };
    cJSON *header = cJSON_CreateIntArray((const int[]){ 1, 2, 3 }, 3);

    CHECK(copy_create(&copy, NULL, header, 0) != 0);
    expect_load_error(&copy, NEEDLES("model.safetensors", "header", "JSON object"));
    cJSON_Delete(header);
    copy_remove(&copy);
}

static void safetensors_header_invalid_json(void)
{
    model_copy copy = { 0 };
    char path[256];
    static const char bytes[] = "\x10\0\0\0\0\0\0\0{\"model.norm.we";

    /* A 16-byte header that stops in the middle of a key. */
    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    CHECK(write_file(path, bytes, 8 + 14));
    CHECK(truncate(path, 8 + 16) == 0);
    expect_load_error(&copy, NEEDLES("model.safetensors", "header", "JSON"));
    copy_remove(&copy);
}

/* ---- safetensors header entries ------------------------------------------------------- */

/* Write a copy whose model.safetensors has header (deleted here) and data_size bytes of data,
 * and expect a load error naming every needle. */
static void expect_header_error(cJSON *header, uint64_t data_size, const char *const *needles)
{
    model_copy copy = { 0 };

    CHECK(copy_create(&copy, NULL, header, data_size) != 0);
    expect_load_error(&copy, needles);
    cJSON_Delete(header);
    copy_remove(&copy);
}

static void safetensors_offset_past_end(void)
{
    cJSON *header = header_copy();
    double end = (double)source_data_size;

    set_offsets(header, "model.norm.weight", end, end + 128);
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "past the end"));
}

static void safetensors_offset_huge(void)
{
    cJSON *header = header_copy();

    /* 1e20 does not fit in 64 bits: the check must not convert it to an integer first. */
    set_offsets(header, "model.norm.weight", 1e20, 1e20 + 4096);
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "past the end"));
}

static void safetensors_offset_fractional(void)
{
    const char *name = "model.layers.0.input_layernorm.weight";
    cJSON *header = header_copy();
    double begin = entry_offset(source_header, name, 0);

    set_offsets(header, name, begin + 0.5, begin + 128.5);
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", name, "whole byte offsets"));
}

static void safetensors_overlapping_tensors(void)
{
    const char *q_proj = "model.layers.0.self_attn.q_proj.weight";
    const char *k_proj = "model.layers.0.self_attn.k_proj.weight";
    cJSON *header = header_copy();
    double q_begin = entry_offset(source_header, q_proj, 0);

    /* k_proj (8192 bytes) moved into the second half of q_proj (16384 bytes). */
    set_offsets(header, k_proj, q_begin + 8192, q_begin + 16384);
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", q_proj, k_proj, "overlap"));
}

static void safetensors_begin_after_end(void)
{
    cJSON *header = header_copy();
    double begin = entry_offset(source_header, "model.norm.weight", 0);

    set_offsets(header, "model.norm.weight", begin + 128, begin);
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "data_offsets",
                                "not after end"));
}

static void safetensors_negative_offset(void)
{
    cJSON *header = header_copy();

    set_offsets(header, "model.norm.weight", -128, 0);
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "[-128, 0]"));
}

static void safetensors_misaligned_offset(void)
{
    cJSON *header = header_copy();
    double begin = (double)source_data_size + 1;

    /* BF16 data at an odd byte offset cannot be read as 16-bit values. */
    set_offsets(header, "model.norm.weight", begin, begin + 128);
    expect_header_error(header, source_data_size + 129,
                        NEEDLES("model.safetensors", "model.norm.weight", "not aligned"));
}

/* Infinite norm weights make every logit NaN, which must be an error, not a sampled token. */
static void weights_infinite(void)
{
    model_copy copy = { 0 };
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(source_header, "model.norm.weight"), "data_offsets");
    uint64_t header_length = copy_create(&copy, NULL, NULL, 0);
    uint8_t infinity[128];
    char path[256];
    int fd;

    CHECK(header_length != 0);
    for (size_t i = 0; i < sizeof(infinity); i += 2) {
        infinity[i] = 0x80; /* bf16 +infinity is 0x7f80, little-endian */
        infinity[i + 1] = 0x7f;
    }
    copy_path(&copy, "model.safetensors", path, sizeof(path));
    fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, infinity, sizeof(infinity),
                 (off_t)(8 + header_length +
                         (uint64_t)cJSON_GetArrayItem(offsets, 0)->valuedouble)) ==
          (ssize_t)sizeof(infinity));
    close(fd);
    expect_load_error(&copy, NEEDLES("NaN or infinite", "model files"));
    copy_remove(&copy);
}

static void safetensors_dtype_i32(void)
{
    cJSON *header = header_copy();

    set_dtype(header, "model.norm.weight", "I32");
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "dtype I32"));
}

static void safetensors_dtype_f64(void)
{
    const char *name = "model.layers.2.self_attn.q_proj.weight";
    cJSON *header = header_copy();

    set_dtype(header, name, "F64");
    expect_header_error(header, source_data_size, NEEDLES("model.safetensors", name, "dtype F64"));
}

static void safetensors_dtype_missing(void)
{
    cJSON *header = header_copy();

    cJSON_DeleteItemFromObjectCaseSensitive(header_entry(header, "model.norm.weight"), "dtype");
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "needs dtype"));
}

static void safetensors_size_not_shape(void)
{
    cJSON *header = header_copy();

    /* 65 BF16 values need 130 bytes; data_offsets still span 128. */
    set_shape(header, "model.norm.weight", 1, (const int[]){ 65 });
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "128 data bytes",
                                "130 bytes"));
}

static void safetensors_negative_dimension(void)
{
    cJSON *header = header_copy();

    set_shape(header, "model.norm.weight", 1, (const int[]){ -64 });
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", "model.norm.weight", "invalid shape"));
}

static void safetensors_name_too_long(void)
{
    cJSON *header = header_copy();
    char name[5001];

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    add_tensor(header, name, 64, source_data_size);
    expect_header_error(header, source_data_size + 128,
                        NEEDLES("model.safetensors", "tensor name too long", "xxxxxxxx"));
}

/* ---- tensors against config.json ------------------------------------------------------ */

static void tensor_shape_transposed(void)
{
    const char *name = "model.layers.0.self_attn.q_proj.weight";
    cJSON *header = header_copy();

    set_shape(header, name, 2, (const int[]){ 64, 128 });
    expect_header_error(header, source_data_size,
                        NEEDLES("model.safetensors", name, "[64, 128]", "[128, 64]"));
}

static void tensor_missing(void)
{
    const char *name = "model.layers.1.self_attn.k_norm.weight";
    cJSON *header = header_copy();

    cJSON_DeleteItemFromObjectCaseSensitive(header, name);
    expect_header_error(header, source_data_size, NEEDLES(name, "missing"));
}

static void tensor_unexpected_in_layer(void)
{
    const char *name = "model.layers.0.self_attn.q_proj.bias";
    cJSON *header = header_copy();

    /* A bias in a layer that exists: the name looks like a layer tensor but none binds it. */
    uint64_t data_size = add_tensor(header, name, 128, source_data_size);
    expect_header_error(header, data_size, NEEDLES("model.safetensors", name, "unexpected"));
}

static void tensor_unexpected_layer(void)
{
    const char *name = "model.layers.3.input_layernorm.weight";
    cJSON *header = header_copy();

    /* config.json has 3 layers, so layer 3 does not exist. */
    uint64_t data_size = add_tensor(header, name, 64, source_data_size);
    expect_header_error(header, data_size, NEEDLES("model.safetensors", name, "unexpected"));
}

static void tensor_listed_twice(void)
{
    const char *name = "model.layers.2.self_attn.q_norm.weight";
    cJSON *header = header_copy();

    /* JSON allows a repeated key; the second entry has its own data range. */
    uint64_t data_size = add_tensor(header, name, 32, source_data_size);
    expect_header_error(header, data_size, NEEDLES("model.safetensors", name, "twice"));
}

/* A copy whose config.json is the original with key set to value (NULL: key removed); value
 * is consumed. */
static void expect_config_error(const char *key, cJSON *value, const char *const *needles)
{
    model_copy copy = { 0 };
    cJSON *config = cJSON_Duplicate(source_config, 1);

    if (!value)
        cJSON_DeleteItemFromObjectCaseSensitive(config, key);
    else if (cJSON_GetObjectItemCaseSensitive(config, key))
        cJSON_ReplaceItemInObjectCaseSensitive(config, key, value);
    else
        cJSON_AddItemToObject(config, key, value);
    CHECK(copy_create(&copy, config, NULL, 0) != 0);
    expect_load_error(&copy, needles);
    cJSON_Delete(config);
    copy_remove(&copy);
}

static void tensor_lm_head_missing_untied(void)
{
    expect_config_error("tie_word_embeddings", cJSON_CreateFalse(),
                        NEEDLES("lm_head.weight", "tie_word_embeddings"));
}

static void tensor_layer_count_huge(void)
{
    /* A billion layers: the first one the files lack is named, nothing is allocated for the rest. */
    expect_config_error("num_hidden_layers", cJSON_CreateNumber(1e9),
                        NEEDLES("model.layers.3.input_layernorm.weight", "missing"));
}

/* ---- sharded copies ------------------------------------------------------------------- */

#define SHARD_1 "model-00001-of-00002.safetensors"
#define SHARD_2 "model-00002-of-00002.safetensors"

/* Split the tiny model into SHARD_1 (the embedding and layer 0) and SHARD_2 (the rest), with
 * model.safetensors.index.json mapping each tensor to its shard. extra_in_shard_1, when set,
 * is also written to SHARD_1, so that it appears in both shards. */
static int copy_create_sharded(model_copy *copy, const char *extra_in_shard_1)
{
    const char *names_1[16], *names_2[48];
    int n_1 = 0, n_2 = 0, ok;
    const cJSON *entry;
    cJSON *index, *weight_map, *header;
    uint64_t data_size;
    char path[256];

    if (!copy_begin(copy))
        return 0;
    copy_path(copy, "config.json", path, sizeof(path));
    if (!write_json(path, source_config))
        return 0;
    index = cJSON_CreateObject();
    cJSON_AddItemToObject(index, "metadata", cJSON_CreateObject());
    weight_map = cJSON_AddObjectToObject(index, "weight_map");
    cJSON_ArrayForEach(entry, source_header) {
        int first = strcmp(entry->string, "model.embed_tokens.weight") == 0 ||
                    strncmp(entry->string, "model.layers.0.", 15) == 0;
        if (strcmp(entry->string, "__metadata__") == 0)
            continue;
        if (first)
            names_1[n_1++] = entry->string;
        else
            names_2[n_2++] = entry->string;
        cJSON_AddStringToObject(weight_map, entry->string, first ? SHARD_1 : SHARD_2);
    }
    if (extra_in_shard_1)
        names_1[n_1++] = extra_in_shard_1;
    names_1[n_1] = NULL;
    names_2[n_2] = NULL;

    copy_path(copy, "model.safetensors.index.json", path, sizeof(path));
    ok = write_json(path, index);
    cJSON_Delete(index);
    header = header_subset(names_1, &data_size);
    copy_path(copy, SHARD_1, path, sizeof(path));
    ok = ok && write_safetensors(path, header, data_size);
    cJSON_Delete(header);
    header = header_subset(names_2, &data_size);
    copy_path(copy, SHARD_2, path, sizeof(path));
    ok = ok && write_safetensors(path, header, data_size);
    cJSON_Delete(header);
    return ok;
}

static void sharded_copy_loads(void)
{
    model_copy copy = { 0 };
    CHECK(copy_create_sharded(&copy, NULL));
    expect_load_success(&copy);
    copy_remove(&copy);
}

static void sharded_shard_missing(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create_sharded(&copy, NULL));
    copy_path(&copy, SHARD_2, path, sizeof(path));
    CHECK(unlink(path) == 0);
    expect_load_error(&copy, NEEDLES("model.safetensors.index.json", SHARD_2, "missing"));
    copy_remove(&copy);
}

static void sharded_index_without_weight_map(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create_sharded(&copy, NULL));
    copy_path(&copy, "model.safetensors.index.json", path, sizeof(path));
    CHECK(write_text(path, "{\"metadata\": {\"total_size\": 19817728}}\n"));
    expect_load_error(&copy, NEEDLES("model.safetensors.index.json", "weight_map"));
    copy_remove(&copy);
}

static void sharded_index_invalid_json(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create_sharded(&copy, NULL));
    copy_path(&copy, "model.safetensors.index.json", path, sizeof(path));
    CHECK(write_text(path, "{\"weight_map\": {\"model.norm.weight\": \n"));
    expect_load_error(&copy, NEEDLES("model.safetensors.index.json", "JSON"));
    copy_remove(&copy);
}

static void sharded_index_path_outside(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create_sharded(&copy, NULL));
    copy_path(&copy, "model.safetensors.index.json", path, sizeof(path));
    CHECK(write_text(path, "{\"weight_map\": {\"model.norm.weight\": \"../" SHARD_2 "\"}}\n"));
    expect_load_error(&copy, NEEDLES("model.safetensors.index.json", "model.norm.weight", "file name"));
    copy_remove(&copy);
}

static void sharded_tensor_in_both_shards(void)
{
    model_copy copy = { 0 };

    CHECK(copy_create_sharded(&copy, "model.norm.weight"));
    expect_load_error(&copy, NEEDLES(SHARD_1, SHARD_2, "model.norm.weight", "twice"));
    copy_remove(&copy);
}

/* The untied two-shard reference model, when QWEN3VK_REFERENCE_DIR points at it: a folder of
 * symlinks that lacks the second shard. */
static void reference_sharded_shard_missing(void)
{
    static const char *const linked[] = { "config.json", "generation_config.json",
                                          "model.safetensors.index.json", SHARD_1 };
    const char *reference = getenv("QWEN3VK_REFERENCE_DIR");
    char source[4200], target[256];
    model_copy copy = { 0 };

    snprintf(source, sizeof(source), "%s/models/qwen3-tiny-untied-sharded/" SHARD_2,
             reference ? reference : "");
    if (!reference || !*reference || access(source, F_OK) != 0) {
        printf("skip %s: QWEN3VK_REFERENCE_DIR/models/qwen3-tiny-untied-sharded not found\n",
               test_current);
        return;
    }
    CHECK(copy_begin(&copy));
    for (size_t i = 0; i < sizeof(linked) / sizeof(linked[0]); i++) {
        snprintf(source, sizeof(source), "%s/models/qwen3-tiny-untied-sharded/%s", reference,
                 linked[i]);
        copy_path(&copy, linked[i], target, sizeof(target));
        unlink(target);
        CHECK(symlink(source, target) == 0);
    }
    expect_load_error(&copy, NEEDLES("model.safetensors.index.json", SHARD_2, "missing"));
    copy_remove(&copy);
}

/* ---- config.json and the model folder ------------------------------------------------- */

static void config_key_missing(void)
{
    expect_config_error("num_attention_heads", NULL,
                        NEEDLES("config.json", "num_attention_heads", "missing"));
}

static void config_key_unknown(void)
{
    expect_config_error("quantization_config", cJSON_Parse("{\"quant_method\": \"awq\"}"),
                        NEEDLES("config.json", "quantization_config", "unknown"));
}

static void config_model_type_llama(void)
{
    expect_config_error("model_type", cJSON_CreateString("llama"),
                        NEEDLES("config.json", "model_type", "llama"));
}

static void config_rope_scaling_yarn(void)
{
    expect_config_error("rope_scaling",
                        cJSON_Parse("{\"rope_type\": \"yarn\", \"factor\": 4.0, "
                                    "\"original_max_position_embeddings\": 32768}"),
                        NEEDLES("config.json", "rope_scaling", "yarn"));
}

static void config_value_not_integer(void)
{
    expect_config_error("hidden_size", cJSON_CreateString("64"),
                        NEEDLES("config.json", "hidden_size", "integer"));
}

static void config_value_beyond_float(void)
{
    expect_config_error("rope_theta", cJSON_CreateNumber(1e300),
                        NEEDLES("config.json", "rope_theta", "float range"));
}

static void config_invalid_json(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "config.json", path, sizeof(path));
    CHECK(write_text(path, "{\n  \"model_type\": \"qwen3\",\n  \"hidden_size\": 64,,\n}\n"));
    expect_load_error(&copy, NEEDLES("config.json", "JSON", "line 3"));
    copy_remove(&copy);
}

static void config_file_missing(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "config.json", path, sizeof(path));
    CHECK(unlink(path) == 0);
    expect_load_error(&copy, NEEDLES(path, "No such file"));
    copy_remove(&copy);
}

static void generation_config_invalid_json(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "generation_config.json", path, sizeof(path));
    CHECK(write_text(path, "{\"top_k\": 20"));
    expect_load_error(&copy, NEEDLES("generation_config.json", "JSON"));
    copy_remove(&copy);
}

static void generation_config_eos_out_of_range(void)
{
    model_copy copy = { 0 };
    char path[256];

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "generation_config.json", path, sizeof(path));
    CHECK(write_text(path, "{\"eos_token_id\": [151645, 1e20]}"));
    expect_load_error(&copy, NEEDLES("generation_config.json", "eos_token_id", "1e+20"));
    copy_remove(&copy);
}

static void model_folder_missing(void)
{
    model_copy copy = { 0 };
    char absent[256];
    cli_result result;

    CHECK(copy_begin(&copy));
    snprintf(absent, sizeof(absent), "%s/absent", copy.work);
    run_logits(&copy, absent, "1,2", &result);
    check_error_line(&result, 1, 1, NEEDLES("model folder", absent, "No such file"));
    copy_remove(&copy);
}

static void model_folder_is_file(void)
{
    model_copy copy = { 0 };
    char path[256];
    cli_result result;

    CHECK(copy_create(&copy, NULL, NULL, 0) != 0);
    copy_path(&copy, "config.json", path, sizeof(path));
    run_logits(&copy, path, "1,2", &result);
    check_error_line(&result, 1, 1, NEEDLES(path, "not a folder"));
    copy_remove(&copy);
}

/* ---- command-line arguments ----------------------------------------------------------- */

/* Usage errors exit with 2, errors found while running with 1; both are accepted here. */
static void cli_tokens_not_a_number(void)
{
    model_copy copy = { 0 };
    cli_result result;

    CHECK(copy_begin(&copy));
    run_logits(&copy, source_dir, "1,two", &result);
    check_error_line(&result, 1, 2, NEEDLES("--tokens", "1,two"));
    copy_remove(&copy);
}

static void cli_tokens_negative(void)
{
    model_copy copy = { 0 };
    cli_result result;

    CHECK(copy_begin(&copy));
    run_logits(&copy, source_dir, "1,-5", &result);
    check_error_line(&result, 1, 2, NEEDLES("--tokens", "-5"));
    copy_remove(&copy);
}

static void cli_token_beyond_vocab(void)
{
    model_copy copy = { 0 };
    cli_result result;

    /* 151936 is one past the last id of the vocabulary. */
    CHECK(copy_begin(&copy));
    run_logits(&copy, source_dir, "1,151936", &result);
    check_error_line(&result, 1, 1, NEEDLES("151936", "vocabulary"));
    copy_remove(&copy);
}

static void cli_model_flag_missing(void)
{
    const char *const args[] = { "logits", "--backend", "cpu", "--tokens", "1,2", "--out",
                                 "/dev/null", "--log-level", "error", NULL };
    model_copy copy = { 0 };
    cli_result result;

    CHECK(copy_begin(&copy));
    run_qwen3vk(&copy, args, &result);
    check_error_line(&result, 1, 2, NEEDLES("-m"));
    copy_remove(&copy);
}

/* ---- main ----------------------------------------------------------------------------- */

/* Parse the bundled model's config.json and safetensors header. */
static int load_source(void)
{
    char path[4200];
    uint8_t length_bytes[8];
    uint64_t header_length = 0;
    char *text;
    FILE *file;
    const cJSON *entry;

    /* Absolute, because the copies symlink to its tokenizer files. */
    snprintf(path, sizeof(path), "%s/qwen3-tiny", test_data_dir());
    if (!realpath(path, source_dir))
        return 0;
    snprintf(path, sizeof(path), "%s/config.json", source_dir);
    if (!(source_config = read_json(path)))
        return 0;
    snprintf(path, sizeof(path), "%s/model.safetensors", source_dir);
    if (!(file = fopen(path, "rb")) || fread(length_bytes, 1, 8, file) != 8) {
        if (file)
            fclose(file);
        return 0;
    }
    for (int i = 0; i < 8; i++)
        header_length |= (uint64_t)length_bytes[i] << (8 * i);
    text = header_length < (1 << 20) ? calloc(1, (size_t)header_length + 1) : NULL;
    if (!text || fread(text, 1, (size_t)header_length, file) != header_length) {
        free(text);
        fclose(file);
        return 0;
    }
    fclose(file);
    source_header = cJSON_Parse(text);
    free(text);
    cJSON_ArrayForEach(entry, source_header) {
        const cJSON *offsets = cJSON_GetObjectItem(entry, "data_offsets");
        if (offsets && cJSON_GetArrayItem(offsets, 1)->valuedouble > (double)source_data_size)
            source_data_size = (uint64_t)cJSON_GetArrayItem(offsets, 1)->valuedouble;
    }
    return source_header != NULL;
}

int main(void)
{
    if (!load_source()) {
        fprintf(stderr, "cannot read the bundled model in %s/qwen3-tiny\n", test_data_dir());
        return 1;
    }

    RUN_TEST(rewritten_copy_loads);
    RUN_TEST(tied_copy_with_lm_head_loads);
    RUN_TEST(untied_copy_loads);

    RUN_TEST(safetensors_truncated_in_data);
    RUN_TEST(safetensors_truncated_in_length);
    RUN_TEST(safetensors_empty_file);
    RUN_TEST(safetensors_header_length_past_end);
    RUN_TEST(safetensors_header_length_max);
    RUN_TEST(safetensors_header_not_object);
    RUN_TEST(safetensors_header_invalid_json);
    RUN_TEST(safetensors_offset_past_end);
    RUN_TEST(safetensors_offset_huge);
    RUN_TEST(safetensors_offset_fractional);
    RUN_TEST(safetensors_overlapping_tensors);
    RUN_TEST(safetensors_begin_after_end);
    RUN_TEST(safetensors_negative_offset);
    RUN_TEST(safetensors_misaligned_offset);
    RUN_TEST(weights_infinite);
    RUN_TEST(safetensors_dtype_i32);
    RUN_TEST(safetensors_dtype_f64);
    RUN_TEST(safetensors_dtype_missing);
    RUN_TEST(safetensors_size_not_shape);
    RUN_TEST(safetensors_negative_dimension);
    RUN_TEST(safetensors_name_too_long);

    RUN_TEST(tensor_shape_transposed);
    RUN_TEST(tensor_missing);
    RUN_TEST(tensor_unexpected_in_layer);
    RUN_TEST(tensor_unexpected_layer);
    RUN_TEST(tensor_listed_twice);
    RUN_TEST(tensor_lm_head_missing_untied);
    RUN_TEST(tensor_layer_count_huge);

    RUN_TEST(sharded_copy_loads);
    RUN_TEST(sharded_shard_missing);
    RUN_TEST(sharded_index_without_weight_map);
    RUN_TEST(sharded_index_invalid_json);
    RUN_TEST(sharded_index_path_outside);
    RUN_TEST(sharded_tensor_in_both_shards);
    RUN_TEST(reference_sharded_shard_missing);

    RUN_TEST(config_key_missing);
    RUN_TEST(config_key_unknown);
    RUN_TEST(config_model_type_llama);
    RUN_TEST(config_rope_scaling_yarn);
    RUN_TEST(config_value_not_integer);
    RUN_TEST(config_value_beyond_float);
    RUN_TEST(config_invalid_json);
    RUN_TEST(config_file_missing);
    RUN_TEST(generation_config_invalid_json);
    RUN_TEST(generation_config_eos_out_of_range);
    RUN_TEST(model_folder_missing);
    RUN_TEST(model_folder_is_file);

    RUN_TEST(cli_tokens_not_a_number);
    RUN_TEST(cli_tokens_negative);
    RUN_TEST(cli_token_beyond_vocab);
    RUN_TEST(cli_model_flag_missing);

    cJSON_Delete(source_config);
    cJSON_Delete(source_header);
    return test_finish();
}
