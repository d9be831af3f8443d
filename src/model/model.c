/* Loading a model folder: config, weight files (single or sharded safetensors) and the check
 * that every tensor the forward pass needs is present with the dtype and shape config.json
 * implies. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "model/model.h"

/* Open the shards listed in model.safetensors.index.json, each once. */
static qvk_status open_sharded(qvk_model *model, const char *index_path)
{
    char *text;
    cJSON *index, *weight_map, *entry;
    qvk_status status = qvk_file_read(index_path, &text, NULL);

    if (status != QVK_OK)
        return status;
    index = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(index)) {
        cJSON_Delete(index);
        return qvk_error(QVK_ERR_FORMAT, "%s: not a valid JSON object", index_path);
    }
    weight_map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    if (!cJSON_IsObject(weight_map)) {
        cJSON_Delete(index);
        return qvk_error(QVK_ERR_FORMAT, "%s: missing \"weight_map\" object", index_path);
    }
    model->files = calloc((size_t)cJSON_GetArraySize(weight_map) + 1, sizeof(qvk_safetensors_file));
    if (!model->files) {
        cJSON_Delete(index);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory reading %s", index_path);
    }
    cJSON_ArrayForEach(entry, weight_map) {
        char path[4200];
        int32_t seen = 0;

        if (!cJSON_IsString(entry) || strchr(entry->valuestring, '/')) {
            status = qvk_error(QVK_ERR_FORMAT, "%s: weight_map entry for %s must be a file name",
                               index_path, entry->string);
            break;
        }
        snprintf(path, sizeof(path), "%s/%s", model->dir, entry->valuestring);
        for (int32_t i = 0; i < model->n_files; i++)
            seen |= strcmp(model->files[i].path, path) == 0;
        if (seen)
            continue;
        if (access(path, F_OK) != 0) {
            status = qvk_error(QVK_ERR_IO, "%s: shard %s (holding tensor %s) is missing; download "
                               "every file the index lists", index_path, entry->valuestring, entry->string);
            break;
        }
        if ((status = qvk_safetensors_open(path, &model->files[model->n_files])) != QVK_OK)
            break;
        model->n_files++;
    }
    cJSON_Delete(index);
    return status;
}

static qvk_status open_weight_files(qvk_model *model)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/model.safetensors.index.json", model->dir);
    if (access(path, F_OK) == 0)
        return open_sharded(model, path);
    snprintf(path, sizeof(path), "%s/model.safetensors", model->dir);
    if (access(path, F_OK) != 0)
        return qvk_error(QVK_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json; "
                         "is this a Hugging Face model folder?", model->dir);
    model->files = calloc(1, sizeof(qvk_safetensors_file));
    if (!model->files)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory opening %s", path);
    model->n_files = 1;
    return qvk_safetensors_open(path, &model->files[0]);
}

static const qvk_tensor *find_tensor(const qvk_model *model, const char *name)
{
    for (int32_t i = 0; i < model->n_files; i++) {
        const qvk_tensor *tensor = qvk_safetensors_find(&model->files[i], name);
        if (tensor)
            return tensor;
    }
    return NULL;
}

/* Look up name and check it has shape [rows] (cols 0) or [rows, cols]. */
static qvk_status bind_tensor(const qvk_model *model, const char *name, int64_t rows, int64_t cols,
                              const qvk_tensor **out)
{
    const qvk_tensor *tensor = find_tensor(model, name);
    int32_t n_dims = cols ? 2 : 1;

    if (!tensor)
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s is missing from the weight files",
                         model->dir, name);
    if (tensor->n_dims != n_dims || tensor->shape[0] != rows || (cols && tensor->shape[1] != cols)) {
        char shape[96] = "";
        for (int32_t i = 0; i < tensor->n_dims; i++)
            snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape), "%s%lld", i ? ", " : "",
                     (long long)tensor->shape[i]);
        if (cols)
            return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s has shape [%s], config.json implies [%lld, %lld]",
                             tensor->file, name, shape, (long long)rows, (long long)cols);
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s has shape [%s], config.json implies [%lld]",
                         tensor->file, name, shape, (long long)rows);
    }
    *out = tensor;
    return QVK_OK;
}

