/* qwen3vk run: generate from a prompt or from token ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli/commands.h"
#include "cli/generation.h"

static int32_t argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

static void print_profile(const qvk_session *session, const cli_options *options)
{
    char report[8192];
    if (options->session.profile && qvk_session_profile_report(session, report, sizeof(report)))
        fprintf(stderr, "profile:\n%s", report);
}

/* --tokens with --temp 0: greedy continuation of the ids, printed as ids. */
int cli_run_tokens(const cli_options *options)
{
    qvk_model *model = cli_load_model(options);
    qvk_session *session;
    const float *logits;
    int32_t vocab, token;
    int ok = 1;

    if (!model)
        return 1;
    if (!(session = cli_create_session(model, options))) {
        qvk_model_destroy(model);
        return 1;
    }
    vocab = qvk_model_get_config(model)->vocab_size;
    if (qvk_session_eval(session, options->tokens, options->n_tokens, false, &logits) != QVK_OK)
        ok = 0;
    for (int32_t i = 0; ok && i < options->n_predict; i++) {
        token = argmax(logits, vocab);
        printf("%s%d", i ? "," : "", token);
        cli_flush_output();
        if (i + 1 < options->n_predict && qvk_session_eval(session, &token, 1, false, &logits) != QVK_OK)
            ok = 0;
    }
    printf("\n");
    if (!ok)
        fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
    print_profile(session, options);
    qvk_session_destroy(session);
    qvk_model_destroy(model);
    return ok ? 0 : 1;
}

/* Load the model (and a --template file) and open a session; NULL after printing an error. */
static qvk_session *open_model(const cli_options *options, qvk_model **model)
{
    qvk_session *session;

    if (!(*model = cli_load_model(options)))
        return NULL;
    if (options->template_path && qvk_model_load_chat_template(*model, options->template_path) != QVK_OK) {
        fprintf(stderr, "qwen3vk: error: %s\n", qvk_last_error());
        qvk_model_destroy(*model);
        return NULL;
    }
    if (!(session = cli_create_session(*model, options)))
        qvk_model_destroy(*model);
    return session;
}

int cli_run(const cli_options *options)
{
    qvk_model *model;
    qvk_session *session;
    qvk_generation generation;
    cJSON *messages;
    cJSON *request;
    int status;

    if (options->tokens && options->prompt) {
        fprintf(stderr, "qwen3vk run: give either --tokens or a prompt, not both\n");
        return 2;
    }
    if (options->tokens && options->text_generation_flag) {
        fprintf(stderr, "qwen3vk run: --%s does not apply to --tokens, which continues the ids "
                "greedily and prints ids; drop --%s\n", options->text_generation_flag,
                options->text_generation_flag);
        return 2;
    }
    if (options->tokens)
        return cli_run_tokens(options);
    if (!options->prompt) {
        fprintf(stderr, "qwen3vk run: missing the prompt; usage: qwen3vk run -m DIR \"prompt\"\n");
        return 2;
    }
    if (!cli_check_text("the prompt", options->prompt, strlen(options->prompt)))
        return 2;
    if (!(session = open_model(options, &model)))
        return 1;
    messages = cJSON_CreateArray();
    if (options->system_prompt)
        cli_add_message(messages, "system", options->system_prompt);
    cli_add_message(messages, "user", options->prompt);
    request = cli_chat_request(messages, options->thinking);
    status = cli_generate_reply(session, model, request, options, options->thinking,
                                &generation) == QVK_OK ? 0 : 1;
    if (status == 0)
        qvk_generation_free(&generation);
    print_profile(session, options);
    cJSON_Delete(request);
    cJSON_Delete(messages);
    qvk_session_destroy(session);
    qvk_model_destroy(model);
    return status;
}

/* A chat command: returns 1 if line was one (and handled), 0 otherwise, -1 for /exit. */
/* Whether line is the command name, allowing spaces and tabs after it. */
static bool is_command(const char *line, const char *name)
{
    size_t length = strlen(name);

    if (strncmp(line, name, length) != 0)
        return false;
    return line[length + strspn(line + length, " \t")] == '\0';
}

