/* Tests of the Jinja interpreter (template.h) and the chat-template layer (chat_template.h).
 *
 * The expected texts of the interpreter cases and of the Qwen3-2507-style template were
 * rendered by Jinja2 3.1.6 with Hugging Face's settings (ImmutableSandboxedEnvironment,
 * trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False)). The
 * Qwen3 cases come from tests/data/chat_template_cases.jsonl. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "test.h"
#include "text/chat_template.h"
#include "text/template.h"

/* Render source with the JSON object context; returns the text or NULL (status in *status). */
static char *render(const char *source, const char *context_json, qvk_status *status)
{
    qvk_template *template_;
    cJSON *context = cJSON_Parse(context_json);
    char *text = NULL;

    *status = qvk_template_parse(source, "chat template", &template_);
    if (*status == QVK_OK) {
        *status = qvk_template_render(template_, context, &text);
        qvk_template_destroy(template_);
    }
    cJSON_Delete(context);
    return text;
}

static bool contains(const char *text, const char *part)
{
    return text && strstr(text, part) != NULL;
}

/* ---- Interpreter cases ----------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *source;
    const char *context;
    const char *expected;
} cases[] = {
    {
        "trim_blocks_drops_newline",
        "{% if true %}\nyes\n{% endif %}\nend",
        "{}",
        "yes\nend",
    },
    {
        "lstrip_blocks_drops_indent",
        "a\n    {% if true %}\n    b\n    {% endif %}\nc",
        "{}",
        "a\n    b\nc",
    },
    {
        "minus_strips_whitespace",
        "a  \n  {{- 'b' -}}  \n  c",
        "{}",
        "abc",
    },
    {
        "plus_keeps_indent",
        "a\n  {%+ if true %}b{% endif %}\n",
        "{}",
        "a\n  b",
    },
    {
        "variable_not_lstripped",
        "a\n  {{ 'b' }}\n  c",
        "{}",
        "a\n  b\n  c",
    },
    {
        "comment_trimmed",
        "a\n  {# note #}\nb",
        "{}",
        "a\nb",
    },
    {
        "trailing_newline_dropped",
        "x\n",
        "{}",
        "x",
    },
    {
        "raw_block",
        "{% raw %}{{ x }}{% endraw %}",
        "{}",
        "{{ x }}",
    },
    {
        "crlf_normalized",
        "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n",
        "{}",
        "a\nb\n",
    },
    {
        "loop_variables",
        "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}",
        "{}",
        "1032TrueFalse3b;2121FalseFalse3ac;3210FalseTrue3b;",
    },
    {
        "loop_filter_and_else",
        "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}",
        "{}",
        "2/2 4/2 |empty",
    },
    {
        "loop_break_continue_scope",
        "{% set x = 'outer' %}{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
        "{}",
        "02outer",
    },
    {
        "loop_tuple_unpacking",
        "{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
        "{\"d\": {\"b\": 2, \"a\": 1}}",
        "a=1;b=2;37",
    },
    {
        "loop_cycle",
        "{% for x in range(5) %}{{ loop.cycle('o', 'e') }}{% endfor %}",
        "{}",
        "oeoeo",
    },
    {
        "namespace_carries_values",
        "{% set ns = namespace(count=0, last=none) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.last = m.role %}{% endfor %}{{ ns.count }} {{ ns.last }}",
        "{\"messages\": [{\"role\": \"system\"}, {\"role\": \"user\"}]}",
        "2 user",
    },
    {
        "slicing",
        "{{ items[::-1] }} {{ items[1:] }} {{ items[-1] }} {{ items[:-1] }} {{ items[::2] }} {{ text[::-1] }} {{ text[1:4] }} {{ text[-2:] }} {{ items[10] is defined }}",
        "{\"items\": [1, 2, 3], \"text\": \"héllo\"}",
        "[3, 2, 1] [2, 3] 3 [1, 2] [1, 3] olléh éll lo False",
    },
    {
        "tojson_default",
        "{{ data|tojson }}",
        "{\"data\": {\"b\": \"日本語\", \"a\": [1, 2.5, true, null], \"q\": \"say \\\"hi\\\"\\n\\t\\\\\"}}",
        "{\"b\": \"日本語\", \"a\": [1, 2.5, true, null], \"q\": \"say \\\"hi\\\"\\n\\t\\\\\"}",
    },
    {
        "tojson_indent",
        "{{ data|tojson(indent=2) }}",
        "{\"data\": {\"name\": \"f\", \"args\": [1, {}], \"empty\": []}}",
        "{\n  \"name\": \"f\",\n  \"args\": [\n    1,\n    {}\n  ],\n  \"empty\": []\n}",
    },
    {
        "tojson_options",
        "{{ data|tojson(ensure_ascii=true, sort_keys=true) }} {{ [1, 2]|tojson(separators=(',', ':')) }}",
        "{\"data\": {\"z\": \"é😀\", \"a\": 1}}",
        "{\"a\": 1, \"z\": \"\\u00e9\\ud83d\\ude00\"} [1,2]",
    },
    {
        "undefined_behaves_like_jinja",
        "[{{ missing }}]{{ missing is defined }}{{ missing|default('d') }}{{ obj.nope is defined }}{{ missing|length }}{% for x in missing %}x{% endfor %}{{ 'a' ~ missing ~ 'b' }}{{ not missing }}{{ missing == missing }}{{ obj['nope']|default('n') }}",
        "{\"obj\": {}}",
        "[]FalsedFalse0abTrueTruen",
    },
    {
        "macro_arguments",
        "{% macro tag(name, value='none') %}<{{ name }}={{ value }}>{% endmacro %}{{ tag('a') }}{{ tag('b', 1) }}{{ tag(value=2, name='c') }}",
        "{}",
        "<a=none><b=1><c=2>",
    },
    {
        "macro_caller",
        "{% macro wrap(t) %}[{{ t }}:{{ caller() }}]{% endmacro %}{% call wrap('x') %}inner{% endcall %}",
        "{}",
        "[x:inner]",
    },
    {
        "macro_varargs_kwargs",
        "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
        "{}",
        "1(2,){'k': 3}",
    },
    {
        "python_value_printing",
        "{{ true }} {{ none }} {{ 3 }} {{ 2.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-7 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 % 3 }} {{ [1, 'a', none, \"it's\"] }} {{ {'k': 'v'} }} {{ ('t',) }}",
        "{}",
        "True None 3 2.0 0.30000000000000004 1e+20 1e-07 3.5 3 2 [1, 'a', None, \"it's\"] {'k': 'v'} ('t',)",
    },
    {
        "operators",
        "{{ 'a' in 'abc' }} {{ 2 not in [1] }} {{ 1 < 2 < 3 }} {{ 'x' if false else 'y' }} {{ none or 'z' }} {{ 'ab' * 2 }} {{ 'a' ~ 1 }} {{ 2 ** 10 }} {{ [1] + [2] }} {{ 1 == 1.0 }} {{ -2|abs }} {{ not 1 == 2 }}",
        "{}",
        "True True True y z abab a1 1024 [1, 2] True 2 True",
    },
    {
        "filters",
        "{{ '  x '|trim }}|{{ ['b', 'A', 'c']|sort|join(',') }}|{{ users|selectattr('admin')|map(attribute='name')|join(',') }}|{{ users|rejectattr('admin')|map(attribute='name')|list }}|{{ 'hello big-world'|title }}|{{ 'x'|upper }}|{{ [3, 1, 3]|unique|list }}|{{ '5'|int + 1 }}|{{ 2.567|round(1) }}|{{ 'abc'|replace('b', 'B') }}|{{ [1, 2]|first }}{{ [1, 2]|last }}|{{ {'a': 1}|items|list }}|{{ [1, 2]|reverse|list }}|{{ 5|float }}|{{ 'aBc'|capitalize }}|{{ users|length }}|{{ 'x'|safe }}|{{ [1, 2, 3]|sum }}|{{ users|map(attribute='name')|max }}",
        "{\"users\": [{\"name\": \"ann\", \"admin\": true}, {\"name\": \"bob\", \"admin\": false}, {\"name\": \"cy\", \"admin\": true}]}",
        "x|A,b,c|ann,cy|['bob']|Hello Big-World|X|[3, 1]|6|2.6|aBc|12|[('a', 1)]|[2, 1]|5.0|Abc|3|x|6|cy",
    },
    {
        "string_methods",
        "{{ s.startswith('He') }} {{ s.endswith('!') }} {{ s.split(' ') }} {{ s.rsplit('o', 1) }} {{ s.strip('!') }} {{ s.lstrip('H') }} {{ s.rstrip('!') }} {{ s.replace('l', 'L') }} {{ s.lower() }} {{ s.upper() }} {{ s.find('o') }} {{ s.count('l') }} {{ '  a  b '.split() }} {{ 'x'.join(['1', '2']) }}",
        "{\"s\": \"Hello world!\"}",
        "True True ['Hello', 'world!'] ['Hello w', 'rld!'] Hello world ello world! Hello world HeLLo worLd! hello world! HELLO WORLD! 4 3 ['a', 'b'] 1x2",
    },
    {
        "dict_methods",
        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.keys()|list }}{{ d.values()|list }}{{ d.get('a') }}{{ d.get('z', 0) }}{{ d.get('z') }}{{ d['a'] }}{{ d.a }}",
        "{\"d\": {\"a\": 1, \"b\": [2]}}",
        "a=1;b=[2];['a', 'b'][1, [2]]10None11",
    },
    {
        "attribute_vs_item_lookup",
        "{{ schema.type }} {{ schema['items'].type }} {{ schema.items is callable }}",
        "{\"schema\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}",
        "array string True",
    },
    {
        "set_block_and_filter_block",
        "{% set greeting | upper %}hi {{ name }}{% endset %}{{ greeting }}|{% filter trim %}  padded  {% endfilter %}|{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}",
        "{\"name\": \"ann\"}",
        "HI ANN|padded|3",
    },
    {
        "string_escapes",
        "{{ 'tab\\there' }}|{{ \"quote\\\"d\" }}|{{ '\\u00e9\\x41' }}|{{ 'a' 'b' }}",
        "{}",
        "tab\there|quote\"d|éA|ab",
    },
};

static void test_interpreter_cases(void)
{
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qvk_status status;
        char *text = render(cases[i].source, cases[i].context, &status);

        test_current = cases[i].name;
        CHECK_INT_EQ(status, QVK_OK);
        if (status != QVK_OK)
            fprintf(stderr, "  %s: %s\n", cases[i].name, qvk_last_error());
        CHECK_STR_EQ(text, cases[i].expected);
        free(text);
    }
}

/* ---- Errors ---------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *source;
    qvk_status status;
    const char *message; /* a part of qvk_last_error() */
} errors[] = {
    { "syntax_error", "line one\n{{ 1 + }}", QVK_ERR_FORMAT,
      "chat template line 2: unexpected '}}', expected an expression" },
    { "unsupported_filter", "a\n\n{{ x|wordwrap }}", QVK_ERR_UNSUPPORTED,
      "chat template line 3: unsupported filter \"wordwrap\"" },
    { "unknown_filter", "{{ x|frobnicate }}", QVK_ERR_FORMAT,
      "chat template line 1: unknown filter \"frobnicate\"" },
    { "unknown_test", "{{ x is escaped_html }}", QVK_ERR_FORMAT,
      "unknown test \"escaped_html\"" },
    { "unknown_tag", "\n{% frobnicate %}", QVK_ERR_FORMAT,
      "chat template line 2: unknown tag \"frobnicate\"" },
    { "unsupported_tag", "{% include 'other.jinja' %}", QVK_ERR_UNSUPPORTED,
      "chat template line 1: unsupported tag \"include\"" },
    { "raise_exception", "ok\n{{ raise_exception('Roles must alternate') }}", QVK_ERR_INVALID_ARGUMENT,
      "chat template line 2: raise_exception: Roles must alternate" },
    { "unterminated_block", "{% for m in messages %}\n{{ m }}\n", QVK_ERR_FORMAT,
      "the \"for\" block from line 1 is not closed (expected \"endfor\" or \"else\")" },
    { "unterminated_tag", "{{ messages", QVK_ERR_FORMAT, "expected '}}', found end of template" },
    { "unterminated_string", "{{ 'abc }}", QVK_ERR_FORMAT, "unterminated string literal" },
    { "unterminated_comment", "a {# note", QVK_ERR_FORMAT, "missing end of comment" },
    { "stray_end_tag", "{% if x %}a{% endfor %}", QVK_ERR_FORMAT,
      "unexpected tag \"endfor\": the \"if\" block from line 1 must be closed first" },
    { "unsupported_method", "{{ 'x'.zfill(3) }}", QVK_ERR_UNSUPPORTED,
      "unsupported method \"zfill\" of str" },
    { "undefined_attribute", "{{ missing.content }}", QVK_ERR_INVALID_ARGUMENT,
      "'missing' is undefined" },
    { "type_error", "{{ 'a' + 1 }}", QVK_ERR_INVALID_ARGUMENT,
      "can only concatenate str (not \"int\") to str" },
    { "modifying_method", "{{ [].append(1) }}", QVK_ERR_INVALID_ARGUMENT,
      "access to attribute 'append' of 'list' object is unsafe" },
    { "macro_recursion", "{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}", QVK_ERR_INVALID_ARGUMENT,
      "macro calls nested more than" },
    { "break_outside_loop", "{% break %}", QVK_ERR_FORMAT, "\"break\" outside of a for loop" },
    { "huge_range", "{{ range(1000000)|length }}", QVK_ERR_INVALID_ARGUMENT, "range too big" },
    { "invalid_utf8", "ab\xff", QVK_ERR_FORMAT, "invalid UTF-8" },
};

