/* Loading tokenizer.json (vocab, merges, added tokens), id and byte lookups, and decoding.
 * The encode pipeline is in tokenizer_encode.c, the BPE merge loop in tokenizer_bpe.c. */
#include "text/tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

/* Ids at or above this are rejected, so a corrupt file cannot request a huge id table. */
#define TOKENIZER_MAX_ID (1 << 24)

/* A byte-level token spells each byte with one code point of at most 2 UTF-8 bytes. */
#define TOKENIZER_MAX_SPELLING (2 * QVK_TOKEN_MAX_BYTES)

/* Undo the byte-level alphabet: write the bytes that spelling encodes to out (room for
 * strlen(spelling) bytes) and return their count, or -1 if a character is outside the alphabet. */
static int32_t byte_level_decode(const char *spelling, char *out)
{
    size_t length = strlen(spelling);
    size_t offset = 0;
    int32_t n_bytes = 0;

    while (offset < length) {
        int32_t codepoint = tokenizer_utf8_next(spelling, length, &offset);
        int byte = codepoint < 0 ? -1 : tokenizer_byte_from_codepoint(codepoint);
        if (byte < 0)
            return -1;
        out[n_bytes++] = (char)byte;
    }
    return n_bytes;
}

/* The id that item holds, or -1 if it is not an integer in [0, TOKENIZER_MAX_ID). */
static int32_t json_token_id(const cJSON *item)
{
    double value;

    if (!cJSON_IsNumber(item))
        return -1;
    value = item->valuedouble;
    if (!(value >= 0 && value < TOKENIZER_MAX_ID) || value != (double)(int32_t)value)
        return -1;
    return (int32_t)value;
}

/* ---- Sizes ----------------------------------------------------------------------------------- */

typedef struct tokenizer_sizes {
    size_t n_vocab;
    size_t n_added;
    size_t n_merges;
    size_t pool_bytes;
    int32_t max_id;
} tokenizer_sizes;

/* Check the vocab's and added tokens' ids and sum their lengths, to size the tables. */
static qvk_status measure_tokens(const cJSON *vocab, const cJSON *added, const char *path,
                                 tokenizer_sizes *sizes)
{
    const cJSON *item;
    int index = 0;

    sizes->max_id = -1;
    cJSON_ArrayForEach(item, vocab) {
        int32_t id = json_token_id(item);
        if (id < 0)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.vocab\" entry \"%.64s\" must be an "
                             "integer id in [0, %d), not %s", path, item->string,
                             TOKENIZER_MAX_ID, tokenizer_json_type(item));
        sizes->max_id = id > sizes->max_id ? id : sizes->max_id;
        sizes->pool_bytes += strlen(item->string);
        sizes->n_vocab++;
    }

    cJSON_ArrayForEach(item, added) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
        int32_t id = json_token_id(cJSON_GetObjectItemCaseSensitive(item, "id"));
        if (!cJSON_IsObject(item))
            return qvk_error(QVK_ERR_FORMAT, "%s: \"added_tokens[%d]\" must be an object, not %s",
                             path, index, tokenizer_json_type(item));
        if (id < 0)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"added_tokens[%d].id\" must be an integer in "
                             "[0, %d)", path, index, TOKENIZER_MAX_ID);
        if (!cJSON_IsString(content) || content->valuestring[0] == '\0')
            return qvk_error(QVK_ERR_FORMAT, "%s: \"added_tokens[%d].content\" must be a "
                             "non-empty string, not %s", path, index,
                             tokenizer_json_type(content));
        sizes->max_id = id > sizes->max_id ? id : sizes->max_id;
        sizes->pool_bytes += strlen(content->valuestring);
        sizes->n_added++;
        index++;
    }
    return QVK_OK;
}

