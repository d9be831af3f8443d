/* Private to src/text: the Jinja interpreter behind template.h. The value model, the token and
 * syntax-tree types, and the functions that the lexer (jinja_lexer.c), parser
 * (jinja_parse_*.c), value model (jinja_value.c, jinja_format.c, jinja_strings.c) and
 * evaluator (jinja_eval.c, jinja_access.c, jinja_operators.c, jinja_exec.c, jinja_filters*.c,
 * jinja_tests.c, jinja_methods.c, jinja_functions.c) share.
 *
 * Values follow Python semantics because Jinja2 templates run on Python objects. Heap values
 * (strings, lists, dicts, namespaces, callables, loop objects, scopes) are reference counted.
 * Each is also linked into the heap of its render, so the end of a render frees what a
 * reference cycle kept alive, such as a macro stored in the scope it closes over. */
#ifndef QWEN3VK_TEXT_JINJA_H
#define QWEN3VK_TEXT_JINJA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "text/template.h"

/* Limits that keep a hostile template or request from exhausting the stack or memory. */
#define JINJA_MAX_STRING ((size_t)256 << 20) /* bytes in one string or in the output */
#define JINJA_MAX_NESTING 200                /* expression and block nesting while parsing */
#define JINJA_MAX_VALUE_DEPTH 512            /* nesting of lists and dicts in repr and tojson */
#define JINJA_MAX_CALL_DEPTH 100             /* macro calls inside macro calls */
#define JINJA_MAX_EVAL_DEPTH 400             /* expressions being evaluated inside each other,
                                                macro calls included: about 1 KiB of stack
                                                each (an estimate for -O2 builds) */
#define JINJA_MAX_RANGE 100000               /* items of range(), as Jinja2's sandbox */
#define JINJA_MAX_STEPS 10000000             /* statements and loop iterations per render */

/* ---- Errors ---------------------------------------------------------------------------------- */

typedef struct jinja_error {
    qvk_status status; /* QVK_OK while no error happened */
    int line;
    char message[400];
} jinja_error;

/* Record the first error (later ones are dropped) and return false. */
bool jinja_error_set(jinja_error *error, qvk_status status, int line, const char *fmt, ...)
    QVK_PRINTF(4, 5);

/* ---- Byte buffers and UTF-8 -------------------------------------------------------------------- */

typedef enum jinja_buffer_state {
    JINJA_BUFFER_OK,
    JINJA_BUFFER_OUT_OF_MEMORY,
    JINJA_BUFFER_TOO_LONG, /* would pass JINJA_MAX_STRING */
} jinja_buffer_state;

typedef struct jinja_buffer {
    char *data; /* NUL-terminated once anything was appended */
    size_t length;
    size_t capacity;
    jinja_buffer_state state;
} jinja_buffer;

void jinja_buffer_append(jinja_buffer *buffer, const char *bytes, size_t length);
void jinja_buffer_append_str(jinja_buffer *buffer, const char *text);
void jinja_buffer_append_char(jinja_buffer *buffer, char c);
void jinja_buffer_append_codepoint(jinja_buffer *buffer, uint32_t codepoint);
void jinja_buffer_printf(jinja_buffer *buffer, const char *fmt, ...) QVK_PRINTF(2, 3);
void jinja_buffer_free(jinja_buffer *buffer);

/* Decode the code point at s (n > 0 bytes); returns the bytes used (1 for an invalid byte, which
 * decodes as itself). */
size_t jinja_utf8_decode(const char *s, size_t n, uint32_t *codepoint);
/* The offset of the code point that ends at s[n] (n > 0). */
size_t jinja_utf8_previous(const char *s, size_t n);
/* Whether s[0..n) is valid UTF-8 without surrogates; *bad_offset gets the first bad byte. */
bool jinja_utf8_validate(const char *s, size_t n, size_t *bad_offset);
size_t jinja_utf8_count(const char *s, size_t n);
/* Python's str.isspace() for one code point. */
bool jinja_is_space(uint32_t codepoint);

/* ---- Values ---------------------------------------------------------------------------------- */