static void test_errors(void)
{
    size_t i;

    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        qvk_status status;
        char *text = render(errors[i].source, "{\"messages\": []}", &status);

        test_current = errors[i].name;
        CHECK_INT_EQ(status, errors[i].status);
        CHECK(text == NULL);
        CHECK(contains(qvk_last_error(), errors[i].message));
        if (!contains(qvk_last_error(), errors[i].message))
            fprintf(stderr, "  message: %s\n", qvk_last_error());
        free(text);
    }
}

/* Broken and hostile templates end in an error or a text, never in a crash (the suite runs
 * under AddressSanitizer and UndefinedBehaviorSanitizer). */
static void test_no_crash_on_bad_input(void)
{
    static const char *const sources[] = {
        "{", "{{", "{%", "{#", "}}", "%}", "{{}}", "{%%}", "{% %}", "{{ - }}", "{{ ((((( }}",
        "{% for %}", "{% for x in %}", "{% if %}{% elif %}", "{% set %}", "{% set x %}",
        "{% macro %}", "{% macro m( %}", "{% call %}", "{% filter %}", "{% endraw %}",
        "{% raw %}", "{{ x[::0] }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}", "{{ 9223372036854775807 + 1 }}",
        "{{ -(-9223372036854775807 - 1) }}", "{{ 'a' * 10000000000 }}", "{{ [1] * 10000000000 }}",
        "{{ x.y.z }}", "{{ none.x }}", "{{ none() }}", "{{ 1() }}", "{{ {}['a']['b'] }}",
        "{% set ns = namespace() %}{% set ns.self = [ns] %}{{ ns }}{{ ns|tojson }}",
        "{{ (((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))) }}",
        "{{ 'x'|indent(width='\xff') }}", "{{ '\\u00' }}", "{{ '\\xZZ' }}", "{{ 0x }}", "{{ 1e }}",
        "{{ loop.index }}", "{% for x in 5 %}{% endfor %}", "{{ messages|tojson(indent=-3) }}",
        "{% for a, b in [1] %}{% endfor %}", "{{ 'abc'[10:-10:-1] }}", "{{ range(1, 10, -1)|list }}",
    };
    size_t i;

    for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        qvk_status status;
        char *text = render(sources[i], "{\"messages\": [{\"role\": \"user\"}]}", &status);

        CHECK((status == QVK_OK) == (text != NULL));
        free(text);
    }
}

