/* The generation loop shared by every front end: reuse the cached prompt prefix, evaluate the
 * rest, then sample one token per step until a stop id, a stop string, the token limit or the
 * end of the context. Generated text flows through
 *     detokenizer (whole UTF-8 characters) → stop strings → reasoning parser → tool-call parser
 * and each piece is passed to the caller's callback as it is decided. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "engine/sampler.h"
#include "engine/session.h"
#include "model/model.h"
#include "text/detokenizer.h"
#include "text/tool_call.h"

typedef struct generation_state {
    const qvk_model *model;
    const qvk_generate_options *options;
    qvk_stream_callback callback;
    void *user_data;
    bool stopped_by_callback;

    qvk_detokenizer detokenizer;
    qvk_text_buffer text;     /* all generated text, for finding stop strings */
    size_t text_released;     /* bytes of text already passed on to the reasoning parser */
    size_t longest_stop;
    bool stop_found;

    qvk_reasoning_parser reasoning;
    int32_t n_reasoning_tokens;
    qvk_tool_call_parser tool_calls;
    qvk_text_delta delta;
    qvk_text_buffer plain_content;
    qvk_text_buffer all_reasoning;
    qvk_text_buffer all_content;
} generation_state;

qvk_generate_options qvk_generate_default_options(const qvk_model *model)
{
    const qvk_model_config *c = &model->config;
    return (qvk_generate_options){
        .temperature = c->temperature,
        .top_k = c->top_k,
        .top_p = c->top_p,
        .min_p = c->min_p,
        .repetition_penalty = c->repetition_penalty,
        .max_tokens = 512,
        .reasoning_budget = -1,
    };
}

static void emit(generation_state *state, qvk_text_kind kind, const char *text, size_t length)
{
    if (length > 0 && state->callback && !state->stopped_by_callback &&
        !state->callback(kind, text, length, state->user_data))
        state->stopped_by_callback = true;
}

/* Route the reasoning parser's output: reasoning straight to the caller, content through the
 * tool-call parser. */
static qvk_status route_delta(generation_state *state)
{
    qvk_status status = QVK_OK;
    qvk_text_delta *delta = &state->delta;

    if (delta->reasoning.length) {
        emit(state, QVK_TEXT_REASONING, delta->reasoning.data, delta->reasoning.length);
        status = qvk_text_buffer_append(&state->all_reasoning, delta->reasoning.data,
                                        delta->reasoning.length);
    }
    if (status == QVK_OK && delta->content.length)
        status = qvk_tool_call_parser_push(&state->tool_calls, delta->content.data,
                                           delta->content.length, &state->plain_content);
    if (status == QVK_OK && state->plain_content.length) {
        emit(state, QVK_TEXT_CONTENT, state->plain_content.data, state->plain_content.length);
        status = qvk_text_buffer_append(&state->all_content, state->plain_content.data,
                                        state->plain_content.length);
    }
    qvk_text_delta_clear(delta);
    qvk_text_buffer_clear(&state->plain_content);
    return status;
}

static qvk_status release_text(generation_state *state, size_t end)
{
    qvk_status status;
    if (end <= state->text_released)
        return QVK_OK;
    status = qvk_reasoning_parser_push(&state->reasoning, state->text.data + state->text_released,
                                       end - state->text_released, &state->delta);
    state->text_released = end;
    return status == QVK_OK ? route_delta(state) : status;
}

/* Append new bytes and release what can no longer be the start of a stop string. */
static qvk_status add_text(generation_state *state, const char *bytes, size_t length)
{
    const qvk_generate_options *o = state->options;
    size_t search_from, keep, end;
    qvk_status status = qvk_text_buffer_append(&state->text, bytes, length);

    if (status != QVK_OK || length == 0)
        return status;
    search_from = state->text_released;
    for (int32_t i = 0; i < o->n_stop; i++) {
        const char *found = strstr(state->text.data + search_from, o->stop[i]);
        if (found && o->stop[i][0]) {
            state->stop_found = true;
            state->text.length = (size_t)(found - state->text.data);
        }
    }
    if (state->stop_found)
        return release_text(state, state->text.length);
    /* Hold back up to longest_stop - 1 bytes, moved back to a UTF-8 character boundary. */
    keep = state->longest_stop > 0 ? state->longest_stop - 1 : 0;
    end = state->text.length > keep ? state->text.length - keep : 0;
    while (end > state->text_released && end < state->text.length &&
           ((unsigned char)state->text.data[end] & 0xc0) == 0x80)
        end--;
    return release_text(state, end);
}

