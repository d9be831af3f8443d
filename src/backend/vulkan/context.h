/* The Vulkan instance, the chosen physical device with its queried features and limits, and the
 * logical device with one compute queue. Internal to the Vulkan backend and its tests.
 *
 * Entry points come from volk when QWEN3VK_HAVE_VOLK is defined (then nothing links against
 * libvulkan and a missing loader is an error, not a failed start), else from the system loader.
 * The instance is shared by every context in the process and reference-counted. */
#ifndef QWEN3VK_BACKEND_VULKAN_CONTEXT_H
#define QWEN3VK_BACKEND_VULKAN_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef QWEN3VK_HAVE_VOLK
#include <volk.h>
#else
#include <vulkan/vulkan.h>
#endif

#include "core/error.h"

/* What the backend needs to know about a physical device. Every optional feature is queried,
 * never assumed. */
typedef struct qvk_vk_device_info {
    VkPhysicalDevice physical;
    uint32_t index; /* in vkEnumeratePhysicalDevices order */
    VkPhysicalDeviceProperties properties;
    VkPhysicalDeviceMemoryProperties memory;
    char driver_name[VK_MAX_DRIVER_NAME_SIZE];
    char driver_info[VK_MAX_DRIVER_INFO_SIZE];

    uint32_t queue_family;         /* a family with compute; UINT32_MAX when there is none */
    uint32_t timestamp_valid_bits; /* of that family; 0: no timestamps */
    bool timestamps;               /* timestamp queries usable on the compute queue */

    bool storage_16bit;   /* storageBuffer16BitAccess */
    bool shader_float16;  /* shaderFloat16 */
    bool shader_int8;     /* shaderInt8 */
    bool portability_subset; /* VK_KHR_portability_subset must be enabled */

    uint32_t subgroup_size;
    uint32_t min_subgroup_size;
    uint32_t max_subgroup_size;
    VkSubgroupFeatureFlags subgroup_operations;
    bool subgroup_in_compute;     /* subgroup operations allowed in compute shaders */
    bool subgroup_size_control;   /* subgroupSizeControl */
    bool compute_full_subgroups;  /* computeFullSubgroups */

    uint64_t max_storage_buffer_range;
    uint64_t max_allocation_size;  /* maxMemoryAllocationSize */
    uint64_t max_buffer_size;      /* maxBufferSize, or maxAllocationSize before Vulkan 1.3 */
    uint64_t device_local_bytes;   /* the largest DEVICE_LOCAL heap */

    /* R32G32B32A32_UINT and _SFLOAT support uniform texel buffers
     * (VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT in bufferFeatures): the texel layout of
     * matvec can read weights and inputs through them. */
    bool texel_buffers;
    /* VK_EXT_external_memory_host: host memory can be imported as device memory. */
    bool host_import;
    uint64_t host_import_alignment; /* minImportedHostPointerAlignment */
} qvk_vk_device_info;

/* How matvec.comp and matmul.comp are laid out on this device. */
typedef enum qvk_vk_matvec_layout {
    QVK_VK_MATVEC_REDUCTION, /* GPUs: workgroups reduce rows (matvec.comp), tiled matmul.comp */
    QVK_VK_MATVEC_ROW,       /* CPU devices without texel buffers: a row per invocation */
    QVK_VK_MATVEC_TEXEL,     /* CPU devices: matvec_texel.comp for decode and prompts */
} qvk_vk_matvec_layout;

typedef struct qvk_vk_context {
    VkInstance instance;
    qvk_vk_device_info info;
    VkDevice device;
    VkQueue queue;
    VkCommandPool command_pool;

    /* Bytes one storage-buffer binding may span: maxStorageBufferRange, or the smaller value
     * of QWEN3VK_VULKAN_MAX_BINDING. Tensors larger than this are split by rows. */
    uint64_t max_binding;
    /* Reductions use subgroup operations (else shared memory). */
    bool use_subgroups;
    /* The matvec and matmul kernels' layout (see qvk_vk_matvec_layout). */
    qvk_vk_matvec_layout matvec_layout;
    /* Weights go through a staging buffer even where device memory is host-visible. */
    bool staged_weights;
    /* Weight matrices are imported from host memory (VK_EXT_external_memory_host enabled)
     * where their addresses allow it, instead of being copied. */
    bool host_import;
    PFN_vkGetMemoryHostPointerPropertiesEXT get_host_pointer_properties;
    /* Set once the device reports VK_ERROR_DEVICE_LOST; every later call fails. */
    bool lost;
} qvk_vk_context;

/* Choices a caller (the tests) may force; zero values mean "decide from the device". */
typedef struct qvk_vk_context_options {
    int32_t device_index;      /* -1: automatic choice */
    bool reject_cpu_devices;   /* fail when the automatic choice is a CPU-type device */
    bool no_subgroups;         /* use the shared-memory reduction variants */
    bool reduction_matvec;     /* use the GPU layout of matvec.comp on a CPU device too */
    bool row_matvec;           /* use the row layout, not the texel layout, on a CPU device */
    bool no_host_import;       /* copy weights even where they could be imported */
    bool staged_weights;       /* upload weights through staging, as on a discrete GPU */
    uint64_t max_binding;      /* 0: maxStorageBufferRange (and QWEN3VK_VULKAN_MAX_BINDING) */
} qvk_vk_context_options;

qvk_status qvk_vk_context_create(const qvk_vk_context_options *options, qvk_vk_context **out);
void qvk_vk_context_destroy(qvk_vk_context *context);

/* Convert a failed VkResult into a qvk_status with a message naming what failed; marks the
 * context lost on VK_ERROR_DEVICE_LOST. context may be NULL. */
qvk_status qvk_vk_check(qvk_vk_context *context, VkResult result, const char *what);
const char *qvk_vk_result_name(VkResult result);

/* ---- Instance (instance.c) ----------------------------------------------------------------- */

/* Take a reference to the process-wide instance, creating it on first use. With the environment
 * variable QWEN3VK_VALIDATION=1 the Khronos validation layer is enabled, with synchronization
 * validation, and every warning or error it reports is logged and counted. */
qvk_status qvk_vk_instance_acquire(VkInstance *out);
void qvk_vk_instance_release(void);
/* Whether the current instance has the validation layer on. */
bool qvk_vk_validation_enabled(void);
/* The instance-level API version the loader supports, e.g. VK_API_VERSION_1_3. */
uint32_t qvk_vk_instance_version(void);

/* ---- Physical devices (device.c) ----------------------------------------------------------- */

/* Query every physical device; *infos is malloc'd. */
qvk_status qvk_vk_devices_query(VkInstance instance, qvk_vk_device_info **infos,
                                uint32_t *count);
/* The device an automatic choice takes: discrete > integrated > virtual > CPU, then the one
 * with the most device-local memory; -1 when none can run compute. */
int32_t qvk_vk_device_pick(const qvk_vk_device_info *infos, uint32_t count);
/* Whether a device's subgroup operations can replace shared-memory reductions. */
bool qvk_vk_device_subgroups_usable(const qvk_vk_device_info *info);
const char *qvk_vk_device_type_name(VkPhysicalDeviceType type);

#endif
