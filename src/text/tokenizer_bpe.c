/* Byte-level BPE: the byte alphabet, the vocab and merge hash tables, and the merge loop that
 * turns one pre-tokenized word into token ids. */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---- Byte-level alphabet --------------------------------------------------------------------- */

int tokenizer_byte_from_codepoint(int32_t codepoint)
{
    /* Printable Latin-1 bytes map to themselves. */
    if ((codepoint >= 0x21 && codepoint <= 0x7E) || (codepoint >= 0xA1 && codepoint <= 0xAC) ||
        (codepoint >= 0xAE && codepoint <= 0xFF))
        return codepoint;

    /* The others were numbered from U+0100 in byte order: 0x00-0x20 (33 bytes),
     * 0x7F-0xA0 (34 bytes), then 0xAD. */
    if (codepoint >= 0x100 && codepoint < 0x100 + 68) {
        int index = codepoint - 0x100;
        if (index < 33)
            return index;
        if (index < 67)
            return 0x7F + (index - 33);
        return 0xAD;
    }
    return -1;
}

int32_t tokenizer_utf8_next(const char *text, size_t length, size_t *offset)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t i = *offset;
    unsigned char lead = bytes[i];
    int32_t codepoint;
    size_t n_bytes;

    if (lead < 0x80) {
        *offset = i + 1;
        return lead;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        n_bytes = 2;
        codepoint = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        n_bytes = 3;
        codepoint = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        n_bytes = 4;
        codepoint = lead & 0x07;
    } else {
        return -1;
    }
    if (length - i < n_bytes)
        return -1;
    for (size_t k = 1; k < n_bytes; k++) {
        if ((bytes[i + k] & 0xC0) != 0x80)
            return -1;
        codepoint = (codepoint << 6) | (bytes[i + k] & 0x3F);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((n_bytes == 3 && codepoint < 0x800) || (n_bytes == 4 && codepoint < 0x10000) ||
        (codepoint >= 0xD800 && codepoint <= 0xDFFF) || codepoint > 0x10FFFF)
        return -1;
    *offset = i + n_bytes;
    return codepoint;
}

/* ---- Hash tables ----------------------------------------------------------------------------- */

/* FNV-1a, 64-bit. */
uint64_t tokenizer_hash_bytes(const char *bytes, size_t length)
{
    uint64_t hash = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)bytes[i];
        hash *= 0x100000001B3ull;
    }
    return hash;
}

static size_t hash_pair(uint64_t pair)
{
    uint64_t hash = pair * 0x9E3779B97F4A7C15ull;
    return (size_t)(hash ^ (hash >> 31));
}

/* A power of two with room for n entries at a load factor of at most 2/3. */
static size_t table_capacity(size_t n)
{
    size_t capacity = 16;
    while (capacity < n + n / 2 + 1)
        capacity *= 2;
    return capacity;
}

qvk_status tokenizer_tables_create(qvk_tokenizer *tokenizer, size_t n_vocab, size_t n_merges)
{
    size_t vocab_capacity = table_capacity(n_vocab);
    size_t merge_capacity = table_capacity(n_merges);

    tokenizer->vocab_slots = malloc(vocab_capacity * sizeof(*tokenizer->vocab_slots));
    tokenizer->merges = malloc(merge_capacity * sizeof(*tokenizer->merges));
    if (!tokenizer->vocab_slots || !tokenizer->merges)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the tokenizer hash tables "
                         "(%zu vocab and %zu merge slots)", vocab_capacity, merge_capacity);

    for (size_t i = 0; i < vocab_capacity; i++)
        tokenizer->vocab_slots[i].id = -1;
    for (size_t i = 0; i < merge_capacity; i++)
        tokenizer->merges[i].pair = TOKENIZER_EMPTY_PAIR;
    tokenizer->vocab_mask = vocab_capacity - 1;
    tokenizer->merge_mask = merge_capacity - 1;
    return QVK_OK;
}

