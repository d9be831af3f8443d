#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log.h"

#define HEADER_LENGTH_BYTES 8

static int parse_dtype(const char *name, qvk_dtype *dtype)
{
    if (strcmp(name, "BF16") == 0)
        *dtype = QVK_DTYPE_BF16;
    else if (strcmp(name, "F16") == 0)
        *dtype = QVK_DTYPE_F16;
    else if (strcmp(name, "F32") == 0)
        *dtype = QVK_DTYPE_F32;
    else
        return 0;
    return 1;
}

/* Fill tensor from one header entry; data_size is the number of bytes after the header. */
static qvk_status parse_entry(const qvk_safetensors_file *file, const cJSON *entry,
                              const uint8_t *data, uint64_t data_size, qvk_tensor *tensor)
{
    const char *name = entry->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    const cJSON *dim, *begin_item, *end_item;
    double begin, end;
    uint64_t n_elements = 1;

    if (strlen(name) >= sizeof(tensor->name))
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor name too long: %.60s...", file->path, name);
    snprintf(tensor->name, sizeof(tensor->name), "%s", name);
    tensor->file = file->path;
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets) ||
        cJSON_GetArraySize(offsets) != 2)
        return qvk_error(QVK_ERR_FORMAT,
                         "%s: tensor %s: header entry needs dtype, shape and two data_offsets",
                         file->path, name);
    if (!parse_dtype(dtype->valuestring, &tensor->dtype))
        return qvk_error(QVK_ERR_UNSUPPORTED,
                         "%s: tensor %s has dtype %s; supported dtypes are BF16, F16 and F32 "
                         "(convert the model, e.g. with torch_dtype=bfloat16)",
                         file->path, name, dtype->valuestring);
    if (cJSON_GetArraySize(shape) > QVK_TENSOR_MAX_DIMS)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: tensor %s has %d dimensions, at most %d supported",
                         file->path, name, cJSON_GetArraySize(shape), QVK_TENSOR_MAX_DIMS);
    tensor->n_dims = 0;
    cJSON_ArrayForEach(dim, shape) {
        if (!cJSON_IsNumber(dim) || dim->valuedouble < 0 || dim->valuedouble > 1e12 ||
            dim->valuedouble != (double)(int64_t)dim->valuedouble)
            return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s: invalid shape entry", file->path, name);
        tensor->shape[tensor->n_dims++] = (int64_t)dim->valuedouble;
        n_elements *= (uint64_t)dim->valuedouble;
        if (n_elements > (1ull << 40))
            return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s: shape too large", file->path, name);
    }
    begin_item = cJSON_GetArrayItem(offsets, 0);
    end_item = cJSON_GetArrayItem(offsets, 1);
    if (!cJSON_IsNumber(begin_item) || !cJSON_IsNumber(end_item))
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s: data_offsets must be two numbers",
                         file->path, name);
    begin = begin_item->valuedouble;
    end = end_item->valuedouble;
    if (begin < 0 || end < begin)
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s: data_offsets [%.17g, %.17g] are invalid: "
                         "begin must be >= 0 and not after end; the file is corrupt",
                         file->path, name, begin, end);
    /* Compared as doubles: an end beyond 2^64 must not be converted to uint64_t. */
    if (end > (double)data_size)
        return qvk_error(QVK_ERR_FORMAT,
                         "%s: tensor %s: data_offsets end %.17g is past the end of the data "
                         "(%llu bytes); the file is truncated or corrupt, download it again",
                         file->path, name, end, (unsigned long long)data_size);
    if (begin != (double)(uint64_t)begin || end != (double)(uint64_t)end)
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s: data_offsets [%.17g, %.17g] are not "
                         "whole byte offsets", file->path, name, begin, end);
    /* The kernels read tensors as arrays of their dtype. The safetensors serializer writes
     * tensors by descending dtype size, so each offset is a multiple of its dtype size. Where
     * the data section itself is not aligned, qvk_safetensors_open copies it. */
    if ((uint64_t)begin % qvk_dtype_size(tensor->dtype) != 0)
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s: data_offsets begin %.0f is not aligned "
                         "to its %s size of %zu bytes; the file is corrupt", file->path, name,
                         begin, qvk_dtype_name(tensor->dtype), qvk_dtype_size(tensor->dtype));
    if ((uint64_t)(end - begin) != n_elements * qvk_dtype_size(tensor->dtype))
        return qvk_error(QVK_ERR_FORMAT,
                         "%s: tensor %s: %.0f data bytes do not match shape × %s size (%llu bytes)",
                         file->path, name, end - begin, qvk_dtype_name(tensor->dtype),
                         (unsigned long long)(n_elements * qvk_dtype_size(tensor->dtype)));
    tensor->data = data + (uint64_t)begin;
    tensor->n_bytes = (size_t)(end - begin);
    return QVK_OK;
}

static int compare_by_data(const void *a, const void *b)
{
    const qvk_tensor *ta = a, *tb = b;
    if (ta->data != tb->data)
        return (const char *)ta->data < (const char *)tb->data ? -1 : 1;
    return 0;
}

