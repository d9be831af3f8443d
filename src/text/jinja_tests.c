/* Jinja2's tests: "x is defined", "x is string", "n is divisibleby 3", ... */
#include "text/jinja.h"

#include <string.h>
#include <utf8proc.h>

static bool one_arg(jinja_context *ctx, jinja_call *call, const char *name, jinja_value *arg)
{
    static const char *const params[] = { "other" };
    bool present[1];

    if (!jinja_bind(ctx, call, name, params, 1, arg, present))
        return false;
    if (!present[0])
        return jinja_fail(ctx, call->line, QVK_ERR_INVALID_ARGUMENT, "test %s needs an argument", name);
    return true;
}

static bool no_arg(jinja_context *ctx, jinja_call *call, const char *name)
{
    return jinja_bind(ctx, call, name, NULL, 0, NULL, NULL);
}

#define DEFINE_TYPE_TEST(function, name, condition)                                               \
    static bool function(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)       \
    {                                                                                             \
        if (!no_arg(ctx, call, name))                                                             \
            return false;                                                                         \
        *result = (condition);                                                                    \
        return true;                                                                              \
    }

DEFINE_TYPE_TEST(test_defined, "defined", v.type != JINJA_UNDEFINED)
DEFINE_TYPE_TEST(test_undefined, "undefined", v.type == JINJA_UNDEFINED)
DEFINE_TYPE_TEST(test_none, "none", v.type == JINJA_NONE)
DEFINE_TYPE_TEST(test_boolean, "boolean", v.type == JINJA_BOOL)
DEFINE_TYPE_TEST(test_true, "true", v.type == JINJA_BOOL && v.as.boolean)
DEFINE_TYPE_TEST(test_false, "false", v.type == JINJA_BOOL && !v.as.boolean)
DEFINE_TYPE_TEST(test_integer, "integer", v.type == JINJA_INT)
DEFINE_TYPE_TEST(test_float, "float", v.type == JINJA_FLOAT)
/* bool is a number in Python (isinstance(True, numbers.Number)). */
DEFINE_TYPE_TEST(test_number, "number", jinja_is_number(v))
DEFINE_TYPE_TEST(test_string, "string", v.type == JINJA_STRING)
DEFINE_TYPE_TEST(test_mapping, "mapping", v.type == JINJA_DICT)
/* Jinja2's Undefined iterates (as empty) and has a length, so it is iterable and a sequence;
 * dicts are sequences too (they have len() and []). */
DEFINE_TYPE_TEST(test_iterable, "iterable",
                 v.type == JINJA_UNDEFINED || v.type == JINJA_STRING || v.type == JINJA_LIST ||
                     v.type == JINJA_DICT || v.type == JINJA_LOOP)
DEFINE_TYPE_TEST(test_sequence, "sequence",
                 v.type == JINJA_UNDEFINED || v.type == JINJA_STRING || v.type == JINJA_LIST ||
                     v.type == JINJA_DICT)
/* Jinja2's Undefined defines __call__ (which raises), so callable() is true for it. */
DEFINE_TYPE_TEST(test_callable, "callable", v.type == JINJA_CALLABLE || v.type == JINJA_UNDEFINED)
DEFINE_TYPE_TEST(test_escaped, "escaped", false)

static bool compare_test(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result, int op,
                         const char *name)
{
    jinja_value other;

    if (!one_arg(ctx, call, name, &other))
        return false;
    return jinja_compare_values(ctx, call->line, op, v, other, result);
}

#define DEFINE_COMPARE_TEST(function, op, name)                                                   \
    static bool function(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)       \
    {                                                                                             \
        return compare_test(ctx, v, call, result, op, name);                                      \
    }

DEFINE_COMPARE_TEST(test_eq, JINJA_TOKEN_EQ, "eq")
DEFINE_COMPARE_TEST(test_ne, JINJA_TOKEN_NE, "ne")
DEFINE_COMPARE_TEST(test_lt, JINJA_TOKEN_LT, "lt")
DEFINE_COMPARE_TEST(test_le, JINJA_TOKEN_LTEQ, "le")
DEFINE_COMPARE_TEST(test_gt, JINJA_TOKEN_GT, "gt")
DEFINE_COMPARE_TEST(test_ge, JINJA_TOKEN_GTEQ, "ge")
DEFINE_COMPARE_TEST(test_in, JINJA_OP_IN, "in")

/* "is sameas": Python's identity, which for None, booleans and small numbers is equality. */
static bool test_sameas(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    jinja_value other;

    if (!one_arg(ctx, call, "sameas", &other))
        return false;
    if (v.type != other.type)
        *result = false;
    else if (jinja_is_heap(v))
        *result = v.as.object == other.as.object;
    else
        *result = jinja_equal(v, other);
    return true;
}

