/* The Vulkan device layer: the device report, device choice errors, configuration errors,
 * allocation errors, and the pipeline cache on disk (cold, warm, corrupt, truncated). */
#include <sys/stat.h>
#include <unistd.h>

#include "vulkan_test_util.h"

/* The log lines of the last operation, to check what the library reported. */
static char log_lines[8192];

static void log_capture(qvk_log_level level, const char *line, void *user_data)
{
    size_t used = strlen(log_lines);
    if (level >= QVK_LOG_WARN)
        snprintf(log_lines + used, sizeof(log_lines) - used, "%s\n", line);
}

/* A one-op graph (SwiGLU over 16 floats) whose backend builds every non-weight pipeline. */
static qvk_model_config small_config;
static qvk_op small_op = { .kind = QVK_OP_SWIGLU, .src = QVK_BUF_UP, .dst = QVK_BUF_GATE,
                           .rows = QVK_ROWS_ALL };
static qvk_graph small_graph = { &small_config, &small_op, 1 };

static qvk_status small_backend_open(int32_t device_index, qvk_backend **out)
{
    qvk_backend_config config = backend_config_make(4, 2);
    config.device_index = device_index;
    log_lines[0] = '\0';
    return qvk_vulkan_backend_create(&small_graph, &config, out);
}

static void devices_report_lists_every_device(void)
{
    char *report = NULL;
    qvk_vk_context_options options = { .device_index = -1 };
    qvk_vk_context *context = NULL;

    CHECK_INT_EQ(qvk_vulkan_devices_report(&report), QVK_OK);
    CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_OK);
    if (report && context) {
        char chosen[512];
        /* A CPU-type device (lavapipe) is reported as the best device, but --backend auto
         * takes the CPU backend instead. */
        bool cpu = context->info.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
        snprintf(chosen, sizeof(chosen), cpu ? "automatic choice: the CPU backend, because the "
                 "best device, [%u] %s" : "automatic choice: [%u] %s", context->info.index,
                 context->info.properties.deviceName);
        CHECK(strstr(report, chosen) != NULL);
        CHECK(strstr(report, "[0] ") != NULL);
        CHECK(strstr(report, "max storage buffer range") != NULL);
        CHECK(strstr(report, "subgroups: size") != NULL);
        CHECK(strstr(report, "memory heap 0:") != NULL);
        CHECK(strstr(report, "timestamps") != NULL);
    }
    free(report);
    qvk_vk_context_destroy(context);
}

/* --backend auto must not pick a CPU driver; naming the device explicitly still works. */
static void auto_rejects_cpu_device(void)
{
    qvk_vk_context_options options = { .device_index = -1, .reject_cpu_devices = true };
    qvk_vk_context *context = NULL;
    qvk_vk_context_options plain = { .device_index = -1 };
    qvk_vk_context *probe = NULL;
    bool cpu;

    CHECK_INT_EQ(qvk_vk_context_create(&plain, &probe), QVK_OK);
    if (!probe)
        return;
    cpu = probe->info.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    qvk_vk_context_destroy(probe);
    if (cpu) {
        CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_ERR_UNSUPPORTED);
        CHECK(strstr(qvk_last_error(), "is a CPU driver") != NULL);
    } else {
        CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_OK);
    }
    qvk_vk_context_destroy(context);
}

static void device_index_out_of_range(void)
{
    qvk_backend *backend = NULL;
    CHECK_INT_EQ(small_backend_open(999, &backend), QVK_ERR_INVALID_ARGUMENT);
    CHECK(backend == NULL);
    CHECK(strstr(qvk_last_error(), "999 is out of range") != NULL);
}

static void device_index_zero_is_usable(void)
{
    qvk_backend *backend = NULL;
    CHECK_INT_EQ(small_backend_open(0, &backend), QVK_OK);
    if (backend) {
        CHECK(strncmp(backend->name, "vulkan (", 8) == 0);
        backend->vtable->destroy(backend);
    }
}

static void invalid_configurations(void)
{
    qvk_backend *backend = NULL;
    qvk_backend_config config = backend_config_make(4, 0);
    qvk_model_config odd = small_config;
    qvk_graph odd_graph = { &odd, &small_op, 1 };

    CHECK_INT_EQ(qvk_vulkan_backend_create(&small_graph, &config, &backend),
                 QVK_ERR_INVALID_ARGUMENT);
    config = backend_config_make(4, 70000);
    CHECK_INT_EQ(qvk_vulkan_backend_create(&small_graph, &config, &backend),
                 QVK_ERR_INVALID_ARGUMENT);
    odd.head_dim = 33;
    config = backend_config_make(4, 2);
    CHECK_INT_EQ(qvk_vulkan_backend_create(&odd_graph, &config, &backend), QVK_ERR_UNSUPPORTED);
    CHECK(strstr(qvk_last_error(), "head_dim 33") != NULL);
    odd.head_dim = 2;
    odd.n_kv_heads = 3;
    CHECK_INT_EQ(qvk_vulkan_backend_create(&odd_graph, &config, &backend), QVK_ERR_UNSUPPORTED);
    CHECK(backend == NULL);
}