static qvk_status allocate_tables(qvk_tokenizer *tokenizer, const tokenizer_sizes *sizes)
{
    size_t n_ids = (size_t)sizes->max_id + 1;

    /* Token offsets are 32-bit. */
    if (sizes->pool_bytes >= UINT32_MAX)
        return qvk_error(QVK_ERR_UNSUPPORTED, "the tokens take %zu bytes; at most 4 GiB are "
                         "supported", sizes->pool_bytes);
    tokenizer->vocab_size = sizes->max_id + 1;
    tokenizer->token_offsets = calloc(n_ids, sizeof(*tokenizer->token_offsets));
    tokenizer->token_lengths = malloc(n_ids * sizeof(*tokenizer->token_lengths));
    tokenizer->token_special = calloc(n_ids, sizeof(*tokenizer->token_special));
    tokenizer->token_pool = malloc(sizes->pool_bytes + 1);
    tokenizer->added = calloc(sizes->n_added + 1, sizeof(*tokenizer->added));
    if (!tokenizer->token_offsets || !tokenizer->token_lengths || !tokenizer->token_special ||
        !tokenizer->token_pool || !tokenizer->added)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for %zu token ids", n_ids);
    for (size_t i = 0; i < n_ids; i++)
        tokenizer->token_lengths[i] = -1;
    return tokenizer_tables_create(tokenizer, sizes->n_vocab, sizes->n_merges);
}

/* ---- Vocab, added tokens, merges ------------------------------------------------------------- */

static qvk_status load_vocab(qvk_tokenizer *tokenizer, const cJSON *vocab, const char *path)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, vocab) {
        int32_t id = json_token_id(item);
        uint32_t offset = (uint32_t)tokenizer->token_pool_size;
        int32_t length = byte_level_decode(item->string, tokenizer->token_pool + offset);

        if (length < 0)
            return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"model.vocab\" key \"%.64s\" (id %d) has "
                             "a character outside the byte-level alphabet; only byte-level BPE "
                             "vocabularies are supported", path, item->string, id);
        if (length > QVK_TOKEN_MAX_BYTES)
            return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"model.vocab\" token %d is %d bytes long; "
                             "the maximum supported is %d", path, id, length,
                             QVK_TOKEN_MAX_BYTES);
        if (tokenizer->token_lengths[id] >= 0)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.vocab\" gives id %d to two tokens, "
                             "the second \"%.64s\"", path, id, item->string);
        if (tokenizer_vocab_find(tokenizer, tokenizer->token_pool + offset, (size_t)length) >= 0)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.vocab\" lists \"%.64s\" twice", path,
                             item->string);

        tokenizer->token_offsets[id] = offset;
        tokenizer->token_lengths[id] = length;
        tokenizer_vocab_insert(tokenizer, offset, length, id);
        tokenizer->token_pool_size += (size_t)length;
    }

    /* Byte-level BPE starts every word from single bytes, so each byte needs a token. */
    for (int byte = 0; byte < 256; byte++) {
        char symbol = (char)byte;
        tokenizer->byte_ids[byte] = tokenizer_vocab_find(tokenizer, &symbol, 1);
        if (tokenizer->byte_ids[byte] < 0)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.vocab\" has no token for byte 0x%02X; "
                             "a byte-level vocab needs all 256", path, byte);
    }
    return QVK_OK;
}

static qvk_status load_added_token(qvk_tokenizer *tokenizer, const cJSON *item, int index,
                                   const char *path)
{
    tokenizer_added_token *token = &tokenizer->added[tokenizer->n_added];
    const char *content = cJSON_GetObjectItemCaseSensitive(item, "content")->valuestring;
    size_t length = strlen(content);
    char key[48];
    qvk_status status;

    snprintf(key, sizeof(key), "added_tokens[%d]", index);
    if (length > QVK_TOKEN_MAX_BYTES)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"%s.content\" is %zu bytes long; the maximum "
                         "supported is %d", path, key, length, QVK_TOKEN_MAX_BYTES);

    /* A missing flag is false, except normalized, which defaults to !special as in Hugging
     * Face's AddedToken::from(). */
    status = tokenizer_json_bool(item, "special", false, path, key, &token->special);
    if (status == QVK_OK)
        status = tokenizer_json_bool(item, "lstrip", false, path, key, &token->lstrip);
    if (status == QVK_OK)
        status = tokenizer_json_bool(item, "rstrip", false, path, key, &token->rstrip);
    if (status == QVK_OK)
        status = tokenizer_json_bool(item, "single_word", false, path, key, &token->single_word);
    if (status == QVK_OK)
        status = tokenizer_json_bool(item, "normalized", !token->special, path, key,
                                     &token->normalized);
    if (status != QVK_OK)
        return status;

    token->id = json_token_id(cJSON_GetObjectItemCaseSensitive(item, "id"));
    token->content = tokenizer->token_pool + tokenizer->token_pool_size;
    token->length = length;
    memcpy(tokenizer->token_pool + tokenizer->token_pool_size, content, length);

    /* The added token's content is what its id decodes to, even when the model vocab also
     * has that id, as in Hugging Face. */
    tokenizer->token_offsets[token->id] = (uint32_t)tokenizer->token_pool_size;
    tokenizer->token_lengths[token->id] = (int32_t)length;
    tokenizer->token_special[token->id] = token->special;
    tokenizer->token_pool_size += length;
    tokenizer->n_added++;
    return QVK_OK;
}