/* ---- Chat templates -------------------------------------------------------------------------- */

static qvk_chat_template *load_qwen3(void)
{
    char path[4096];
    qvk_chat_template *chat_template = NULL;

    snprintf(path, sizeof(path), "%s/qwen3-tiny/tokenizer_config.json", test_data_dir());
    if (qvk_chat_template_load(path, &chat_template) != QVK_OK)
        fprintf(stderr, "%s\n", qvk_last_error());
    return chat_template;
}

/* Build the request of one line of chat_template_cases.jsonl. A case without enable_thinking
 * leaves it out, so the template finds it undefined. */
static cJSON *case_request(const cJSON *line)
{
    static const char *const members[] = { "messages", "tools", "add_generation_prompt", "enable_thinking" };
    cJSON *request = cJSON_CreateObject();
    size_t i;

    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(line, members[i]);

        if (item)
            cJSON_AddItemToObject(request, members[i], cJSON_Duplicate(item, true));
    }
    return request;
}

static void test_qwen3_chat_cases(void)
{
    qvk_chat_template *chat_template = load_qwen3();
    char path[4096], *data, *line, *save = NULL;
    int n_cases = 0, n_passed = 0;

    CHECK(chat_template != NULL);
    snprintf(path, sizeof(path), "%s/chat_template_cases.jsonl", test_data_dir());
    CHECK_INT_EQ(qvk_file_read(path, &data, NULL), QVK_OK);
    if (!chat_template || !data)
        return;
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *json = cJSON_Parse(line), *request = case_request(json);
        const cJSON *expected = cJSON_GetObjectItemCaseSensitive(json, "text");
        char *text = NULL;

        n_cases++;
        if (qvk_chat_template_render(chat_template, request, &text) == QVK_OK &&
            cJSON_IsString(expected) && strcmp(text, expected->valuestring) == 0)
            n_passed++;
        else
            fprintf(stderr, "  case %d (%s) differs: %s\n", n_cases,
                    cJSON_GetObjectItemCaseSensitive(json, "name")->valuestring,
                    text ? text : qvk_last_error());
        free(text);
        cJSON_Delete(request);
        cJSON_Delete(json);
    }
    printf("qwen3 chat template cases: %d of %d identical\n", n_passed, n_cases);
    CHECK_INT_EQ(n_cases, 36);
    CHECK_INT_EQ(n_passed, n_cases);
    free(data);
    qvk_chat_template_destroy(chat_template);
}

