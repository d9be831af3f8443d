/* Reference goldens: prompt ids, greedy continuations and float32 logits from an independent
 * implementation (see tests/data/README.md), and the comparison the model tests apply. */
#ifndef QWEN3VK_TEST_REFERENCE_H
#define QWEN3VK_TEST_REFERENCE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "test.h"

typedef struct golden {
    int32_t prompt_ids[512];
    int32_t n_prompt;
    int32_t greedy_ids[64];
    int32_t n_greedy;
    float *logits;      /* [n_prompt][n_vocab] */
    int64_t n_vocab;
} golden;

static int read_id_array(const cJSON *array, int32_t *ids, int32_t capacity)
{
    int32_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, array)
        if (n < capacity)
            ids[n++] = (int32_t)item->valuedouble;
    return n;
}

/* A float32 C-order .npy file of shape [rows, cols]. */
static float *read_npy_f32(const char *path, int64_t *rows, int64_t *cols)
{
    char *data;
    size_t size;
    uint16_t header_length;
    float *values;
    const char *shape;

    if (qvk_file_read(path, &data, &size) != QVK_OK || size < 10 || memcmp(data, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "cannot read %s as .npy\n", path);
        return NULL;
    }
    memcpy(&header_length, data + 8, 2);
    shape = strstr(data + 10, "'shape': (");
    if (!strstr(data + 10, "'<f4'") || !shape || sscanf(shape, "'shape': (%lld, %lld)",
                                                         (long long *)rows, (long long *)cols) != 2) {
        fprintf(stderr, "%s: expected float32 [rows, cols]\n", path);
        free(data);
        return NULL;
    }
    values = malloc((size_t)(*rows * *cols) * sizeof(float));
    memcpy(values, data + 10 + header_length, (size_t)(*rows * *cols) * sizeof(float));
    free(data);
    return values;
}

/* Load dir/name.json and dir/name.logits.npy. */
static int golden_load(const char *dir, const char *name, golden *g)
{
    char path[4096];
    char *text;
    cJSON *json;
    int64_t rows;

    memset(g, 0, sizeof(*g));
    snprintf(path, sizeof(path), "%.3000s/%.200s.json", dir, name);
    if (qvk_file_read(path, &text, NULL) != QVK_OK) {
        fprintf(stderr, "cannot read %s\n", path);
        return 0;
    }
    json = cJSON_Parse(text);
    free(text);
    g->n_prompt = read_id_array(cJSON_GetObjectItem(json, "prompt_ids"), g->prompt_ids, 512);
    g->n_greedy = read_id_array(cJSON_GetObjectItem(json, "greedy_ids"), g->greedy_ids, 64);
    cJSON_Delete(json);
    snprintf(path, sizeof(path), "%.3000s/%.200s.logits.npy", dir, name);
    g->logits = read_npy_f32(path, &rows, &g->n_vocab);
    return g->logits && rows == g->n_prompt;
}

static void golden_free(golden *g)
{
    free(g->logits);
}

/* max |actual - reference| over all rows, and max |reference|. */
static void logits_difference(const float *actual, const float *reference, size_t count,
                              double *max_difference, double *max_reference)
{
    *max_difference = 0.0;
    *max_reference = 0.0;
    for (size_t i = 0; i < count; i++) {
        double difference = fabs((double)actual[i] - reference[i]);
        if (difference > *max_difference)
            *max_difference = difference;
        if (fabs(reference[i]) > *max_reference)
            *max_reference = fabs(reference[i]);
    }
}

/* Run `qwen3vk ARGS` through the shell; returns its exit status. */
static int run_cli(const char *args, const char *output_path)
{
    const char *bin = getenv("QWEN3VK_BIN");
    char command[8192];
    int status;

    snprintf(command, sizeof(command), "'%s' %s %s%s", bin ? bin : "qwen3vk", args,
             output_path ? "> " : "", output_path ? output_path : "");
    status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