typedef enum jinja_type {
    JINJA_UNDEFINED, /* as.object: NULL or a string naming what was missing, for messages */
    JINJA_NONE,
    JINJA_BOOL,
    JINJA_INT,
    JINJA_FLOAT,
    JINJA_STRING,
    JINJA_LIST, /* lists and tuples */
    JINJA_DICT,
    JINJA_NAMESPACE, /* a jinja_dict whose items are attributes */
    JINJA_CALLABLE,  /* macro, caller, bound method or global function */
    JINJA_LOOP,      /* the `loop` variable of a for loop */
} jinja_type;

typedef enum jinja_object_kind {
    JINJA_OBJECT_STRING,
    JINJA_OBJECT_LIST,
    JINJA_OBJECT_DICT,
    JINJA_OBJECT_CALLABLE,
    JINJA_OBJECT_LOOP,
    JINJA_OBJECT_FRAME,
} jinja_object_kind;

typedef struct jinja_object jinja_object;
struct jinja_object {
    int32_t references; /* negative: a constant of the parsed template, never counted */
    uint8_t kind;       /* jinja_object_kind */
    jinja_object *previous, *next; /* the heap's list of live objects */
};

/* All objects of one render (or the constants of one template). */
typedef struct jinja_heap {
    jinja_object live; /* list head */
    size_t count;
    bool out_of_memory;
    bool immortal;               /* objects made here are template constants */
    jinja_object *pending_free;  /* released objects whose children still need releasing */
    bool draining;
} jinja_heap;

typedef struct jinja_value {
    jinja_type type;
    union {
        bool boolean;
        int64_t integer;
        double number;
        jinja_object *object;
    } as;
} jinja_value;

typedef struct jinja_string {
    jinja_object base;
    size_t length; /* bytes */
    size_t chars;  /* code points; equal to length for ASCII */
    char *bytes;   /* NUL-terminated, allocated with the object */
} jinja_string;

typedef struct jinja_list {
    jinja_object base;
    size_t count, capacity;
    jinja_value *items;
    bool is_tuple;
} jinja_list;

typedef struct jinja_dict {
    jinja_object base;
    size_t count, capacity;
    jinja_value *keys; /* in insertion order */
    jinja_value *values;
    uint32_t *index;   /* open-addressing hash table of entry numbers + 1 (0: empty slot);
                          NULL while the dict is small enough to search linearly */
    size_t index_size; /* slots, a power of two */
} jinja_dict;

typedef struct jinja_frame {
    jinja_object base;
    struct jinja_frame *parent; /* counted reference, NULL at the root */
    jinja_dict *variables;
} jinja_frame;

typedef enum jinja_callable_kind {
    JINJA_CALL_MACRO,    /* a {% macro %}; closure is the scope it was defined in */
    JINJA_CALL_CALLER,   /* the body of a {% call %} block, run in the caller's scope */
    JINJA_CALL_METHOD,   /* receiver.method, e.g. a string's split */
    JINJA_CALL_FUNCTION, /* a global function such as range or namespace */
} jinja_callable_kind;

struct jinja_stmt;

typedef struct jinja_callable {
    jinja_object base;
    jinja_callable_kind kind;
    const struct jinja_stmt *macro; /* MACRO, CALLER */
    jinja_frame *closure;           /* MACRO, CALLER: counted reference */
    jinja_value receiver;           /* METHOD: counted reference */
    int id;                         /* METHOD: jinja_method id; FUNCTION: function id */
    const char *name;               /* static or template-owned */
} jinja_callable;

typedef struct jinja_loop {
    jinja_object base;
    jinja_value items; /* the list being iterated (counted) */
    int64_t index0;
    int depth;
    jinja_value last_changed; /* loop.changed()'s previous arguments (a tuple), or undefined */
} jinja_loop;

