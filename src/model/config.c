/* config.json and generation_config.json of a Hugging Face Qwen3 model folder.
 *
 * Every key of config.json must be known. Keys that change the model's arithmetic are checked
 * against what the engine implements, and descriptive keys are accepted. Any other key is
 * rejected by name, so that a model the engine would run wrongly is not run silently. */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "model/model.h"

/* Keys that describe the checkpoint but do not change inference. */
static const char *const descriptive_keys[] = {
    "architectures", "attention_dropout", "bos_token_id", "eos_token_id", "pad_token_id",
    "initializer_range", "torch_dtype", "dtype", "transformers_version", "use_cache",
    "max_window_layers", "_name_or_path", "model_type", "tie_word_embeddings", "hidden_act",
    "attention_bias", "rope_scaling", "sliding_window", "use_sliding_window", "layer_types",
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "intermediate_size", "max_position_embeddings",
    "rms_norm_eps", "rope_theta",
};

static int is_known_key(const char *key)
{
    for (size_t i = 0; i < sizeof(descriptive_keys) / sizeof(descriptive_keys[0]); i++)
        if (strcmp(key, descriptive_keys[i]) == 0)
            return 1;
    return 0;
}

/* Read a positive integer key; required keys fail when absent. */
static qvk_status read_int(const char *path, const cJSON *json, const char *key, int required,
                           int32_t fallback, int32_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, key);
    if (!item || cJSON_IsNull(item)) {
        if (required)
            return qvk_error(QVK_ERR_FORMAT, "%s: missing config key \"%s\"", path, key);
        *out = fallback;
        return QVK_OK;
    }
    if (!cJSON_IsNumber(item) || item->valuedouble < 1 || item->valuedouble > 1e9 ||
        item->valuedouble != floor(item->valuedouble))
        return qvk_error(QVK_ERR_FORMAT, "%s: config key \"%s\" must be a positive integer", path, key);
    *out = (int32_t)item->valuedouble;
    return QVK_OK;
}

static qvk_status read_float(const char *path, const cJSON *json, const char *key, float fallback,
                             float *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, key);
    if (!item || cJSON_IsNull(item)) {
        *out = fallback;
        return QVK_OK;
    }
    /* Converting a double outside the float range to float is undefined. */
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || fabs(item->valuedouble) > FLT_MAX)
        return qvk_error(QVK_ERR_FORMAT, "%s: config key \"%s\" must be a number within the float "
                         "range", path, key);
    *out = (float)item->valuedouble;
    return QVK_OK;
}

/* Reject settings whose arithmetic the engine does not implement. */
static qvk_status check_supported(const char *path, const cJSON *json)
{
    const cJSON *item;

    cJSON_ArrayForEach(item, json) {
        if (!is_known_key(item->string))
            return qvk_error(QVK_ERR_UNSUPPORTED,
                             "%s: unknown config key \"%s\"; qwen3vk does not know how it changes "
                             "the model, so it will not guess (remove the key if it is only a label)",
                             path, item->string);
    }
    item = cJSON_GetObjectItemCaseSensitive(json, "model_type");
    if (!item)
        return qvk_error(QVK_ERR_FORMAT, "%s: missing config key \"model_type\"", path);
    if (!cJSON_IsString(item) || strcmp(item->valuestring, "qwen3") != 0)
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: model_type is \"%s\"; only \"qwen3\" is supported",
                         path, cJSON_IsString(item) ? item->valuestring : "(not a string)");
    item = cJSON_GetObjectItemCaseSensitive(json, "rope_scaling");
    if (item && !cJSON_IsNull(item)) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "rope_type");
        if (!type)
            type = cJSON_GetObjectItemCaseSensitive(item, "type");
        return qvk_error(QVK_ERR_UNSUPPORTED,
                         "%s: rope_scaling type \"%s\" is not implemented; set rope_scaling to null",
                         path, cJSON_IsString(type) ? type->valuestring : "(unnamed)");
    }
    item = cJSON_GetObjectItemCaseSensitive(json, "hidden_act");
    if (item && !(cJSON_IsString(item) && strcmp(item->valuestring, "silu") == 0))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not implemented; only \"silu\"",
                         path, cJSON_IsString(item) ? item->valuestring : "(not a string)");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "attention_bias")))
        return qvk_error(QVK_ERR_UNSUPPORTED, "%s: attention_bias true is not implemented", path);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "use_sliding_window")))
        return qvk_error(QVK_ERR_UNSUPPORTED,
                         "%s: use_sliding_window true is not implemented; set it to false", path);
    item = cJSON_GetObjectItemCaseSensitive(json, "layer_types");
    if (item) {
        const cJSON *layer_type;
        cJSON_ArrayForEach(layer_type, item)
            if (!cJSON_IsString(layer_type) || strcmp(layer_type->valuestring, "full_attention") != 0)
                return qvk_error(QVK_ERR_UNSUPPORTED,
                                 "%s: layer_types lists \"%s\"; only \"full_attention\" is implemented",
                                 path, cJSON_IsString(layer_type) ? layer_type->valuestring : "?");
    }
    return QVK_OK;
}