int32_t tokenizer_vocab_find(const qvk_tokenizer *tokenizer, const char *bytes, size_t length)
{
    size_t slot = (size_t)tokenizer_hash_bytes(bytes, length) & tokenizer->vocab_mask;

    for (;;) {
        const tokenizer_vocab_slot *entry = &tokenizer->vocab_slots[slot];
        if (entry->id < 0)
            return -1;
        if ((size_t)entry->length == length &&
            memcmp(tokenizer->token_pool + entry->offset, bytes, length) == 0)
            return entry->id;
        slot = (slot + 1) & tokenizer->vocab_mask;
    }
}

void tokenizer_vocab_insert(qvk_tokenizer *tokenizer, uint32_t offset, int32_t length, int32_t id)
{
    const char *bytes = tokenizer->token_pool + offset;
    size_t slot = (size_t)tokenizer_hash_bytes(bytes, (size_t)length) & tokenizer->vocab_mask;

    while (tokenizer->vocab_slots[slot].id >= 0)
        slot = (slot + 1) & tokenizer->vocab_mask;
    tokenizer->vocab_slots[slot].offset = offset;
    tokenizer->vocab_slots[slot].length = length;
    tokenizer->vocab_slots[slot].id = id;
}

static uint64_t make_pair(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static const tokenizer_merge_entry *merge_find(const qvk_tokenizer *tokenizer, int32_t left,
                                               int32_t right)
{
    uint64_t pair = make_pair(left, right);
    size_t slot = hash_pair(pair) & tokenizer->merge_mask;

    for (;;) {
        const tokenizer_merge_entry *entry = &tokenizer->merges[slot];
        if (entry->pair == pair)
            return entry;
        if (entry->pair == TOKENIZER_EMPTY_PAIR)
            return NULL;
        slot = (slot + 1) & tokenizer->merge_mask;
    }
}

void tokenizer_merge_insert(qvk_tokenizer *tokenizer, int32_t left, int32_t right, int32_t rank,
                            int32_t merged_id)
{
    uint64_t pair = make_pair(left, right);
    size_t slot = hash_pair(pair) & tokenizer->merge_mask;

    while (tokenizer->merges[slot].pair != TOKENIZER_EMPTY_PAIR &&
           tokenizer->merges[slot].pair != pair)
        slot = (slot + 1) & tokenizer->merge_mask;
    tokenizer->merges[slot].pair = pair;
    tokenizer->merges[slot].rank = rank;
    tokenizer->merges[slot].merged_id = merged_id;
}

/* ---- The merge loop -------------------------------------------------------------------------- */

/* One symbol of the word being merged: a doubly linked list over the word's bytes, where a
 * merged-away symbol keeps length 0. */
struct tokenizer_symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    int32_t length;
};

/* A merge that was possible when it was queued: symbols[position] with its next symbol. */
struct tokenizer_candidate {
    int32_t rank;
    int32_t position;
    int32_t merged_id;
};

/* The heap's order: lowest rank first, then leftmost, the order Hugging Face applies merges. */
static bool candidate_before(const struct tokenizer_candidate *a,
                             const struct tokenizer_candidate *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->position < b->position);
}

static void heap_push(struct tokenizer_candidate *heap, size_t *count,
                      struct tokenizer_candidate candidate)
{
    size_t i = (*count)++;

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!candidate_before(&candidate, &heap[parent]))
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = candidate;
}

static struct tokenizer_candidate heap_pop(struct tokenizer_candidate *heap, size_t *count)
{
    struct tokenizer_candidate top = heap[0];
    struct tokenizer_candidate last = heap[--(*count)];
    size_t i = 0;

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *count)
            break;
        if (child + 1 < *count && candidate_before(&heap[child + 1], &heap[child]))
            child++;
        if (!candidate_before(&heap[child], &last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*count > 0)
        heap[i] = last;
    return top;
}

static void queue_merge(const qvk_tokenizer *tokenizer, tokenizer_bpe_scratch *scratch,
                        size_t *heap_count, int32_t position)
{
    const struct tokenizer_symbol *left = &scratch->symbols[position];
    const tokenizer_merge_entry *entry;

    if (left->next < 0)
        return;
    entry = merge_find(tokenizer, left->id, scratch->symbols[left->next].id);
    if (entry) {
        struct tokenizer_candidate candidate = {entry->rank, position, entry->merged_id};
        heap_push(scratch->heap, heap_count, candidate);
    }
}

