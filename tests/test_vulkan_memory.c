/* Host memory and the Vulkan backend: importing weights without a copy
 * (VK_EXT_external_memory_host) and its alignment rules, and releasing the pages of a read-only
 * file mapping once the weights are copied, which must leave the data readable. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vulkan_test_util.h"

#define TEST_BYTES (64 * 1024)

static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)(i * 131u + 7u);
}

static bool pattern_intact(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (data[i] != pattern_byte(i))
            return false;
    return true;
}

/* A private read-only mapping of a temporary file of TEST_BYTES pattern bytes, as a model file
 * is mapped; NULL on failure. */
static uint8_t *pattern_file_map(void)
{
    char path[] = "/tmp/qwen3vk-test-pages-XXXXXX";
    uint8_t *bytes = malloc(TEST_BYTES);
    int fd = mkstemp(path);
    void *data = MAP_FAILED;

    if (fd >= 0 && bytes) {
        for (size_t i = 0; i < TEST_BYTES; i++)
            bytes[i] = pattern_byte(i);
        if (write(fd, bytes, TEST_BYTES) == TEST_BYTES)
            data = mmap(NULL, TEST_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(bytes);
    return data == MAP_FAILED ? NULL : data;
}

static void release_drops_file_pages(void)
{
    uint8_t *data = pattern_file_map();
    long page = sysconf(_SC_PAGESIZE);

    CHECK(data != NULL);
    if (!data)
        return;
    CHECK(pattern_intact(data, TEST_BYTES));
    /* Only the whole pages inside the range go: those after byte 100, before byte 60100. */
    size_t expected = (size_t)((60100 / page - (100 + page - 1) / page) * page);
    CHECK_INT_EQ(qvk_vk_host_pages_release(data + 100, 60000), expected);
    CHECK(pattern_intact(data, TEST_BYTES)); /* re-read from the file */
    munmap(data, TEST_BYTES);
}

static void release_keeps_heap_memory(void)
{
    uint8_t *data = malloc(TEST_BYTES);

    for (size_t i = 0; i < TEST_BYTES; i++)
        data[i] = pattern_byte(i);
    CHECK_INT_EQ(qvk_vk_host_pages_release(data, TEST_BYTES), 0);
    CHECK(pattern_intact(data, TEST_BYTES));
    free(data);
}

static void release_ignores_partial_pages(void)
{
    uint8_t *data = pattern_file_map();

    if (!data)
        return;
    CHECK_INT_EQ(qvk_vk_host_pages_release(data + 1, 100), 0);
    CHECK_INT_EQ(qvk_vk_host_pages_release(data, 0), 0);
    munmap(data, TEST_BYTES);
}

/* Import succeeds for 16-byte aligned addresses and sizes, where the device imports at all, and
 * returns QVK_ERR_UNSUPPORTED otherwise, so that the caller copies. */
static void import_alignment(void)
{
    qvk_vk_context_options options = { .device_index = -1 };
    qvk_vk_context *context = NULL;
    qvk_vk_allocator allocator;
    uint8_t *data = aligned_alloc(4096, TEST_BYTES);
    qvk_vk_slice slice;

    CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_OK);
    if (!context || !data) {
        free(data);
        qvk_vk_context_destroy(context);
        return;
    }
    qvk_vk_allocator_init(&allocator, context);
    if (context->host_import) {
        CHECK_INT_EQ(qvk_vk_import(&allocator, data + 4096 + 64, 8192, "aligned", &slice),
                     QVK_OK);
        CHECK_INT_EQ(slice.offset, 64);
        CHECK_INT_EQ(slice.size, 8192);
        CHECK(slice.mapped == NULL);
        CHECK_INT_EQ(allocator.imported_bytes, 3 * 4096);
        CHECK_INT_EQ(qvk_vk_allocator_allocated_bytes(&allocator), 0);
    }
    CHECK_INT_EQ(qvk_vk_import(&allocator, data + 8, 8192, "misaligned address", &slice),
                 QVK_ERR_UNSUPPORTED);
    CHECK_INT_EQ(qvk_vk_import(&allocator, data, 8200, "misaligned size", &slice),
                 QVK_ERR_UNSUPPORTED);
    CHECK_INT_EQ(qvk_vk_import(&allocator, data, 0, "empty", &slice), QVK_ERR_UNSUPPORTED);
    qvk_vk_allocator_free(&allocator);
    qvk_vk_context_destroy(context);
    free(data);
}

static void import_off_by_option(void)
{
    qvk_vk_context_options options = { .device_index = -1, .no_host_import = true };
    qvk_vk_context *context = NULL;

    CHECK_INT_EQ(qvk_vk_context_create(&options, &context), QVK_OK);
    if (context)
        CHECK(!context->host_import);
    qvk_vk_context_destroy(context);
}

int main(void)
{
    vulkan_require_device();
    qvk_log_set_level(QVK_LOG_WARN);
    RUN_TEST(release_drops_file_pages);
    RUN_TEST(release_keeps_heap_memory);
    RUN_TEST(release_ignores_partial_pages);
    RUN_TEST(import_alignment);
    RUN_TEST(import_off_by_option);
    CHECK_INT_EQ(qvk_vulkan_validation_message_count(), 0);
    return test_finish();
}