/* The prompt ends inside a think block when its last non-blank token is <think>. */
static bool prompt_opens_reasoning(const qvk_model *model, const int32_t *prompt, int32_t n_prompt)
{
    int32_t think = qvk_tokenizer_token_id(model->tokenizer, "<think>");
    for (int32_t i = n_prompt - 1; i >= 0 && think >= 0; i--) {
        size_t length;
        const char *bytes = qvk_tokenizer_token_bytes(model->tokenizer, prompt[i], &length);
        bool blank = bytes != NULL;
        for (size_t j = 0; bytes && j < length; j++)
            blank = blank && (bytes[j] == '\n' || bytes[j] == ' ');
        if (prompt[i] == think)
            return true;
        if (!blank)
            return false;
    }
    return false;
}

static bool is_stop_id(const qvk_model_config *config, int32_t id)
{
    for (int32_t i = 0; i < config->n_eos_token_ids; i++)
        if (config->eos_token_ids[i] == id)
            return true;
    return false;
}

static qvk_status finish_text(generation_state *state, qvk_generation *out)
{
    char tail[QVK_DETOKENIZER_MAX_OUTPUT];
    size_t length = 0;
    qvk_status status = qvk_detokenizer_flush(&state->detokenizer, tail, sizeof(tail), &length);

    if (status == QVK_OK && !state->stop_found)
        status = add_text(state, tail, length);
    if (status == QVK_OK)
        status = release_text(state, state->text.length);
    if (status == QVK_OK)
        status = qvk_reasoning_parser_finish(&state->reasoning, &state->delta);
    if (status == QVK_OK)
        status = route_delta(state);
    if (status == QVK_OK)
        status = qvk_tool_call_parser_finish(&state->tool_calls, &state->plain_content);
    if (status == QVK_OK && state->plain_content.length) {
        emit(state, QVK_TEXT_CONTENT, state->plain_content.data, state->plain_content.length);
        status = qvk_text_buffer_append(&state->all_content, state->plain_content.data,
                                        state->plain_content.length);
    }
    if (status != QVK_OK)
        return status;
    out->reasoning_content = state->all_reasoning.data ? state->all_reasoning.data : strdup("");
    out->content = state->all_content.data ? state->all_content.data : strdup("");
    state->all_reasoning = (qvk_text_buffer){ 0 };
    state->all_content = (qvk_text_buffer){ 0 };
    if (!out->reasoning_content || !out->content)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the generated text");
    return QVK_OK;
}

/* OpenAI's shape: [{"id", "type": "function", "function": {"name", "arguments"}}]. */
static qvk_status tool_calls_to_json(const qvk_tool_call_parser *parser, char **json)
{
    cJSON *array = cJSON_CreateArray();

    *json = NULL;
    for (size_t i = 0; array && i < parser->n_calls; i++) {
        char id[32];
        cJSON *call = cJSON_CreateObject(), *function = cJSON_CreateObject();
        snprintf(id, sizeof(id), "call_%zu", i);
        cJSON_AddStringToObject(call, "id", id);
        cJSON_AddStringToObject(call, "type", "function");
        cJSON_AddStringToObject(function, "name", parser->calls[i].name);
        cJSON_AddStringToObject(function, "arguments", parser->calls[i].arguments);
        cJSON_AddItemToObject(call, "function", function);
        cJSON_AddItemToArray(array, call);
    }
    if (array)
        *json = cJSON_PrintUnformatted(array);
    cJSON_Delete(array);
    return *json ? QVK_OK : qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for the tool calls");
}

/* Make *prompt a new array (stored in *extended) of the prompt followed by the tokens of text. */
static qvk_status append_text(const qvk_model *model, const char *text, const int32_t **prompt,
                              int32_t *n_prompt, int32_t **extended)
{
    int32_t *ids;
    size_t n_ids;
    qvk_status status = qvk_tokenizer_encode(model->tokenizer, text, strlen(text), &ids, &n_ids);

    if (status != QVK_OK)
        return status;
    *extended = malloc(((size_t)*n_prompt + n_ids) * sizeof(int32_t));
    if (!*extended) {
        free(ids);
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for a prompt of %d tokens", *n_prompt);
    }
    memcpy(*extended, *prompt, (size_t)*n_prompt * sizeof(int32_t));
    memcpy(*extended + *n_prompt, ids, n_ids * sizeof(int32_t));
    *prompt = *extended;
    *n_prompt += (int32_t)n_ids;
    free(ids);
    return QVK_OK;
}

/* Evaluate the part of the prompt that is not in the KV cache yet. At least the last prompt
 * token is always evaluated, because its logits choose the first generated token. */
