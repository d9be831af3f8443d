/* The VkPipelineCache on disk, in $XDG_CACHE_HOME/qwen3vk (or ~/.cache/qwen3vk). There is one
 * file per pipelineCacheUUID (the driver's identifier of its cache format) and driver version.
 * A header with a checksum guards each file, so a truncated or corrupt file is ignored instead
 * of handed to the driver. */
#include "backend/vulkan/pipelines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "shaders.h"

#define CACHE_MAGIC "QVKPIPE1"

typedef struct cache_header {
    char magic[8];
    uint32_t vendor_id;
    uint32_t device_id;
    uint32_t driver_version;
    uint8_t cache_uuid[VK_UUID_SIZE];
    uint32_t reserved;
    uint64_t shader_hash; /* of every embedded SPIR-V module: a rebuilt binary starts fresh */
    uint64_t data_size;
    uint64_t data_hash;
} cache_header;

/* 64-bit FNV-1a. */
static uint64_t hash_bytes(uint64_t hash, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    for (size_t i = 0; i < size; i++) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

#define HASH_SEED 0xcbf29ce484222325ull

static uint64_t shader_hash(void)
{
    uint64_t hash = HASH_SEED;
    for (int i = 0; i < qvk_spirv_module_count; i++)
        hash = hash_bytes(hash, qvk_spirv_modules[i].code, qvk_spirv_modules[i].size);
    return hash;
}

static void header_fill(const qvk_vk_context *context, cache_header *header)
{
    const VkPhysicalDeviceProperties *properties = &context->info.properties;
    memset(header, 0, sizeof(*header));
    memcpy(header->magic, CACHE_MAGIC, sizeof(header->magic));
    header->vendor_id = properties->vendorID;
    header->device_id = properties->deviceID;
    header->driver_version = properties->driverVersion;
    memcpy(header->cache_uuid, properties->pipelineCacheUUID, VK_UUID_SIZE);
    header->shader_hash = shader_hash();
}

static bool make_dir(const char *path)
{
    return mkdir(path, 0755) == 0 || errno == EEXIST;
}

/* path = <cache folder>/qwen3vk/pipelines-<pipelineCacheUUID>-<driver version>.bin, creating the
 * folders; false when there is no cache folder. */
static bool cache_path(const qvk_vk_context *context, char *path, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char dir[3072];
    char uuid[2 * VK_UUID_SIZE + 1];

    if (xdg && *xdg) {
        snprintf(dir, sizeof(dir), "%s", xdg);
    } else if (home && *home) {
        snprintf(dir, sizeof(dir), "%s/.cache", home);
    } else {
        return false;
    }
    if (!make_dir(dir))
        return false;
    strncat(dir, "/qwen3vk", sizeof(dir) - strlen(dir) - 1);
    if (!make_dir(dir))
        return false;
    for (uint32_t i = 0; i < VK_UUID_SIZE; i++)
        snprintf(uuid + 2 * i, 3, "%02x", context->info.properties.pipelineCacheUUID[i]);
    snprintf(path, size, "%s/pipelines-%s-%08x.bin", dir, uuid,
             context->info.properties.driverVersion);
    return true;
}

/* Read and check the cache file; returns the driver's cache data (malloc'd) or NULL. */
static void *cache_load(const qvk_vk_context *context, const char *path, size_t *size)
{
    cache_header expected, header;
    FILE *file = fopen(path, "rb");
    void *data = NULL;
    const char *problem = NULL;
    long file_size;

    *size = 0;
    if (!file)
        return NULL; /* a first run: nothing to load */
    header_fill(context, &expected);
    if (fseek(file, 0, SEEK_END) != 0 || (file_size = ftell(file)) < 0 ||
        fseek(file, 0, SEEK_SET) != 0)
        problem = "cannot determine its size";
    else if ((size_t)file_size < sizeof(header) || fread(&header, sizeof(header), 1, file) != 1)
        problem = "shorter than its header";
    else if (memcmp(header.magic, expected.magic, sizeof(header.magic)) != 0)
        problem = "not a qwen3vk pipeline cache";
    else if (header.vendor_id != expected.vendor_id || header.device_id != expected.device_id ||
             header.driver_version != expected.driver_version ||
             memcmp(header.cache_uuid, expected.cache_uuid, VK_UUID_SIZE) != 0)
        problem = "made for another device or driver";
    else if (header.data_size != (uint64_t)file_size - sizeof(header))
        problem = "truncated or padded";

    if (!problem && header.shader_hash != expected.shader_hash) {
        qvk_log_info("vulkan: the shaders changed since the pipeline cache %s was written; "
                     "rebuilding it", path);
        fclose(file);
        return NULL;
    }
    if (!problem) {
        data = malloc(header.data_size ? header.data_size : 1);
        if (!data || fread(data, 1, header.data_size, file) != header.data_size)
            problem = "unreadable";
        else if (hash_bytes(HASH_SEED, data, header.data_size) != header.data_hash)
            problem = "checksum mismatch";
    }
    fclose(file);
    if (problem) {
        qvk_log_warn("vulkan: ignoring the pipeline cache %s: %s; it will be rewritten", path,
                     problem);
        free(data);
        return NULL;
    }
    *size = header.data_size;
    return data;
}

qvk_status qvk_vk_pipeline_cache_open(qvk_vk_context *context, VkPipelineCache *cache,
                                      char *path, size_t path_size, bool *warm)
{
    VkPipelineCacheCreateInfo create = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
    size_t size = 0;
    void *data = NULL;
    VkResult result;

    *warm = false;
    path[0] = '\0';
    if (cache_path(context, path, path_size))
        data = cache_load(context, path, &size);
    else
        qvk_log_debug("vulkan: no cache folder (XDG_CACHE_HOME and HOME unset or unwritable); "
                      "pipelines are compiled on every start");
    create.initialDataSize = size;
    create.pInitialData = data;
    result = vkCreatePipelineCache(context->device, &create, NULL, cache);
    if (result != VK_SUCCESS && data) {
        qvk_log_warn("vulkan: the driver rejected the pipeline cache %s (%s); starting empty",
                     path, qvk_vk_result_name(result));
        create.initialDataSize = 0;
        create.pInitialData = NULL;
        result = vkCreatePipelineCache(context->device, &create, NULL, cache);
    } else if (data) {
        *warm = true;
    }
    free(data);
    if (result != VK_SUCCESS) {
        *cache = VK_NULL_HANDLE;
        return qvk_vk_check(context, result, "vkCreatePipelineCache");
    }
    return QVK_OK;
}

/* The data hash in the header of the cache file, or 0 when there is none. */
static uint64_t stored_hash(const char *path)
{
    cache_header header;
    FILE *file = fopen(path, "rb");
    uint64_t hash = 0;
    if (file) {
        if (fread(&header, sizeof(header), 1, file) == 1)
            hash = header.data_hash;
        fclose(file);
    }
    return hash;
}

static bool cache_write(const char *path, const cache_header *header, const void *data)
{
    char temp[4200];
    FILE *file;
    bool ok;

    /* Write a private file, then rename: a reader never sees half a cache. */
    snprintf(temp, sizeof(temp), "%s.%ld.tmp", path, (long)getpid());
    file = fopen(temp, "wb");
    if (!file)
        return false;
    ok = fwrite(header, sizeof(*header), 1, file) == 1 &&
         fwrite(data, 1, header->data_size, file) == header->data_size;
    ok = fclose(file) == 0 && ok;
    if (ok)
        ok = rename(temp, path) == 0;
    if (!ok)
        remove(temp);
    return ok;
}

void qvk_vk_pipeline_cache_save(qvk_vk_context *context, VkPipelineCache cache, const char *path,
                                bool warm)
{
    cache_header header;
    size_t size = 0;
    void *data;

    if (!path[0] || cache == VK_NULL_HANDLE)
        return;
    if (vkGetPipelineCacheData(context->device, cache, &size, NULL) != VK_SUCCESS || size == 0)
        return;
    data = malloc(size);
    if (!data)
        return;
    if (vkGetPipelineCacheData(context->device, cache, &size, data) == VK_SUCCESS) {
        header_fill(context, &header);
        header.data_size = size;
        header.data_hash = hash_bytes(HASH_SEED, data, size);
        /* A warm start whose cache gained nothing keeps the file as it is. */
        if (!warm || header.data_hash != stored_hash(path)) {
            if (cache_write(path, &header, data))
                qvk_log_debug("vulkan: wrote the pipeline cache %s (%zu bytes)", path, size);
            else
                qvk_log_warn("vulkan: cannot write the pipeline cache %s: %s", path,
                             strerror(errno));
        }
    }
    free(data);
}
