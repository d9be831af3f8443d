/* The report behind `qwen3vk devices`: every Vulkan device with its limits and features. */
#include "backend/vulkan/context.h"
#include "backend/vulkan/vulkan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * MIB)

typedef struct text {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
} text;

static void text_add(text *out, const char *fmt, ...) QVK_PRINTF(2, 3);

static void text_add(text *out, const char *fmt, ...)
{
    va_list args;
    int n;

    if (out->failed)
        return;
    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0) {
        out->failed = true;
        return;
    }
    if (out->length + (size_t)n + 1 > out->capacity) {
        size_t capacity = (out->capacity ? out->capacity * 2 : 4096) + (size_t)n;
        char *data = realloc(out->data, capacity);
        if (!data) {
            out->failed = true;
            return;
        }
        out->data = data;
        out->capacity = capacity;
    }
    va_start(args, fmt);
    vsnprintf(out->data + out->length, out->capacity - out->length, fmt, args);
    va_end(args);
    out->length += (size_t)n;
}

static const char *vendor_name(uint32_t vendor)
{
    switch (vendor) {
    case 0x1002: return "AMD";
    case 0x1010: return "Imagination";
    case 0x106b: return "Apple";
    case 0x10de: return "NVIDIA";
    case 0x13b5: return "Arm";
    case 0x5143: return "Qualcomm";
    case 0x8086: return "Intel";
    case 0x10005: return "Mesa";
    default: return "unknown vendor";
    }
}

/* NVIDIA packs its driver version as 10.8.8.6 bits; most others follow VK_MAKE_API_VERSION. */
static void driver_version(const VkPhysicalDeviceProperties *properties, char *out, size_t size)
{
    uint32_t v = properties->driverVersion;
    if (properties->vendorID == 0x10de)
        snprintf(out, size, "%u.%u.%u", v >> 22, (v >> 14) & 0xff, (v >> 6) & 0xff);
    else
        snprintf(out, size, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                 VK_API_VERSION_PATCH(v));
}