static int compare_added_longest_first(const void *a, const void *b)
{
    const tokenizer_added_token *x = a, *y = b;
    if (x->length != y->length)
        return x->length > y->length ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static qvk_status load_added_tokens(qvk_tokenizer *tokenizer, const cJSON *added,
                                    const char *path)
{
    const cJSON *item;
    int index = 0;

    cJSON_ArrayForEach(item, added) {
        qvk_status status = load_added_token(tokenizer, item, index++, path);
        if (status != QVK_OK)
            return status;
    }
    qsort(tokenizer->added, tokenizer->n_added, sizeof(*tokenizer->added),
          compare_added_longest_first);
    for (size_t i = 0; i < tokenizer->n_added; i++) {
        tokenizer->added_first_bytes[(unsigned char)tokenizer->added[i].content[0]] = 1;
        tokenizer->has_normalized_added |= tokenizer->added[i].normalized;
    }
    return QVK_OK;
}

/* The two sides of merge item: "left right" (one space) or ["left", "right"]. */
static qvk_status merge_sides(const cJSON *item, int index, const char *path, char *storage,
                              const char **left, const char **right)
{
    if (cJSON_IsString(item)) {
        const char *space = strchr(item->valuestring, ' ');
        size_t left_length = space ? (size_t)(space - item->valuestring) : 0;
        if (!space || left_length == 0 || strchr(space + 1, ' ') || space[1] == '\0')
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.merges[%d]\" \"%.64s\" must be two "
                             "tokens separated by one space", path, index, item->valuestring);
        if (left_length > TOKENIZER_MAX_SPELLING)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.merges[%d]\": the left token is "
                             "longer than any token in \"model.vocab\"", path, index);
        memcpy(storage, item->valuestring, left_length);
        storage[left_length] = '\0';
        *left = storage;
        *right = space + 1;
        return QVK_OK;
    }
    if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2 &&
        cJSON_IsString(cJSON_GetArrayItem(item, 0)) && cJSON_IsString(cJSON_GetArrayItem(item, 1))) {
        *left = cJSON_GetArrayItem(item, 0)->valuestring;
        *right = cJSON_GetArrayItem(item, 1)->valuestring;
        return QVK_OK;
    }
    return qvk_error(QVK_ERR_FORMAT, "%s: \"model.merges[%d]\" must be a string \"left right\" "
                     "or an array of two strings, not %s", path, index, tokenizer_json_type(item));
}

/* The id of the vocab token spelled spelling, decoded into bytes (room for
 * TOKENIZER_MAX_SPELLING), or -1. *length receives the number of bytes. */
static int32_t find_spelling(const qvk_tokenizer *tokenizer, const char *spelling, char *bytes,
                             int32_t *length)
{
    *length = 0;
    if (strlen(spelling) > TOKENIZER_MAX_SPELLING)
        return -1;
    *length = byte_level_decode(spelling, bytes);
    if (*length < 0) {
        *length = 0;
        return -1;
    }
    return tokenizer_vocab_find(tokenizer, bytes, (size_t)*length);
}

