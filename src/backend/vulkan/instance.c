/* The process-wide Vulkan instance, the validation layer and its message count. */
#include "backend/vulkan/context.h"
#include "backend/vulkan/vulkan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static pthread_mutex_t instance_lock = PTHREAD_MUTEX_INITIALIZER;
static VkInstance instance;
static int32_t instance_refs;
static VkDebugUtilsMessengerEXT messenger;
static bool validation_on;
static bool synchronization_validation_on;
static uint32_t loader_version;
static _Atomic int64_t validation_messages;

int64_t qvk_vulkan_validation_message_count(void)
{
    return atomic_load(&validation_messages);
}

bool qvk_vk_validation_enabled(void)
{
    return validation_on;
}

uint32_t qvk_vk_instance_version(void)
{
    return loader_version;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
              VkDebugUtilsMessageTypeFlagsEXT types,
              const VkDebugUtilsMessengerCallbackDataEXT *data, void *user_data)
{
    const char *id = data->pMessageIdName ? data->pMessageIdName : "?";

    /* The loader reports through the same messenger (e.g. "Found no drivers!" when none is
     * installed); those are general messages about the setup, not validation findings. */
    if (!(types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                   VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT))) {
        qvk_log_debug("vulkan loader [%s]: %s", id, data->pMessage);
        return VK_FALSE;
    }
    atomic_fetch_add(&validation_messages, 1);
    qvk_log_error("vulkan validation %s [%s]: %s",
                  severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
                  id, data->pMessage);
    return VK_FALSE; /* never abort the call that triggered the message */
}