static qvk_status eval_prompt(qvk_session *session, const qvk_generate_options *options,
                              const int32_t *prompt, int32_t n_prompt, const float **logits,
                              int32_t *n_cached)
{
    const int32_t *cached = qvk_session_tokens(session);
    int32_t n_common = 0, position = qvk_session_position(session);

    if (n_prompt > qvk_session_context_size(session))
        return qvk_error(QVK_ERR_CONTEXT_FULL, "the prompt has %d tokens but the context holds %d; "
                         "shorten the prompt or raise the context size (--ctx)", n_prompt,
                         qvk_session_context_size(session));
    while (n_common < position && n_common < n_prompt - 1 && cached[n_common] == prompt[n_common])
        n_common++;
    qvk_session_truncate(session, n_common);
    *n_cached = n_common;
    /* With progress reports, the prompt is evaluated one forward pass (n_batch tokens) at a
     * time, which is how qvk_session_eval splits it anyway, with a report after each. */
    int32_t chunk = qvk_session_batch_size(session);
    if (!options->prompt_progress || n_prompt - n_common <= chunk)
        return qvk_session_eval(session, prompt + n_common, n_prompt - n_common, false, logits);
    for (int32_t done = n_common; done < n_prompt;) {
        int32_t n = n_prompt - done < chunk ? n_prompt - done : chunk;
        qvk_status status = qvk_session_eval(session, prompt + done, n, false, logits);
        if (status != QVK_OK)
            return status;
        done += n;
        options->prompt_progress((float)(done - n_common) / (float)(n_prompt - n_common),
                                 options->prompt_progress_user_data);
    }
    return QVK_OK;
}

static void state_free(generation_state *state)
{
    qvk_text_buffer_free(&state->text);
    qvk_tool_call_parser_free(&state->tool_calls);
    qvk_text_delta_free(&state->delta);
    qvk_text_buffer_free(&state->plain_content);
    qvk_text_buffer_free(&state->all_reasoning);
    qvk_text_buffer_free(&state->all_content);
}

static qvk_status sampler_for(const qvk_generate_options *o, int32_t vocab_size, qvk_sampler **out)
{
    qvk_sampling_params params = {
        .temperature = o->temperature,
        .top_k = o->top_k,
        .top_p = o->top_p,
        .min_p = o->min_p,
        .repetition_penalty = o->repetition_penalty,
        .presence_penalty = o->presence_penalty,
        .frequency_penalty = o->frequency_penalty,
        .seed = o->seed,
    };
    return qvk_sampler_create(&params, vocab_size, out);
}

/* Pass one generated token through the text pipeline and record it. */
static qvk_status accept_token(generation_state *state, int32_t token, qvk_generation *out)
{
    char bytes[QVK_DETOKENIZER_MAX_OUTPUT];
    size_t length = 0;
    qvk_status status;

    out->ids[out->n_completion_tokens++] = token;
    if (state->reasoning.state == QVK_REASONING_STATE_REASONING)
        state->n_reasoning_tokens++;
    status = qvk_detokenizer_push(&state->detokenizer, token, bytes, sizeof(bytes), &length);
    return status == QVK_OK ? add_text(state, bytes, length) : status;
}

/* Close the think block once the reasoning budget is spent: the tokens of "\n</think>\n\n" are
 * output and evaluated as if the model had generated them, and the answer follows. */
static qvk_status close_reasoning(qvk_session *session, generation_state *state,
                                  const float **logits, qvk_generation *out)
{
    static const char closing[] = "\n</think>\n\n";
    int32_t *ids;
    size_t n_ids, n_fit;
    qvk_status status = qvk_tokenizer_encode(state->model->tokenizer, closing, strlen(closing),
                                             &ids, &n_ids);

    if (status != QVK_OK)
        return status;
    n_fit = (size_t)(state->options->max_tokens - out->n_completion_tokens);
    if (n_ids > n_fit)
        n_ids = n_fit;
    if ((size_t)(qvk_session_context_size(session) - qvk_session_position(session)) < n_ids) {
        free(ids);
        return QVK_ERR_CONTEXT_FULL; /* the caller ends the generation; no message needed */
    }
    for (size_t i = 0; i < n_ids && status == QVK_OK; i++)
        status = accept_token(state, ids[i], out);
    if (status == QVK_OK && n_ids > 0)
        status = qvk_session_eval(session, ids, (int32_t)n_ids, false, logits);
    free(ids);
    return status;
}

