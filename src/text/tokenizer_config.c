/* The parts of tokenizer.json around the vocab: model options, normalizer, pre-tokenizer,
 * decoder and post-processor. Each is checked against what the encoder implements, and any
 * other type is rejected by name. */
#include "text/tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

/* The pattern of a ByteLevel pre-tokenizer with use_regex true (the GPT-2 split). */
static const char byte_level_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const char *tokenizer_json_type(const cJSON *item)
{
    if (!item)
        return "missing";
    if (cJSON_IsObject(item))
        return "an object";
    if (cJSON_IsArray(item))
        return "an array";
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsNumber(item))
        return "a number";
    if (cJSON_IsBool(item))
        return "a boolean";
    if (cJSON_IsNull(item))
        return "null";
    return "invalid";
}

qvk_status tokenizer_json_bool(const cJSON *node, const char *name, bool fallback,
                               const char *path, const char *key, bool *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(node, name);

    if (!item || cJSON_IsNull(item)) {
        *out = fallback;
        return QVK_OK;
    }
    if (!cJSON_IsBool(item))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"%s.%s\" must be true or false, not %s", path, key,
                         name, tokenizer_json_type(item));
    *out = cJSON_IsTrue(item);
    return QVK_OK;
}

/* The "type" string of node, or an error naming key. */
static qvk_status json_type_field(const cJSON *node, const char *path, const char *key,
                                  const char **type)
{
    const cJSON *item;

    if (!cJSON_IsObject(node))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"%s\" must be an object or null, not %s", path, key,
                         tokenizer_json_type(node));
    item = cJSON_GetObjectItemCaseSensitive(node, "type");
    if (!cJSON_IsString(item))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"%s.type\" must be a string, not %s", path, key,
                         tokenizer_json_type(item));
    *type = item->valuestring;
    return QVK_OK;
}

/* ---- Model options --------------------------------------------------------------------------- */

static bool json_is_empty_string_or_null(const cJSON *item)
{
    return !item || cJSON_IsNull(item) || (cJSON_IsString(item) && item->valuestring[0] == '\0');
}

qvk_status tokenizer_config_model(qvk_tokenizer *tokenizer, const cJSON *model, const char *path)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    bool byte_fallback = false;
    qvk_status status;

    /* A file without model.type is read as BPE: the vocab and merges checks apply either way. */
    if (type && !cJSON_IsString(type))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"model.type\" must be a string, not %s", path,
                         tokenizer_json_type(type));
    if (type && strcmp(type->valuestring, "BPE") != 0)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported; only "
                         "\"BPE\" (byte-level) tokenizers are", path, type->valuestring);

    if (dropout && !cJSON_IsNull(dropout) &&
        !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"model.dropout\" is set; BPE dropout is a "
                         "training option and is not supported, set it to null", path);
    if (!json_is_empty_string_or_null(
            cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix")))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"model.continuing_subword_prefix\" is not "
                         "supported; byte-level BPE does not use it", path);
    if (!json_is_empty_string_or_null(
            cJSON_GetObjectItemCaseSensitive(model, "end_of_word_suffix")))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"model.end_of_word_suffix\" is not "
                         "supported; byte-level BPE does not use it", path);

    status = tokenizer_json_bool(model, "byte_fallback", false, path, "model", &byte_fallback);
    if (status != QVK_OK)
        return status;
    if (byte_fallback)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"model.byte_fallback\" is true; only "
                         "byte-level BPE (byte_fallback false) is supported", path);
    return tokenizer_json_bool(model, "ignore_merges", false, path, "model",
                               &tokenizer->ignore_merges);
}

/* ---- Normalizer ------------------------------------------------------------------------------ */

