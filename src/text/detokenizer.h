/* Streaming detokenizer: turns token ids, one at a time, into text that is always valid UTF-8.
 *
 * A byte-level token can end inside a character (an emoji is often split over two or three
 * tokens), so the bytes of an incomplete character are held until the next tokens complete it.
 * Bytes that can never form a character are replaced by U+FFFD, one per maximal invalid
 * subpart (the Unicode recommendation that Rust's String::from_utf8_lossy and Python's
 * "replace" error handler follow), and flush() replaces a character left incomplete. So the
 * concatenated output equals the lossy UTF-8 conversion of qvk_tokenizer_decode() of the same
 * ids, and no call ever returns part of a character.
 *
 *     qvk_detokenizer detokenizer;
 *     char piece[QVK_DETOKENIZER_MAX_OUTPUT];
 *     size_t n;
 *     qvk_detokenizer_init(&detokenizer, tokenizer);
 *     for each sampled id:
 *         qvk_detokenizer_push(&detokenizer, id, piece, sizeof(piece), &n);  // emit piece[0..n)
 *     qvk_detokenizer_flush(&detokenizer, piece, sizeof(piece), &n);
 */
#ifndef QWEN3VK_TEXT_DETOKENIZER_H
#define QWEN3VK_TEXT_DETOKENIZER_H

#include "text/tokenizer.h"

/* Enough output room for any one push or flush: every held or new byte may become a 3-byte
 * U+FFFD, and at most 3 bytes are held. */
#define QVK_DETOKENIZER_MAX_OUTPUT (3 * (QVK_TOKEN_MAX_BYTES + 3))

typedef struct qvk_detokenizer {
    const qvk_tokenizer *tokenizer;
    unsigned char pending[4]; /* the start of an incomplete character */
    uint8_t n_pending;
    uint8_t n_expected; /* the length of that character, from its lead byte */
} qvk_detokenizer;

void qvk_detokenizer_init(qvk_detokenizer *detokenizer, const qvk_tokenizer *tokenizer);

/* Append the bytes of token id and write the complete characters now available to out;
 * *out_length receives their count. An id without a token adds nothing. Returns
 * QVK_ERR_INVALID_ARGUMENT, with the detokenizer unchanged, when out_capacity is smaller than
 * the output; QVK_DETOKENIZER_MAX_OUTPUT bytes are always enough. */
qvk_status qvk_detokenizer_push(qvk_detokenizer *detokenizer, int32_t id, char *out,
                                size_t out_capacity, size_t *out_length);

/* Write U+FFFD for a character left incomplete (nothing otherwise) and reset for new text. */
qvk_status qvk_detokenizer_flush(qvk_detokenizer *detokenizer, char *out, size_t out_capacity,
                                 size_t *out_length);

#endif
