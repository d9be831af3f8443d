/* Device memory: large blocks sub-allocated into slices, staging copies, and weight tensors split
 * by rows so that every binding stays within the device's binding limit. */
#ifndef QWEN3VK_BACKEND_VULKAN_MEMORY_H
#define QWEN3VK_BACKEND_VULKAN_MEMORY_H

#include <stddef.h>

#include "backend/vulkan/context.h"
#include "model/tensor.h"

typedef enum qvk_vk_memory_kind {
    QVK_VK_MEMORY_DEVICE,        /* device-local; written by shaders or transfers */
    QVK_VK_MEMORY_DEVICE_MAPPED, /* device-local, host-visible (unified memory): written in place */
    QVK_VK_MEMORY_UPLOAD,        /* host-visible, written by the host every step */
    QVK_VK_MEMORY_READBACK,      /* host-visible, preferably cached: read by the host */
    QVK_VK_MEMORY_IMPORTED,      /* host memory imported as device memory: read-only weights */
    QVK_VK_MEMORY_KIND_COUNT
} qvk_vk_memory_kind;

/* A range of one block's buffer: what a descriptor binds. */
typedef struct qvk_vk_slice {
    VkBuffer buffer;
    VkDeviceSize offset;
    VkDeviceSize size;
    uint8_t *mapped;  /* host address of offset, NULL unless host-visible */
    int32_t block;    /* index in the allocator's blocks */
} qvk_vk_slice;

typedef struct qvk_vk_block {
    VkDeviceMemory memory;
    VkBuffer buffer;  /* one buffer spans the whole block */
    VkDeviceSize size;
    VkDeviceSize used;
    qvk_vk_memory_kind kind;
    uint32_t heap;
    uint8_t *mapped;
    bool coherent;
} qvk_vk_block;

typedef struct qvk_vk_allocator {
    qvk_vk_context *context;
    qvk_vk_block *blocks;
    int32_t n_blocks;
    int32_t capacity;
    VkDeviceSize alignment;        /* of every slice's offset */
    VkDeviceSize binding_alignment; /* of a binding's or texel view's offset (16 at least) */
    VkDeviceSize block_size;       /* size of a new shared block */
    VkDeviceSize max_block_size;   /* largest block the device allows */
    VkDeviceSize heap_bytes[VK_MAX_MEMORY_HEAPS]; /* allocated so far, per heap */
    VkDeviceSize imported_bytes;   /* host memory imported (page-aligned ranges) */

    /* Staging for qvk_vk_write and qvk_vk_read, created on first use. */
    VkBuffer staging_buffer;
    VkDeviceMemory staging_memory;
    uint8_t *staging_mapped;
    VkDeviceSize staging_size;
    bool staging_coherent;
    VkCommandBuffer transfer_commands;
    VkFence transfer_fence;
} qvk_vk_allocator;

void qvk_vk_allocator_init(qvk_vk_allocator *allocator, qvk_vk_context *context);
void qvk_vk_allocator_free(qvk_vk_allocator *allocator);
/* Free the staging buffer (after the weights are uploaded); the next copy creates it again. */
void qvk_vk_allocator_release_staging(qvk_vk_allocator *allocator);
/* Whether weights can live in host-visible device-local memory (a unified-memory device). */
bool qvk_vk_allocator_has_mapped_device_memory(const qvk_vk_allocator *allocator);
/* Bytes of the allocator's blocks in use by slices, and allocated from the device (imported
 * blocks not included). */
VkDeviceSize qvk_vk_allocator_used_bytes(const qvk_vk_allocator *allocator);
VkDeviceSize qvk_vk_allocator_allocated_bytes(const qvk_vk_allocator *allocator);

/* Allocate size bytes of kind. `what` names the purpose in the error message. When the device
 * has no room, the error is QVK_ERR_OUT_OF_MEMORY and its message names the size and heap. */
qvk_status qvk_vk_alloc(qvk_vk_allocator *allocator, qvk_vk_memory_kind kind, VkDeviceSize size,
                        const char *what, qvk_vk_slice *out);

/* Import the size bytes at data, which the caller keeps valid and unchanged until the allocator
 * is freed, as device memory (VK_EXT_external_memory_host), without copying them: the
 * page-aligned range around them becomes one block. The slice spans exactly those bytes and is
 * read-only (never pass it to qvk_vk_write). The call fails with QVK_ERR_UNSUPPORTED where the
 * context does not import, or where data or size is not a multiple of the binding alignment
 * (16 bytes or more). The caller then copies. */
qvk_status qvk_vk_import(qvk_vk_allocator *allocator, const void *data, size_t size,
                         const char *what, qvk_vk_slice *out);

/* Release the whole pages inside [data, data + size) from this process with
 * madvise(MADV_DONTNEED) if they lie in a private read-only file mapping, as model weights do.
 * A later access re-reads them from the file. Returns the bytes released, which is 0 for other
 * memory (left alone) and on systems other than Linux. */
size_t qvk_vk_host_pages_release(const void *data, size_t size);

/* Create a view of a slice as texels of format (16-byte formats), for uniform texel buffer
 * bindings. Slices are multiples of 16 bytes (allocations are padded, imports must be), so the
 * view covers all of it. */
qvk_status qvk_vk_slice_view_create(qvk_vk_context *context, const qvk_vk_slice *slice,
                                    VkFormat format, VkBufferView *out);

/* Make host writes to a mapped slice visible to the device / device writes visible to the host;
 * no-ops on coherent memory. */
qvk_status qvk_vk_slice_flush(qvk_vk_allocator *allocator, const qvk_vk_slice *slice);
qvk_status qvk_vk_slice_invalidate(qvk_vk_allocator *allocator, const qvk_vk_slice *slice);

/* Copy size bytes from data to the start of the slice and zero the slice's bytes beyond size.
 * A mapped slice is written in place, any other through a staging buffer and a transfer.
 * Returns when the copy is done, and later compute dispatches see the data. */
qvk_status qvk_vk_write(qvk_vk_allocator *allocator, const qvk_vk_slice *slice, const void *data,
                        size_t size);
/* Copy size bytes from the start of the slice to data (for tests and debugging). */
qvk_status qvk_vk_read(qvk_vk_allocator *allocator, const qvk_vk_slice *slice, void *data,
                       size_t size);

/* ---- Weight tensors (tensors.c) ------------------------------------------------------------ */

/* Rows first_row .. first_row + n_rows - 1 of a tensor, in one binding. */
typedef struct qvk_vk_chunk {
    qvk_vk_slice slice;
    VkBufferView view;  /* the slice as R32G32B32A32_UINT texels (texel matvec layout) */
    int64_t first_row;
    int64_t n_rows;
} qvk_vk_chunk;

/* A weight tensor on the device: 2-D matrices keep their dtype and are split by rows into
 * chunks of at most max_binding bytes; 1-D vectors (norm weights) are converted to float32.
 * Where the context imports host memory, a matrix's chunks are imported from source->data,
 * which must then outlive the tensor; else they are copied, and the host pages of a copied
 * matrix in a read-only file mapping are released (qvk_vk_host_pages_release). */
typedef struct qvk_vk_tensor {
    const qvk_tensor *source;
    qvk_dtype dtype;
    int64_t rows;
    int64_t cols;
    int32_t n_chunks;
    qvk_vk_chunk *chunks;
    bool imported;
} qvk_vk_tensor;

qvk_status qvk_vk_tensor_upload(qvk_vk_allocator *allocator, const qvk_tensor *source,
                                qvk_vk_tensor *out);
void qvk_vk_tensor_free(qvk_vk_allocator *allocator, qvk_vk_tensor *tensor);

#endif
