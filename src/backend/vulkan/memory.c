/* Block sub-allocation, memory type choice and staging copies. */
#include "backend/vulkan/memory.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MIB (1024.0 * 1024.0)
/* New shared blocks hold this much; larger requests get a block of their own. */
#define DEFAULT_BLOCK_BYTES ((VkDeviceSize)64 << 20)
#define STAGING_BYTES ((VkDeviceSize)32 << 20)

static const char *kind_names[QVK_VK_MEMORY_KIND_COUNT] = {
    "device-local", "device-local host-visible", "host-visible upload", "host-visible readback",
    "imported host",
};

static VkDeviceSize align_up(VkDeviceSize value, VkDeviceSize alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

static uint32_t largest_device_heap(const VkPhysicalDeviceMemoryProperties *memory)
{
    uint32_t best = 0;
    VkDeviceSize best_size = 0;
    for (uint32_t h = 0; h < memory->memoryHeapCount; h++)
        if ((memory->memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            memory->memoryHeaps[h].size > best_size) {
            best = h;
            best_size = memory->memoryHeaps[h].size;
        }
    return best;
}

/* How well memory type `type` suits kind: -1 unsuitable, higher is better. */
static int type_score(const VkPhysicalDeviceMemoryProperties *memory, uint32_t type,
                      qvk_vk_memory_kind kind)
{
    VkMemoryPropertyFlags flags = memory->memoryTypes[type].propertyFlags;
    bool device_local = flags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    bool visible = flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    bool coherent = flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    bool cached = flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT;

    if (flags & (VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT | VK_MEMORY_PROPERTY_PROTECTED_BIT))
        return -1;
    switch (kind) {
    case QVK_VK_MEMORY_DEVICE:
        /* Prefer memory the host cannot see: on discrete GPUs host-visible device memory is
         * the small BAR window, better left to others. */
        return device_local ? 2 + !visible : 0;
    case QVK_VK_MEMORY_DEVICE_MAPPED:
        if (!device_local || !visible ||
            memory->memoryTypes[type].heapIndex != largest_device_heap(memory))
            return -1;
        return 1 + coherent;
    case QVK_VK_MEMORY_UPLOAD:
        return visible ? 1 + 2 * coherent + device_local : -1;
    case QVK_VK_MEMORY_READBACK:
        return visible ? 1 + 2 * cached + coherent : -1;
    default:
        return -1;
    }
}

void qvk_vk_allocator_init(qvk_vk_allocator *allocator, qvk_vk_context *context)
{
    const VkPhysicalDeviceLimits *limits = &context->info.properties.limits;
    VkDeviceSize max_block = context->info.max_allocation_size;

    memset(allocator, 0, sizeof(*allocator));
    allocator->context = context;
    /* Offsets satisfy storage-buffer binding, texel view and non-coherent flush alignment, and
     * 16 bytes for the shaders' uvec4 loads. */
    allocator->binding_alignment = 16;
    if (limits->minStorageBufferOffsetAlignment > allocator->binding_alignment)
        allocator->binding_alignment = limits->minStorageBufferOffsetAlignment;
    if (limits->minTexelBufferOffsetAlignment > allocator->binding_alignment)
        allocator->binding_alignment = limits->minTexelBufferOffsetAlignment;
    allocator->alignment = allocator->binding_alignment;
    if (limits->nonCoherentAtomSize > allocator->alignment)
        allocator->alignment = limits->nonCoherentAtomSize;
    if (context->info.max_buffer_size && context->info.max_buffer_size < max_block)
        max_block = context->info.max_buffer_size;
    if (max_block == 0)
        max_block = (VkDeviceSize)1 << 30; /* 1 GiB, the minimum maxMemoryAllocationSize */
    allocator->max_block_size = max_block;
    allocator->block_size = DEFAULT_BLOCK_BYTES < max_block ? DEFAULT_BLOCK_BYTES : max_block;
}

bool qvk_vk_allocator_has_mapped_device_memory(const qvk_vk_allocator *allocator)
{
    const VkPhysicalDeviceMemoryProperties *memory = &allocator->context->info.memory;
    for (uint32_t t = 0; t < memory->memoryTypeCount; t++)
        if (type_score(memory, t, QVK_VK_MEMORY_DEVICE_MAPPED) >= 0)
            return true;
    return false;
}

VkDeviceSize qvk_vk_allocator_used_bytes(const qvk_vk_allocator *allocator)
{
    VkDeviceSize used = 0;
    for (int32_t b = 0; b < allocator->n_blocks; b++)
        if (allocator->blocks[b].kind != QVK_VK_MEMORY_IMPORTED)
            used += allocator->blocks[b].used;
    return used;
}

VkDeviceSize qvk_vk_allocator_allocated_bytes(const qvk_vk_allocator *allocator)
{
    VkDeviceSize allocated = 0;
    for (int32_t b = 0; b < allocator->n_blocks; b++)
        if (allocator->blocks[b].kind != QVK_VK_MEMORY_IMPORTED)
            allocated += allocator->blocks[b].size;
    return allocated;
}

static qvk_status out_of_memory(qvk_vk_allocator *allocator, qvk_vk_memory_kind kind,
                                VkDeviceSize size, const char *what, uint32_t heap,
                                VkResult result)
{
    const VkPhysicalDeviceMemoryProperties *memory = &allocator->context->info.memory;
    return qvk_error(QVK_ERR_OUT_OF_MEMORY,
                     "allocating %s: %.1f MiB of %s memory failed (%s) on heap %u of %.1f MiB, "
                     "where qwen3vk already holds %.1f MiB; use a smaller context (n_ctx) or "
                     "batch (n_batch), a smaller model, or a device with more memory",
                     what, (double)size / MIB, kind_names[kind], qvk_vk_result_name(result), heap,
                     (double)memory->memoryHeaps[heap].size / MIB,
                     (double)allocator->heap_bytes[heap] / MIB);
}

static VkBufferUsageFlags buffer_usage(const qvk_vk_context *context)
{
    VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    if (context->matvec_layout == QVK_VK_MATVEC_TEXEL)
        usage |= VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;
    return usage;
}

/* Allocate memory for requirements, trying suitable types from best to worst. */
static qvk_status memory_allocate(qvk_vk_allocator *allocator, qvk_vk_memory_kind kind,
                                  const VkMemoryRequirements *requirements, const char *what,
                                  qvk_vk_block *block)
{
    qvk_vk_context *context = allocator->context;
    const VkPhysicalDeviceMemoryProperties *memory = &context->info.memory;
    bool tried[VK_MAX_MEMORY_TYPES] = { false };
    bool any_suitable = false;
    VkResult last = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    uint32_t last_heap = 0;

    for (;;) {
        int best = -1, best_score = -1;
        for (uint32_t t = 0; t < memory->memoryTypeCount; t++) {
            int score = type_score(memory, t, kind);
            if (!tried[t] && (requirements->memoryTypeBits & (1u << t)) && score > best_score) {
                best = (int)t;
                best_score = score;
            }
        }
        if (best < 0)
            break;
        tried[best] = true;
        any_suitable = true;

        VkMemoryAllocateInfo info = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
        info.allocationSize = requirements->size;
        info.memoryTypeIndex = (uint32_t)best;
        last_heap = memory->memoryTypes[best].heapIndex;
        last = vkAllocateMemory(context->device, &info, NULL, &block->memory);
        if (last == VK_SUCCESS) {
            VkMemoryPropertyFlags flags = memory->memoryTypes[best].propertyFlags;
            block->heap = last_heap;
            block->coherent = flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            allocator->heap_bytes[last_heap] += requirements->size;
            return QVK_OK;
        }
        block->memory = VK_NULL_HANDLE;
        if (last != VK_ERROR_OUT_OF_DEVICE_MEMORY && last != VK_ERROR_OUT_OF_HOST_MEMORY)
            return qvk_vk_check(context, last, "vkAllocateMemory");
    }
    if (!any_suitable)
        return qvk_error(QVK_ERR_UNSUPPORTED, "allocating %s: the device has no %s memory type "
                         "for storage buffers", what, kind_names[kind]);
    return out_of_memory(allocator, kind, requirements->size, what, last_heap, last);
}

/* Create a block's storage buffer of size bytes; next extends VkBufferCreateInfo. */
static VkResult block_buffer_create(qvk_vk_context *context, VkDeviceSize size, const void *next,
                                    qvk_vk_block *block)
{
    VkBufferCreateInfo create = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO };
    VkResult result;

    create.pNext = next;
    create.size = size;
    create.usage = buffer_usage(context);
    create.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    result = vkCreateBuffer(context->device, &create, NULL, &block->buffer);
    if (result != VK_SUCCESS)
        block->buffer = VK_NULL_HANDLE;
    return result;
}

static qvk_status block_create(qvk_vk_allocator *allocator, qvk_vk_memory_kind kind,
                               VkDeviceSize size, const char *what, qvk_vk_block *block)
{
    qvk_vk_context *context = allocator->context;
    VkMemoryRequirements requirements;
    qvk_status status;
    VkResult result;

    memset(block, 0, sizeof(*block));
    block->kind = kind;
    block->size = size;
    result = block_buffer_create(context, size, NULL, block);
    if (result != VK_SUCCESS)
        return qvk_vk_check(context, result, "vkCreateBuffer");
    vkGetBufferMemoryRequirements(context->device, block->buffer, &requirements);
    status = memory_allocate(allocator, kind, &requirements, what, block);
    if (status == QVK_OK) {
        result = vkBindBufferMemory(context->device, block->buffer, block->memory, 0);
        status = qvk_vk_check(context, result, "vkBindBufferMemory");
    }
    if (status == QVK_OK && kind != QVK_VK_MEMORY_DEVICE) {
        void *mapped;
        result = vkMapMemory(context->device, block->memory, 0, VK_WHOLE_SIZE, 0, &mapped);
        status = qvk_vk_check(context, result, "vkMapMemory");
        block->mapped = mapped;
    }
    if (status != QVK_OK) {
        if (block->memory != VK_NULL_HANDLE) {
            vkFreeMemory(context->device, block->memory, NULL);
            allocator->heap_bytes[block->heap] -= requirements.size;
        }
        vkDestroyBuffer(context->device, block->buffer, NULL);
        memset(block, 0, sizeof(*block));
    }
    return status;
}

/* A free entry in the blocks array, growing it when full; NULL when out of host memory. */
static qvk_vk_block *block_reserve(qvk_vk_allocator *allocator)
{
    if (allocator->n_blocks == allocator->capacity) {
        int32_t capacity = allocator->capacity ? allocator->capacity * 2 : 16;
        qvk_vk_block *blocks = realloc(allocator->blocks, (size_t)capacity * sizeof(*blocks));
        if (!blocks)
            return NULL;
        allocator->blocks = blocks;
        allocator->capacity = capacity;
    }
    return &allocator->blocks[allocator->n_blocks];
}

qvk_status qvk_vk_alloc(qvk_vk_allocator *allocator, qvk_vk_memory_kind kind, VkDeviceSize size,
                        const char *what, qvk_vk_slice *out)
{
    VkDeviceSize padded = align_up(size ? size : 1, allocator->alignment);
    int32_t index = -1;

    memset(out, 0, sizeof(*out));
    if (padded > allocator->max_block_size)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "allocating %s: %.1f MiB is more than the "
                         "device allows in one allocation (%.1f MiB)", what,
                         (double)size / MIB, (double)allocator->max_block_size / MIB);

    for (int32_t b = 0; b < allocator->n_blocks && index < 0; b++) {
        qvk_vk_block *block = &allocator->blocks[b];
        VkDeviceSize offset = align_up(block->used, allocator->alignment);
        if (block->kind == kind && offset + padded <= block->size)
            index = b;
    }
    if (index < 0) {
        if (!block_reserve(allocator))
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory allocating %s", what);
        VkDeviceSize block_size = padded > allocator->block_size ? padded : allocator->block_size;
        /* Host-visible memory is small and often scarce: give each request its own block. */
        if (kind == QVK_VK_MEMORY_UPLOAD || kind == QVK_VK_MEMORY_READBACK)
            block_size = padded;
        qvk_status status = block_create(allocator, kind, block_size, what,
                                         &allocator->blocks[allocator->n_blocks]);
        if (status != QVK_OK)
            return status;
        index = allocator->n_blocks++;
    }

    qvk_vk_block *block = &allocator->blocks[index];
    VkDeviceSize offset = align_up(block->used, allocator->alignment);
    block->used = offset + padded;
    out->buffer = block->buffer;
    out->offset = offset;
    out->size = padded;
    out->mapped = block->mapped ? block->mapped + offset : NULL;
    out->block = index;
    return QVK_OK;
}