static qvk_status load_merges(qvk_tokenizer *tokenizer, const cJSON *merges, const char *path)
{
    char storage[TOKENIZER_MAX_SPELLING + 1];
    char bytes[2 * TOKENIZER_MAX_SPELLING];
    const cJSON *item;
    int rank = 0;

    cJSON_ArrayForEach(item, merges) {
        const char *left = NULL, *right = NULL;
        int32_t left_length, right_length, left_id, right_id, merged_id;
        qvk_status status = merge_sides(item, rank, path, storage, &left, &right);
        if (status != QVK_OK)
            return status;

        /* Decode both sides next to each other, so the merged token's bytes are contiguous. */
        left_id = find_spelling(tokenizer, left, bytes, &left_length);
        right_id = find_spelling(tokenizer, right, bytes + left_length, &right_length);
        merged_id = left_id < 0 || right_id < 0
                        ? -1
                        : tokenizer_vocab_find(tokenizer, bytes,
                                               (size_t)(left_length + right_length));
        if (merged_id < 0)
            return qvk_error(QVK_ERR_FORMAT, "%s: \"model.merges[%d]\" (\"%.64s\" \"%.64s\"): "
                             "%s is not in \"model.vocab\"", path, rank, left, right,
                             left_id < 0    ? "the left token"
                             : right_id < 0 ? "the right token"
                                            : "the merged token");
        tokenizer_merge_insert(tokenizer, left_id, right_id, rank, merged_id);
        rank++;
    }
    return QVK_OK;
}

/* ---- Loading --------------------------------------------------------------------------------- */

/* The object root[name], or an error naming key. */
static qvk_status json_object_member(const cJSON *root, const char *name, bool array,
                                     const char *path, const char *key, const cJSON **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

    *out = item;
    if (!item)
        return qvk_error(QVK_ERR_FORMAT, "%s: key \"%s\" is missing", path, key);
    if (array ? !cJSON_IsArray(item) : !cJSON_IsObject(item))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"%s\" must be %s, not %s", path, key,
                         array ? "an array" : "an object", tokenizer_json_type(item));
    return QVK_OK;
}

static qvk_status load_json(qvk_tokenizer *tokenizer, const cJSON *root, const char *path)
{
    const cJSON *model, *vocab, *merges, *added;
    tokenizer_sizes sizes = {0};
    qvk_status status;

    if (!cJSON_IsObject(root))
        return qvk_error(QVK_ERR_FORMAT, "%s: the top level must be an object, not %s", path,
                         tokenizer_json_type(root));
    status = json_object_member(root, "model", false, path, "model", &model);
    if (status == QVK_OK)
        status = tokenizer_config_model(tokenizer, model, path);
    if (status == QVK_OK)
        status = json_object_member(model, "vocab", false, path, "model.vocab", &vocab);
    if (status == QVK_OK)
        status = json_object_member(model, "merges", true, path, "model.merges", &merges);
    if (status != QVK_OK)
        return status;

    added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (cJSON_IsNull(added))
        added = NULL;
    if (added && !cJSON_IsArray(added))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"added_tokens\" must be an array, not %s", path,
                         tokenizer_json_type(added));

    status = tokenizer_config_pipeline(tokenizer, root, path);
    if (status == QVK_OK)
        status = measure_tokens(vocab, added, path, &sizes);
    if (status != QVK_OK)
        return status;
    if (sizes.n_vocab == 0)
        return qvk_error(QVK_ERR_FORMAT, "%s: \"model.vocab\" is empty", path);

    sizes.n_merges = (size_t)cJSON_GetArraySize(merges);
    status = allocate_tables(tokenizer, &sizes);
    if (status == QVK_OK)
        status = load_vocab(tokenizer, vocab, path);
    if (status == QVK_OK)
        status = load_added_tokens(tokenizer, added, path);
    if (status == QVK_OK)
        status = load_merges(tokenizer, merges, path);
    return status;
}

