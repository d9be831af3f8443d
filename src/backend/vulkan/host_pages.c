/* Releasing the host pages of weights once the device has its own copy. */
#include "backend/vulkan/memory.h"

#if defined(__linux__)
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Whether [start, end) lies inside one private, read-only mapping of a file, according to
 * /proc/self/maps. Dropping such pages loses nothing: touching them again re-reads the file. */
static bool in_read_only_file_mapping(uintptr_t start, uintptr_t end)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;

    if (!maps)
        return false;
    while (fgets(line, sizeof(line), maps)) {
        unsigned long low, high, offset, inode;
        unsigned int major, minor;
        char perms[5];
        /* A line longer than the buffer continues on the next read, which does not parse. */
        if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &low, &high, perms, &offset, &major,
                   &minor, &inode) != 7)
            continue;
        if (start >= low && end <= high) {
            found = perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && inode != 0;
            break;
        }
    }
    fclose(maps);
    return found;
}

size_t qvk_vk_host_pages_release(const void *data, size_t size)
{
    long page_size = sysconf(_SC_PAGESIZE);
    uintptr_t page = page_size > 0 ? (uintptr_t)page_size : 4096u;
    uintptr_t start = ((uintptr_t)data + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)data + size) & ~(page - 1);

    if (end <= start || !in_read_only_file_mapping(start, end))
        return 0;
    return madvise((void *)start, end - start, MADV_DONTNEED) == 0 ? end - start : 0;
}

#else

size_t qvk_vk_host_pages_release(const void *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}

#endif