static char *render_chat(const qvk_chat_template *chat_template, const char *request_json)
{
    cJSON *request = cJSON_Parse(request_json);
    char *text = NULL;

    if (qvk_chat_template_render(chat_template, request, &text) != QVK_OK)
        fprintf(stderr, "  %s\n", qvk_last_error());
    cJSON_Delete(request);
    return text;
}

/* enable_thinking reaches the template from chat_template_kwargs or the top level. */
static void test_chat_enable_thinking_sources(void)
{
    qvk_chat_template *chat_template = load_qwen3();
    const char *no_thinking = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    const char *thinking = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
    char *text;

    if (!chat_template)
        return;
    text = render_chat(chat_template, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                                      "\"add_generation_prompt\": true, "
                                      "\"chat_template_kwargs\": {\"enable_thinking\": false}}");
    CHECK_STR_EQ(text, no_thinking);
    free(text);
    text = render_chat(chat_template, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                                      "\"add_generation_prompt\": true, \"enable_thinking\": false}");
    CHECK_STR_EQ(text, no_thinking);
    free(text);
    text = render_chat(chat_template, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                                      "\"add_generation_prompt\": true, \"enable_thinking\": false, "
                                      "\"chat_template_kwargs\": {\"enable_thinking\": true}}");
    CHECK_STR_EQ(text, thinking);
    free(text);
    qvk_chat_template_destroy(chat_template);
}

