/* The Vulkan backend's functions besides the backend object (see backend/backend.h): the device
 * listing behind `qwen3vk devices` and the validation-layer message count the tests check. */
#ifndef QWEN3VK_BACKEND_VULKAN_VULKAN_H
#define QWEN3VK_BACKEND_VULKAN_VULKAN_H

#include <stdint.h>

#include "qwen3vk.h"

/* Write a human-readable report of every Vulkan device into *report, which the caller frees.
 * It lists name, type, vendor, driver, memory heaps, subgroup size and operations, buffer
 * limits, optional features, and the device the automatic choice takes. Fails with
 * QVK_ERR_DEVICE and a message when there is no Vulkan loader, driver or device. */
qvk_status qvk_vulkan_devices_report(char **report);

/* Number of warning and error messages the validation layer has reported in this process
 * (always 0 unless QWEN3VK_VALIDATION=1 and the layer is installed). */
int64_t qvk_vulkan_validation_message_count(void);

#endif