static qvk_status bind_layer(const qvk_model *model, int32_t layer, qvk_layer_weights *weights)
{
    const qvk_model_config *c = &model->config;
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim, kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    char name[128];
    qvk_status status;

#define BIND(field, suffix, rows, cols)                                                    \
    snprintf(name, sizeof(name), "model.layers.%d.%s", layer, suffix);                     \
    if ((status = bind_tensor(model, name, rows, cols, &weights->field)) != QVK_OK)        \
        return status;

    BIND(attn_norm, "input_layernorm.weight", c->hidden_size, 0);
    BIND(wq, "self_attn.q_proj.weight", q_dim, c->hidden_size);
    BIND(wk, "self_attn.k_proj.weight", kv_dim, c->hidden_size);
    BIND(wv, "self_attn.v_proj.weight", kv_dim, c->hidden_size);
    BIND(wo, "self_attn.o_proj.weight", c->hidden_size, q_dim);
    BIND(q_norm, "self_attn.q_norm.weight", c->head_dim, 0);
    BIND(k_norm, "self_attn.k_norm.weight", c->head_dim, 0);
    BIND(ffn_norm, "post_attention_layernorm.weight", c->hidden_size, 0);
    BIND(w_gate, "mlp.gate_proj.weight", c->intermediate_size, c->hidden_size);
    BIND(w_up, "mlp.up_proj.weight", c->intermediate_size, c->hidden_size);
    BIND(w_down, "mlp.down_proj.weight", c->hidden_size, c->intermediate_size);
#undef BIND
    return QVK_OK;
}

/* Return whether tensor is one of the weights that bind_weights() stored in model. */
static int is_bound(const qvk_model *model, const qvk_tensor *tensor)
{
    const qvk_layer_weights *w;
    int layer = -1;

    if (tensor == model->embed || tensor == model->final_norm || tensor == model->lm_head)
        return 1;
    if (sscanf(tensor->name, "model.layers.%d.", &layer) != 1 || layer < 0 ||
        layer >= model->config.n_layers)
        return 0;
    w = &model->layers[layer];
    return tensor == w->attn_norm || tensor == w->wq || tensor == w->wk || tensor == w->wv ||
           tensor == w->wo || tensor == w->q_norm || tensor == w->k_norm || tensor == w->ffn_norm ||
           tensor == w->w_gate || tensor == w->w_up || tensor == w->w_down;
}

/* Every tensor in the files must be one the forward pass uses: a stray tensor means the files
 * belong to another architecture or configuration, and a second copy of a tensor means the
 * files disagree on its value. */
static qvk_status check_no_extra_tensors(const qvk_model *model, int32_t n_expected)
{
    int32_t n_found = 0;

    for (int32_t i = 0; i < model->n_files; i++)
        n_found += model->files[i].n_tensors;
    if (n_found == n_expected)
        return QVK_OK;
    for (int32_t i = 0; i < model->n_files; i++) {
        for (int32_t t = 0; t < model->files[i].n_tensors; t++) {
            const qvk_tensor *tensor = &model->files[i].tensors[t];
            const qvk_tensor *first = find_tensor(model, tensor->name);

            /* A tied model may still carry lm_head.weight: checked, then not used. */
            if (is_bound(model, tensor) ||
                (first == tensor && strcmp(tensor->name, "lm_head.weight") == 0))
                continue;
            if (first != tensor)
                return qvk_error(QVK_ERR_FORMAT, "%s: tensor %s appears twice, here and in %s; the "
                                 "weight files are corrupt", model->files[i].path, tensor->name,
                                 first->file);
            return qvk_error(QVK_ERR_FORMAT, "%s: unexpected tensor %s; the weights do not match "
                             "config.json", model->files[i].path, tensor->name);
        }
    }
    return qvk_error(QVK_ERR_FORMAT, "%s: %d tensors in the weight files, %d expected",
                     model->dir, n_found, n_expected);
}

/* Return the error for the first tensor that config.json requires and the files lack. Layers
 * are bound into a scratch struct, so a layer count far beyond the files allocates nothing. */
static qvk_status find_missing_tensor(const qvk_model *model)
{
    const qvk_model_config *c = &model->config;
    const qvk_tensor *tensor;
    qvk_layer_weights scratch;
    qvk_status status;

    if ((status = bind_tensor(model, "model.embed_tokens.weight", c->vocab_size, c->hidden_size,
                              &tensor)) != QVK_OK ||
        (status = bind_tensor(model, "model.norm.weight", c->hidden_size, 0, &tensor)) != QVK_OK)
        return status;
    for (int32_t layer = 0; layer < c->n_layers; layer++)
        if ((status = bind_layer(model, layer, &scratch)) != QVK_OK)
            return status;
    return qvk_error(QVK_ERR_FORMAT, "%s: the weight files contain fewer tensors than "
                     "config.json requires", model->dir);
}