static void test_chat_request_errors(void)
{
    qvk_chat_template *chat_template;
    cJSON *request;
    char *text = NULL;

    CHECK_INT_EQ(qvk_chat_template_parse("{{ messages[0].content }}", &chat_template), QVK_OK);
    request = cJSON_Parse("{\"message\": []}");
    CHECK_INT_EQ(qvk_chat_template_render(chat_template, request, &text), QVK_ERR_INVALID_ARGUMENT);
    CHECK(contains(qvk_last_error(), "\"messages\" must be an array"));
    cJSON_Delete(request);
    request = cJSON_Parse("{\"messages\": [], \"tools\": 3}");
    CHECK_INT_EQ(qvk_chat_template_render(chat_template, request, &text), QVK_ERR_INVALID_ARGUMENT);
    CHECK(contains(qvk_last_error(), "\"tools\" must be an array or null"));
    cJSON_Delete(request);
    request = cJSON_Parse("{\"messages\": []}");
    CHECK_INT_EQ(qvk_chat_template_render(chat_template, request, &text), QVK_ERR_INVALID_ARGUMENT);
    CHECK(contains(qvk_last_error(), "chat template line 1: 'list object' has no element 0"));
    CHECK(text == NULL);
    cJSON_Delete(request);
    qvk_chat_template_destroy(chat_template);
}

/* A template written like Qwen3-2507's: no enable_thinking logic, reasoning taken from
 * reasoning_content or cut out of the content at </think>, and a generation prompt that opens
 * <think>. */