static qvk_status add_normalizer(qvk_tokenizer *tokenizer, const cJSON *node, const char *path,
                                 const char *key)
{
    static const struct {
        const char *name;
        tokenizer_normalization form;
    } forms[] = {{"NFC", TOKENIZER_NFC}, {"NFD", TOKENIZER_NFD}, {"NFKC", TOKENIZER_NFKC},
                 {"NFKD", TOKENIZER_NFKD}};
    const char *type = NULL;
    qvk_status status = json_type_field(node, path, key, &type);

    if (status != QVK_OK)
        return status;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if (strcmp(type, forms[i].name) != 0)
            continue;
        if (tokenizer->n_normalizers == TOKENIZER_MAX_NORMALIZERS)
            return qvk_error(QVK_ERR_UNSUPPORTED, "%s: more than %d normalizers in \"%s\"", path,
                             TOKENIZER_MAX_NORMALIZERS, key);
        tokenizer->normalizers[tokenizer->n_normalizers++] = forms[i].form;
        return QVK_OK;
    }
    return qvk_error(QVK_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" in \"%s\" is not supported "
                     "(supported: NFC, NFD, NFKC, NFKD, Sequence)", path, type, key);
}

static qvk_status config_normalizer(qvk_tokenizer *tokenizer, const cJSON *root, const char *path)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *list, *item;
    const char *type = NULL;
    qvk_status status;
    int index = 0;

    if (!node || cJSON_IsNull(node))
        return QVK_OK;
    status = json_type_field(node, path, "normalizer", &type);
    if (status != QVK_OK)
        return status;
    if (strcmp(type, "Sequence") != 0)
        return add_normalizer(tokenizer, node, path, "normalizer");

    list = cJSON_GetObjectItemCaseSensitive(node, "normalizers");
    if (!cJSON_IsArray(list))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"normalizer.normalizers\" must be an array, not %s",
                         path, tokenizer_json_type(list));
    cJSON_ArrayForEach(item, list) {
        char key[64];
        snprintf(key, sizeof(key), "normalizer.normalizers[%d]", index++);
        status = add_normalizer(tokenizer, item, path, key);
        if (status != QVK_OK)
            return status;
    }
    return QVK_OK;
}

/* ---- Pre-tokenizer --------------------------------------------------------------------------- */

/* Oniguruma's \s in Unicode mode, which the file's regexes are written for: U+0009-U+000D,
 * U+0085 and the separators (Zs, Zl, Zp). PCRE2's UCP \s also matches U+180E, so \s and \S
 * are rewritten to this set before compiling. */
#define ONIGURUMA_SPACE "\\t-\\r\\x{85}\\p{Z}"

/* Copy pattern with \s (in and outside character classes) and \S (outside classes) spelled as
 * Oniguruma's set; a \S inside a class keeps PCRE2's meaning. Returns NULL when out of memory. */
static char *rewrite_whitespace_classes(const char *pattern)
{
    size_t length = strlen(pattern);
    char *out = malloc(length * sizeof(ONIGURUMA_SPACE) + 1);
    size_t used = 0;
    bool in_class = false;

    if (!out)
        return NULL;
    for (size_t i = 0; i < length; i++) {
        char c = pattern[i];
        const char *replacement = NULL;

        if (c == '\\' && i + 1 < length) {
            char escaped = pattern[i + 1];
            if (escaped == 's')
                replacement = in_class ? ONIGURUMA_SPACE : "[" ONIGURUMA_SPACE "]";
            else if (escaped == 'S' && !in_class)
                replacement = "[^" ONIGURUMA_SPACE "]";
            if (replacement) {
                used += (size_t)sprintf(out + used, "%s", replacement);
            } else {
                out[used++] = c;
                out[used++] = escaped;
            }
            i++;
            continue;
        }

        out[used++] = c;
        if (!in_class && c == '[') {
            /* A ']' right after '[' or '[^' is a literal member, not the end of the class. */
            in_class = true;
            if (pattern[i + 1] == '^')
                out[used++] = pattern[++i];
            if (pattern[i + 1] == ']')
                out[used++] = pattern[++i];
        } else if (in_class && c == '[' && pattern[i + 1] == ':') {
            /* A POSIX class such as [:alpha:] ends with ":]", not with the class's ']'. */
            const char *end = strstr(pattern + i + 2, ":]");
            if (end) {
                size_t n = (size_t)(end + 2 - (pattern + i + 1));
                memcpy(out + used, pattern + i + 1, n);
                used += n;
                i += n;
            }
        } else if (in_class && c == ']') {
            in_class = false;
        }
    }
    out[used] = '\0';
    return out;
}