/* The best memory type of type_bits for imported weights: device-local if there is one. */
static int import_memory_type(const VkPhysicalDeviceMemoryProperties *memory, uint32_t type_bits)
{
    int best = -1;
    for (uint32_t t = 0; t < memory->memoryTypeCount; t++) {
        if (!(type_bits & (1u << t)))
            continue;
        if (best < 0 || (memory->memoryTypes[t].propertyFlags &
                         VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
            best = (int)t;
        if (memory->memoryTypes[best].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
            break;
    }
    return best;
}

/* Create the buffer of an import of pages [start, start + size) and bind the imported memory. */
static VkResult import_block_create(qvk_vk_allocator *allocator, void *start, VkDeviceSize size,
                                    qvk_vk_block *block)
{
    qvk_vk_context *context = allocator->context;
    const VkExternalMemoryHandleTypeFlagBits type =
        VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;
    VkMemoryHostPointerPropertiesEXT host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT };
    VkExternalMemoryBufferCreateInfo external = {
        .sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, .handleTypes = type };
    VkImportMemoryHostPointerInfoEXT import = {
        .sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT, .handleType = type,
        .pHostPointer = start };
    VkMemoryAllocateInfo allocate = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
    VkMemoryRequirements requirements;
    VkResult result;
    int type_index;

    memset(block, 0, sizeof(*block));
    result = context->get_host_pointer_properties(context->device, type, start, &host);
    if (result != VK_SUCCESS)
        return result;
    result = block_buffer_create(context, size, &external, block);
    if (result != VK_SUCCESS)
        return result;
    vkGetBufferMemoryRequirements(context->device, block->buffer, &requirements);
    type_index = import_memory_type(&context->info.memory,
                                    requirements.memoryTypeBits & host.memoryTypeBits);
    if (type_index < 0 || requirements.size > size)
        return VK_ERROR_FEATURE_NOT_PRESENT;
    allocate.pNext = &import;
    allocate.allocationSize = size;
    allocate.memoryTypeIndex = (uint32_t)type_index;
    result = vkAllocateMemory(context->device, &allocate, NULL, &block->memory);
    if (result != VK_SUCCESS) {
        block->memory = VK_NULL_HANDLE;
        return result;
    }
    block->heap = context->info.memory.memoryTypes[type_index].heapIndex;
    return vkBindBufferMemory(context->device, block->buffer, block->memory, 0);
}

qvk_status qvk_vk_import(qvk_vk_allocator *allocator, const void *data, size_t size,
                         const char *what, qvk_vk_slice *out)
{
    qvk_vk_context *context = allocator->context;
    uintptr_t page = (uintptr_t)context->info.host_import_alignment;
    uintptr_t address = (uintptr_t)data;
    uintptr_t start, end;
    qvk_vk_block *block;
    VkResult result;

    memset(out, 0, sizeof(*out));
    if (!context->host_import || page == 0 || (page & (page - 1)) != 0)
        return qvk_error(QVK_ERR_UNSUPPORTED, "importing %s: the device does not import host "
                         "memory", what);
    start = address & ~(page - 1);
    end = (address + size + page - 1) & ~(page - 1);
    if ((address - start) % allocator->binding_alignment != 0 ||
        size % allocator->binding_alignment != 0 || size == 0 ||
        end - start > allocator->max_block_size)
        return qvk_error(QVK_ERR_UNSUPPORTED, "importing %s: its address or size of %zu bytes "
                         "is not aligned to %llu bytes", what, size,
                         (unsigned long long)allocator->binding_alignment);
    block = block_reserve(allocator);
    if (!block)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory importing %s", what);
    /* The device only reads imported weights, so the pages may be read-only. */
    result = import_block_create(allocator, (void *)start, end - start, block);
    if (result != VK_SUCCESS) {
        vkDestroyBuffer(context->device, block->buffer, NULL);
        vkFreeMemory(context->device, block->memory, NULL);
        return qvk_error(QVK_ERR_UNSUPPORTED, "importing %s: %s", what,
                         qvk_vk_result_name(result));
    }
    block->kind = QVK_VK_MEMORY_IMPORTED;
    block->size = end - start;
    block->used = block->size; /* no slice is ever sub-allocated from it */
    allocator->imported_bytes += block->size;
    out->buffer = block->buffer;
    out->offset = address - start;
    out->size = size;
    out->block = allocator->n_blocks++;
    return QVK_OK;
}

qvk_status qvk_vk_slice_view_create(qvk_vk_context *context, const qvk_vk_slice *slice,
                                    VkFormat format, VkBufferView *out)
{
    VkBufferViewCreateInfo create = { .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO };
    VkResult result;

    create.buffer = slice->buffer;
    create.format = format;
    create.offset = slice->offset;
    create.range = slice->size & ~(VkDeviceSize)15;
    result = vkCreateBufferView(context->device, &create, NULL, out);
    if (result != VK_SUCCESS)
        *out = VK_NULL_HANDLE;
    return qvk_vk_check(context, result, "vkCreateBufferView");
}

/* The atom-aligned memory range of a slice, for flushes and invalidations. */
static VkMappedMemoryRange slice_range(const qvk_vk_allocator *allocator, const qvk_vk_slice *slice)
{
    const qvk_vk_block *block = &allocator->blocks[slice->block];
    VkDeviceSize atom = allocator->context->info.properties.limits.nonCoherentAtomSize;
    VkMappedMemoryRange range = { .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE };

    if (atom == 0)
        atom = 1;
    range.memory = block->memory;
    range.offset = slice->offset / atom * atom;
    range.size = align_up(slice->offset + slice->size, atom) - range.offset;
    if (range.offset + range.size > block->size)
        range.size = VK_WHOLE_SIZE;
    return range;
}

qvk_status qvk_vk_slice_flush(qvk_vk_allocator *allocator, const qvk_vk_slice *slice)
{
    if (allocator->blocks[slice->block].coherent)
        return QVK_OK;
    VkMappedMemoryRange range = slice_range(allocator, slice);
    return qvk_vk_check(allocator->context,
                        vkFlushMappedMemoryRanges(allocator->context->device, 1, &range),
                        "vkFlushMappedMemoryRanges");
}

qvk_status qvk_vk_slice_invalidate(qvk_vk_allocator *allocator, const qvk_vk_slice *slice)
{
    if (allocator->blocks[slice->block].coherent)
        return QVK_OK;
    VkMappedMemoryRange range = slice_range(allocator, slice);
    return qvk_vk_check(allocator->context,
                        vkInvalidateMappedMemoryRanges(allocator->context->device, 1, &range),
                        "vkInvalidateMappedMemoryRanges");
}

static qvk_status staging_create(qvk_vk_allocator *allocator)
{
    qvk_vk_context *context = allocator->context;
    qvk_vk_block block;
    VkCommandBufferAllocateInfo commands = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO };
    VkFenceCreateInfo fence = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    qvk_status status;

    if (allocator->staging_buffer != VK_NULL_HANDLE)
        return QVK_OK;
    if (allocator->transfer_commands == VK_NULL_HANDLE) {
        commands.commandPool = context->command_pool;
        commands.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        commands.commandBufferCount = 1;
        status = qvk_vk_check(context, vkAllocateCommandBuffers(context->device, &commands,
                                                                &allocator->transfer_commands),
                              "vkAllocateCommandBuffers");
        if (status != QVK_OK)
            return status;
        status = qvk_vk_check(context, vkCreateFence(context->device, &fence, NULL,
                                                     &allocator->transfer_fence),
                              "vkCreateFence");
        if (status != QVK_OK)
            return status;
    }
    /* The staging block stays outside the blocks array so that it can be freed early. */
    status = block_create(allocator, QVK_VK_MEMORY_UPLOAD, STAGING_BYTES, "the staging buffer",
                          &block);
    if (status != QVK_OK)
        return status;
    allocator->staging_buffer = block.buffer;
    allocator->staging_memory = block.memory;
    allocator->staging_mapped = block.mapped;
    allocator->staging_size = block.size;
    allocator->staging_coherent = block.coherent;
    allocator->heap_bytes[block.heap] -= block.size; /* not counted as held */
    return QVK_OK;
}

/* Record and run one copy between the staging buffer and a slice, with the barriers that order
 * it after earlier compute work and before later compute work or host reads. */
static qvk_status transfer_run(qvk_vk_allocator *allocator, const qvk_vk_slice *slice,
                               VkDeviceSize slice_offset, VkDeviceSize size, bool to_device)
{
    qvk_vk_context *context = allocator->context;
    VkCommandBuffer cmd = allocator->transfer_commands;
    VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    VkMemoryBarrier before = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER };
    VkMemoryBarrier after = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER };
    VkBufferCopy region;
    VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO };
    qvk_status status;

    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    status = qvk_vk_check(context, vkBeginCommandBuffer(cmd, &begin), "vkBeginCommandBuffer");
    if (status != QVK_OK)
        return status;
    before.srcAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         0, 1, &before, 0, NULL, 0, NULL);
    if (to_device) {
        region = (VkBufferCopy){ 0, slice->offset + slice_offset, size };
        vkCmdCopyBuffer(cmd, allocator->staging_buffer, slice->buffer, 1, &region);
        after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        after.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &after, 0, NULL, 0, NULL);
    } else {
        region = (VkBufferCopy){ slice->offset + slice_offset, 0, size };
        vkCmdCopyBuffer(cmd, slice->buffer, allocator->staging_buffer, 1, &region);
        after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        after.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                             &after, 0, NULL, 0, NULL);
    }
    status = qvk_vk_check(context, vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    if (status != QVK_OK)
        return status;

    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    status = qvk_vk_check(context, vkQueueSubmit(context->queue, 1, &submit,
                                                 allocator->transfer_fence), "vkQueueSubmit");
    if (status != QVK_OK)
        return status;
    status = qvk_vk_check(context, vkWaitForFences(context->device, 1, &allocator->transfer_fence,
                                                   VK_TRUE, UINT64_MAX), "vkWaitForFences");
    vkResetFences(context->device, 1, &allocator->transfer_fence);
    return status;
}