static bool layer_available(const char *name)
{
    uint32_t count = 0;
    VkLayerProperties *layers;
    bool found = false;

    if (vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || count == 0)
        return false;
    layers = calloc(count, sizeof(*layers));
    if (!layers)
        return false;
    if (vkEnumerateInstanceLayerProperties(&count, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

/* Whether the loader (layer NULL) or a layer offers an instance extension. */
static bool extension_available(const char *layer, const char *name)
{
    uint32_t count = 0;
    VkExtensionProperties *extensions;
    bool found = false;

    if (vkEnumerateInstanceExtensionProperties(layer, &count, NULL) != VK_SUCCESS || count == 0)
        return false;
    extensions = calloc(count, sizeof(*extensions));
    if (!extensions)
        return false;
    if (vkEnumerateInstanceExtensionProperties(layer, &count, extensions) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(extensions[i].extensionName, name) == 0;
    free(extensions);
    return found;
}

static bool validation_requested(void)
{
    const char *env = getenv("QWEN3VK_VALIDATION");
    return env && strcmp(env, "1") == 0;
}

static qvk_status load_loader(void)
{
#ifdef QWEN3VK_HAVE_VOLK
    if (volkInitialize() != VK_SUCCESS)
        return qvk_error(QVK_ERR_DEVICE,
                         "no Vulkan loader found (libvulkan.so.1); install the Vulkan loader "
                         "and a driver, e.g. Debian's libvulkan1 and mesa-vulkan-drivers");
    loader_version = volkGetInstanceVersion();
#else
    if (vkEnumerateInstanceVersion(&loader_version) != VK_SUCCESS)
        loader_version = VK_API_VERSION_1_0;
#endif
    if (loader_version < VK_API_VERSION_1_1)
        return qvk_error(QVK_ERR_UNSUPPORTED,
                         "the Vulkan loader supports only Vulkan %u.%u; qwen3vk needs 1.1 or "
                         "newer, so update the Vulkan loader",
                         VK_API_VERSION_MAJOR(loader_version),
                         VK_API_VERSION_MINOR(loader_version));
    return QVK_OK;
}

static void messenger_info(VkDebugUtilsMessengerCreateInfoEXT *info)
{
    memset(info, 0, sizeof(*info));
    info->sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    info->messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    info->messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    info->pfnUserCallback = debug_message;
}

/* The structures that validation chains into VkInstanceCreateInfo; they must outlive the
 * vkCreateInstance call. */
typedef struct validation_chain {
    const char *layers[1];
    VkValidationFeatureEnableEXT enables[1];
    VkValidationFeaturesEXT features;
    VkDebugUtilsMessengerCreateInfoEXT messenger;
} validation_chain;

/* Turn on the validation layer, its synchronization checks and the message callback when
 * QWEN3VK_VALIDATION=1 requests them and they are installed. */
static void validation_enable(VkInstanceCreateInfo *create, const char **extensions,
                              uint32_t *n_extensions, validation_chain *chain)
{
    validation_on = false;
    synchronization_validation_on = false;
    if (!validation_requested())
        return;
    if (!layer_available(VALIDATION_LAYER) ||
        !extension_available(NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
        qvk_log_warn("QWEN3VK_VALIDATION=1 but %s or %s is not installed; running without "
                     "validation", VALIDATION_LAYER, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        return;
    }
    validation_on = true;
    extensions[(*n_extensions)++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    chain->layers[0] = VALIDATION_LAYER;
    create->enabledLayerCount = 1;
    create->ppEnabledLayerNames = chain->layers;
    messenger_info(&chain->messenger);
    /* The messenger in pNext also catches messages of vkCreateInstance itself. */
    create->pNext = &chain->messenger;
    if (!extension_available(VALIDATION_LAYER, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
        qvk_log_warn("the validation layer lacks %s; synchronization validation is off",
                     VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
        return;
    }
    extensions[(*n_extensions)++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
    chain->enables[0] = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    chain->features = (VkValidationFeaturesEXT){
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT };
    chain->features.enabledValidationFeatureCount = 1;
    chain->features.pEnabledValidationFeatures = chain->enables;
    chain->messenger.pNext = &chain->features;
    synchronization_validation_on = true;
}

static qvk_status instance_create(void)
{
    const char *extensions[3];
    uint32_t n_extensions = 0;
    validation_chain chain;
    VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO };
    VkInstanceCreateInfo create = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO };
    VkDebugUtilsMessengerCreateInfoEXT messenger_create;
    qvk_status status = load_loader();
    VkResult result;

    if (status != QVK_OK)
        return status;
    app.pApplicationName = "qwen3vk";
    app.pEngineName = "qwen3vk";
    app.apiVersion = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_version;
    create.pApplicationInfo = &app;
    /* MoltenVK and other layered drivers show their devices only when asked to. */
    if (extension_available(NULL, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions[n_extensions++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        create.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    validation_enable(&create, extensions, &n_extensions, &chain);
    create.enabledExtensionCount = n_extensions;
    create.ppEnabledExtensionNames = extensions;

    result = vkCreateInstance(&create, NULL, &instance);
    if (result != VK_SUCCESS) {
        instance = VK_NULL_HANDLE;
        if (result == VK_ERROR_INCOMPATIBLE_DRIVER)
            return qvk_error(QVK_ERR_DEVICE, "no Vulkan driver found (vkCreateInstance returned "
                             "VK_ERROR_INCOMPATIBLE_DRIVER); install a Vulkan driver, e.g. "
                             "mesa-vulkan-drivers for the CPU driver lavapipe");
        return qvk_vk_check(NULL, result, "vkCreateInstance");
    }
#ifdef QWEN3VK_HAVE_VOLK
    volkLoadInstance(instance);
#endif
    if (validation_on) {
        messenger_info(&messenger_create);
        result = vkCreateDebugUtilsMessengerEXT(instance, &messenger_create, NULL, &messenger);
        if (result != VK_SUCCESS) {
            vkDestroyInstance(instance, NULL);
            instance = VK_NULL_HANDLE;
            return qvk_vk_check(NULL, result, "vkCreateDebugUtilsMessengerEXT");
        }
        qvk_log_debug("vulkan: validation layer on, synchronization validation %s",
                      synchronization_validation_on ? "on" : "off");
    }
    return QVK_OK;
}

qvk_status qvk_vk_instance_acquire(VkInstance *out)
{
    qvk_status status = QVK_OK;

    pthread_mutex_lock(&instance_lock);
    if (instance_refs == 0)
        status = instance_create();
    if (status == QVK_OK) {
        instance_refs++;
        *out = instance;
    }
    pthread_mutex_unlock(&instance_lock);
    return status;
}

void qvk_vk_instance_release(void)
{
    pthread_mutex_lock(&instance_lock);
    if (instance_refs > 0 && --instance_refs == 0) {
        if (messenger != VK_NULL_HANDLE)
            vkDestroyDebugUtilsMessengerEXT(instance, messenger, NULL);
        messenger = VK_NULL_HANDLE;
        vkDestroyInstance(instance, NULL);
        instance = VK_NULL_HANDLE;
    }
    pthread_mutex_unlock(&instance_lock);
}

const char *qvk_vk_result_name(VkResult result)
{
    switch (result) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_EXTERNAL_HANDLE: return "VK_ERROR_INVALID_EXTERNAL_HANDLE";
    case VK_ERROR_FRAGMENTATION: return "VK_ERROR_FRAGMENTATION";
    case VK_PIPELINE_COMPILE_REQUIRED: return "VK_PIPELINE_COMPILE_REQUIRED";
    default: return "unknown VkResult";
    }
}

qvk_status qvk_vk_check(qvk_vk_context *context, VkResult result, const char *what)
{
    switch (result) {
    case VK_SUCCESS:
        return QVK_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "%s failed: %s (%d)", what,
                         qvk_vk_result_name(result), (int)result);
    case VK_ERROR_DEVICE_LOST:
        if (context)
            context->lost = true;
        return qvk_error(QVK_ERR_DEVICE, "%s failed: the Vulkan device was lost "
                         "(VK_ERROR_DEVICE_LOST), e.g. by a driver reset or timeout; create a "
                         "new session to continue", what);
    default:
        return qvk_error(QVK_ERR_DEVICE, "%s failed: %s (%d)", what, qvk_vk_result_name(result),
                         (int)result);
    }
}