static const char qwen3_2507_style_template[] =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0].role == 'system' %}\n"
    "        {{- messages[0].content + '\\n\\n' }}\n"
    "    {%- endif %}\n"
    "    {{- \"# Tools\\n\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0].role == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "    {%- set index = (messages|length - 1) - loop.index0 %}\n"
    "    {%- if ns.multi_step_tool and message.role == \"user\" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}\n"
    "        {%- set ns.multi_step_tool = false %}\n"
    "        {%- set ns.last_query_index = index %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message.content is string %}\n"
    "        {%- set content = message.content %}\n"
    "    {%- else %}\n"
    "        {%- set content = '' %}\n"
    "    {%- endif %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {%- set reasoning_content = '' %}\n"
    "        {%- if message.reasoning_content is string %}\n"
    "            {%- set reasoning_content = message.reasoning_content %}\n"
    "        {%- else %}\n"
    "            {%- if '</think>' in content %}\n"
    "                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
    "                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
    "            {%- endif %}\n"
    "        {%- endif %}\n"
    "        {%- if loop.index0 > ns.last_query_index %}\n"
    "            {%- if loop.last or (not loop.last and reasoning_content) %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
    "            {%- else %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "            {%- endif %}\n"
    "        {%- else %}\n"
    "            {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "        {%- endif %}\n"
    "        {%- if message.tool_calls %}\n"
    "            {%- for tool_call in message.tool_calls %}\n"
    "                {%- if (loop.first and content) or (not loop.first) %}\n"
    "                    {{- '\\n' }}\n"
    "                {%- endif %}\n"
    "                {%- if tool_call.function %}\n"
    "                    {%- set tool_call = tool_call.function %}\n"
    "                {%- endif %}\n"
    "                {{- '<tool_call>\\n{\"name\": \"' }}\n"
    "                {{- tool_call.name }}\n"
    "                {{- '\", \"arguments\": ' }}\n"
    "                {%- if tool_call.arguments is string %}\n"
    "                    {{- tool_call.arguments }}\n"
    "                {%- else %}\n"
    "                    {{- tool_call.arguments | tojson }}\n"
    "                {%- endif %}\n"
    "                {{- '}\\n</tool_call>' }}\n"
    "            {%- endfor %}\n"
    "        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if loop.first or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n<think>\\n' }}\n"
    "{%- endif %}\n";

static const char qwen3_2507_style_request[] =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"You are terse.\"},"
    "{\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
    "{\"role\": \"assistant\", \"content\": \"<think>\\nCall the tool.\\n</think>\\n\\n\","
    " \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\","
    " \"arguments\": {\"city\": \"Paris\"}}}]},"
    "{\"role\": \"tool\", \"content\": \"{\\\"temp\\\": 21}\"},"
    "{\"role\": \"assistant\", \"content\": \"It is 21 °C.\", \"reasoning_content\": \"The tool said 21.\"},"
    "{\"role\": \"user\", \"content\": \"Thanks! And Oslo?\"},"
    "{\"role\": \"assistant\", \"content\": \"<think>\\nLook up Oslo.\\n</think>\\n\\nChecking.\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\","
    " \"description\": \"Weather for a city\", \"parameters\": {\"type\": \"object\","
    " \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}],"
    " \"add_generation_prompt\": true, \"chat_template_kwargs\": {\"enable_thinking\": false}}";

static const char qwen3_2507_style_expected[] =
    "<|im_start|>system\n"
    "You are terse.\n"
    "\n"
    "# Tools\n"
    "\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather for a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n"
    "</tools><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21}\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>assistant\n"
    "It is 21 °C.<|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks! And Oslo?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<think>\n"
    "Look up Oslo.\n"
    "</think>\n"
    "\n"
    "Checking.<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<think>\n";

static void test_qwen3_2507_style_template(void)
{
    qvk_chat_template *chat_template;
    char *text;

    CHECK_INT_EQ(qvk_chat_template_parse(qwen3_2507_style_template, &chat_template), QVK_OK);
    if (!chat_template)
        return;
    text = render_chat(chat_template, qwen3_2507_style_request);
    CHECK_STR_EQ(text, qwen3_2507_style_expected);
    free(text);
    qvk_chat_template_destroy(chat_template);
}

/* ---- Loading tokenizer_config.json ------------------------------------------------------------ */

