/* Timestamp queries around ops and the profile report. */
#include "backend/vulkan/profile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qvk_status qvk_vk_profiler_init(qvk_vk_profiler *profiler, qvk_vk_context *context,
                                bool timestamps, int32_t n_ops)
{
    VkQueryPoolCreateInfo create = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO };

    memset(profiler, 0, sizeof(*profiler));
    profiler->context = context;
    profiler->timestamps = timestamps && context->info.timestamps;
    if (!profiler->timestamps)
        return QVK_OK;
    profiler->capacity = (uint32_t)n_ops + 1;
    profiler->query_kind = calloc(profiler->capacity, sizeof(*profiler->query_kind));
    if (!profiler->query_kind)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory for the profiler");
    create.queryType = VK_QUERY_TYPE_TIMESTAMP;
    create.queryCount = profiler->capacity;
    VkResult result = vkCreateQueryPool(context->device, &create, NULL, &profiler->pool);
    if (result != VK_SUCCESS) {
        profiler->pool = VK_NULL_HANDLE;
        return qvk_vk_check(context, result, "vkCreateQueryPool");
    }
    return QVK_OK;
}

void qvk_vk_profiler_free(qvk_vk_profiler *profiler)
{
    if (profiler->pool != VK_NULL_HANDLE)
        vkDestroyQueryPool(profiler->context->device, profiler->pool, NULL);
    free(profiler->query_kind);
    profiler->pool = VK_NULL_HANDLE;
    profiler->query_kind = NULL;
}

void qvk_vk_profiler_begin(qvk_vk_profiler *profiler, VkCommandBuffer commands)
{
    profiler->step_dispatches = 0;
    profiler->step_barriers = 0;
    profiler->n_queries = 0;
    if (!profiler->timestamps)
        return;
    vkCmdResetQueryPool(commands, profiler->pool, 0, profiler->capacity);
    vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, profiler->pool, 0);
    profiler->n_queries = 1;
}

void qvk_vk_profiler_op_end(qvk_vk_profiler *profiler, VkCommandBuffer commands,
                            qvk_op_kind kind, int32_t n_dispatches)
{
    profiler->step_dispatches += n_dispatches;
    profiler->kind_ops[kind]++;
    profiler->kind_dispatches[kind] += n_dispatches;
    if (!profiler->timestamps || profiler->n_queries >= profiler->capacity)
        return;
    /* Written once every earlier command has finished: the interval since the previous
     * timestamp is this op's time, including its wait at the barrier before it. */
    vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, profiler->pool,
                        profiler->n_queries);
    profiler->query_kind[profiler->n_queries] = kind;
    profiler->n_queries++;
}

static qvk_status read_timestamps(qvk_vk_profiler *profiler)
{
    uint64_t values[1024];
    uint64_t *ticks = profiler->n_queries <= 1024 ? values
                                                  : malloc(profiler->n_queries * sizeof(*ticks));
    uint32_t bits = profiler->context->info.timestamp_valid_bits;
    uint64_t mask = bits >= 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1);
    double seconds_per_tick = profiler->context->info.properties.limits.timestampPeriod * 1e-9;
    VkResult result;

    if (!ticks)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of host memory reading timestamps");
    result = vkGetQueryPoolResults(profiler->context->device, profiler->pool, 0,
                                   profiler->n_queries, profiler->n_queries * sizeof(*ticks),
                                   ticks, sizeof(*ticks),
                                   VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (result == VK_SUCCESS)
        for (uint32_t q = 1; q < profiler->n_queries; q++) {
            /* Counters of fewer than 64 valid bits wrap; the masked difference stays right. */
            uint64_t delta = (ticks[q] - ticks[q - 1]) & mask;
            profiler->kind_seconds[profiler->query_kind[q]] += (double)delta * seconds_per_tick;
        }
    if (ticks != values)
        free(ticks);
    return qvk_vk_check(profiler->context, result, "vkGetQueryPoolResults");
}

