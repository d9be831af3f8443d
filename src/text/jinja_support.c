/* Support code of the Jinja interpreter: error records, growable byte buffers, UTF-8 and the
 * arena that stores a parsed template. */
#include "text/jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Errors ---------------------------------------------------------------------------------- */

bool jinja_error_set(jinja_error *error, qvk_status status, int line, const char *fmt, ...)
{
    va_list args;

    if (error->status != QVK_OK)
        return false;
    error->status = status;
    error->line = line;
    va_start(args, fmt);
    vsnprintf(error->message, sizeof(error->message), fmt, args);
    va_end(args);
    return false;
}

/* ---- Buffers --------------------------------------------------------------------------------- */

static bool buffer_reserve(jinja_buffer *buffer, size_t extra)
{
    size_t needed, capacity;
    char *data;

    if (buffer->state != JINJA_BUFFER_OK)
        return false;
    if (extra > JINJA_MAX_STRING || buffer->length + extra > JINJA_MAX_STRING) {
        buffer->state = JINJA_BUFFER_TOO_LONG;
        return false;
    }
    needed = buffer->length + extra + 1;
    if (needed <= buffer->capacity)
        return true;
    capacity = buffer->capacity ? buffer->capacity : 64;
    while (capacity < needed)
        capacity *= 2;
    data = realloc(buffer->data, capacity);
    if (!data) {
        buffer->state = JINJA_BUFFER_OUT_OF_MEMORY;
        return false;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return true;
}

void jinja_buffer_append(jinja_buffer *buffer, const char *bytes, size_t length)
{
    if (!buffer_reserve(buffer, length))
        return;
    if (length)
        memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

void jinja_buffer_append_str(jinja_buffer *buffer, const char *text)
{
    jinja_buffer_append(buffer, text, strlen(text));
}

void jinja_buffer_append_char(jinja_buffer *buffer, char c)
{
    jinja_buffer_append(buffer, &c, 1);
}

void jinja_buffer_append_codepoint(jinja_buffer *buffer, uint32_t codepoint)
{
    char bytes[4];
    size_t n;

    if (codepoint < 0x80) {
        bytes[0] = (char)codepoint;
        n = 1;
    } else if (codepoint < 0x800) {
        bytes[0] = (char)(0xC0 | (codepoint >> 6));
        bytes[1] = (char)(0x80 | (codepoint & 0x3F));
        n = 2;
    } else if (codepoint < 0x10000) {
        bytes[0] = (char)(0xE0 | (codepoint >> 12));
        bytes[1] = (char)(0x80 | ((codepoint >> 6) & 0x3F));
        bytes[2] = (char)(0x80 | (codepoint & 0x3F));
        n = 3;
    } else {
        bytes[0] = (char)(0xF0 | (codepoint >> 18));
        bytes[1] = (char)(0x80 | ((codepoint >> 12) & 0x3F));
        bytes[2] = (char)(0x80 | ((codepoint >> 6) & 0x3F));
        bytes[3] = (char)(0x80 | (codepoint & 0x3F));
        n = 4;
    }
    jinja_buffer_append(buffer, bytes, n);
}

void jinja_buffer_printf(jinja_buffer *buffer, const char *fmt, ...)
{
    char small[128];
    va_list args;
    int n;

    va_start(args, fmt);
    n = vsnprintf(small, sizeof(small), fmt, args);
    va_end(args);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        jinja_buffer_append(buffer, small, (size_t)n);
        return;
    }
    if (!buffer_reserve(buffer, (size_t)n))
        return;
    va_start(args, fmt);
    vsnprintf(buffer->data + buffer->length, (size_t)n + 1, fmt, args);
    va_end(args);
    buffer->length += (size_t)n;
}

void jinja_buffer_free(jinja_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = buffer->capacity = 0;
    buffer->state = JINJA_BUFFER_OK;
}

/* ---- UTF-8 ----------------------------------------------------------------------------------- */

size_t jinja_utf8_decode(const char *s, size_t n, uint32_t *codepoint)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t length, i;
    uint32_t value;

    if (u[0] < 0x80) {
        *codepoint = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        length = 2;
        value = u[0] & 0x1F;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        length = 3;
        value = u[0] & 0x0F;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        length = 4;
        value = u[0] & 0x07;
    } else {
        *codepoint = u[0];
        return 1;
    }
    if (length > n) {
        *codepoint = u[0];
        return 1;
    }
    for (i = 1; i < length; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *codepoint = u[0];
            return 1;
        }
        value = (value << 6) | (u[i] & 0x3F);
    }
    /* Overlong forms and values past U+10FFFF decode as single bytes, like other bad input. */
    if ((length == 3 && value < 0x800) || (length == 4 && (value < 0x10000 || value > 0x10FFFF))) {
        *codepoint = u[0];
        return 1;
    }
    *codepoint = value;
    return length;
}

size_t jinja_utf8_previous(const char *s, size_t n)
{
    size_t start = n - 1;

    while (start > 0 && n - start < 4 && ((unsigned char)s[start] & 0xC0) == 0x80)
        start--;
    return start;
}

bool jinja_utf8_validate(const char *s, size_t n, size_t *bad_offset)
{
    size_t i = 0;

    while (i < n) {
        uint32_t codepoint;
        size_t used = jinja_utf8_decode(s + i, n - i, &codepoint);

        if ((used == 1 && (unsigned char)s[i] >= 0x80) ||
            (codepoint >= 0xD800 && codepoint <= 0xDFFF)) {
            *bad_offset = i;
            return false;
        }
        i += used;
    }
    return true;
}

size_t jinja_utf8_count(const char *s, size_t n)
{
    size_t count = 0, i;

    /* Every byte that does not continue a sequence starts a code point. */
    for (i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

bool jinja_is_space(uint32_t c)
{
    if (c < 0x80)
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- Arena ----------------------------------------------------------------------------------- */

struct jinja_arena_block {
    jinja_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

void *jinja_arena_alloc(jinja_arena *arena, size_t size)
{
    jinja_arena_block *block = arena->blocks;
    const size_t align = sizeof(max_align_t);
    void *memory;

    size = (size + align - 1) / align * align;
    if (!block || block->size - block->used < size) {
        size_t block_size = size > 16384 ? size : 16384;

        block = calloc(1, sizeof(*block) + block_size);
        if (!block)
            return NULL;
        block->size = block_size;
        block->next = arena->blocks;
        arena->blocks = block;
    }
    memory = (char *)block->data + block->used;
    block->used += size;
    return memory;
}

char *jinja_arena_strdup(jinja_arena *arena, const char *bytes, size_t length)
{
    char *copy = jinja_arena_alloc(arena, length + 1);

    if (copy && length)
        memcpy(copy, bytes, length);
    return copy;
}

void jinja_arena_free(jinja_arena *arena)
{
    jinja_arena_block *block = arena->blocks;

    while (block) {
        jinja_arena_block *next = block->next;

        free(block);
        block = next;
    }
    arena->blocks = NULL;
}