static inline jinja_value jinja_undefined(void) { return (jinja_value){ .type = JINJA_UNDEFINED }; }
static inline jinja_value jinja_none(void) { return (jinja_value){ .type = JINJA_NONE }; }
static inline jinja_value jinja_bool(bool b) { return (jinja_value){ .type = JINJA_BOOL, .as.boolean = b }; }
static inline jinja_value jinja_int(int64_t i) { return (jinja_value){ .type = JINJA_INT, .as.integer = i }; }
static inline jinja_value jinja_float(double f) { return (jinja_value){ .type = JINJA_FLOAT, .as.number = f }; }

static inline jinja_string *jinja_as_string(jinja_value v) { return (jinja_string *)v.as.object; }
static inline jinja_list *jinja_as_list(jinja_value v) { return (jinja_list *)v.as.object; }
static inline jinja_dict *jinja_as_dict(jinja_value v) { return (jinja_dict *)v.as.object; }
static inline jinja_callable *jinja_as_callable(jinja_value v) { return (jinja_callable *)v.as.object; }
static inline jinja_loop *jinja_as_loop(jinja_value v) { return (jinja_loop *)v.as.object; }
static inline bool jinja_is_integer(jinja_value v) { return v.type == JINJA_INT || v.type == JINJA_BOOL; }
static inline int64_t jinja_integer(jinja_value v) { return v.type == JINJA_INT ? v.as.integer : (int64_t)v.as.boolean; }
static inline bool jinja_is_heap(jinja_value v) { return v.type >= JINJA_STRING || (v.type == JINJA_UNDEFINED && v.as.object); }

void jinja_heap_init(jinja_heap *heap, bool immortal);
/* Free every object still on the heap, reference cycles included. */
void jinja_heap_clear(jinja_heap *heap);

jinja_value jinja_retain(jinja_value value);
void jinja_release(jinja_heap *heap, jinja_value value);

/* Constructors return a new reference. When memory runs out they set heap->out_of_memory and
 * return an empty immortal value of the same type, which callers treat as read-only. */
jinja_value jinja_string_new(jinja_heap *heap, const char *bytes, size_t length);
jinja_value jinja_string_from_cstr(jinja_heap *heap, const char *text);
/* a + b in one allocation (string concatenation in loops stays one copy per step). */
jinja_value jinja_string_concat(jinja_heap *heap, const jinja_string *a, const jinja_string *b);
/* Move the buffer's bytes into a string (the buffer is freed). */
jinja_value jinja_string_from_buffer(jinja_heap *heap, jinja_buffer *buffer);
jinja_value jinja_undefined_named(jinja_heap *heap, const char *fmt, ...) QVK_PRINTF(2, 3);
jinja_value jinja_list_new(jinja_heap *heap, size_t capacity, bool is_tuple);
/* Append item (the list takes the reference). */
void jinja_list_push(jinja_heap *heap, jinja_value list, jinja_value item);
jinja_value jinja_dict_new(jinja_heap *heap, jinja_type type);
/* Set key to value (both references are taken); an existing key keeps its position. */
void jinja_dict_set(jinja_heap *heap, jinja_value dict, jinja_value key, jinja_value value);
/* The value stored under key (borrowed), or NULL. */
const jinja_value *jinja_dict_find(const jinja_dict *dict, jinja_value key);
const jinja_value *jinja_dict_find_str(const jinja_dict *dict, const char *key, size_t length);
/* These return NULL when memory runs out. */
jinja_callable *jinja_callable_new(jinja_heap *heap, jinja_callable_kind kind, const char *name);
jinja_loop *jinja_loop_new(jinja_heap *heap, jinja_value items, int depth);
/* A new scope whose lookups fall back to parent (retained). */
jinja_frame *jinja_frame_new(jinja_heap *heap, jinja_frame *parent);
static inline jinja_value jinja_object_value(jinja_type type, void *object)
{
    return (jinja_value){ .type = type, .as.object = (jinja_object *)object };
}

/* Python semantics. Equality and ordering recurse into lists and dicts. */
bool jinja_truthy(jinja_value value);
bool jinja_equal(jinja_value a, jinja_value b);
bool jinja_is_number(jinja_value value); /* bool, int or float */
double jinja_number(jinja_value value);
/* Python's type name for messages: "str", "int", "dict", "NoneType", "Undefined", ... */
const char *jinja_type_name(jinja_value value);
/* Order a and b as Python's < does: *order < 0, 0 or > 0. False for types Python cannot
 * compare (the caller raises the TypeError). */