/* value % divisor == 0 with Python's %. */
static bool divisible(jinja_context *ctx, jinja_value v, jinja_value divisor, int line, int64_t remainder,
                      bool *result)
{
    jinja_value mod;

    if (v.type != JINJA_UNDEFINED && !jinja_is_number(v))
        return jinja_fail(ctx, line, QVK_ERR_INVALID_ARGUMENT,
                          "tests odd, even and divisibleby need a number, not %s", jinja_type_name(v));
    if (!jinja_arithmetic(ctx, line, JINJA_TOKEN_MOD, v, divisor, &mod))
        return false;
    *result = jinja_number(mod) == (double)remainder;
    jinja_release(&ctx->heap, mod);
    return true;
}

static bool test_odd(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    return no_arg(ctx, call, "odd") && divisible(ctx, v, jinja_int(2), call->line, 1, result);
}

static bool test_even(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    return no_arg(ctx, call, "even") && divisible(ctx, v, jinja_int(2), call->line, 0, result);
}

static bool test_divisibleby(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    jinja_value divisor;

    return one_arg(ctx, call, "divisibleby", &divisor) &&
           divisible(ctx, v, divisor, call->line, 0, result);
}

/* "is lower" / "is upper": str(value).islower() / isupper(): there is a cased character and
 * none of the other case. */
static bool case_test(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result, bool lower)
{
    utf8proc_category_t same = lower ? UTF8PROC_CATEGORY_LL : UTF8PROC_CATEGORY_LU;
    utf8proc_category_t other = lower ? UTF8PROC_CATEGORY_LU : UTF8PROC_CATEGORY_LL;
    jinja_value text;
    const jinja_string *s;
    bool any_cased = false, opposite = false;
    size_t i = 0;

    if (!no_arg(ctx, call, lower ? "lower" : "upper"))
        return false;
    text = jinja_to_string(ctx, v);
    s = jinja_as_string(text);
    while (i < s->length) {
        uint32_t c;
        utf8proc_category_t category;

        i += jinja_utf8_decode(s->bytes + i, s->length - i, &c);
        category = utf8proc_category((utf8proc_int32_t)c);
        any_cased |= category == same;
        opposite |= category == other || category == UTF8PROC_CATEGORY_LT;
    }
    *result = any_cased && !opposite;
    jinja_release(&ctx->heap, text);
    return true;
}

static bool test_lower(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    return case_test(ctx, v, call, result, true);
}

static bool test_upper(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    return case_test(ctx, v, call, result, false);
}

/* "is filter" / "is test": whether the string names one this interpreter has. */
static bool test_filter(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    if (!no_arg(ctx, call, "filter"))
        return false;
    *result = v.type == JINJA_STRING &&
              jinja_filter_find(jinja_as_string(v)->bytes, jinja_as_string(v)->length) >= 0;
    return true;
}

static bool test_test(jinja_context *ctx, jinja_value v, jinja_call *call, bool *result)
{
    if (!no_arg(ctx, call, "test"))
        return false;
    *result = v.type == JINJA_STRING &&
              jinja_test_find(jinja_as_string(v)->bytes, jinja_as_string(v)->length) >= 0;
    return true;
}

static const struct {
    const char *name;
    jinja_test_fn function;
} tests[] = {
    { "defined", test_defined },       { "undefined", test_undefined },
    { "none", test_none },             { "boolean", test_boolean },
    { "true", test_true },             { "false", test_false },
    { "integer", test_integer },       { "float", test_float },
    { "number", test_number },         { "string", test_string },
    { "mapping", test_mapping },       { "iterable", test_iterable },
    { "sequence", test_sequence },     { "callable", test_callable },
    { "escaped", test_escaped },       { "sameas", test_sameas },
    { "odd", test_odd },               { "even", test_even },
    { "divisibleby", test_divisibleby }, { "lower", test_lower },
    { "upper", test_upper },           { "filter", test_filter },
    { "test", test_test },             { "eq", test_eq },
    { "equalto", test_eq },            { "==", test_eq },
    { "ne", test_ne },                 { "!=", test_ne },
    { "lt", test_lt },                 { "lessthan", test_lt },
    { "<", test_lt },                  { "le", test_le },
    { "<=", test_le },                 { "gt", test_gt },
    { "greaterthan", test_gt },        { ">", test_gt },
    { "ge", test_ge },                 { ">=", test_ge },
    { "in", test_in },
};

int jinja_test_find(const char *name, size_t length)
{
    size_t i;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (strlen(tests[i].name) == length && memcmp(tests[i].name, name, length) == 0)
            return (int)i;
    }
    return -1;
}

bool jinja_apply_test(jinja_context *ctx, int id, jinja_value input, jinja_call *call,
                      bool *result)
{
    if (id < 0 || id >= (int)(sizeof(tests) / sizeof(tests[0])))
        return jinja_fail(ctx, call->line, QVK_ERR_UNSUPPORTED, "unsupported test");
    return tests[id].function(ctx, input, call, result);
}