static qvk_status add_split(qvk_tokenizer *tokenizer, const char *pattern, bool literal,
                            const char *path, const char *key)
{
    uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    int error_code;
    PCRE2_SIZE error_offset;
    pcre2_code *code;
    char *rewritten = NULL;

    if (tokenizer->n_splits == TOKENIZER_MAX_SPLITS)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: more than %d Split steps in \"%s\"", path,
                         TOKENIZER_MAX_SPLITS, key);
    if (!literal) {
        rewritten = rewrite_whitespace_classes(pattern);
        if (!rewritten)
            return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the regex of \"%s\"", key);
    }
    code = pcre2_compile((PCRE2_SPTR)(rewritten ? rewritten : pattern), PCRE2_ZERO_TERMINATED,
                         options, &error_code, &error_offset, NULL);
    free(rewritten);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof(message));
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: the regex of \"%s\" does not compile in "
                         "PCRE2: %s (at character %zu after \\s was rewritten)", path, key,
                         (const char *)message, (size_t)error_offset);
    }

    /* Without JIT (a PCRE2 built without it, or an unsupported CPU) matching still works,
     * several times slower. */
    if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0)
        qvk_log_debug("tokenizer: PCRE2 JIT is not available for the regex of %s; using the "
                      "interpreter", key);
    tokenizer->splits[tokenizer->n_splits++] = code;
    return QVK_OK;
}

static qvk_status add_byte_level(qvk_tokenizer *tokenizer, const cJSON *node, const char *path,
                                 const char *key)
{
    bool add_prefix_space = true, use_regex = true;
    qvk_status status;

    /* Missing fields take Hugging Face's ByteLevel defaults (add_prefix_space and use_regex
     * true). */
    status = tokenizer_json_bool(node, "add_prefix_space", true, path, key, &add_prefix_space);
    if (status == QVK_OK)
        status = tokenizer_json_bool(node, "use_regex", true, path, key, &use_regex);
    if (status != QVK_OK)
        return status;
    if (add_prefix_space)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"%s.add_prefix_space\" is true (or missing, "
                         "which means true); only false is supported", path, key);
    if (use_regex)
        return add_split(tokenizer, byte_level_pattern, false, path, key);
    return QVK_OK;
}

static qvk_status add_split_step(qvk_tokenizer *tokenizer, const cJSON *node, const char *path,
                                 const char *key)
{
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(node, "pattern");
    const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(node, "behavior");
    const cJSON *regex = cJSON_GetObjectItemCaseSensitive(pattern, "Regex");
    const cJSON *string = cJSON_GetObjectItemCaseSensitive(pattern, "String");
    bool invert;
    qvk_status status;

    if (!cJSON_IsString(regex) && !cJSON_IsString(string))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"%s.pattern\" must be an object with a \"Regex\" "
                         "or \"String\" string, not %s", path, key, tokenizer_json_type(pattern));
    if (!cJSON_IsString(behavior))
        return qvk_error(QVK_ERR_FORMAT, "%s: \"%s.behavior\" must be a string, not %s", path,
                         key, tokenizer_json_type(behavior));
    if (strcmp(behavior->valuestring, "Isolated") != 0)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"%s.behavior\" \"%s\" is not supported; only "
                         "\"Isolated\" is", path, key, behavior->valuestring);
    status = tokenizer_json_bool(node, "invert", false, path, key, &invert);
    if (status != QVK_OK)
        return status;
    if (invert)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"%s.invert\" is true; only false is "
                         "supported", path, key);
    if (cJSON_IsString(regex))
        return add_split(tokenizer, regex->valuestring, false, path, key);
    return add_split(tokenizer, string->valuestring, true, path, key);
}