bool jinja_compare(jinja_value a, jinja_value b, int *order);

/* ---- Text forms of values (jinja_format.c) ----------------------------------------------------- */

/* Append str(value) as Python prints it (undefined prints nothing). */
void jinja_format_str(jinja_buffer *out, jinja_value value);
/* Append repr(value). */
void jinja_format_repr(jinja_buffer *out, jinja_value value);
/* Append repr(float) in Python's shortest round-trip form. */
void jinja_format_float(jinja_buffer *out, double value);

typedef struct jinja_json_options {
    const char *indent;         /* NULL: one line */
    const char *item_separator; /* ", " on one line, "," when indented */
    const char *key_separator;  /* ": " */
    bool ensure_ascii;
    bool sort_keys;
} jinja_json_options;

/* Append json.dumps(value, ...) of Python 3; false with error set for undefined, namespaces,
 * callables and too-deep nesting. */
bool jinja_format_json(jinja_buffer *out, jinja_value value, const jinja_json_options *options,
                       jinja_error *error, int line);

/* ---- Tokens (jinja_lexer.c) ---------------------------------------------------------------------- */

typedef enum jinja_token_kind {
    JINJA_TOKEN_EOF,
    JINJA_TOKEN_DATA,
    JINJA_TOKEN_VARIABLE_BEGIN,
    JINJA_TOKEN_VARIABLE_END,
    JINJA_TOKEN_BLOCK_BEGIN,
    JINJA_TOKEN_BLOCK_END,
    JINJA_TOKEN_NAME,
    JINJA_TOKEN_STRING,
    JINJA_TOKEN_INTEGER,
    JINJA_TOKEN_FLOAT,
    JINJA_TOKEN_ADD,
    JINJA_TOKEN_SUB,
    JINJA_TOKEN_MUL,
    JINJA_TOKEN_DIV,
    JINJA_TOKEN_FLOORDIV,
    JINJA_TOKEN_MOD,
    JINJA_TOKEN_POW,
    JINJA_TOKEN_TILDE,
    JINJA_TOKEN_LBRACKET,
    JINJA_TOKEN_RBRACKET,
    JINJA_TOKEN_LPAREN,
    JINJA_TOKEN_RPAREN,
    JINJA_TOKEN_LBRACE,
    JINJA_TOKEN_RBRACE,
    JINJA_TOKEN_EQ,
    JINJA_TOKEN_NE,
    JINJA_TOKEN_LT,
    JINJA_TOKEN_LTEQ,
    JINJA_TOKEN_GT,
    JINJA_TOKEN_GTEQ,
    JINJA_TOKEN_ASSIGN,
    JINJA_TOKEN_DOT,
    JINJA_TOKEN_COLON,
    JINJA_TOKEN_PIPE,
    JINJA_TOKEN_COMMA,
    JINJA_TOKEN_SEMICOLON,
} jinja_token_kind;

typedef struct jinja_token {
    jinja_token_kind kind;
    int line;
    const char *text; /* DATA and NAME: into the source; STRING: the decoded value (arena) */
    size_t length;
    int64_t integer;
    double number;
} jinja_token;

typedef struct jinja_token_list {
    jinja_token *items;
    size_t count, capacity;
} jinja_token_list;

/* A bump allocator for everything that lives as long as the parsed template. */
typedef struct jinja_arena_block jinja_arena_block;
typedef struct jinja_arena {
    jinja_arena_block *blocks;
} jinja_arena;

/* Zeroed memory, or NULL when out of memory. */
void *jinja_arena_alloc(jinja_arena *arena, size_t size);
char *jinja_arena_strdup(jinja_arena *arena, const char *bytes, size_t length);
void jinja_arena_free(jinja_arena *arena);

/* Split source into tokens with trim_blocks and lstrip_blocks on, as Hugging Face configures
 * Jinja2. *normalized receives the source with \r\n and \r turned into \n and one trailing
 * newline removed; DATA and NAME tokens point into it. */
