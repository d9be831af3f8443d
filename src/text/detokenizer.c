#include "text/detokenizer.h"

#include <string.h>

#include "core/error.h"
#include "text/tokenizer_internal.h"

static const unsigned char replacement_character[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

/* Whether byte continues the held sequence. The byte after the lead may have a narrower range,
 * which rules out overlong forms, surrogates and code points past U+10FFFF. */
static bool continues_sequence(const qvk_detokenizer *detokenizer, unsigned char byte)
{
    unsigned char low = 0x80, high = 0xBF;

    if (detokenizer->n_pending == 1)
        tokenizer_utf8_second_byte_range(detokenizer->pending[0], &low, &high);
    return byte >= low && byte <= high;
}

static size_t append(char *out, size_t used, const void *bytes, size_t n)
{
    if (out)
        memcpy(out + used, bytes, n);
    return used + n;
}

/* Run bytes through the UTF-8 state of detokenizer and return the output length; with out NULL
 * nothing is written, which measures the output. */
static size_t feed_bytes(qvk_detokenizer *detokenizer, const unsigned char *bytes, size_t n,
                         char *out)
{
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char byte = bytes[i];
        int length;

        if (detokenizer->n_pending > 0) {
            if (continues_sequence(detokenizer, byte)) {
                detokenizer->pending[detokenizer->n_pending++] = byte;
                if (detokenizer->n_pending == detokenizer->n_expected) {
                    used = append(out, used, detokenizer->pending, detokenizer->n_pending);
                    detokenizer->n_pending = 0;
                }
                continue;
            }
            /* The held bytes are a maximal invalid subpart: one U+FFFD, then this byte is
             * read afresh. */
            used = append(out, used, replacement_character, sizeof(replacement_character));
            detokenizer->n_pending = 0;
        }

        length = tokenizer_utf8_sequence_length(byte);
        if (length == 1) {
            used = append(out, used, &byte, 1);
        } else if (length == 0) {
            used = append(out, used, replacement_character, sizeof(replacement_character));
        } else {
            detokenizer->pending[0] = byte;
            detokenizer->n_pending = 1;
            detokenizer->n_expected = (uint8_t)length;
        }
    }
    return used;
}

void qvk_detokenizer_init(qvk_detokenizer *detokenizer, const qvk_tokenizer *tokenizer)
{
    memset(detokenizer, 0, sizeof(*detokenizer));
    detokenizer->tokenizer = tokenizer;
}

qvk_status qvk_detokenizer_push(qvk_detokenizer *detokenizer, int32_t id, char *out,
                                size_t out_capacity, size_t *out_length)
{
    qvk_detokenizer measure = *detokenizer;
    const char *bytes;
    size_t n_bytes, needed;

    *out_length = 0;
    bytes = qvk_tokenizer_token_bytes(detokenizer->tokenizer, id, &n_bytes);
    if (n_bytes == 0)
        return QVK_OK;

    needed = feed_bytes(&measure, (const unsigned char *)bytes, n_bytes, NULL);
    if (needed > out_capacity)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_detokenizer_push: token %d needs %zu "
                         "bytes of output but out_capacity is %zu; pass a buffer of "
                         "QVK_DETOKENIZER_MAX_OUTPUT (%d) bytes", id, needed, out_capacity,
                         QVK_DETOKENIZER_MAX_OUTPUT);
    *out_length = feed_bytes(detokenizer, (const unsigned char *)bytes, n_bytes, out);
    return QVK_OK;
}

qvk_status qvk_detokenizer_flush(qvk_detokenizer *detokenizer, char *out, size_t out_capacity,
                                 size_t *out_length)
{
    *out_length = 0;
    if (detokenizer->n_pending == 0)
        return QVK_OK;
    if (out_capacity < sizeof(replacement_character))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_detokenizer_flush: out_capacity is %zu, "
                         "less than the 3 bytes of U+FFFD", out_capacity);
    memcpy(out, replacement_character, sizeof(replacement_character));
    *out_length = sizeof(replacement_character);
    detokenizer->n_pending = 0;
    return QVK_OK;
}
