/* Physical devices: features and limits, the automatic choice, and the logical device. */
#include "backend/vulkan/context.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The smallest binding limit QWEN3VK_VULKAN_MAX_BINDING may set: one row of every tensor the
 * backend binds must fit in a binding. */
#define MIN_BINDING_BYTES 256u

static bool device_extension_available(VkPhysicalDevice physical, const char *name)
{
    uint32_t count = 0;
    VkExtensionProperties *extensions;
    bool found = false;

    if (vkEnumerateDeviceExtensionProperties(physical, NULL, &count, NULL) != VK_SUCCESS)
        return false;
    extensions = calloc(count ? count : 1, sizeof(*extensions));
    if (!extensions)
        return false;
    if (vkEnumerateDeviceExtensionProperties(physical, NULL, &count, extensions) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(extensions[i].extensionName, name) == 0;
    free(extensions);
    return found;
}

static void query_queue_family(qvk_vk_device_info *info)
{
    uint32_t count = 0;
    VkQueueFamilyProperties *families;

    info->queue_family = UINT32_MAX;
    vkGetPhysicalDeviceQueueFamilyProperties(info->physical, &count, NULL);
    families = calloc(count ? count : 1, sizeof(*families));
    if (!families)
        return;
    vkGetPhysicalDeviceQueueFamilyProperties(info->physical, &count, families);
    /* The first compute family with timestamps, else the first compute family. */
    for (uint32_t i = 0; i < count; i++) {
        if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || families[i].queueCount == 0)
            continue;
        if (info->queue_family == UINT32_MAX ||
            (info->timestamp_valid_bits == 0 && families[i].timestampValidBits > 0)) {
            info->queue_family = i;
            info->timestamp_valid_bits = families[i].timestampValidBits;
        }
    }
    free(families);
    info->timestamps = info->queue_family != UINT32_MAX && info->timestamp_valid_bits > 0 &&
                       info->properties.limits.timestampPeriod > 0.0f;
}

/* The features and limits that need vkGetPhysicalDevice{Features,Properties}2 (Vulkan 1.1),
 * each chained only when the device's version or extensions provide it. */
static void query_features2(qvk_vk_device_info *info)
{
    uint32_t api = info->properties.apiVersion;
    bool v12 = api >= VK_API_VERSION_1_2, v13 = api >= VK_API_VERSION_1_3;
    VkPhysicalDevice physical = info->physical;
    bool float16_int8 = v12 || device_extension_available(physical, "VK_KHR_shader_float16_int8");
    bool size_control = v13 || device_extension_available(physical, "VK_EXT_subgroup_size_control");
    bool driver_props = v12 || device_extension_available(physical, "VK_KHR_driver_properties");
    bool maintenance4 = v13 || device_extension_available(physical, "VK_KHR_maintenance4");
    bool host_import = device_extension_available(physical,
                                                  VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);

    VkPhysicalDevice16BitStorageFeatures storage16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES };
    VkPhysicalDeviceShaderFloat16Int8Features f16i8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES };
    VkPhysicalDeviceSubgroupSizeControlFeatures size_features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES };
    VkPhysicalDeviceFeatures2 features = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };

    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
    VkPhysicalDeviceMaintenance3Properties maintenance3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES };
    VkPhysicalDeviceMaintenance4Properties maintenance4_props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES };
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
    VkPhysicalDeviceSubgroupSizeControlProperties size_props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES };
    VkPhysicalDeviceExternalMemoryHostPropertiesEXT import_props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT };
    VkPhysicalDeviceProperties2 properties = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2 };

    features.pNext = &storage16;
    if (float16_int8) {
        f16i8.pNext = features.pNext;
        features.pNext = &f16i8;
    }
    if (size_control) {
        size_features.pNext = features.pNext;
        features.pNext = &size_features;
    }
    vkGetPhysicalDeviceFeatures2(info->physical, &features);

    properties.pNext = &subgroup;
    subgroup.pNext = &maintenance3;
    if (maintenance4) {
        maintenance4_props.pNext = properties.pNext;
        properties.pNext = &maintenance4_props;
    }
    if (driver_props) {
        driver.pNext = properties.pNext;
        properties.pNext = &driver;
    }
    if (size_control) {
        size_props.pNext = properties.pNext;
        properties.pNext = &size_props;
    }
    if (host_import) {
        import_props.pNext = properties.pNext;
        properties.pNext = &import_props;
    }
    vkGetPhysicalDeviceProperties2(info->physical, &properties);

    info->storage_16bit = storage16.storageBuffer16BitAccess;
    info->shader_float16 = float16_int8 && f16i8.shaderFloat16;
    info->shader_int8 = float16_int8 && f16i8.shaderInt8;
    info->subgroup_size = subgroup.subgroupSize;
    info->subgroup_operations = subgroup.supportedOperations;
    info->subgroup_in_compute = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    info->subgroup_size_control = size_control && size_features.subgroupSizeControl;
    info->compute_full_subgroups = size_control && size_features.computeFullSubgroups;
    info->min_subgroup_size = size_control ? size_props.minSubgroupSize : subgroup.subgroupSize;
    info->max_subgroup_size = size_control ? size_props.maxSubgroupSize : subgroup.subgroupSize;
    info->max_allocation_size = maintenance3.maxMemoryAllocationSize;
    info->max_buffer_size = maintenance4 ? maintenance4_props.maxBufferSize
                                         : maintenance3.maxMemoryAllocationSize;
    info->host_import = host_import && import_props.minImportedHostPointerAlignment > 0;
    info->host_import_alignment = import_props.minImportedHostPointerAlignment;
    if (driver_props) {
        memcpy(info->driver_name, driver.driverName, sizeof(info->driver_name));
        memcpy(info->driver_info, driver.driverInfo, sizeof(info->driver_info));
    }
}

