/* The safetensors format: an 8-byte little-endian header length N, N bytes of JSON mapping each
 * tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the byte after
 * the header), then the tensor data. Files are memory-mapped and tensors point into the mapping,
 * except where the data section does not start aligned to the tensors' dtypes (an unpadded
 * header): then it is copied into page-aligned anonymous memory, which `mapping` describes.
 * Supported dtypes: F32, F16, BF16; others are rejected by name. */
#ifndef QWEN3VK_MODEL_SAFETENSORS_H
#define QWEN3VK_MODEL_SAFETENSORS_H

#include "core/file.h"
#include "model/tensor.h"

typedef struct qvk_safetensors_file {
    char path[4096];
    qvk_mapping mapping;
    qvk_tensor *tensors;
    int32_t n_tensors;
} qvk_safetensors_file;

/* Map path and check its header: the length and every data range inside the file, sizes that
 * match dtype × shape, and no two tensors overlapping. */
qvk_status qvk_safetensors_open(const char *path, qvk_safetensors_file *file);
void qvk_safetensors_close(qvk_safetensors_file *file);
const qvk_tensor *qvk_safetensors_find(const qvk_safetensors_file *file, const char *name);

#endif
