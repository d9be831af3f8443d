/* The Qwen3 tokenizer: byte-level BPE loaded from a Hugging Face tokenizer.json.
 *
 * Encoding follows the Hugging Face `tokenizers` pipeline for Qwen3 (and other byte-level BPE
 * tokenizers of the same shape):
 *
 *     text ── added tokens split out (<|im_start|>, <think>, ...) ── normalizer (NFC)
 *          ── pre-tokenizer (regex Split from the file, then ByteLevel) ── BPE merges ── ids
 *
 * Supported tokenizer.json contents:
 *   - model: BPE with vocab and merges ("a b" strings or ["a", "b"] pairs), ignore_merges,
 *     no dropout, no continuing_subword_prefix / end_of_word_suffix, no byte_fallback.
 *     Every one of the 256 byte symbols must be in the vocab, so no text needs unk_token.
 *   - normalizer: null, NFC, NFD, NFKC, NFKD, or a Sequence of those.
 *   - pre_tokenizer: ByteLevel (use_regex true or false, add_prefix_space false), Split with a
 *     Regex or String pattern and behavior Isolated (invert false), or a Sequence of those.
 *     Regexes are compiled by PCRE2 in UTF + UCP mode, with \s and \S rewritten to
 *     Oniguruma's set (U+0009-U+000D, U+0085, Zs, Zl, Zp), the engine Hugging Face runs them
 *     with; PCRE2's own \s would also match U+180E.
 *   - decoder: null or ByteLevel; post_processor: null or ByteLevel (encoding never adds
 *     BOS/EOS tokens).
 *   - added_tokens with their special, lstrip, rstrip, single_word and normalized flags.
 * Other normalizer, pre_tokenizer, model, decoder and post_processor types are rejected by name.
 *
 * A loaded tokenizer is read-only: any number of threads may encode and decode with it at once.
 */
#ifndef QWEN3VK_TEXT_TOKENIZER_H
#define QWEN3VK_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qwen3vk.h"

/* The maximum token length in bytes that qvk_tokenizer_load() accepts (Qwen3's longest token
 * is 128 bytes). */
#define QVK_TOKEN_MAX_BYTES 1024

typedef struct qvk_tokenizer qvk_tokenizer;

/* Load tokenizer.json. Errors name the file and the key at fault: QVK_ERR_IO when the file
 * cannot be read, QVK_ERR_FORMAT for invalid JSON or a missing or mistyped key,
 * QVK_ERR_UNSUPPORTED for a type of model, normalizer or pre-tokenizer outside the list above. */
qvk_status qvk_tokenizer_load(const char *tokenizer_json_path, qvk_tokenizer **out);
void qvk_tokenizer_destroy(qvk_tokenizer *tokenizer);

/* The largest token id + 1, added tokens included (151669 for Qwen3). The model's embedding
 * table is often larger (151936 for Qwen3); ids without a token decode to nothing. */
int32_t qvk_tokenizer_vocab_size(const qvk_tokenizer *tokenizer);

/* The id of a token given as tokenizer.json spells it: an added token's content
 * ("<|im_end|>") or a vocab key in the byte-level alphabet ("Ġhello"). -1 if absent. */
int32_t qvk_tokenizer_token_id(const qvk_tokenizer *tokenizer, const char *token_text);

/* Encode length bytes of UTF-8 text (NUL bytes allowed) into *ids, a malloc'ed array the
 * caller frees; *ids is NULL when *n_ids is 0. Added tokens written in the text become their
 * ids; no BOS or EOS is added. QVK_ERR_INVALID_ARGUMENT for invalid UTF-8, with the byte offset
 * in the message. */
qvk_status qvk_tokenizer_encode(const qvk_tokenizer *tokenizer, const char *text, size_t length,
                                int32_t **ids, size_t *n_ids);

/* The raw bytes that token id decodes to (not NUL-terminated, possibly a partial UTF-8
 * character), valid while the tokenizer lives. An added token decodes to its content.
 * NULL with *length 0 for an id without a token. */
const char *qvk_tokenizer_token_bytes(const qvk_tokenizer *tokenizer, int32_t id, size_t *length);

/* Concatenate the bytes of ids into a malloc'ed, NUL-terminated *text that the caller frees.
 * Ids without a token are skipped, as Hugging Face does. The bytes are returned as they are,
 * so a sequence cut inside a character is not valid UTF-8: use the detokenizer to stream
 * text that is. */
qvk_status qvk_tokenizer_decode(const qvk_tokenizer *tokenizer, const int32_t *ids, size_t n_ids,
                                char **text, size_t *length);

/* Whether id is an added token marked "special" (<|im_start|>, <|endoftext|>; not <think>). */
bool qvk_tokenizer_is_special(const qvk_tokenizer *tokenizer, int32_t id);

#endif