static void add_subgroups(text *out, const qvk_vk_device_info *info)
{
    static const struct { VkSubgroupFeatureFlagBits bit; const char *name; } ops[] = {
        { VK_SUBGROUP_FEATURE_BASIC_BIT, "basic" },
        { VK_SUBGROUP_FEATURE_VOTE_BIT, "vote" },
        { VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic" },
        { VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot" },
        { VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle" },
        { VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle-relative" },
        { VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered" },
        { VK_SUBGROUP_FEATURE_QUAD_BIT, "quad" },
    };

    text_add(out, "    subgroups: size %u (min %u, max %u), operations:", info->subgroup_size,
             info->min_subgroup_size, info->max_subgroup_size);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (info->subgroup_operations & ops[i].bit)
            text_add(out, " %s", ops[i].name);
    text_add(out, "%s; size control %s, full subgroups %s\n",
             info->subgroup_in_compute ? "" : " (not in compute shaders)",
             info->subgroup_size_control ? "yes" : "no",
             info->compute_full_subgroups ? "yes" : "no");
}

static void add_memory(text *out, const qvk_vk_device_info *info)
{
    for (uint32_t h = 0; h < info->memory.memoryHeapCount; h++) {
        const VkMemoryHeap *heap = &info->memory.memoryHeaps[h];
        bool host_visible = false;
        for (uint32_t t = 0; t < info->memory.memoryTypeCount; t++)
            if (info->memory.memoryTypes[t].heapIndex == h &&
                (info->memory.memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
                host_visible = true;
        text_add(out, "    memory heap %u: %.2f GiB%s%s\n", h, (double)heap->size / GIB,
                 heap->flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? ", device-local" : "",
                 host_visible ? ", host-visible" : "");
    }
}

static void add_device(text *out, const qvk_vk_device_info *info, bool chosen)
{
    const VkPhysicalDeviceProperties *properties = &info->properties;
    const VkPhysicalDeviceLimits *limits = &properties->limits;
    char version[32];

    driver_version(properties, version, sizeof(version));
    text_add(out, "[%u] %s%s\n", info->index, properties->deviceName,
             chosen ? "  (best Vulkan device)" : "");
    text_add(out, "    type: %s, vendor: %s (0x%04x), device id 0x%04x, Vulkan %u.%u.%u\n",
             qvk_vk_device_type_name(properties->deviceType), vendor_name(properties->vendorID),
             properties->vendorID, properties->deviceID,
             VK_API_VERSION_MAJOR(properties->apiVersion),
             VK_API_VERSION_MINOR(properties->apiVersion),
             VK_API_VERSION_PATCH(properties->apiVersion));
    text_add(out, "    driver: %s%s%s, version %s\n",
             info->driver_name[0] ? info->driver_name : "unknown",
             info->driver_info[0] ? ", " : "", info->driver_info, version);
    add_memory(out, info);
    add_subgroups(out, info);
    text_add(out, "    limits: max storage buffer range %.1f MiB, max allocation %.1f MiB, max "
             "buffer %.1f MiB, workgroup size %u x %u x %u, %u invocations, %u KiB shared memory\n",
             (double)info->max_storage_buffer_range / MIB,
             (double)info->max_allocation_size / MIB, (double)info->max_buffer_size / MIB,
             limits->maxComputeWorkGroupSize[0], limits->maxComputeWorkGroupSize[1],
             limits->maxComputeWorkGroupSize[2], limits->maxComputeWorkGroupInvocations,
             limits->maxComputeSharedMemorySize / 1024);
    text_add(out, "    features: 16-bit storage %s, float16 arithmetic %s, int8 arithmetic %s, "
             "timestamps %s",
             info->storage_16bit ? "yes" : "no", info->shader_float16 ? "yes" : "no",
             info->shader_int8 ? "yes" : "no", info->timestamps ? "yes" : "no");
    if (info->timestamps)
        text_add(out, " (%.3g ns per tick, %u valid bits)", limits->timestampPeriod,
                 info->timestamp_valid_bits);
    text_add(out, "\n");
    if (properties->apiVersion < VK_API_VERSION_1_1 || info->queue_family == UINT32_MAX)
        text_add(out, "    not usable: qwen3vk needs Vulkan 1.1 and a compute queue\n");
    else
        text_add(out, "    reductions: %s\n", qvk_vk_device_subgroups_usable(info)
                                                   ? "subgroup arithmetic"
                                                   : "shared memory (no subgroup arithmetic)");
}

qvk_status qvk_vulkan_devices_report(char **report)
{
    VkInstance instance;
    qvk_vk_device_info *infos = NULL;
    uint32_t count = 0;
    uint32_t version;
    text out = { 0 };
    int32_t chosen;
    qvk_status status;

    *report = NULL;
    status = qvk_vk_instance_acquire(&instance);
    if (status != QVK_OK)
        return status;
    status = qvk_vk_devices_query(instance, &infos, &count);
    if (status != QVK_OK) {
        qvk_vk_instance_release();
        return status;
    }
    version = qvk_vk_instance_version();
    chosen = qvk_vk_device_pick(infos, count);
    text_add(&out, "Vulkan instance %u.%u.%u, %u device%s, validation layer %s\n",
             VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version),
             VK_API_VERSION_PATCH(version), count, count == 1 ? "" : "s",
             qvk_vk_validation_enabled() ? "on" : "off");
    for (uint32_t i = 0; i < count; i++)
        add_device(&out, &infos[i], (int32_t)i == chosen);
    if (chosen >= 0 && infos[chosen].properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
        text_add(&out, "automatic choice: the CPU backend, because the best device, [%d] %s, is a "
                 "CPU driver (--backend vulkan uses it anyway)\n", chosen,
                 infos[chosen].properties.deviceName);
    else if (chosen >= 0)
        text_add(&out, "automatic choice: [%d] %s (discrete > integrated > virtual > CPU, then "
                 "the most device-local memory)\n", chosen, infos[chosen].properties.deviceName);
    else
        text_add(&out, "automatic choice: none of the devices can run qwen3vk\n");
    free(infos);
    qvk_vk_instance_release();
    if (out.failed) {
        free(out.data);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory writing the device report");
    }
    *report = out.data;
    return QVK_OK;
}
