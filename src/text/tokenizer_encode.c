/* The encode pipeline: UTF-8 check, added tokens, normalization, regex pre-tokenization and
 * byte-level BPE, in the order Hugging Face `tokenizers` applies them. */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"

typedef struct encoder {
    const qvk_tokenizer *tokenizer;
    tokenizer_bpe_scratch scratch;
    tokenizer_id_buffer ids;
    pcre2_match_data *match_data;
} encoder;

qvk_status tokenizer_ids_push(tokenizer_id_buffer *buffer, int32_t id)
{
    if (buffer->count == buffer->capacity) {
        size_t capacity = buffer->capacity ? 2 * buffer->capacity : 256;
        int32_t *ids = realloc(buffer->ids, capacity * sizeof(*ids));
        if (!ids)
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for %zu token ids", capacity);
        buffer->ids = ids;
        buffer->capacity = capacity;
    }
    buffer->ids[buffer->count++] = id;
    return QVK_OK;
}

/* ---- UTF-8 validation ------------------------------------------------------------------------ */

/* Check that text is well-formed UTF-8: no overlong forms, surrogates or values past U+10FFFF.
 * The error names the offset of the first invalid sequence. */
static qvk_status validate_utf8(const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t offset = 0;

    while (offset < length) {
        unsigned char lead = bytes[offset];
        size_t n_bytes = (size_t)tokenizer_utf8_sequence_length(lead);
        unsigned char low, high;

        if (n_bytes == 1) {
            offset++;
            continue;
        }
        if (n_bytes == 0)
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte %zu of the text: "
                             "0x%02X %s", offset, lead,
                             lead < 0xC0 ? "is a continuation byte without a lead byte"
                                         : "never occurs in UTF-8");
        if (length - offset < n_bytes)
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte %zu of the text: "
                             "0x%02X starts a %zu-byte sequence but the text ends after %zu",
                             offset, lead, n_bytes, length - offset);

        tokenizer_utf8_second_byte_range(lead, &low, &high);
        for (size_t k = 1; k < n_bytes; k++) {
            unsigned char byte = bytes[offset + k];
            if (byte < low || byte > high)
                return qvk_error(QVK_ERR_INVALID_ARGUMENT, "invalid UTF-8 at byte %zu of the "
                                 "text: 0x%02X starts a %zu-byte sequence but byte %zu is 0x%02X, "
                                 "outside 0x%02X-0x%02X", offset, lead, n_bytes, offset + k, byte,
                                 low, high);
            /* Only the second byte has a narrower range. */
            low = 0x80;
            high = 0xBF;
        }
        offset += n_bytes;
    }
    return QVK_OK;
}

/* ---- Added tokens ---------------------------------------------------------------------------- */