/* A K cache larger than one binding cannot be split; the error names n_ctx and the limit. */
static void cache_larger_than_binding(void)
{
    qvk_model_config config = config_make(16, 16, 4, 2, 32, 16);
    qvk_op op = { .kind = QVK_OP_SWIGLU, .src = QVK_BUF_UP, .dst = QVK_BUF_GATE,
                  .rows = QVK_ROWS_ALL };
    qvk_graph graph = { &config, &op, 1 };
    qvk_backend_config backend_config = backend_config_make(1024, 2);
    qvk_vk_context_options options = { .device_index = -1, .max_binding = 65536 };
    qvk_backend *backend = NULL;

    /* 1024 positions × 2 heads × 32 floats × 4 bytes = 256 KiB per layer. */
    CHECK_INT_EQ(qvk_vk_backend_create(&graph, &backend_config, &options, &backend),
                 QVK_ERR_UNSUPPORTED);
    CHECK(strstr(qvk_last_error(), "a context of 1024 tokens") != NULL);
    CHECK(strstr(qvk_last_error(), "(--ctx, n_ctx) of at most 256") != NULL);
}

/* An allocation the device cannot make fails with the size and memory kind in the message. */
static void allocation_too_large(void)
{
    qvk_vk_context_options options = { .device_index = -1 };
    qvk_vk_context *context = NULL;
    qvk_vk_allocator allocator;
    qvk_vk_slice slice;

    CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_OK);
    if (!context)
        return;
    qvk_vk_allocator_init(&allocator, context);
    VkDeviceSize size = allocator.max_block_size + 1;
    CHECK_INT_EQ(qvk_vk_alloc(&allocator, QVK_VK_MEMORY_DEVICE, size, "a test buffer", &slice),
                 QVK_ERR_OUT_OF_MEMORY);
    CHECK(strstr(qvk_last_error(), "allocating a test buffer") != NULL);
    CHECK(strstr(qvk_last_error(), "MiB") != NULL);
    qvk_vk_allocator_free(&allocator);
    qvk_vk_context_destroy(context);
}

/* ---- The pipeline cache --------------------------------------------------------------------- */

static char cache_home[64];

/* Open and close a backend; returns whether its pipeline cache was warm and the file path. */
static bool cache_round(char *path, size_t path_size)
{
    qvk_backend *backend = NULL;
    bool warm = false;
    CHECK_INT_EQ(small_backend_open(-1, &backend), QVK_OK);
    if (backend) {
        const qvk_vk_pipelines *pipelines = &((qvk_vk_backend *)backend)->pipelines;
        warm = pipelines->cache_warm;
        snprintf(path, path_size, "%s", pipelines->cache_path);
        backend->vtable->destroy(backend);
    }
    return warm;
}

static long file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (long)info.st_size : -1;
}

/* Point XDG_CACHE_HOME at a new, empty folder under cache_home. */
static void cache_home_fresh(const char *name)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/%s", cache_home, name);
    CHECK_INT_EQ(mkdir(dir, 0700), 0);
    setenv("XDG_CACHE_HOME", dir, 1);
}

static void pipeline_cache_cold_then_warm(void)
{
    char path[4096];
    cache_home_fresh("cold");
    CHECK(!cache_round(path, sizeof(path)));
    CHECK(strncmp(path, cache_home, strlen(cache_home)) == 0);
    CHECK(file_size(path) > 0);
    CHECK(cache_round(path, sizeof(path)));
}

/* Overwrite size bytes at offset of the cache file. */
static void cache_damage(const char *path, long offset, const char *bytes, size_t size)
{
    FILE *file = fopen(path, "r+b");
    CHECK(file != NULL);
    if (!file)
        return;
    fseek(file, offset, SEEK_SET);
    fwrite(bytes, 1, size, file);
    fclose(file);
}

static void pipeline_cache_corrupt_is_ignored(void)
{
    char path[4096];
    cache_home_fresh("corrupt");
    cache_round(path, sizeof(path));
    long size = file_size(path);

    cache_damage(path, size - 8, "garbage!", 8);
    CHECK(!cache_round(path, sizeof(path)));
    CHECK(strstr(log_lines, "ignoring the pipeline cache") != NULL);
    CHECK(strstr(log_lines, "checksum mismatch") != NULL);
    CHECK(cache_round(path, sizeof(path))); /* rewritten on the cold start */

    CHECK_INT_EQ(truncate(path, size - 1), 0);
    CHECK(!cache_round(path, sizeof(path)));
    CHECK(strstr(log_lines, "truncated") != NULL);

    cache_damage(path, 0, "NOTACACHE", 9);
    CHECK(!cache_round(path, sizeof(path)));
    CHECK(strstr(log_lines, "not a qwen3vk pipeline cache") != NULL);

    CHECK_INT_EQ(truncate(path, 5), 0);
    CHECK(!cache_round(path, sizeof(path)));
    CHECK(strstr(log_lines, "shorter than its header") != NULL);
    CHECK(cache_round(path, sizeof(path)));
}

static void cache_home_remove(void)
{
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", cache_home);
    CHECK_INT_EQ(system(command), 0);
}

int main(void)
{
    vulkan_require_device();
    small_config = config_make(16, 16, 1, 1, 2, 16);
    qvk_log_set_callback(log_capture, NULL);
    snprintf(cache_home, sizeof(cache_home), "/tmp/qwen3vk-test-cache-XXXXXX");
    if (!mkdtemp(cache_home)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("XDG_CACHE_HOME", cache_home, 1);

    RUN_TEST(devices_report_lists_every_device);
    RUN_TEST(auto_rejects_cpu_device);
    RUN_TEST(device_index_out_of_range);
    RUN_TEST(device_index_zero_is_usable);
    RUN_TEST(invalid_configurations);
    RUN_TEST(cache_larger_than_binding);
    RUN_TEST(allocation_too_large);
    RUN_TEST(pipeline_cache_cold_then_warm);
    RUN_TEST(pipeline_cache_corrupt_is_ignored);
    cache_home_remove();
    CHECK_INT_EQ(qvk_vulkan_validation_message_count(), 0);
    qvk_log_set_callback(NULL, NULL);
    return test_finish();
}