bool jinja_lex(const char *source, jinja_arena *arena, const char **normalized,
               jinja_token_list *tokens, jinja_error *error);
/* A short description of a token for syntax errors: "'%}'", "name \"foo\"", ... */
void jinja_token_describe(const jinja_token *token, char *out, size_t size);

/* ---- Syntax tree (jinja_parse_expr.c, jinja_parse_stmt.c) ---------------------------------------- */

typedef enum jinja_expr_kind {
    JINJA_EXPR_CONST,     /* constant */
    JINJA_EXPR_NAME,      /* name */
    JINJA_EXPR_NSREF,     /* name.attribute as an assignment target */
    JINJA_EXPR_LIST,      /* items */
    JINJA_EXPR_TUPLE,     /* items */
    JINJA_EXPR_DICT,      /* items: key, value, key, value, ... */
    JINJA_EXPR_GETATTR,   /* operand.name */
    JINJA_EXPR_GETITEM,   /* operand[second] */
    JINJA_EXPR_SLICE,     /* items[0..2]: start, stop, step, each may be NULL */
    JINJA_EXPR_CALL,      /* operand(args) */
    JINJA_EXPR_FILTER,    /* operand | name(args); op is the filter id */
    JINJA_EXPR_TEST,      /* operand is name(args); op is the test id */
    JINJA_EXPR_NOT,       /* not operand */
    JINJA_EXPR_NEG,       /* -operand */
    JINJA_EXPR_POS,       /* +operand */
    JINJA_EXPR_BINARY,    /* operand op second; op is the token kind */
    JINJA_EXPR_CONCAT,    /* items joined by ~ */
    JINJA_EXPR_COMPARE,   /* operand, then ops[i] with items[i] */
    JINJA_EXPR_AND,
    JINJA_EXPR_OR,
    JINJA_EXPR_CONDITIONAL, /* second if operand else third (third may be NULL) */
    JINJA_EXPR_BLOCK_INPUT, /* the rendered body of a {% filter %} block */
} jinja_expr_kind;

/* Compare operators that are not tokens. */
enum { JINJA_OP_IN = 1000, JINJA_OP_NOT_IN };

typedef struct jinja_expr jinja_expr;

typedef struct jinja_args {
    jinja_expr **positional;
    int n_positional;
    const char **names;
    jinja_expr **named;
    int n_named;
    jinja_expr *star_args;   /* *list */
    jinja_expr *star_kwargs; /* **dict */
} jinja_args;

struct jinja_expr {
    jinja_expr_kind kind;
    int line;
    int op;
    const char *name;
    size_t name_length;
    jinja_value constant;
    jinja_expr *operand, *second, *third;
    jinja_expr **items;
    int n_items;
    int *ops;
    jinja_args args;
};

typedef enum jinja_stmt_kind {
    JINJA_STMT_TEXT,       /* text, length */
    JINJA_STMT_OUTPUT,     /* {{ expr }} */
    JINJA_STMT_IF,         /* expr, body, else_body (an elif is an IF alone in else_body) */
    JINJA_STMT_FOR,        /* target in expr [if condition], body, else_body */
    JINJA_STMT_SET,        /* target = expr */
    JINJA_STMT_SET_BLOCK,  /* target = body rendered, through the filters of expr if any */
    JINJA_STMT_MACRO,      /* name(params) body */
    JINJA_STMT_CALL_BLOCK, /* expr is the call; body with params is the caller */
    JINJA_STMT_FILTER,     /* expr is the filter chain over a BLOCK_INPUT; body */
    JINJA_STMT_WITH,       /* targets = values, then body in a new scope */
    JINJA_STMT_SCOPE,      /* body rendered in place ({% generation %}) */
    JINJA_STMT_BREAK,
    JINJA_STMT_CONTINUE,
} jinja_stmt_kind;

typedef struct jinja_stmt jinja_stmt;

typedef struct jinja_body {
    jinja_stmt **items;
    int count;
} jinja_body;