/* Tensors are sorted by data pointer; each must end before the next begins. */
static qvk_status check_overlaps(const qvk_safetensors_file *file)
{
    for (int32_t i = 1; i < file->n_tensors; i++) {
        const qvk_tensor *previous = &file->tensors[i - 1], *tensor = &file->tensors[i];
        if ((const char *)previous->data + previous->n_bytes > (const char *)tensor->data)
            return qvk_error(QVK_ERR_FORMAT, "%s: tensors %s and %s overlap in the file; it is corrupt",
                             file->path, previous->name, tensor->name);
    }
    return QVK_OK;
}

/* Parse and check the header; *data is set to the start of the data section. */
static qvk_status parse_header(qvk_safetensors_file *file, const uint8_t **data)
{
    const uint8_t *bytes = file->mapping.data;
    uint64_t header_length = 0;
    cJSON *header;
    const cJSON *entry;
    qvk_status status = QVK_OK;

    if (file->mapping.size < HEADER_LENGTH_BYTES)
        return qvk_error(QVK_ERR_FORMAT, "%s: file of %zu bytes is too short for a safetensors "
                         "header; it is truncated, download it again", file->path, file->mapping.size);
    for (int i = 0; i < HEADER_LENGTH_BYTES; i++)
        header_length |= (uint64_t)bytes[i] << (8 * i);
    if (header_length > file->mapping.size - HEADER_LENGTH_BYTES)
        return qvk_error(QVK_ERR_FORMAT, "%s: header length %llu is past the end of the file "
                         "(%zu bytes); it is truncated or not a safetensors file",
                         file->path, (unsigned long long)header_length, file->mapping.size);
    *data = bytes + HEADER_LENGTH_BYTES + header_length;
    header = cJSON_ParseWithLength((const char *)bytes + HEADER_LENGTH_BYTES, (size_t)header_length);
    if (!cJSON_IsObject(header)) {
        cJSON_Delete(header);
        return qvk_error(QVK_ERR_FORMAT, "%s: the header is not a valid JSON object", file->path);
    }

    file->tensors = calloc((size_t)cJSON_GetArraySize(header) + 1, sizeof(qvk_tensor));
    if (!file->tensors) {
        cJSON_Delete(header);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "%s: out of memory for the tensor list", file->path);
    }
    cJSON_ArrayForEach(entry, header) {
        if (strcmp(entry->string, "__metadata__") == 0)
            continue;
        status = parse_entry(file, entry, bytes + HEADER_LENGTH_BYTES + header_length,
                             file->mapping.size - HEADER_LENGTH_BYTES - header_length,
                             &file->tensors[file->n_tensors]);
        if (status != QVK_OK)
            break;
        file->n_tensors++;
    }
    cJSON_Delete(header);
    if (status != QVK_OK)
        return status;
    qsort(file->tensors, (size_t)file->n_tensors, sizeof(qvk_tensor), compare_by_data);
    return check_overlaps(file);
}

/* The largest dtype size of the file's tensors: the alignment their data needs. */
static size_t max_dtype_size(const qvk_safetensors_file *file)
{
    size_t size = 1;

    for (int32_t i = 0; i < file->n_tensors; i++)
        if (qvk_dtype_size(file->tensors[i].dtype) > size)
            size = qvk_dtype_size(file->tensors[i].dtype);
    return size;
}

/* Copy the data section into page-aligned anonymous memory, point the tensors there and unmap
 * the file. Writers that do not pad the header (the format does not require it) leave the data
 * section at any byte offset, where 16- and 32-bit values cannot be read in place. */
static qvk_status copy_data_section(qvk_safetensors_file *file, const uint8_t *data)
{
    size_t offset = (size_t)(data - (const uint8_t *)file->mapping.data);
    size_t size = file->mapping.size - offset;
    uint8_t *copy;

    if (size == 0)
        return QVK_OK; /* only empty tensors: nothing is read */
    qvk_log_info("%s: the tensor data starts at byte %zu, which is not a multiple of %zu; copying "
                 "its %.1f MiB into aligned memory", file->path, offset, max_dtype_size(file),
                 (double)size / (1 << 20));
    copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "%s: out of memory copying %zu bytes of tensor "
                         "data to align them", file->path, size);
    memcpy(copy, data, size);
    mprotect(copy, size, PROT_READ);
    for (int32_t i = 0; i < file->n_tensors; i++)
        file->tensors[i].data = copy + ((const uint8_t *)file->tensors[i].data - data);
    qvk_file_unmap(&file->mapping);
    file->mapping.data = copy;
    file->mapping.size = size;
    return QVK_OK;
}

qvk_status qvk_safetensors_open(const char *path, qvk_safetensors_file *file)
{
    const uint8_t *data = NULL;
    qvk_status status;

    memset(file, 0, sizeof(*file));
    snprintf(file->path, sizeof(file->path), "%s", path);
    status = qvk_file_map(path, &file->mapping);
    if (status == QVK_OK)
        status = parse_header(file, &data);
    if (status == QVK_OK && file->n_tensors > 0 &&
        (uintptr_t)data % max_dtype_size(file) != 0)
        status = copy_data_section(file, data);
    if (status != QVK_OK)
        qvk_safetensors_close(file);
    return status;
}

void qvk_safetensors_close(qvk_safetensors_file *file)
{
    qvk_file_unmap(&file->mapping);
    free(file->tensors);
    file->tensors = NULL;
    file->n_tensors = 0;
}

const qvk_tensor *qvk_safetensors_find(const qvk_safetensors_file *file, const char *name)
{
    for (int32_t i = 0; i < file->n_tensors; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}
