/* Weight tensors on the device, split by rows into chunks that each fit one binding. */
#include "backend/vulkan/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MIB (1024.0 * 1024.0)

/* Allocate one chunk: in host-visible device memory where the device has it (unified memory,
 * written in place), else in device-local memory filled through staging. */
static qvk_status chunk_alloc(qvk_vk_allocator *allocator, VkDeviceSize size, const char *what,
                              qvk_vk_slice *slice)
{
    if (!allocator->context->staged_weights &&
        qvk_vk_allocator_has_mapped_device_memory(allocator)) {
        qvk_status status = qvk_vk_alloc(allocator, QVK_VK_MEMORY_DEVICE_MAPPED, size, what, slice);
        if (status != QVK_ERR_OUT_OF_MEMORY)
            return status;
        qvk_log_debug("vulkan: no host-visible device memory left for %s; using staging", what);
    }
    return qvk_vk_alloc(allocator, QVK_VK_MEMORY_DEVICE, size, what, slice);
}

/* Fill a chunk with bytes of rows: imported where the context imports and the address allows,
 * else allocated and copied, after which the rows' host pages are released. */
static qvk_status chunk_fill(qvk_vk_allocator *allocator, const uint8_t *rows, size_t bytes,
                             const char *what, qvk_vk_chunk *chunk, bool *imported)
{
    qvk_status status;

    *imported = allocator->context->host_import &&
                qvk_vk_import(allocator, rows, bytes, what, &chunk->slice) == QVK_OK;
    if (!*imported) {
        status = chunk_alloc(allocator, bytes, what, &chunk->slice);
        if (status == QVK_OK)
            status = qvk_vk_write(allocator, &chunk->slice, rows, bytes);
        if (status != QVK_OK)
            return status;
        qvk_vk_host_pages_release(rows, bytes);
    }
    if (allocator->context->matvec_layout != QVK_VK_MATVEC_TEXEL)
        return QVK_OK;
    /* matvec_texel.comp reads the weights as R32G32B32A32_UINT texels. */
    return qvk_vk_slice_view_create(allocator->context, &chunk->slice, VK_FORMAT_R32G32B32A32_UINT,
                                    &chunk->view);
}

/* Vectors (norm weights) become float32 so that the shaders read one type for them. */
static qvk_status upload_vector(qvk_vk_allocator *allocator, const qvk_tensor *source,
                                qvk_vk_tensor *out)
{
    int64_t n = qvk_tensor_n_elements(source);
    size_t bytes = (size_t)n * sizeof(float);
    float *values;
    qvk_status status;

    if (bytes > allocator->context->max_binding)
        return qvk_error(QVK_ERR_UNSUPPORTED, "tensor %s: %zu bytes as float32 exceed the "
                         "binding limit of %llu bytes", source->name, bytes,
                         (unsigned long long)allocator->context->max_binding);
    values = malloc(bytes ? bytes : 1);
    out->chunks = calloc(1, sizeof(*out->chunks));
    if (!values || !out->chunks) {
        free(values);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory converting %s", source->name);
    }
    qvk_tensor_read_f32(source, 0, n, values);
    out->dtype = QVK_DTYPE_F32;
    out->rows = 1;
    out->cols = n;
    out->n_chunks = 1;
    out->chunks[0].first_row = 0;
    out->chunks[0].n_rows = 1;
    status = chunk_alloc(allocator, bytes, source->name, &out->chunks[0].slice);
    if (status == QVK_OK)
        status = qvk_vk_write(allocator, &out->chunks[0].slice, values, bytes);
    free(values);
    return status;
}

static qvk_status upload_matrix(qvk_vk_allocator *allocator, const qvk_tensor *source,
                                qvk_vk_tensor *out)
{
    size_t row_bytes = (size_t)out->cols * qvk_dtype_size(source->dtype);
    uint64_t max_binding = allocator->context->max_binding;
    int64_t rows_per_chunk;
    char what[192];
    qvk_status status = QVK_OK;

    if (row_bytes == 0 || row_bytes > max_binding)
        return qvk_error(QVK_ERR_UNSUPPORTED, "tensor %s: one row of %zu bytes does not fit the "
                         "device's binding limit of %llu bytes", source->name, row_bytes,
                         (unsigned long long)max_binding);
    if (source->n_bytes < (size_t)out->rows * row_bytes)
        return qvk_error(QVK_ERR_FORMAT, "tensor %s holds %zu bytes, less than its %lld × %lld "
                         "%s elements need", source->name, source->n_bytes, (long long)out->rows,
                         (long long)out->cols, qvk_dtype_name(source->dtype));

    rows_per_chunk = (int64_t)(max_binding / row_bytes);
    out->dtype = source->dtype;
    out->n_chunks = (int32_t)((out->rows + rows_per_chunk - 1) / rows_per_chunk);
    out->chunks = calloc((size_t)out->n_chunks, sizeof(*out->chunks));
    if (!out->chunks)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory for %s", source->name);

    out->imported = true;
    for (int32_t c = 0; c < out->n_chunks && status == QVK_OK; c++) {
        qvk_vk_chunk *chunk = &out->chunks[c];
        bool imported;
        chunk->first_row = (int64_t)c * rows_per_chunk;
        chunk->n_rows = out->rows - chunk->first_row < rows_per_chunk
                            ? out->rows - chunk->first_row : rows_per_chunk;
        size_t bytes = (size_t)chunk->n_rows * row_bytes;
        snprintf(what, sizeof(what), "%s rows %lld..%lld", source->name,
                 (long long)chunk->first_row, (long long)(chunk->first_row + chunk->n_rows - 1));
        const uint8_t *rows = (const uint8_t *)source->data + (size_t)chunk->first_row * row_bytes;
        status = chunk_fill(allocator, rows, bytes, what, chunk, &imported);
        out->imported = out->imported && imported;
    }
    if (status == QVK_OK && out->n_chunks > 1)
        qvk_log_debug("vulkan: %s (%.1f MiB) split into %d chunks of up to %lld rows",
                      source->name, (double)out->rows * (double)row_bytes / MIB, out->n_chunks,
                      (long long)rows_per_chunk);
    if (status == QVK_OK && allocator->context->host_import && !out->imported)
        qvk_log_debug("vulkan: %s copied: its address or size does not allow importing it",
                      source->name);
    return status;
}

qvk_status qvk_vk_tensor_upload(qvk_vk_allocator *allocator, const qvk_tensor *source,
                                qvk_vk_tensor *out)
{
    qvk_status status;

    memset(out, 0, sizeof(*out));
    out->source = source;
    if (source->n_dims <= 1) {
        status = upload_vector(allocator, source, out);
    } else {
        out->rows = qvk_tensor_rows(source);
        out->cols = qvk_tensor_cols(source);
        status = upload_matrix(allocator, source, out);
    }
    if (status != QVK_OK) {
        qvk_vk_tensor_free(allocator, out);
        return qvk_error_prefix(status, "uploading %s to the Vulkan device", source->name);
    }
    return QVK_OK;
}

void qvk_vk_tensor_free(qvk_vk_allocator *allocator, qvk_vk_tensor *tensor)
{
    for (int32_t c = 0; c < tensor->n_chunks && tensor->chunks; c++)
        if (tensor->chunks[c].view != VK_NULL_HANDLE)
            vkDestroyBufferView(allocator->context->device, tensor->chunks[c].view, NULL);
    free(tensor->chunks);
    tensor->chunks = NULL;
    tensor->n_chunks = 0;
}