/* Add one step of the pre-tokenizer. The splits run on the text before the byte-level mapping,
 * so ByteLevel has to be the last step; *byte_level records that it was seen. */
static qvk_status add_pre_tokenizer(qvk_tokenizer *tokenizer, const cJSON *node, const char *path,
                                    const char *key, bool *byte_level)
{
    const char *type = NULL;
    qvk_status status = json_type_field(node, path, key, &type);

    if (status != QVK_OK)
        return status;
    if (*byte_level)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"%s\" (%s) comes after ByteLevel; only a "
                         "ByteLevel last in the Sequence is supported", path, key, type);
    if (strcmp(type, "ByteLevel") == 0) {
        *byte_level = true;
        return add_byte_level(tokenizer, node, path, key);
    }
    if (strcmp(type, "Split") == 0)
        return add_split_step(tokenizer, node, path, key);
    return qvk_error(QVK_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" in \"%s\" is not "
                     "supported (supported: Split, ByteLevel, Sequence)", path, type, key);
}

static qvk_status config_pre_tokenizer(qvk_tokenizer *tokenizer, const cJSON *root,
                                       const char *path)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *list, *item;
    const char *type = NULL;
    bool byte_level = false;
    qvk_status status;
    int index = 0;

    if (!node || cJSON_IsNull(node))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"pre_tokenizer\" is missing; only byte-level "
                         "BPE tokenizers (with a ByteLevel pre-tokenizer) are supported", path);
    status = json_type_field(node, path, "pre_tokenizer", &type);
    if (status != QVK_OK)
        return status;

    if (strcmp(type, "Sequence") != 0) {
        status = add_pre_tokenizer(tokenizer, node, path, "pre_tokenizer", &byte_level);
    } else {
        list = cJSON_GetObjectItemCaseSensitive(node, "pretokenizers");
        if (!cJSON_IsArray(list))
            return qvk_error(QVK_ERR_FORMAT, "%s: \"pre_tokenizer.pretokenizers\" must be an "
                             "array, not %s", path, tokenizer_json_type(list));
        cJSON_ArrayForEach(item, list) {
            char key[64];
            snprintf(key, sizeof(key), "pre_tokenizer.pretokenizers[%d]", index++);
            status = add_pre_tokenizer(tokenizer, item, path, key, &byte_level);
            if (status != QVK_OK)
                return status;
        }
    }
    if (status == QVK_OK && !byte_level)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"pre_tokenizer\" has no ByteLevel step; only "
                         "byte-level BPE tokenizers are supported", path);
    return status;
}

/* ---- Decoder, post-processor, truncation ----------------------------------------------------- */

/* Accept node when it is null or of type ByteLevel, the only one whose effect on ids and bytes
 * the tokenizer reproduces. */
static qvk_status check_byte_level_or_null(const cJSON *root, const char *name, const char *path)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, name);
    const char *type = NULL;
    qvk_status status;

    if (!node || cJSON_IsNull(node))
        return QVK_OK;
    status = json_type_field(node, path, name, &type);
    if (status != QVK_OK)
        return status;
    if (strcmp(type, "ByteLevel") != 0)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: %s type \"%s\" is not supported (supported: "
                         "ByteLevel or null)", path, name, type);
    return QVK_OK;
}

qvk_status tokenizer_config_pipeline(qvk_tokenizer *tokenizer, const cJSON *root,
                                     const char *path)
{
    const cJSON *truncation = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    qvk_status status;

    /* Padding only applies to batches, so it is ignored; truncation would cut the ids. */
    if (truncation && !cJSON_IsNull(truncation))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: \"truncation\" is set; truncation is not "
                         "supported, set it to null", path);

    status = config_normalizer(tokenizer, root, path);
    if (status == QVK_OK)
        status = config_pre_tokenizer(tokenizer, root, path);
    if (status == QVK_OK)
        status = check_byte_level_or_null(root, "decoder", path);
    if (status == QVK_OK)
        status = check_byte_level_or_null(root, "post_processor", path);
    return status;
}
