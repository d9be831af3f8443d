/* The tokenizer's tables, shared by tokenizer.c (loading, lookups, decoding),
 * tokenizer_bpe.c (hash tables and the merge loop) and tokenizer_encode.c (the encode pipeline). */
#ifndef QWEN3VK_TEXT_TOKENIZER_INTERNAL_H
#define QWEN3VK_TEXT_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "text/tokenizer.h"

#define TOKENIZER_MAX_NORMALIZERS 4
#define TOKENIZER_MAX_SPLITS 4

typedef enum tokenizer_normalization {
    TOKENIZER_NFC,
    TOKENIZER_NFD,
    TOKENIZER_NFKC,
    TOKENIZER_NFKD,
} tokenizer_normalization;

typedef struct tokenizer_added_token {
    int32_t id;
    const char *content; /* points into the token pool */
    size_t length;
    bool special;
    bool lstrip;      /* the match also takes the whitespace before it */
    bool rstrip;      /* the match also takes the whitespace after it */
    bool single_word; /* matches only with no word character on either side */
    bool normalized;  /* matched in normalized text rather than in the raw input */
} tokenizer_added_token;

/* Open-addressing hash slot of the vocab: a token's raw bytes in the token pool and its id. */
typedef struct tokenizer_vocab_slot {
    uint32_t offset;
    int32_t length;
    int32_t id; /* -1 when the slot is free */
} tokenizer_vocab_slot;

/* Open-addressing hash of merges: the pair (left id, right id) -> rank and merged id. */
typedef struct tokenizer_merge_entry {
    uint64_t pair; /* left << 32 | right; TOKENIZER_EMPTY_PAIR when the slot is free */
    int32_t rank;
    int32_t merged_id;
} tokenizer_merge_entry;

#define TOKENIZER_EMPTY_PAIR UINT64_MAX

struct qvk_tokenizer {
    /* Every id's decoded bytes: token_pool[token_offsets[id] ...], token_lengths[id] bytes.
     * token_lengths[id] is -1 for an id without a token. */
    int32_t vocab_size;
    uint32_t *token_offsets;
    int32_t *token_lengths;
    uint8_t *token_special;
    char *token_pool;
    size_t token_pool_size;

    /* Model vocab, keyed by raw bytes (the byte-level alphabet undone). It keeps its own offsets
     * because an added token may give a vocab id other bytes to decode to. */
    struct tokenizer_vocab_slot *vocab_slots;
    size_t vocab_mask;
    int32_t byte_ids[256];

    tokenizer_merge_entry *merges;
    size_t merge_mask;
    bool ignore_merges;

    /* Added tokens, longest first, so the first one that matches at a position is the
     * leftmost-longest match that Hugging Face's matcher picks. */
    tokenizer_added_token *added;
    size_t n_added;
    uint8_t added_first_bytes[256]; /* 1 if some added token starts with that byte */
    bool has_normalized_added;

    tokenizer_normalization normalizers[TOKENIZER_MAX_NORMALIZERS];
    int n_normalizers;
    /* Regex splits applied in order, each to the pieces of the one before. */
    pcre2_code *splits[TOKENIZER_MAX_SPLITS];
    int n_splits;
};

/* ---- tokenizer_config.c: the JSON around the vocab ---- */

/* "an object", "a string", ... or "missing", for messages about a JSON value of the wrong type. */
const char *tokenizer_json_type(const cJSON *item);
/* Read the optional boolean node[name] into *out (fallback when absent or null); key names
 * node in the error message. */
qvk_status tokenizer_json_bool(const cJSON *node, const char *name, bool fallback,
                               const char *path, const char *key, bool *out);
/* Check model.type and the BPE options, and read ignore_merges. */
qvk_status tokenizer_config_model(qvk_tokenizer *tokenizer, const cJSON *model, const char *path);
/* Read the normalizer and pre-tokenizer (compiling the split regexes), and check that the
 * decoder, post-processor and truncation are ones the tokenizer reproduces. */