static int chat_command(const char *line, cJSON **messages, int *thinking,
                        const cli_options *options)
{
    if (is_command(line, "/exit") || is_command(line, "/bye"))
        return -1;
    if (is_command(line, "/think") || is_command(line, "/no_think")) {
        *thinking = line[1] == 't';
        fprintf(stderr, "thinking %s\n", *thinking ? "on" : "off");
        return 1;
    }
    if (is_command(line, "/reset")) {
        cJSON_Delete(*messages);
        *messages = cJSON_CreateArray();
        if (options->system_prompt)
            cli_add_message(*messages, "system", options->system_prompt);
        fprintf(stderr, "history cleared\n");
        return 1;
    }
    if (line[0] == '/' && line[1] != '/') {
        fprintf(stderr, "unknown command %s; commands: /think, /no_think, /reset, /exit; start a "
                "message with // to send one that begins with /\n", line);
        return 1;
    }
    return 0;
}

/* Append the reply to the history; the template drops the reasoning of earlier turns itself. */
static void add_reply(cJSON *messages, const qvk_generation *generation)
{
    cJSON *message = cJSON_CreateObject();
    cJSON_AddStringToObject(message, "role", "assistant");
    cJSON_AddStringToObject(message, "content", generation->content);
    if (generation->reasoning_content[0])
        cJSON_AddStringToObject(message, "reasoning_content", generation->reasoning_content);
    if (generation->tool_calls_json)
        cJSON_AddItemToObject(message, "tool_calls", cJSON_Parse(generation->tool_calls_json));
    cJSON_AddItemToArray(messages, message);
}

/* Read one line of stdin without its line break into *line; returns its length, or -1 at the
 * end of the input. */
static ssize_t read_line(char **line, size_t *capacity)
{
    ssize_t length = getline(line, capacity, stdin);

    while (length > 0 && ((*line)[length - 1] == '\n' || (*line)[length - 1] == '\r'))
        (*line)[--length] = '\0';
    return length;
}

int cli_chat(const cli_options *options)
{
    qvk_model *model;
    qvk_session *session = open_model(options, &model);
    cJSON *messages = cJSON_CreateArray();
    int thinking = options->thinking;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;

    if (!session) {
        cJSON_Delete(messages);
        return 1;
    }
    if (options->system_prompt)
        cli_add_message(messages, "system", options->system_prompt);
    fprintf(stderr, "chat with %s; /think, /no_think, /reset, /exit (or /bye); Ctrl-C stops a "
            "reply\n", options->model_dir);
    for (;;) {
        qvk_generation generation;
        cJSON *request;
        qvk_status status;
        bool earlier_turns;
        int command;

        fprintf(stderr, ">>> ");
        if ((length = read_line(&line, &capacity)) < 0) {
            fprintf(stderr, "\n"); /* end the prompt line at the end of the input */
            break;
        }
        if (length == 0 || !cli_check_text("the message", line, (size_t)length))
            continue;
        if ((command = chat_command(line, &messages, &thinking, options)) != 0) {
            if (command < 0)
                break;
            continue;
        }
        /* "//text" sends "/text". */
        earlier_turns = cJSON_GetArraySize(messages) > (options->system_prompt ? 1 : 0);
        cli_add_message(messages, "user", line[0] == '/' ? line + 1 : line);
        request = cli_chat_request(messages, thinking);
        status = cli_generate_reply(session, model, request, options, thinking, &generation);
        if (status == QVK_OK) {
            if (strcmp(generation.finish_reason, "context_full") == 0)
                status = QVK_ERR_CONTEXT_FULL;
            add_reply(messages, &generation);
            qvk_generation_free(&generation);
        } else {
            cJSON_DeleteItemFromArray(messages, cJSON_GetArraySize(messages) - 1);
        }
        /* Every later turn re-sends the whole history, so only /reset makes room again, unless
         * the message alone is too long. */
        if (status == QVK_ERR_CONTEXT_FULL && earlier_turns)
            fprintf(stderr, "the chat history fills the context; /reset clears it\n");
        cJSON_Delete(request);
    }
    free(line);
    print_profile(session, options);
    cJSON_Delete(messages);
    qvk_session_destroy(session);
    qvk_model_destroy(model);
    return 0;
}