/* Unicode White_Space, what Hugging Face strips for lstrip and rstrip. */
static bool is_whitespace(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* A \w character of Rust's regex crate, which Hugging Face uses for single_word: Alphabetic
 * (letters, Nl, and the circled and squared letters that are So), marks, Nd, Pc and the joiners. */
static bool is_word_character(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
               (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
               (c >= 0x1F170 && c <= 0x1F189);
    }
}

/* The start of the code point that ends at offset (offset > 0, text valid UTF-8). */
static size_t previous_char(const char *text, size_t offset)
{
    do
        offset--;
    while (offset > 0 && ((unsigned char)text[offset] & 0xC0) == 0x80);
    return offset;
}

static int32_t char_before(const char *text, size_t length, size_t offset)
{
    size_t start = previous_char(text, offset);
    return tokenizer_utf8_next(text, length, &start);
}

static size_t skip_whitespace_back(const char *text, size_t length, size_t offset, size_t floor)
{
    while (offset > floor && is_whitespace(char_before(text, length, offset)))
        offset = previous_char(text, offset);
    return offset;
}

static size_t skip_whitespace_forward(const char *text, size_t length, size_t offset)
{
    while (offset < length) {
        size_t next = offset;
        if (!is_whitespace(tokenizer_utf8_next(text, length, &next)))
            break;
        offset = next;
    }
    return offset;
}

/* Whether text[start, end) has no word character on either side. */
static bool is_single_word(const char *text, size_t length, size_t start, size_t end)
{
    size_t after = end;

    if (start > 0 && is_word_character(char_before(text, length, start)))
        return false;
    return end == length || !is_word_character(tokenizer_utf8_next(text, length, &after));
}

/* The longest added token of the given kind that starts at text[position], or NULL.
 * NOTE: a normalized token's content is compared as written, but Hugging Face normalizes it
 * first. The two differ only for content that is not already in the normal form. */
static const tokenizer_added_token *added_token_at(const qvk_tokenizer *tokenizer,
                                                   const char *text, size_t length,
                                                   size_t position, bool normalized)
{
    for (size_t i = 0; i < tokenizer->n_added; i++) {
        const tokenizer_added_token *token = &tokenizer->added[i];
        if (token->normalized == normalized && token->length <= length - position &&
            memcmp(text + position, token->content, token->length) == 0)
            return token;
    }
    return NULL;
}

typedef struct added_match {
    size_t start;
    size_t end;
    int32_t id;
} added_match;

/* Find the leftmost-longest added token (normalized or not) in text from offset `from` on, as
 * Hugging Face's added-vocabulary matcher does. A single_word token with a word character
 * beside it is skipped whole. lstrip and rstrip widen the match over whitespace, but lstrip
 * stops at `from`, where the previous match ended. */
static bool find_added_token(const qvk_tokenizer *tokenizer, const char *text, size_t length,
                             size_t from, bool normalized, added_match *match)
{
    size_t position = from;

    while (position < length) {
        const tokenizer_added_token *token = NULL;
        size_t end;

        if (tokenizer->added_first_bytes[(unsigned char)text[position]])
            token = added_token_at(tokenizer, text, length, position, normalized);
        if (!token) {
            position++;
            continue;
        }
        end = position + token->length;
        if (token->single_word && !is_single_word(text, length, position, end)) {
            position = end;
            continue;
        }
        match->start = token->lstrip ? skip_whitespace_back(text, length, position, from)
                                     : position;
        match->end = token->rstrip ? skip_whitespace_forward(text, length, end) : end;
        match->id = token->id;
        return true;
    }
    return false;
}

/* ---- Normalization and pre-tokenization ------------------------------------------------------ */

static bool is_ascii(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] >= 0x80)
            return false;
    return true;
}

/* Apply the normalizers to text. *normalized is a malloc'ed result, or NULL when the text is
 * already normalized (no normalizers, or ASCII, which every normal form leaves unchanged). */
static qvk_status normalize(const qvk_tokenizer *tokenizer, const char *text, size_t length,
                            char **normalized, size_t *normalized_length)
{
    static const utf8proc_option_t options[] = {
        [TOKENIZER_NFC] = UTF8PROC_STABLE | UTF8PROC_COMPOSE,
        [TOKENIZER_NFD] = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE,
        [TOKENIZER_NFKC] = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT,
        [TOKENIZER_NFKD] = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT,
    };
    char *current = NULL;

    *normalized = NULL;
    *normalized_length = length;
    if (tokenizer->n_normalizers == 0 || is_ascii(text, length))
        return QVK_OK;

    for (int i = 0; i < tokenizer->n_normalizers; i++) {
        utf8proc_uint8_t *result = NULL;
        utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)(current ? current : text),
                                          (utf8proc_ssize_t)*normalized_length, &result,
                                          options[tokenizer->normalizers[i]]);
        free(current);
        if (n < 0) {
            free(result);
            return qvk_error(n == UTF8PROC_ERROR_NOMEM ? QVK_ERR_OUT_OF_MEMORY
                                                       : QVK_ERR_INVALID_ARGUMENT,
                             "Unicode normalization of a %zu-byte piece of text failed: %s",
                             *normalized_length, utf8proc_errmsg(n));
        }
        current = (char *)result;
        *normalized_length = (size_t)n;
    }
    *normalized = current;
    return QVK_OK;
}

/* Run split `stage` over text and pass each piece to the next stage; after the last stage each
 * piece is one word for BPE. "Isolated" splitting keeps both the matches and the text between
 * them as pieces. */