static bool write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");

    if (!file)
        return false;
    fputs(text, file);
    return fclose(file) == 0;
}

/* A list of named templates ("default" and "tool_use") and special tokens given as AddedToken
 * objects; then a config without chat_template next to a chat_template.jinja file. */
static void test_chat_template_load_variants(void)
{
    char dir[] = "/tmp/qwen3vk_template_XXXXXX", config[256], jinja[256];
    qvk_chat_template *chat_template = NULL;
    char *text;

    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp failed");
        return;
    }
    snprintf(config, sizeof(config), "%s/tokenizer_config.json", dir);
    snprintf(jinja, sizeof(jinja), "%s/chat_template.jinja", dir);
    CHECK(write_file(config,
                     "{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": \"</s>\","
                     " \"chat_template\": [{\"name\": \"default\", \"template\": \"{{ bos_token }}D{{ eos_token }}\"},"
                     " {\"name\": \"tool_use\", \"template\": \"{{ bos_token }}T{{ tools|length }}\"}]}"));
    CHECK_INT_EQ(qvk_chat_template_load(config, &chat_template), QVK_OK);
    if (chat_template) {
        text = render_chat(chat_template, "{\"messages\": []}");
        CHECK_STR_EQ(text, "<s>D</s>");
        free(text);
        text = render_chat(chat_template, "{\"messages\": [], \"tools\": [{}, {}]}");
        CHECK_STR_EQ(text, "<s>T2");
        free(text);
        qvk_chat_template_destroy(chat_template);
    }

    CHECK(write_file(config, "{\"eos_token\": \"<|im_end|>\"}"));
    CHECK(write_file(jinja, "{{ messages|length }} {{ eos_token }} {{ bos_token is defined }}\n"));
    CHECK_INT_EQ(qvk_chat_template_load(config, &chat_template), QVK_OK);
    if (chat_template) {
        text = render_chat(chat_template, "{\"messages\": [{}, {}]}");
        CHECK_STR_EQ(text, "2 <|im_end|> False");
        free(text);
        qvk_chat_template_destroy(chat_template);
    }

    unlink(jinja);
    CHECK(qvk_chat_template_load(config, &chat_template) == QVK_ERR_IO);
    CHECK(contains(qvk_last_error(), "has no \"chat_template\""));
    CHECK(write_file(config, "{\"chat_template\": \"{% if %}\"}"));
    CHECK(qvk_chat_template_load(config, &chat_template) == QVK_ERR_FORMAT);
    CHECK(contains(qvk_last_error(), "chat template line 1: expected an expression"));
    unlink(config);
    rmdir(dir);
}

/* ---- Threads --------------------------------------------------------------------------------- */

typedef struct render_job {
    const qvk_chat_template *chat_template;
    int mismatches;
} render_job;

static void *render_repeatedly(void *argument)
{
    render_job *job = argument;
    int i;

    for (i = 0; i < 50; i++) {
        char *text = render_chat(job->chat_template, qwen3_2507_style_request);

        job->mismatches += !text || strcmp(text, qwen3_2507_style_expected) != 0;
        free(text);
    }
    return NULL;
}

/* One parsed template renders from several threads at once. */
static void test_concurrent_renders(void)
{
    qvk_chat_template *chat_template;
    render_job jobs[4];
    pthread_t threads[4];
    int i;

    CHECK_INT_EQ(qvk_chat_template_parse(qwen3_2507_style_template, &chat_template), QVK_OK);
    if (!chat_template)
        return;
    for (i = 0; i < 4; i++) {
        jobs[i] = (render_job){ chat_template, 0 };
        CHECK_INT_EQ(pthread_create(&threads[i], NULL, render_repeatedly, &jobs[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT_EQ(jobs[i].mismatches, 0);
    }
    qvk_chat_template_destroy(chat_template);
}

int main(void)
{
    RUN_TEST(test_interpreter_cases);
    RUN_TEST(test_errors);
    RUN_TEST(test_no_crash_on_bad_input);
    RUN_TEST(test_qwen3_chat_cases);
    RUN_TEST(test_chat_enable_thinking_sources);
    RUN_TEST(test_chat_request_errors);
    RUN_TEST(test_qwen3_2507_style_template);
    RUN_TEST(test_chat_template_load_variants);
    RUN_TEST(test_concurrent_renders);
    return test_finish();
}
