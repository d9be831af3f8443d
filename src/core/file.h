/* Whole-file reads and read-only memory maps. */
#ifndef QWEN3VK_CORE_FILE_H
#define QWEN3VK_CORE_FILE_H

#include <stddef.h>

#include "core/error.h"

/* Read path into a NUL-terminated heap buffer (free() it); *size excludes the NUL. */
qvk_status qvk_file_read(const char *path, char **data, size_t *size);

typedef struct qvk_mapping {
    void *data;
    size_t size;
} qvk_mapping;

/* Map path read-only; an empty file maps to data NULL, size 0. */
qvk_status qvk_file_map(const char *path, qvk_mapping *mapping);
void qvk_file_unmap(qvk_mapping *mapping);

/* Join dir and name with '/' into out; QVK_ERR_INVALID_ARGUMENT if it does not fit. */
qvk_status qvk_path_join(char *out, size_t out_size, const char *dir, const char *name);

#endif