static void query_device(VkPhysicalDevice physical, uint32_t index, qvk_vk_device_info *info)
{
    VkFormatProperties weight_format, input_format;

    memset(info, 0, sizeof(*info));
    info->physical = physical;
    info->index = index;
    vkGetPhysicalDeviceProperties(physical, &info->properties);
    vkGetPhysicalDeviceMemoryProperties(physical, &info->memory);
    info->max_storage_buffer_range = info->properties.limits.maxStorageBufferRange;
    for (uint32_t h = 0; h < info->memory.memoryHeapCount; h++) {
        const VkMemoryHeap *heap = &info->memory.memoryHeaps[h];
        bool device_local = heap->flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
        if (device_local && heap->size > info->device_local_bytes)
            info->device_local_bytes = heap->size;
    }
    info->portability_subset = device_extension_available(physical, "VK_KHR_portability_subset");
    vkGetPhysicalDeviceFormatProperties(physical, VK_FORMAT_R32G32B32A32_UINT, &weight_format);
    vkGetPhysicalDeviceFormatProperties(physical, VK_FORMAT_R32G32B32A32_SFLOAT, &input_format);
    info->texel_buffers = (weight_format.bufferFeatures & input_format.bufferFeatures &
                           VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;
    if (info->properties.apiVersion >= VK_API_VERSION_1_1)
        query_features2(info);
    query_queue_family(info);
}

qvk_status qvk_vk_devices_query(VkInstance instance, qvk_vk_device_info **infos, uint32_t *count)
{
    VkPhysicalDevice *physicals;
    VkResult result;

    *infos = NULL;
    *count = 0;
    result = vkEnumeratePhysicalDevices(instance, count, NULL);
    if (result != VK_SUCCESS)
        return qvk_vk_check(NULL, result, "vkEnumeratePhysicalDevices");
    if (*count == 0)
        return qvk_error(QVK_ERR_DEVICE, "no Vulkan device found: the Vulkan loader lists no "
                         "device; install a Vulkan driver (e.g. mesa-vulkan-drivers) or use the "
                         "CPU backend");
    physicals = calloc(*count, sizeof(*physicals));
    *infos = calloc(*count, sizeof(**infos));
    if (!physicals || !*infos) {
        free(physicals);
        free(*infos);
        *infos = NULL;
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory listing Vulkan devices");
    }
    result = vkEnumeratePhysicalDevices(instance, count, physicals);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
        free(physicals);
        free(*infos);
        *infos = NULL;
        return qvk_vk_check(NULL, result, "vkEnumeratePhysicalDevices");
    }
    for (uint32_t i = 0; i < *count; i++)
        query_device(physicals[i], i, &(*infos)[i]);
    free(physicals);
    return QVK_OK;
}

