#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

qvk_status qvk_file_read(const char *path, char **data, size_t *size)
{
    FILE *file = fopen(path, "rb");
    struct stat info;
    char *buffer;
    long length;

    if (!file)
        return qvk_error(QVK_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return qvk_error(QVK_ERR_IO, "%s is not a regular file", path);
    }
    if (fseek(file, 0, SEEK_END) != 0 || (length = ftell(file)) < 0 || fseek(file, 0, SEEK_SET) != 0) {
        fclose(file);
        return qvk_error(QVK_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    buffer = malloc((size_t)length + 1);
    if (!buffer) {
        fclose(file);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "cannot read %s: out of memory for %ld bytes",
                         path, length);
    }
    if (fread(buffer, 1, (size_t)length, file) != (size_t)length) {
        free(buffer);
        fclose(file);
        return qvk_error(QVK_ERR_IO, "cannot read %s: short read", path);
    }
    fclose(file);
    buffer[length] = '\0';
    *data = buffer;
    if (size)
        *size = (size_t)length;
    return QVK_OK;
}

qvk_status qvk_file_map(const char *path, qvk_mapping *mapping)
{
    struct stat info;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    mapping->data = NULL;
    mapping->size = 0;
    if (fd < 0)
        return qvk_error(QVK_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &info) != 0) {
        close(fd);
        return qvk_error(QVK_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return qvk_error(QVK_ERR_IO, "%s is not a regular file", path);
    }
    if (info.st_size > 0) {
        void *data = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (data == MAP_FAILED) {
            close(fd);
            return qvk_error(QVK_ERR_IO, "cannot map %s: %s", path, strerror(errno));
        }
        mapping->data = data;
        mapping->size = (size_t)info.st_size;
    }
    close(fd);
    return QVK_OK;
}

void qvk_file_unmap(qvk_mapping *mapping)
{
    if (mapping->data)
        munmap(mapping->data, mapping->size);
    mapping->data = NULL;
    mapping->size = 0;
}

qvk_status qvk_path_join(char *out, size_t out_size, const char *dir, const char *name)
{
    int n = snprintf(out, out_size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= out_size)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "path too long: %s/%s", dir, name);
    return QVK_OK;
}