static qvk_status staging_sync(qvk_vk_allocator *allocator, bool flush)
{
    VkMappedMemoryRange range = { .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE };
    VkDevice device = allocator->context->device;

    if (allocator->staging_coherent)
        return QVK_OK;
    range.memory = allocator->staging_memory;
    range.size = VK_WHOLE_SIZE;
    return qvk_vk_check(allocator->context,
                        flush ? vkFlushMappedMemoryRanges(device, 1, &range)
                              : vkInvalidateMappedMemoryRanges(device, 1, &range),
                        flush ? "vkFlushMappedMemoryRanges" : "vkInvalidateMappedMemoryRanges");
}

qvk_status qvk_vk_write(qvk_vk_allocator *allocator, const qvk_vk_slice *slice, const void *data,
                        size_t size)
{
    qvk_status status;

    if (allocator->context->lost)
        return qvk_error(QVK_ERR_DEVICE, "the Vulkan device was lost; create a new session");
    if (size > slice->size)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "writing %zu bytes into a %llu-byte buffer",
                         size, (unsigned long long)slice->size);
    if (slice->mapped) {
        memcpy(slice->mapped, data, size);
        memset(slice->mapped + size, 0, slice->size - size);
        return qvk_vk_slice_flush(allocator, slice);
    }

    status = staging_create(allocator);
    for (VkDeviceSize done = 0; status == QVK_OK && done < slice->size;) {
        VkDeviceSize piece = slice->size - done;
        if (piece > allocator->staging_size)
            piece = allocator->staging_size;
        /* The piece contains data up to size, then zeros. */
        VkDeviceSize from_data = done < size ? size - done : 0;
        if (from_data > piece)
            from_data = piece;
        memcpy(allocator->staging_mapped, (const uint8_t *)data + done, from_data);
        memset(allocator->staging_mapped + from_data, 0, piece - from_data);
        status = staging_sync(allocator, true);
        if (status == QVK_OK)
            status = transfer_run(allocator, slice, done, piece, true);
        done += piece;
    }
    return status;
}