static qvk_status bind_weights(qvk_model *model)
{
    const qvk_model_config *c = &model->config;
    const qvk_tensor *lm_head = find_tensor(model, "lm_head.weight");
    int64_t n_expected = 2 + 11 * (int64_t)c->n_layers + (lm_head != NULL);
    int64_t n_found = 0;
    qvk_status status;

    /* The required tensors have distinct names, so fewer tensors in the files than required
     * means that one of them is missing. */
    for (int32_t i = 0; i < model->n_files; i++)
        n_found += model->files[i].n_tensors;
    if (n_found < n_expected)
        return find_missing_tensor(model);
    model->layers = calloc((size_t)c->n_layers, sizeof(qvk_layer_weights));
    if (!model->layers)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for %d layers", c->n_layers);
    if ((status = bind_tensor(model, "model.embed_tokens.weight", c->vocab_size, c->hidden_size,
                              &model->embed)) != QVK_OK ||
        (status = bind_tensor(model, "model.norm.weight", c->hidden_size, 0, &model->final_norm)) != QVK_OK)
        return status;
    for (int32_t layer = 0; layer < c->n_layers; layer++)
        if ((status = bind_layer(model, layer, &model->layers[layer])) != QVK_OK)
            return status;

    /* Tied models reuse the embedding as the output head; some tied checkpoints still carry
     * a copy named lm_head.weight, which is then checked but not needed. */
    if (!c->tie_word_embeddings && !lm_head)
        return qvk_error(QVK_ERR_FORMAT, "%s: tensor lm_head.weight is missing and "
                         "tie_word_embeddings is false", model->dir);
    if (lm_head && (status = bind_tensor(model, "lm_head.weight", c->vocab_size, c->hidden_size,
                                         &model->lm_head)) != QVK_OK)
        return status;
    if (c->tie_word_embeddings)
        model->lm_head = model->embed;
    return check_no_extra_tensors(model, (int32_t)n_expected);
}

static qvk_status check_model_dir(const char *dir)
{
    struct stat info;

    if (stat(dir, &info) != 0)
        return qvk_error(QVK_ERR_IO, "cannot open model folder %s: %s", dir, strerror(errno));
    if (!S_ISDIR(info.st_mode))
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "%s is not a folder; give the Hugging Face model "
                         "folder that contains config.json and the weights", dir);
    return QVK_OK;
}

void qvk_model_read_weights(const qvk_model *model, qvk_progress_callback progress,
                            void *user_data)
{
    const size_t page = 4096;
    size_t total = 0, done = 0, next_report = 0;
    volatile uint8_t sink = 0;

    for (int32_t i = 0; i < model->n_files; i++)
        total += model->files[i].mapping.size;
    for (int32_t i = 0; i < model->n_files; i++) {
        const uint8_t *bytes = model->files[i].mapping.data;
        for (size_t offset = 0; offset < model->files[i].mapping.size; offset += page) {
            sink ^= bytes[offset];
            done += page;
            if (progress && done >= next_report && done < total) {
                progress((float)((double)done / (double)total), user_data);
                next_report = done + total / 100;
            }
        }
    }
    if (progress)
        progress(1.0f, user_data);
    (void)sink;
}

qvk_status qvk_model_load(const char *dir, const qvk_model_options *options, qvk_model **out)
{
    double start = qvk_time_seconds();
    qvk_model *model;
    qvk_status status;

    *out = NULL;
    if ((status = check_model_dir(dir)) != QVK_OK)
        return status;
    model = calloc(1, sizeof(*model));
    if (!model)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory loading %s", dir);
    snprintf(model->dir, sizeof(model->dir), "%s", dir);
    status = qvk_config_load(dir, &model->config);
    if (status == QVK_OK)
        status = open_weight_files(model);
    if (status == QVK_OK)
        status = bind_weights(model);
    if (status == QVK_OK)
        status = qvk_model_load_text(model);
    if (status != QVK_OK) {
        qvk_model_destroy(model);
        return status;
    }
    for (int32_t i = 0; i < model->n_files; i++)
        for (int32_t t = 0; t < model->files[i].n_tensors; t++)
            model->weight_bytes += model->files[i].tensors[t].n_bytes;
    if (options && options->progress)
        qvk_model_read_weights(model, options->progress, options->progress_user_data);
    qvk_log_info("model %s: %d layers, hidden %d, vocab %d, %.1f MiB of %s weights in %d file%s, "
                 "loaded in %.0f ms", dir, model->config.n_layers, model->config.hidden_size,
                 model->config.vocab_size, (double)model->weight_bytes / (1 << 20),
                 qvk_dtype_name(model->embed->dtype), model->n_files, model->n_files == 1 ? "" : "s",
                 (qvk_time_seconds() - start) * 1e3);
    *out = model;
    return QVK_OK;
}

void qvk_model_destroy(qvk_model *model)
{
    if (!model)
        return;
    qvk_model_free_text(model);
    for (int32_t i = 0; i < model->n_files; i++)
        qvk_safetensors_close(&model->files[i]);
    free(model->files);
    free(model->layers);
    free(model);
}

const qvk_model_config *qvk_model_get_config(const qvk_model *model)
{
    return &model->config;
}