/* One token per step until a stop condition; sets out->finish_reason. */
static qvk_status decode_loop(qvk_session *session, generation_state *state, qvk_sampler *sampler,
                              const float *logits, qvk_generation *out)
{
    const qvk_model_config *config = &state->model->config;
    const qvk_generate_options *options = state->options;
    qvk_status status = QVK_OK;

    out->finish_reason = "length";
    while (out->n_completion_tokens < options->max_tokens) {
        int32_t token;

        if (options->reasoning_budget >= 0 && state->n_reasoning_tokens >= options->reasoning_budget &&
            state->reasoning.state == QVK_REASONING_STATE_REASONING) {
            status = close_reasoning(session, state, &logits, out);
            if (status == QVK_ERR_CONTEXT_FULL) {
                out->finish_reason = "context_full";
                return QVK_OK;
            }
            if (status != QVK_OK)
                return status;
            continue;
        }
        token = qvk_sampler_sample(sampler, logits);

        if (token < 0)
            return QVK_ERR_DEVICE; /* every logit was NaN or -inf; the sampler set the message */
        if (is_stop_id(config, token)) {
            out->finish_reason = "stop";
            break;
        }
        if ((status = accept_token(state, token, out)) != QVK_OK)
            return status;
        if (state->stop_found || state->stopped_by_callback) {
            out->finish_reason = "stop";
            break;
        }
        if (out->n_completion_tokens == options->max_tokens)
            break;
        if (qvk_session_position(session) == qvk_session_context_size(session)) {
            qvk_log_warn("the context of %d tokens is full; generation stopped after %d tokens",
                         qvk_session_context_size(session), out->n_completion_tokens);
            out->finish_reason = "context_full";
            break;
        }
        if ((status = qvk_session_eval(session, &token, 1, false, &logits)) != QVK_OK)
            return status;
    }
    return status;
}

qvk_status qvk_generate(qvk_session *session, const int32_t *prompt, int32_t n_prompt,
                        const qvk_generate_options *options, qvk_stream_callback callback,
                        void *user_data, qvk_generation *out)
{
    const qvk_model *model = qvk_session_model(session);
    generation_state state = { .model = model, .options = options, .callback = callback,
                               .user_data = user_data };
    qvk_sampler *sampler = NULL;
    int32_t *extended_prompt = NULL;
    const float *logits;
    double start = qvk_time_seconds();
    qvk_status status;

    memset(out, 0, sizeof(*out));
    if (!model->tokenizer)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "%s has no tokenizer.json, so text cannot be "
                         "generated", model->dir);
    if (n_prompt < 1 || options->max_tokens < 0)
        return qvk_error(QVK_ERR_INVALID_ARGUMENT, "generation needs a prompt of at least one "
                         "token and max_tokens >= 0");
    for (int32_t i = 0; i < options->n_stop; i++)
        if (strlen(options->stop[i]) > state.longest_stop)
            state.longest_stop = strlen(options->stop[i]);
    out->ids = malloc(((size_t)options->max_tokens + 1) * sizeof(int32_t));
    if (!out->ids)
        return qvk_error(QVK_ERR_OUT_OF_MEMORY, "out of memory for %d tokens", options->max_tokens);
    if ((status = sampler_for(options, model->config.vocab_size, &sampler)) != QVK_OK) {
        qvk_generation_free(out);
        return status;
    }
    qvk_detokenizer_init(&state.detokenizer, model->tokenizer);
    qvk_tool_call_parser_init(&state.tool_calls);

    if (options->open_reasoning && !prompt_opens_reasoning(model, prompt, n_prompt)) {
        status = append_text(model, "<think>\n", &prompt, &n_prompt, &extended_prompt);
        if (status != QVK_OK) {
            qvk_sampler_destroy(sampler);
            qvk_generation_free(out);
            return status;
        }
    }
    qvk_sampler_accept_prompt(sampler, prompt, (size_t)n_prompt);
    qvk_reasoning_parser_init(&state.reasoning, prompt_opens_reasoning(model, prompt, n_prompt));

    out->n_prompt_tokens = n_prompt;
    status = eval_prompt(session, options, prompt, n_prompt, &logits, &out->n_cached_tokens);
    out->prompt_seconds = qvk_time_seconds() - start;
    start = qvk_time_seconds();
    if (status == QVK_OK && options->max_tokens > 0)
        status = decode_loop(session, &state, sampler, logits, out);
    else if (status == QVK_OK)
        out->finish_reason = "length";
    if (status == QVK_OK)
        status = finish_text(&state, out);
    if (status == QVK_OK && state.tool_calls.n_calls > 0) {
        status = tool_calls_to_json(&state.tool_calls, &out->tool_calls_json);
        out->finish_reason = "tool_calls";
    }
    out->generation_seconds = qvk_time_seconds() - start;
    qvk_sampler_destroy(sampler);
    state_free(&state);
    free(extended_prompt);
    if (status != QVK_OK)
        qvk_generation_free(out);
    return status;
}

void qvk_generation_free(qvk_generation *generation)
{
    if (!generation)
        return;
    free(generation->reasoning_content);
    free(generation->content);
    free(generation->tool_calls_json);
    free(generation->ids);
    memset(generation, 0, sizeof(*generation));
}