qvk_status qvk_vk_read(qvk_vk_allocator *allocator, const qvk_vk_slice *slice, void *data,
                       size_t size)
{
    qvk_status status;

    if (allocator->context->lost)
        return qvk_error(QVK_ERR_DEVICE, "the Vulkan device was lost; create a new session");
    if (size > slice->size)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "reading %zu bytes from a %llu-byte buffer",
                         size, (unsigned long long)slice->size);
    status = staging_create(allocator);
    for (VkDeviceSize done = 0; status == QVK_OK && done < size;) {
        VkDeviceSize piece = size - done;
        if (piece > allocator->staging_size)
            piece = allocator->staging_size;
        status = transfer_run(allocator, slice, done, piece, false);
        if (status == QVK_OK)
            status = staging_sync(allocator, false);
        if (status == QVK_OK)
            memcpy((uint8_t *)data + done, allocator->staging_mapped, piece);
        done += piece;
    }
    return status;
}

void qvk_vk_allocator_release_staging(qvk_vk_allocator *allocator)
{
    VkDevice device = allocator->context->device;

    if (allocator->staging_buffer == VK_NULL_HANDLE)
        return;
    vkDestroyBuffer(device, allocator->staging_buffer, NULL);
    vkFreeMemory(device, allocator->staging_memory, NULL);
    allocator->staging_buffer = VK_NULL_HANDLE;
    allocator->staging_memory = VK_NULL_HANDLE;
    allocator->staging_mapped = NULL;
}

void qvk_vk_allocator_free(qvk_vk_allocator *allocator)
{
    VkDevice device;

    if (!allocator->context)
        return;
    device = allocator->context->device;
    qvk_vk_allocator_release_staging(allocator);
    if (allocator->transfer_fence != VK_NULL_HANDLE)
        vkDestroyFence(device, allocator->transfer_fence, NULL);
    if (allocator->transfer_commands != VK_NULL_HANDLE)
        vkFreeCommandBuffers(device, allocator->context->command_pool, 1,
                             &allocator->transfer_commands);
    for (int32_t b = 0; b < allocator->n_blocks; b++) {
        vkDestroyBuffer(device, allocator->blocks[b].buffer, NULL);
        vkFreeMemory(device, allocator->blocks[b].memory, NULL);
    }
    free(allocator->blocks);
    memset(allocator, 0, sizeof(*allocator));
}
