/* Jinja2 templates, interpreted: the chat templates of Hugging Face tokenizer_config.json files.
 *
 * Rendering matches Jinja2 3.1 as Hugging Face's apply_chat_template configures it: an
 * ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and the loopcontrols extension,
 * the default Undefined, and a tojson filter that is json.dumps(x, ensure_ascii=False) (so
 * non-ASCII characters stay unescaped, keys keep their order, separators are ", " and ": ").
 *
 * Supported: {{ }}, {% %}, {# #}, whitespace control (- and +), raw blocks; if/elif/else,
 * for (loop variables, else, filtering if, tuple targets), break/continue, set (names, tuples,
 * namespace attributes, block form), macro with defaults/varargs/kwargs, call blocks, filter
 * blocks, with, print, generation; Python literals, operators, slicing, conditional
 * expressions; the filters, tests, string/dict/list methods and global functions (range,
 * namespace, dict, raise_exception, strftime_now) listed in jinja_filters.c, jinja_tests.c,
 * jinja_methods.c and jinja_functions.c.
 *
 * Not supported (a clear error names the construct and line): template inheritance and
 * inclusion (extends, block, include, import), recursive loops, autoescape, printf-style "%"
 * formatting, the format filter, and filters, tests and methods outside those lists.
 * Identifiers are ASCII. Integers are 64-bit (overflow is an error). Filters that return
 * generators in Jinja2 (map, select, items, ...) and range() return lists, so printing one
 * directly shows a list where Jinja2 shows a generator or range object. String case mapping is
 * Unicode's simple per-character mapping (Python uses the full one, e.g. "ß".upper() is "SS").
 *
 * Limits, which are errors rather than crashes: 256 MiB per string and output, and 200 levels
 * of nesting in the source. Evaluation allows 400 levels of expressions and macro calls, 100
 * nested macro calls, ranges of 100000 items (as Jinja2's sandbox does), and 10 million
 * statements and loop iterations per render.
 */
#ifndef QWEN3VK_TEXT_TEMPLATE_H
#define QWEN3VK_TEXT_TEMPLATE_H

#include <cjson/cJSON.h>

#include "qwen3vk.h"

typedef struct qvk_template qvk_template;

/* Parse Jinja source. name prefixes error messages, e.g. "chat template line 12: unsupported
 * filter \"wordwrap\"". Syntax errors are QVK_ERR_FORMAT; constructs the interpreter lacks are
 * QVK_ERR_UNSUPPORTED. */
qvk_status qvk_template_parse(const char *source, const char *name, qvk_template **out);
void qvk_template_destroy(qvk_template *template_);

/* Render with each member of the JSON object context as a variable (absent ones are
 * undefined). *text is malloc'ed and NUL-terminated. Errors the template raises (undefined
 * values used in operations, type errors, raise_exception) are QVK_ERR_INVALID_ARGUMENT with
 * the line. A construct found unsupported at run time, such as a string method, is
 * QVK_ERR_UNSUPPORTED. The template may be rendered from several threads at once. */
qvk_status qvk_template_render(const qvk_template *template_, const cJSON *context, char **text);

#endif