static qvk_status parse_config(const char *path, const cJSON *json, qvk_model_config *config)
{
    qvk_status status;
    const cJSON *item;

    if ((status = check_supported(path, json)) != QVK_OK)
        return status;
    if ((status = read_int(path, json, "vocab_size", 1, 0, &config->vocab_size)) ||
        (status = read_int(path, json, "hidden_size", 1, 0, &config->hidden_size)) ||
        (status = read_int(path, json, "num_hidden_layers", 1, 0, &config->n_layers)) ||
        (status = read_int(path, json, "num_attention_heads", 1, 0, &config->n_heads)) ||
        (status = read_int(path, json, "num_key_value_heads", 1, 0, &config->n_kv_heads)) ||
        (status = read_int(path, json, "intermediate_size", 1, 0, &config->intermediate_size)) ||
        (status = read_int(path, json, "head_dim", 0, config->hidden_size / config->n_heads,
                           &config->head_dim)) ||
        (status = read_int(path, json, "max_position_embeddings", 0, 32768,
                           &config->max_position_embeddings)) ||
        (status = read_float(path, json, "rms_norm_eps", 1e-6f, &config->rms_norm_eps)) ||
        (status = read_float(path, json, "rope_theta", 10000.0f, &config->rope_theta)))
        return status;
    item = cJSON_GetObjectItemCaseSensitive(json, "tie_word_embeddings");
    config->tie_word_embeddings = item ? cJSON_IsTrue(item) : false;

    if (config->n_heads % config->n_kv_heads != 0)
        return qvk_error(QVK_ERR_FORMAT, "%s: num_attention_heads %d is not a multiple of "
                         "num_key_value_heads %d", path, config->n_heads, config->n_kv_heads);
    if (config->head_dim % 2 != 0)
        return qvk_error(QVK_ERR_FORMAT, "%s: head_dim %d must be even for RoPE", path, config->head_dim);
    if (config->rms_norm_eps <= 0 || config->rope_theta <= 1)
        return qvk_error(QVK_ERR_FORMAT, "%s: %s is %g; it must be %s", path,
                         config->rms_norm_eps <= 0 ? "rms_norm_eps" : "rope_theta",
                         config->rms_norm_eps <= 0 ? config->rms_norm_eps : config->rope_theta,
                         config->rms_norm_eps <= 0 ? "above 0" : "above 1");
    return QVK_OK;
}

/* Read a token id, an integer in 0..vocab_size-1. The range is checked before the conversion
 * to int32_t, which is undefined for values outside it. */
static qvk_status read_token_id(const char *path, const char *key, const cJSON *item,
                                const qvk_model_config *config, int32_t *out)
{
    if (!cJSON_IsNumber(item))
        return qvk_error(QVK_ERR_FORMAT, "%s: %s must be a token id (an integer from 0 to %d)",
                         path, key, config->vocab_size - 1);
    if (item->valuedouble < 0 || item->valuedouble >= config->vocab_size ||
        item->valuedouble != floor(item->valuedouble))
        return qvk_error(QVK_ERR_FORMAT, "%s: %s %.17g is not a token id (an integer from 0 to %d)",
                         path, key, item->valuedouble, config->vocab_size - 1);
    *out = (int32_t)item->valuedouble;
    return QVK_OK;
}

/* Read eos_token_id, which is one id or a list of ids. */
static qvk_status read_token_ids(const char *path, const cJSON *item, qvk_model_config *config)
{
    const cJSON *id;
    int32_t max_ids = (int32_t)(sizeof(config->eos_token_ids) / sizeof(config->eos_token_ids[0]));
    qvk_status status;

    if (!cJSON_IsArray(item)) {
        config->n_eos_token_ids = 1;
        return read_token_id(path, "eos_token_id", item, config, &config->eos_token_ids[0]);
    }
    config->n_eos_token_ids = 0;
    cJSON_ArrayForEach(id, item) {
        if (config->n_eos_token_ids == max_ids)
            return qvk_error(QVK_ERR_UNSUPPORTED, "%s: eos_token_id lists more than %d ids",
                             path, max_ids);
        status = read_token_id(path, "eos_token_id", id, config,
                               &config->eos_token_ids[config->n_eos_token_ids++]);
        if (status != QVK_OK)
            return status;
    }
    return QVK_OK;
}