static qvk_status scratch_reserve(tokenizer_bpe_scratch *scratch, size_t length)
{
    /* Each merge queues at most two candidates, so a word of n bytes queues fewer than 3n. */
    size_t heap_needed = 3 * length;

    if (scratch->symbols_capacity < length) {
        struct tokenizer_symbol *symbols = realloc(scratch->symbols, length * sizeof(*symbols));
        if (!symbols)
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for a %zu-byte word", length);
        scratch->symbols = symbols;
        scratch->symbols_capacity = length;
    }
    if (scratch->heap_capacity < heap_needed) {
        struct tokenizer_candidate *heap = realloc(scratch->heap, heap_needed * sizeof(*heap));
        if (!heap)
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for a %zu-byte word", length);
        scratch->heap = heap;
        scratch->heap_capacity = heap_needed;
    }
    return QVK_OK;
}

void tokenizer_bpe_scratch_free(tokenizer_bpe_scratch *scratch)
{
    free(scratch->symbols);
    free(scratch->heap);
    memset(scratch, 0, sizeof(*scratch));
}

/* Merge the word's symbols, always applying the queued merge of lowest rank (leftmost among
 * equals). A candidate goes stale when either of its symbols has since merged with another
 * neighbour. It is skipped unless the pair now at its position still merges into the same id. */
static void merge_symbols(const qvk_tokenizer *tokenizer, tokenizer_bpe_scratch *scratch,
                          size_t length)
{
    struct tokenizer_symbol *symbols = scratch->symbols;
    size_t heap_count = 0;

    for (size_t i = 0; i + 1 < length; i++)
        queue_merge(tokenizer, scratch, &heap_count, (int32_t)i);

    while (heap_count > 0) {
        struct tokenizer_candidate top = heap_pop(scratch->heap, &heap_count);
        struct tokenizer_symbol *left = &symbols[top.position];
        struct tokenizer_symbol *right;
        const tokenizer_merge_entry *entry;

        if (left->length == 0 || left->next < 0)
            continue;
        right = &symbols[left->next];
        entry = merge_find(tokenizer, left->id, right->id);
        if (!entry || entry->merged_id != top.merged_id)
            continue;

        left->id = top.merged_id;
        left->length += right->length;
        right->length = 0;
        left->next = right->next;
        if (left->next >= 0)
            symbols[left->next].prev = top.position;

        if (left->prev >= 0)
            queue_merge(tokenizer, scratch, &heap_count, left->prev);
        queue_merge(tokenizer, scratch, &heap_count, top.position);
    }
}

qvk_status tokenizer_bpe_word(const qvk_tokenizer *tokenizer, tokenizer_bpe_scratch *scratch,
                              const char *word, size_t length, tokenizer_id_buffer *out)
{
    qvk_status status;

    if (length == 0)
        return QVK_OK;
    if (length == 1)
        return tokenizer_ids_push(out, tokenizer->byte_ids[(unsigned char)word[0]]);
    if (tokenizer->ignore_merges) {
        int32_t id = tokenizer_vocab_find(tokenizer, word, length);
        if (id >= 0)
            return tokenizer_ids_push(out, id);
    }
    if (length > INT32_MAX / 4)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "a %zu-byte word is too long to encode",
                         length);

    status = scratch_reserve(scratch, length);
    if (status != QVK_OK)
        return status;
    for (size_t i = 0; i < length; i++) {
        struct tokenizer_symbol *symbol = &scratch->symbols[i];
        symbol->id = tokenizer->byte_ids[(unsigned char)word[i]];
        symbol->prev = (int32_t)i - 1;
        symbol->next = i + 1 < length ? (int32_t)i + 1 : -1;
        symbol->length = 1;
    }

    merge_symbols(tokenizer, scratch, length);

    for (int32_t i = 0; i >= 0; i = scratch->symbols[i].next) {
        status = tokenizer_ids_push(out, scratch->symbols[i].id);
        if (status != QVK_OK)
            return status;
    }
    return QVK_OK;
}