static qvk_status pre_tokenize(encoder *e, int stage, const char *text, size_t length)
{
    const pcre2_code *code;
    size_t position = 0, piece_start = 0;
    qvk_status status;

    if (stage == e->tokenizer->n_splits)
        return tokenizer_bpe_word(e->tokenizer, &e->scratch, text, length, &e->ids);
    code = e->tokenizer->splits[stage];

    while (position < length) {
        int rc = pcre2_match(code, (PCRE2_SPTR)text, length, position, PCRE2_NO_UTF_CHECK,
                             e->match_data, NULL);
        PCRE2_SIZE *ovector;
        size_t match_start, match_end;

        /* The JIT's stack is small; the interpreter keeps its backtracking state on the heap. */
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(code, (PCRE2_SPTR)text, length, position,
                             PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, e->match_data, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof(message));
            return qvk_error(QVK_ERR_INVALID_ARGUMENT, "the pre-tokenizer regex failed on a "
                             "%zu-byte piece of text: %s", length, (const char *)message);
        }

        ovector = pcre2_get_ovector_pointer(e->match_data);
        match_start = ovector[0];
        match_end = ovector[1];
        if (match_end == match_start) {
            /* An empty match splits nothing: search again one character further on. */
            position = match_end + 1;
            while (position < length && ((unsigned char)text[position] & 0xC0) == 0x80)
                position++;
            continue;
        }
        if (match_start > piece_start) {
            status = pre_tokenize(e, stage + 1, text + piece_start, match_start - piece_start);
            if (status != QVK_OK)
                return status;
        }
        status = pre_tokenize(e, stage + 1, text + match_start, match_end - match_start);
        if (status != QVK_OK)
            return status;
        position = piece_start = match_end;
    }
    if (piece_start < length)
        return pre_tokenize(e, stage + 1, text + piece_start, length - piece_start);
    return QVK_OK;
}

/* ---- The pipeline ---------------------------------------------------------------------------- */

/* Encode normalized text: split out the added tokens marked "normalized", then pre-tokenize
 * the text between them. */
static qvk_status encode_normalized(encoder *e, const char *text, size_t length)
{
    size_t from = 0;
    added_match match;
    qvk_status status;

    while (e->tokenizer->has_normalized_added &&
           find_added_token(e->tokenizer, text, length, from, true, &match)) {
        if (match.start > from) {
            status = pre_tokenize(e, 0, text + from, match.start - from);
            if (status != QVK_OK)
                return status;
        }
        status = tokenizer_ids_push(&e->ids, match.id);
        if (status != QVK_OK)
            return status;
        from = match.end;
    }
    return from < length ? pre_tokenize(e, 0, text + from, length - from) : QVK_OK;
}

static qvk_status encode_segment(encoder *e, const char *text, size_t length)
{
    char *normalized;
    size_t normalized_length;
    qvk_status status;

    if (length == 0)
        return QVK_OK;
    status = normalize(e->tokenizer, text, length, &normalized, &normalized_length);
    if (status != QVK_OK)
        return status;
    status = encode_normalized(e, normalized ? normalized : text, normalized_length);
    free(normalized);
    return status;
}

/* Split the raw text on the added tokens that are matched before normalization (all of
 * Qwen3's), and encode the text between them. */
static qvk_status encode_text(encoder *e, const char *text, size_t length)
{
    size_t from = 0;
    added_match match;
    qvk_status status;

    while (find_added_token(e->tokenizer, text, length, from, false, &match)) {
        status = encode_segment(e, text + from, match.start - from);
        if (status == QVK_OK)
            status = tokenizer_ids_push(&e->ids, match.id);
        if (status != QVK_OK)
            return status;
        from = match.end;
    }
    return encode_segment(e, text + from, length - from);
}

qvk_status qvk_tokenizer_encode(const qvk_tokenizer *tokenizer, const char *text, size_t length,
                                int32_t **ids, size_t *n_ids)
{
    encoder e = {.tokenizer = tokenizer};
    qvk_status status;

    if (!tokenizer || (!text && length > 0) || !ids || !n_ids)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_tokenizer_encode: tokenizer, text, ids "
                         "and n_ids must not be NULL");
    *ids = NULL;
    *n_ids = 0;
    if (length == 0)
        return QVK_OK;
    status = validate_utf8(text, length);
    if (status != QVK_OK)
        return status;

    e.match_data = pcre2_match_data_create(1, NULL);
    if (!e.match_data)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the regex match data");
    status = encode_text(&e, text, length);
    pcre2_match_data_free(e.match_data);
    tokenizer_bpe_scratch_free(&e.scratch);
    if (status != QVK_OK) {
        free(e.ids.ids);
        return status;
    }
    *ids = e.ids.ids;
    *n_ids = e.ids.count;
    return QVK_OK;
}