/* Read bos_token_id and eos_token_id of config.json. A null or absent key keeps the default. */
static qvk_status read_special_ids(const char *path, const cJSON *json, qvk_model_config *config)
{
    const cJSON *item;
    qvk_status status;

    item = cJSON_GetObjectItemCaseSensitive(json, "bos_token_id");
    if (item && !cJSON_IsNull(item) &&
        (status = read_token_id(path, "bos_token_id", item, config, &config->bos_token_id)) != QVK_OK)
        return status;
    item = cJSON_GetObjectItemCaseSensitive(json, "eos_token_id");
    if (item && !cJSON_IsNull(item))
        return read_token_ids(path, item, config);
    return QVK_OK;
}

/* generation_config.json: stop ids and sampling defaults. Unknown keys are harmless here. */
/* The sampler would reject these later, after the whole load; name the file now. */
static qvk_status check_sampling_defaults(const char *path, const qvk_model_config *config)
{
    if (config->temperature < 0)
        return qvk_error(QVK_ERR_FORMAT, "%s: temperature is %g; it must be 0 (greedy) or more",
                         path, config->temperature);
    if (!(config->top_p > 0 && config->top_p <= 1))
        return qvk_error(QVK_ERR_FORMAT, "%s: top_p is %g; it must be above 0 and at most 1",
                         path, config->top_p);
    if (!(config->min_p >= 0 && config->min_p <= 1))
        return qvk_error(QVK_ERR_FORMAT, "%s: min_p is %g; it must be from 0 to 1", path,
                         config->min_p);
    if (!(config->repetition_penalty > 0))
        return qvk_error(QVK_ERR_FORMAT, "%s: repetition_penalty is %g; it must be above 0 "
                         "(1 turns it off)", path, config->repetition_penalty);
    return QVK_OK;
}

static qvk_status parse_generation_config(const char *path, const cJSON *json,
                                          qvk_model_config *config)
{
    const cJSON *item;
    qvk_status status;

    item = cJSON_GetObjectItemCaseSensitive(json, "eos_token_id");
    if (item && !cJSON_IsNull(item) && (status = read_token_ids(path, item, config)) != QVK_OK)
        return status;
    if ((status = read_float(path, json, "temperature", config->temperature, &config->temperature)) ||
        (status = read_float(path, json, "top_p", config->top_p, &config->top_p)) ||
        (status = read_float(path, json, "min_p", config->min_p, &config->min_p)) ||
        (status = read_float(path, json, "repetition_penalty", config->repetition_penalty,
                             &config->repetition_penalty)))
        return status;
    item = cJSON_GetObjectItemCaseSensitive(json, "top_k");
    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > 1e9 ||
            item->valuedouble != floor(item->valuedouble))
            return qvk_error(QVK_ERR_FORMAT, "%s: top_k must be a non-negative integer (0 disables it)",
                             path);
        config->top_k = (int32_t)item->valuedouble;
    }
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(json, "do_sample")))
        config->temperature = 0.0f;
    return check_sampling_defaults(path, config);
}

static qvk_status load_json(const char *path, cJSON **json)
{
    char *text;
    const char *end = NULL;
    qvk_status status = qvk_file_read(path, &text, NULL);

    if (status != QVK_OK)
        return status;
    *json = cJSON_ParseWithOpts(text, &end, 0);
    if (!*json) {
        int line = 1;
        for (const char *c = text; c < end; c++)
            line += *c == '\n';
        free(text);
        return qvk_error(QVK_ERR_FORMAT, "%s: invalid JSON at line %d", path, line);
    }
    free(text);
    if (!cJSON_IsObject(*json)) {
        cJSON_Delete(*json);
        *json = NULL;
        return qvk_error(QVK_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return QVK_OK;
}

qvk_status qvk_config_load(const char *dir, qvk_model_config *config)
{
    char path[4200];
    cJSON *json = NULL;
    qvk_status status;

    memset(config, 0, sizeof(*config));
    config->bos_token_id = -1;
    config->temperature = 1.0f;
    config->top_p = 1.0f;
    config->repetition_penalty = 1.0f;

    snprintf(path, sizeof(path), "%s/config.json", dir);
    if ((status = load_json(path, &json)) != QVK_OK)
        return status;
    status = parse_config(path, json, config);
    if (status == QVK_OK)
        status = read_special_ids(path, json, config);
    cJSON_Delete(json);
    if (status != QVK_OK)
        return status;

    snprintf(path, sizeof(path), "%s/generation_config.json", dir);
    if (access(path, F_OK) != 0) {
        qvk_log_debug("%s not found; using default sampling settings", path);
        return QVK_OK;
    }
    if ((status = load_json(path, &json)) != QVK_OK)
        return status;
    status = parse_generation_config(path, json, config);
    cJSON_Delete(json);
    return status;
}