struct jinja_stmt {
    jinja_stmt_kind kind;
    int line;
    const char *text;
    size_t length;
    jinja_expr *expr;
    jinja_expr *target;
    jinja_expr *condition;
    jinja_body body;
    jinja_body else_body;
    /* MACRO, CALL_BLOCK, WITH */
    const char *name;
    const char **params;
    jinja_expr **defaults; /* per parameter; NULL when it has none. WITH: the values */
    int n_params;
    bool uses_varargs, uses_kwargs, uses_caller;
};

/* The parsed template behind qvk_template. */
struct qvk_template {
    char *name;
    jinja_arena arena;
    jinja_heap constants;
    jinja_body root;
};

typedef struct jinja_parser {
    const jinja_token *tokens;
    size_t count, position;
    jinja_arena *arena;
    jinja_heap *constants;
    jinja_error *error;
    int depth;
    int loop_depth;
    jinja_stmt *macro; /* the innermost macro being parsed, for its varargs/kwargs/caller flags */
    /* The blocks being parsed, innermost last, with the tags that may end each. */
    const char *open_tags[JINJA_MAX_NESTING];
    int open_lines[JINJA_MAX_NESTING];
    const char *const *end_names[JINJA_MAX_NESTING];
    int n_open;
} jinja_parser;

/* A growable array of pointers that the parser copies into the arena when complete. */
typedef struct jinja_vector {
    void **items;
    int count, capacity;
} jinja_vector;

bool jinja_vector_push(jinja_parser *parser, jinja_vector *vector, void *item);
/* Copy the items into the arena as an array of their type and free the vector. NULL when the
 * vector is empty, or when memory runs out (then the parser's error is set). */
jinja_expr **jinja_vector_exprs(jinja_parser *parser, jinja_vector *vector);
jinja_stmt **jinja_vector_stmts(jinja_parser *parser, jinja_vector *vector);
const char **jinja_vector_names(jinja_parser *parser, jinja_vector *vector);
void jinja_vector_free(jinja_vector *vector);

bool jinja_parse(jinja_parser *parser, jinja_body *root);

/* Expression parsing, shared by the statement parser. */
const jinja_token *jinja_parser_peek(const jinja_parser *parser, size_t ahead);
const jinja_token *jinja_parser_next(jinja_parser *parser);
bool jinja_parser_is_name(const jinja_parser *parser, size_t ahead, const char *name);
bool jinja_parser_expect(jinja_parser *parser, jinja_token_kind kind, const char *what);
bool jinja_parser_fail(jinja_parser *parser, int line, const char *fmt, ...) QVK_PRINTF(3, 4);
static inline bool jinja_parser_at(const jinja_parser *parser, jinja_token_kind kind)
{
    return jinja_parser_peek(parser, 0)->kind == kind;
}
jinja_expr *jinja_expr_new(jinja_parser *parser, jinja_expr_kind kind, int line);
/* A node with operand left and second right (NULL if either is, as after a parse error). */
jinja_expr *jinja_expr_binary(jinja_parser *parser, jinja_expr_kind kind, int op, int line,
                              jinja_expr *left, jinja_expr *right);
jinja_expr *jinja_expr_constant(jinja_parser *parser, int line, jinja_value value);
jinja_expr *jinja_parse_primary(jinja_parser *parser, bool with_namespace);
/* .attribute, [item] and (call) after node (jinja_parse_postfix.c); then | filters and "is"
 * tests too (jinja_parse_filter_expr). */
jinja_expr *jinja_parse_postfix(jinja_parser *parser, jinja_expr *node);
jinja_expr *jinja_parse_filter_expr(jinja_parser *parser, jinja_expr *node);
jinja_expr *jinja_parse_expression(jinja_parser *parser, bool with_conditional);
/* A comma-separated list; a single expression unless a comma makes it a tuple. */
jinja_expr *jinja_parse_tuple(jinja_parser *parser, bool simplified, bool with_conditional,
                              const char *extra_end_name, bool with_namespace);
/* The filters after a '|' (or, with start_inline, starting at a filter name). */
jinja_expr *jinja_parse_filter(jinja_parser *parser, jinja_expr *operand, bool start_inline);
bool jinja_parse_call_args(jinja_parser *parser, jinja_args *args);