qvk_status tokenizer_config_pipeline(qvk_tokenizer *tokenizer, const cJSON *root,
                                     const char *path);

/* ---- tokenizer_bpe.c: byte-level alphabet, hash tables, merges ---- */

/* The GPT-2 byte-level alphabet: the printable bytes map to themselves and the other 68
 * (controls, space, 0x7F-0xA0, 0xAD) map in order to U+0100..U+0143, so every byte is one
 * visible code point. Returns the byte that codepoint encodes, or -1. */
int tokenizer_byte_from_codepoint(int32_t codepoint);

uint64_t tokenizer_hash_bytes(const char *bytes, size_t length);

/* The id of the model vocab token whose raw bytes are bytes, or -1. */
int32_t tokenizer_vocab_find(const qvk_tokenizer *tokenizer, const char *bytes, size_t length);

/* Allocate the vocab and merge hash tables for n_vocab and n_merges entries. */
qvk_status tokenizer_tables_create(qvk_tokenizer *tokenizer, size_t n_vocab, size_t n_merges);
/* Add the vocab token whose raw bytes are token_pool[offset ...], length bytes; the caller
 * checks first with tokenizer_vocab_find() that no token has the same bytes. */
void tokenizer_vocab_insert(qvk_tokenizer *tokenizer, uint32_t offset, int32_t length, int32_t id);
/* Set the rank and merged id of (left, right); a pair listed twice keeps the later rank,
 * as Hugging Face does. */
void tokenizer_merge_insert(qvk_tokenizer *tokenizer, int32_t left, int32_t right, int32_t rank,
                            int32_t merged_id);

/* Scratch memory reused across the words of one encode call. */
typedef struct tokenizer_bpe_scratch {
    struct tokenizer_symbol *symbols;
    size_t symbols_capacity;
    struct tokenizer_candidate *heap;
    size_t heap_capacity;
} tokenizer_bpe_scratch;

typedef struct tokenizer_id_buffer {
    int32_t *ids;
    size_t count;
    size_t capacity;
} tokenizer_id_buffer;

qvk_status tokenizer_ids_push(tokenizer_id_buffer *buffer, int32_t id);

/* Apply the BPE merges to one pre-tokenized word (raw bytes) and append its ids. */
qvk_status tokenizer_bpe_word(const qvk_tokenizer *tokenizer, tokenizer_bpe_scratch *scratch,
                              const char *word, size_t length, tokenizer_id_buffer *out);
void tokenizer_bpe_scratch_free(tokenizer_bpe_scratch *scratch);

/* The length of the UTF-8 sequence that lead starts: 1 to 4, or 0 for a byte that cannot
 * start one (a continuation byte, 0xC0, 0xC1 or 0xF5-0xFF). */
static inline int tokenizer_utf8_sequence_length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead < 0xC2)
        return 0;
    if (lead < 0xE0)
        return 2;
    if (lead < 0xF0)
        return 3;
    if (lead < 0xF5)
        return 4;
    return 0;
}

/* The range of the byte after lead in well-formed UTF-8 (Unicode Table 3-7). It is narrower
 * than 0x80-0xBF after E0 and F0 (overlong forms), ED (surrogates) and F4 (past U+10FFFF). */
static inline void tokenizer_utf8_second_byte_range(unsigned char lead, unsigned char *low,
                                                    unsigned char *high)
{
    *low = 0x80;
    *high = 0xBF;
    if (lead == 0xE0)
        *low = 0xA0;
    else if (lead == 0xF0)
        *low = 0x90;
    else if (lead == 0xED)
        *high = 0x9F;
    else if (lead == 0xF4)
        *high = 0x8F;
}

/* Decode one UTF-8 code point at text[*offset], advancing *offset; -1 if the bytes there are
 * not a valid UTF-8 sequence (the text must have been validated for a guaranteed result). */
int32_t tokenizer_utf8_next(const char *text, size_t length, size_t *offset);

#endif