static int type_rank(VkPhysicalDeviceType type)
{
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static bool device_usable(const qvk_vk_device_info *info)
{
    return info->properties.apiVersion >= VK_API_VERSION_1_1 && info->queue_family != UINT32_MAX;
}

int32_t qvk_vk_device_pick(const qvk_vk_device_info *infos, uint32_t count)
{
    int32_t best = -1;

    for (uint32_t i = 0; i < count; i++) {
        const qvk_vk_device_info *info = &infos[i];
        if (!device_usable(info))
            continue;
        if (best < 0) {
            best = (int32_t)i;
            continue;
        }
        int rank = type_rank(info->properties.deviceType);
        int best_rank = type_rank(infos[best].properties.deviceType);
        if (rank > best_rank ||
            (rank == best_rank && info->device_local_bytes > infos[best].device_local_bytes))
            best = (int32_t)i;
    }
    return best;
}

bool qvk_vk_device_subgroups_usable(const qvk_vk_device_info *info)
{
    VkSubgroupFeatureFlags needed = VK_SUBGROUP_FEATURE_BASIC_BIT |
                                    VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    return info->subgroup_in_compute && (info->subgroup_operations & needed) == needed &&
           info->subgroup_size >= 1;
}

const char *qvk_vk_device_type_name(VkPhysicalDeviceType type)
{
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

/* The binding limit: maxStorageBufferRange, lowered by QWEN3VK_VULKAN_MAX_BINDING or the
 * caller's option (the tests use both to run the split path on small tensors). */
static qvk_status binding_limit(const qvk_vk_device_info *info, uint64_t forced, uint64_t *out)
{
    const char *env = getenv("QWEN3VK_VULKAN_MAX_BINDING");
    uint64_t limit = info->max_storage_buffer_range;

    if (env && *env) {
        char *end;
        errno = 0;
        unsigned long long value = strtoull(env, &end, 10);
        if (errno || *end || value < MIN_BINDING_BYTES)
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "QWEN3VK_VULKAN_MAX_BINDING=\"%s\" is "
                             "not a byte count of at least %u; unset it or give e.g. 1048576",
                             env, MIN_BINDING_BYTES);
        if (value < limit)
            limit = value;
    }
    if (forced && forced < limit)
        limit = forced;
    /* Keep bindings a multiple of 16 bytes so uvec4 loads never straddle the end. */
    *out = limit & ~(uint64_t)15;
    return QVK_OK;
}

static qvk_status choose_device(VkInstance instance, const qvk_vk_context_options *options,
                                qvk_vk_device_info *out)
{
    int32_t device_index = options->device_index;
    qvk_vk_device_info *infos;
    uint32_t count;
    qvk_status status = qvk_vk_devices_query(instance, &infos, &count);
    int32_t chosen;

    if (status != QVK_OK)
        return status;
    if (device_index >= 0) {
        if ((uint32_t)device_index >= count) {
            free(infos);
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "Vulkan device index %d is out of range: "
                             "there %s %u device%s (0 .. %u); `qwen3vk devices` lists them",
                             device_index, count == 1 ? "is" : "are", count, count == 1 ? "" : "s",
                             count - 1);
        }
        chosen = device_index;
        if (!device_usable(&infos[chosen])) {
            status = qvk_error(QVK_ERR_UNSUPPORTED, "Vulkan device %d (%s) cannot run qwen3vk: "
                               "it needs Vulkan 1.1 and a compute queue", device_index,
                               infos[chosen].properties.deviceName);
            free(infos);
            return status;
        }
    } else {
        chosen = qvk_vk_device_pick(infos, count);
        if (chosen < 0) {
            free(infos);
            return qvk_error(QVK_ERR_UNSUPPORTED, "none of the %u Vulkan devices supports "
                             "Vulkan 1.1 with a compute queue; use the CPU backend", count);
        }
        if (options->reject_cpu_devices &&
            infos[chosen].properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
            status = qvk_error(QVK_ERR_UNSUPPORTED, "the best Vulkan device, %s, is a CPU driver, "
                               "and the CPU backend is faster on the same cores (--backend "
                               "vulkan uses the device anyway)", infos[chosen].properties.deviceName);
            free(infos);
            return status;
        }
    }
    *out = infos[chosen];
    free(infos);
    return QVK_OK;
}

static qvk_status device_create(qvk_vk_context *context)
{
    const qvk_vk_device_info *info = &context->info;
    float priority = 1.0f;
    const char *extensions[2];
    uint32_t n_extensions = 0;
    VkDeviceQueueCreateInfo queue = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO };
    VkDeviceCreateInfo create = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO };
    VkCommandPoolCreateInfo pool = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO };
    VkResult result;

    queue.queueFamilyIndex = info->queue_family;
    queue.queueCount = 1;
    queue.pQueuePriorities = &priority;
    create.queueCreateInfoCount = 1;
    create.pQueueCreateInfos = &queue;
    /* The shaders read 16-bit weights as 32-bit words and use no optional feature. The
     * extensions are the one a portability driver (MoltenVK) requires and host memory import
     * where the weights are imported. */
    if (info->portability_subset)
        extensions[n_extensions++] = "VK_KHR_portability_subset";
    if (context->host_import)
        extensions[n_extensions++] = VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME;
    create.enabledExtensionCount = n_extensions;
    create.ppEnabledExtensionNames = n_extensions ? extensions : NULL;
    result = vkCreateDevice(info->physical, &create, NULL, &context->device);
    if (result != VK_SUCCESS) {
        context->device = VK_NULL_HANDLE;
        return qvk_vk_check(context, result, "vkCreateDevice");
    }
    vkGetDeviceQueue(context->device, info->queue_family, 0, &context->queue);
    if (context->host_import) {
        context->get_host_pointer_properties = (PFN_vkGetMemoryHostPointerPropertiesEXT)
            vkGetDeviceProcAddr(context->device, "vkGetMemoryHostPointerPropertiesEXT");
        context->host_import = context->get_host_pointer_properties != NULL;
    }

    pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool.queueFamilyIndex = info->queue_family;
    result = vkCreateCommandPool(context->device, &pool, NULL, &context->command_pool);
    if (result != VK_SUCCESS) {
        context->command_pool = VK_NULL_HANDLE;
        return qvk_vk_check(context, result, "vkCreateCommandPool");
    }
    return QVK_OK;
}