/* ---- Evaluation (jinja_eval.c, jinja_exec.c) ------------------------------------------------------ */

typedef struct jinja_context {
    jinja_heap heap;
    jinja_frame *root;
    jinja_error error;
    int call_depth;
    int eval_depth;
    uint64_t steps;
    jinja_value block_input; /* the rendered body while a {% filter %} or {% set %} block's
                                filters run (borrowed) */
} jinja_context;

/* Evaluated call arguments: references owned by the call until jinja_call_release. */
typedef struct jinja_call {
    jinja_value *positional;
    int n_positional;
    const char **names;
    jinja_value *named;
    int n_named;
    int line;
    jinja_value keep_alive; /* a **kwargs dict whose keys names point into */
} jinja_call;

bool jinja_fail(jinja_context *ctx, int line, qvk_status status, const char *fmt, ...)
    QVK_PRINTF(4, 5);
/* Report the heap's out-of-memory state or a buffer's failure as an error; true when fine. */
bool jinja_check_memory(jinja_context *ctx, int line);
bool jinja_check_buffer(jinja_context *ctx, int line, const jinja_buffer *buffer);
/* The UndefinedError that using an undefined value in an operation raises. */
bool jinja_fail_undefined(jinja_context *ctx, int line, jinja_value undefined);

bool jinja_eval(jinja_context *ctx, jinja_frame *frame, const jinja_expr *expr, jinja_value *out);
bool jinja_eval_args(jinja_context *ctx, jinja_frame *frame, const jinja_args *args, int line,
                     jinja_call *call);
void jinja_call_release(jinja_context *ctx, jinja_call *call);
/* Call a callable value (macro, caller, method, function). */
bool jinja_call_value(jinja_context *ctx, jinja_value callee, jinja_call *call,
                      jinja_value *out);
/* Python's a OP b for ==, !=, <, <=, >, >= (token kinds) and JINJA_OP_IN / JINJA_OP_NOT_IN. */
bool jinja_compare_values(jinja_context *ctx, int line, int op, jinja_value a, jinja_value b,
                          bool *result);
/* Python's a + b, a - b, ... for the arithmetic token kinds. */
bool jinja_arithmetic(jinja_context *ctx, int line, int op, jinja_value a, jinja_value b,
                      jinja_value *out);
/* obj.name and obj[key] as Jinja2's environment resolves them. */
bool jinja_getattr(jinja_context *ctx, int line, jinja_value object, const char *name,
                   size_t length, jinja_value *out);
bool jinja_getitem(jinja_context *ctx, int line, jinja_value object, jinja_value key,
                   jinja_value *out);
/* Evaluate obj[start:stop:step], where slice is the SLICE expression. */
bool jinja_eval_slice(jinja_context *ctx, jinja_frame *frame, jinja_value object,
                      const jinja_expr *slice, jinja_value *out);
/* A list of the items of an iterable (string: characters, dict: keys, undefined: empty). */
bool jinja_iterate(jinja_context *ctx, int line, jinja_value value, jinja_value *list);
/* Render a statement list; macros and {% call %} bodies render through this. */
bool jinja_exec_body(jinja_context *ctx, jinja_frame *frame, const jinja_body *body,
                     jinja_buffer *out);
bool jinja_call_macro(jinja_context *ctx, jinja_callable *macro, jinja_call *call,
                      jinja_value caller, jinja_value *out);
jinja_value jinja_frame_lookup(jinja_context *ctx, jinja_frame *frame, const char *name,
                               size_t length);
void jinja_frame_set(jinja_context *ctx, jinja_frame *frame, const char *name, size_t length,
                     jinja_value value);

/* Bind call arguments to parameter names as Python does. slots[i] gets a borrowed reference
 * when present[i] is set and is left untouched otherwise. */
bool jinja_bind(jinja_context *ctx, const jinja_call *call, const char *what,
                const char *const *params, int n_params, jinja_value *slots, bool *present);

