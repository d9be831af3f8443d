/* qwen3vk devices: every Vulkan device, its limits and features, and the automatic choice. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"

#ifdef QWEN3VK_HAVE_VULKAN
#include "backend/vulkan/vulkan.h"

int cli_devices(const cli_options *options)
{
    char *report;

    (void)options;
    if (qvk_vulkan_devices_report(&report) != QVK_OK) {
        fprintf(stderr, "qwen3vk devices: %s\n", qvk_last_error());
        return 1;
    }
    fputs(report, stdout);
    free(report);
    return 0;
}
#else
int cli_devices(const cli_options *options)
{
    (void)options;
    fprintf(stderr, "qwen3vk devices: this build has no Vulkan backend (rebuild with "
            "-DQWEN3VK_VULKAN=ON)\n");
    return 1;
}
#endif