/* Choose the matvec layout. GPUs take the reduction layout. CPU devices take the texel layout
 * when they read 16-byte texel buffers as large as a binding and have subgroup arithmetic
 * (matvec_texel.comp reduces decode rows with it), else one row per invocation. */
static qvk_vk_matvec_layout matvec_layout_choose(const qvk_vk_context *context,
                                                 const qvk_vk_context_options *options)
{
    const qvk_vk_device_info *info = &context->info;
    const VkPhysicalDeviceLimits *limits = &info->properties.limits;
    uint64_t texel_bytes = (uint64_t)limits->maxTexelBufferElements * 16u;

    if (options->reduction_matvec || info->properties.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU)
        return QVK_VK_MATVEC_REDUCTION;
    if (options->row_matvec || options->no_subgroups || !info->texel_buffers ||
        texel_bytes < context->max_binding || !qvk_vk_device_subgroups_usable(info) ||
        info->subgroup_size > limits->maxComputeWorkGroupSize[0] ||
        info->subgroup_size > limits->maxComputeWorkGroupInvocations)
        return QVK_VK_MATVEC_ROW;
    return QVK_VK_MATVEC_TEXEL;
}

static const char *matvec_layout_name(qvk_vk_matvec_layout layout)
{
    switch (layout) {
    case QVK_VK_MATVEC_REDUCTION: return "workgroup-per-row";
    case QVK_VK_MATVEC_ROW: return "row-per-invocation";
    case QVK_VK_MATVEC_TEXEL: return "texel-buffer";
    }
    return "?";
}

qvk_status qvk_vk_context_create(const qvk_vk_context_options *options, qvk_vk_context **out)
{
    qvk_vk_context *context = calloc(1, sizeof(*context));
    qvk_status status;

    *out = NULL;
    if (!context)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory creating a Vulkan context");
    status = qvk_vk_instance_acquire(&context->instance);
    if (status != QVK_OK) {
        free(context);
        return status;
    }
    status = choose_device(context->instance, options, &context->info);
    if (status == QVK_OK)
        status = binding_limit(&context->info, options->max_binding, &context->max_binding);
    /* Only CPU devices import weights: their device memory is host memory anyway. A GPU would
     * read imported pages over the bus or uncached.
     * NOTE: importing on integrated GPUs might pay off too; it is untested. */
    context->host_import = context->info.host_import && !options->no_host_import &&
                           !options->staged_weights &&
                           context->info.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (status == QVK_OK)
        status = device_create(context);
    if (status != QVK_OK) {
        qvk_vk_context_destroy(context);
        return status;
    }
    context->use_subgroups = !options->no_subgroups &&
                             qvk_vk_device_subgroups_usable(&context->info);
    context->staged_weights = options->staged_weights;
    context->matvec_layout = matvec_layout_choose(context, options);
    qvk_log_info("vulkan: device %u: %s (%s, %s), %s reductions, %s matvec, binding limit "
                 "%.1f MiB%s", context->info.index, context->info.properties.deviceName,
                 qvk_vk_device_type_name(context->info.properties.deviceType),
                 context->info.driver_name[0] ? context->info.driver_name : "driver unknown",
                 context->use_subgroups ? "subgroup" : "shared-memory",
                 matvec_layout_name(context->matvec_layout),
                 (double)context->max_binding / (1024.0 * 1024.0),
                 context->host_import ? ", host memory import for aligned weights" : "");
    *out = context;
    return QVK_OK;
}

void qvk_vk_context_destroy(qvk_vk_context *context)
{
    if (!context)
        return;
    if (context->device != VK_NULL_HANDLE) {
        vkDeviceWaitIdle(context->device);
        if (context->command_pool != VK_NULL_HANDLE)
            vkDestroyCommandPool(context->device, context->command_pool, NULL);
        vkDestroyDevice(context->device, NULL);
    }
    if (context->instance != VK_NULL_HANDLE)
        qvk_vk_instance_release();
    free(context);
}