/* ---- Filters, tests, methods and global functions (jinja_filters.c, jinja_tests.c,
 *      jinja_methods.c) ------------------------------------------------------------------------------ */

typedef bool (*jinja_filter_fn)(jinja_context *ctx, jinja_value input, jinja_call *call,
                                jinja_value *out);
typedef bool (*jinja_test_fn)(jinja_context *ctx, jinja_value input, jinja_call *call,
                              bool *result);

/* Filters on sequences (jinja_filters_seq.c), listed in the filter table of jinja_filters.c. */
bool jinja_filter_length(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_first(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_last(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_list(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_items(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_join(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_reverse(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_map(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_select(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_reject(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_selectattr(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_rejectattr(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_sort(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_unique(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_min(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_max(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_sum(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);
bool jinja_filter_dictsort(jinja_context *ctx, jinja_value input, jinja_call *call, jinja_value *out);

/* Ids for names; -1 for names Jinja2 does not know either, -2 for Jinja2 builtins that this
 * interpreter does not have. */
int jinja_filter_find(const char *name, size_t length);
int jinja_test_find(const char *name, size_t length);
bool jinja_apply_test(jinja_context *ctx, int id, jinja_value input, jinja_call *call,
                      bool *result);
bool jinja_apply_filter(jinja_context *ctx, int id, jinja_value input, jinja_call *call,
                        jinja_value *out);

/* Methods of strings, dicts, lists and loop objects. Returns the method id, or one of
 * JINJA_METHOD_NONE (no such method), JINJA_METHOD_UNSUPPORTED (Python has it, this
 * interpreter does not) and JINJA_METHOD_UNSAFE (it modifies its object, which Hugging Face's
 * ImmutableSandboxedEnvironment forbids). */
enum { JINJA_METHOD_NONE = -1, JINJA_METHOD_UNSUPPORTED = -2, JINJA_METHOD_UNSAFE = -3 };
int jinja_method_find(jinja_value receiver, const char *name, size_t length);
const char *jinja_method_name(int id);
bool jinja_method_call(jinja_context *ctx, jinja_value receiver, int id, jinja_call *call,
                       jinja_value *out);
/* Global functions: range, namespace, dict, raise_exception, strftime_now. */
int jinja_function_find(const char *name, size_t length);
const char *jinja_function_name(int id);
bool jinja_function_call(jinja_context *ctx, int id, jinja_call *call, jinja_value *out);

/* String helpers shared by filters and methods. */
jinja_value jinja_string_strip(jinja_context *ctx, jinja_value text, jinja_value chars,
                               bool left, bool right);
jinja_value jinja_string_replace(jinja_context *ctx, jinja_value text, jinja_value old,
                                 jinja_value replacement, int64_t count);
enum { JINJA_CASE_LOWER, JINJA_CASE_UPPER, JINJA_CASE_TITLE, JINJA_CASE_CAPITALIZE };
jinja_value jinja_string_case(jinja_context *ctx, jinja_value text, int mode);
/* Unicode's simple case mapping of one code point (LOWER, UPPER or TITLE). */
uint32_t jinja_case_map(uint32_t codepoint, int mode);
/* Compute the byte range [*from, *to) of s[start:end] with Python's index rules, where NULL
 * or none leaves that end open, and the code point index where it starts. */
void jinja_string_range(const jinja_string *s, const jinja_value *start, const jinja_value *end,
                        size_t *from, size_t *to, int64_t *char_from);
/* The last occurrence of needle in haystack, or NULL. */
const char *jinja_find_last(const char *haystack, size_t n, const char *needle, size_t m);
/* Append the pieces of s.split(separator, max_split) (rsplit when from_right; separator NULL
 * splits at whitespace) to list. */
void jinja_string_split(jinja_context *ctx, const jinja_string *s, const jinja_string *separator,
                        int64_t max_split, bool from_right, jinja_value list);
void jinja_string_splitlines(jinja_context *ctx, const jinja_string *s, bool keep_ends,
                             jinja_value list);
/* str(value) as a new string value. */
jinja_value jinja_to_string(jinja_context *ctx, jinja_value value);

#endif