qvk_status qvk_vk_profiler_end(qvk_vk_profiler *profiler, int32_t n_tokens,
                               double record_seconds, double submit_seconds,
                               double wall_seconds)
{
    qvk_vk_step_totals *totals = n_tokens > 1 ? &profiler->prompt : &profiler->decode;

    totals->steps++;
    totals->tokens += n_tokens;
    totals->dispatches += profiler->step_dispatches;
    totals->barriers += profiler->step_barriers;
    totals->submits += 1;
    totals->record_seconds += record_seconds;
    totals->submit_seconds += submit_seconds;
    totals->wall_seconds += wall_seconds;
    if (profiler->timestamps && profiler->n_queries > 1)
        return read_timestamps(profiler);
    return QVK_OK;
}

/* snprintf that appends at *length and keeps counting past the end of out. */
static void append(char *out, size_t out_size, size_t *length, const char *fmt, ...)
    QVK_PRINTF(4, 5);

static void append(char *out, size_t out_size, size_t *length, const char *fmt, ...)
{
    va_list args;
    size_t room = *length < out_size ? out_size - *length : 0;
    va_start(args, fmt);
    int n = vsnprintf(out && room ? out + *length : NULL, room, fmt, args);
    va_end(args);
    if (n > 0)
        *length += (size_t)n;
}

static void report_totals(const qvk_vk_step_totals *totals, const char *name, char *out,
                          size_t out_size, size_t *length)
{
    if (totals->steps == 0)
        return;
    double tokens = (double)totals->tokens;
    double steps = (double)totals->steps;
    double cpu_seconds = totals->record_seconds + totals->submit_seconds;
    append(out, out_size, length,
           "%s: %lld steps, %lld tokens, %.1f tok/s; per token %.1f dispatches, %.1f barriers, "
           "%.2f submits; per step %.3f ms, of which CPU %.3f ms recording + %.3f ms in "
           "vkQueueSubmit (%.1f%%)\n",
           name, (long long)totals->steps, (long long)totals->tokens,
           totals->wall_seconds > 0 ? tokens / totals->wall_seconds : 0.0,
           (double)totals->dispatches / tokens, (double)totals->barriers / tokens,
           (double)totals->submits / tokens, totals->wall_seconds * 1e3 / steps,
           totals->record_seconds * 1e3 / steps, totals->submit_seconds * 1e3 / steps,
           totals->wall_seconds > 0 ? 100.0 * cpu_seconds / totals->wall_seconds : 0.0);
}

size_t qvk_vk_profiler_report(const qvk_vk_profiler *profiler, char *out, size_t out_size)
{
    size_t length = 0;
    double total_seconds = 0.0;

    if (out && out_size)
        out[0] = '\0';
    for (int k = 0; k < QVK_OP_KIND_COUNT; k++)
        total_seconds += profiler->kind_seconds[k];
    append(out, out_size, &length, "vulkan profile (%s)\n",
           profiler->timestamps ? "GPU time from timestamp queries"
                                : "no GPU times: enable profiling on a device with timestamps");
    append(out, out_size, &length, "%-14s %10s %12s %12s %10s %7s\n", "op", "ops", "dispatches",
           "GPU ms", "us/op", "share");
    for (int k = 0; k < QVK_OP_KIND_COUNT; k++) {
        if (profiler->kind_ops[k] == 0)
            continue;
        double seconds = profiler->kind_seconds[k];
        append(out, out_size, &length, "%-14s %10lld %12lld %12.3f %10.2f %6.1f%%\n",
               qvk_op_kind_name((qvk_op_kind)k), (long long)profiler->kind_ops[k],
               (long long)profiler->kind_dispatches[k], seconds * 1e3,
               seconds * 1e6 / (double)profiler->kind_ops[k],
               total_seconds > 0 ? 100.0 * seconds / total_seconds : 0.0);
    }
    report_totals(&profiler->prompt, "prompt", out, out_size, &length);
    report_totals(&profiler->decode, "decode", out, out_size, &length);
    append(out, out_size, &length,
           "startup: pipelines %.1f ms (%s pipeline cache), weights ready in %.1f ms\n",
           profiler->pipeline_seconds * 1e3, profiler->pipeline_cache_warm ? "warm" : "cold",
           profiler->upload_seconds * 1e3);
    return length;
}