qvk_status qvk_tokenizer_load(const char *tokenizer_json_path, qvk_tokenizer **out)
{
    double start = qvk_time_seconds();
    qvk_tokenizer *tokenizer;
    const char *parse_end = NULL;
    cJSON *root;
    char *data;
    size_t size;
    qvk_status status;

    if (!tokenizer_json_path || !out)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_tokenizer_load: path and out must not "
                         "be NULL");
    *out = NULL;
    status = qvk_file_read(tokenizer_json_path, &data, &size);
    if (status != QVK_OK)
        return status;

    root = cJSON_ParseWithLengthOpts(data, size, &parse_end, false);
    if (!root) {
        size_t offset = parse_end && parse_end >= data ? (size_t)(parse_end - data) : size;
        free(data);
        return qvk_error(QVK_ERR_FORMAT, "%s: invalid JSON near byte %zu of %zu; the file may be "
                         "truncated, download it again", tokenizer_json_path, offset, size);
    }
    free(data);

    tokenizer = calloc(1, sizeof(*tokenizer));
    status = tokenizer ? load_json(tokenizer, root, tokenizer_json_path)
                       : qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the tokenizer");
    cJSON_Delete(root);
    if (status != QVK_OK) {
        qvk_tokenizer_destroy(tokenizer);
        return status;
    }

    qvk_log_debug("tokenizer: %d ids (%zu added tokens) from %s in %.0f ms",
                  tokenizer->vocab_size, tokenizer->n_added, tokenizer_json_path,
                  (qvk_time_seconds() - start) * 1000.0);
    *out = tokenizer;
    return QVK_OK;
}

void qvk_tokenizer_destroy(qvk_tokenizer *tokenizer)
{
    if (!tokenizer)
        return;
    for (int i = 0; i < tokenizer->n_splits; i++)
        pcre2_code_free(tokenizer->splits[i]);
    free(tokenizer->token_offsets);
    free(tokenizer->token_lengths);
    free(tokenizer->token_special);
    free(tokenizer->token_pool);
    free(tokenizer->vocab_slots);
    free(tokenizer->merges);
    free(tokenizer->added);
    free(tokenizer);
}

/* ---- Lookups and decoding -------------------------------------------------------------------- */

int32_t qvk_tokenizer_vocab_size(const qvk_tokenizer *tokenizer)
{
    return tokenizer->vocab_size;
}

int32_t qvk_tokenizer_token_id(const qvk_tokenizer *tokenizer, const char *token_text)
{
    char bytes[TOKENIZER_MAX_SPELLING];
    size_t length;
    int32_t n_bytes;

    if (!token_text)
        return -1;
    length = strlen(token_text);
    for (size_t i = 0; i < tokenizer->n_added; i++) {
        const tokenizer_added_token *token = &tokenizer->added[i];
        if (token->length == length && memcmp(token->content, token_text, length) == 0)
            return token->id;
    }
    return find_spelling(tokenizer, token_text, bytes, &n_bytes);
}

const char *qvk_tokenizer_token_bytes(const qvk_tokenizer *tokenizer, int32_t id, size_t *length)
{
    if (id < 0 || id >= tokenizer->vocab_size || tokenizer->token_lengths[id] < 0) {
        *length = 0;
        return NULL;
    }
    *length = (size_t)tokenizer->token_lengths[id];
    return tokenizer->token_pool + tokenizer->token_offsets[id];
}

qvk_status qvk_tokenizer_decode(const qvk_tokenizer *tokenizer, const int32_t *ids, size_t n_ids,
                                char **text, size_t *length)
{
    size_t total = 0, used = 0, n;
    char *buffer;

    if (!tokenizer || (!ids && n_ids > 0) || !text)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "qvk_tokenizer_decode: tokenizer, ids and text "
                         "must not be NULL");
    for (size_t i = 0; i < n_ids; i++) {
        qvk_tokenizer_token_bytes(tokenizer, ids[i], &n);
        total += n;
    }
    buffer = malloc(total + 1);
    if (!buffer)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for %zu decoded bytes", total);
    for (size_t i = 0; i < n_ids; i++) {
        const char *bytes = qvk_tokenizer_token_bytes(tokenizer, ids[i], &n);
        if (n > 0)
            memcpy(buffer + used, bytes, n);
        used += n;
    }
    buffer[used] = '\0';
    *text = buffer;
    if (length)
        *length = used;
    return QVK_OK;
}

bool qvk_tokenizer_is_special(const qvk_tokenizer *tokenizer, int32_t id)
{
    return id >= 0 && id < tokenizer->vocab_size && tokenizer->token_special[id];
}
