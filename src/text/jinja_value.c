/* The value model of the Jinja interpreter: reference-counted heap objects that a heap also
 * links together, and Python's truthiness, equality and ordering. */
#include "text/jinja.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read-only stand-ins returned when memory runs out; heap->out_of_memory makes the render fail
 * before their emptiness could show. */
static jinja_string empty_string = { { -1, JINJA_OBJECT_STRING, NULL, NULL }, 0, 0, "" };
static jinja_list empty_list = { { -1, JINJA_OBJECT_LIST, NULL, NULL }, 0, 0, NULL, false };
static jinja_dict empty_dict = { { -1, JINJA_OBJECT_DICT, NULL, NULL }, 0, 0, NULL, NULL, NULL, 0 };

/* ---- Heap ------------------------------------------------------------------------------------ */

void jinja_heap_init(jinja_heap *heap, bool immortal)
{
    memset(heap, 0, sizeof(*heap));
    heap->live.next = heap->live.previous = &heap->live;
    heap->immortal = immortal;
}

static void *heap_alloc(jinja_heap *heap, size_t size, jinja_object_kind kind)
{
    jinja_object *object = calloc(1, size);

    if (!object) {
        heap->out_of_memory = true;
        return NULL;
    }
    object->references = heap->immortal ? -1 : 1;
    object->kind = (uint8_t)kind;
    object->next = heap->live.next;
    object->previous = &heap->live;
    heap->live.next->previous = object;
    heap->live.next = object;
    heap->count++;
    return object;
}

/* Free an object's own memory; its children are released by the caller (or swept). */
static void object_free(jinja_object *object)
{
    switch ((jinja_object_kind)object->kind) {
    case JINJA_OBJECT_LIST:
        free(((jinja_list *)object)->items);
        break;
    case JINJA_OBJECT_DICT:
        free(((jinja_dict *)object)->keys);
        free(((jinja_dict *)object)->values);
        free(((jinja_dict *)object)->index);
        break;
    default:
        break;
    }
    free(object);
}

static void release_children(jinja_heap *heap, jinja_object *object)
{
    size_t i;

    switch ((jinja_object_kind)object->kind) {
    case JINJA_OBJECT_STRING:
        break;
    case JINJA_OBJECT_LIST: {
        jinja_list *list = (jinja_list *)object;

        for (i = 0; i < list->count; i++)
            jinja_release(heap, list->items[i]);
        break;
    }
    case JINJA_OBJECT_DICT: {
        jinja_dict *dict = (jinja_dict *)object;

        for (i = 0; i < dict->count; i++) {
            jinja_release(heap, dict->keys[i]);
            jinja_release(heap, dict->values[i]);
        }
        break;
    }
    case JINJA_OBJECT_CALLABLE: {
        jinja_callable *callable = (jinja_callable *)object;

        if (callable->closure)
            jinja_release(heap, jinja_object_value(JINJA_DICT, callable->closure));
        jinja_release(heap, callable->receiver);
        break;
    }
    case JINJA_OBJECT_LOOP:
        jinja_release(heap, ((jinja_loop *)object)->items);
        jinja_release(heap, ((jinja_loop *)object)->last_changed);
        break;
    case JINJA_OBJECT_FRAME: {
        jinja_frame *frame = (jinja_frame *)object;

        if (frame->parent)
            jinja_release(heap, jinja_object_value(JINJA_DICT, frame->parent));
        if (frame->variables)
            jinja_release(heap, jinja_object_value(JINJA_DICT, frame->variables));
        break;
    }
    }
}

void jinja_heap_clear(jinja_heap *heap)
{
    jinja_object *object = heap->live.next;

    /* Whatever is still live belongs to reference cycles (or to the constants of a template
     * being destroyed): free each object without touching its children, which are on this
     * list too. */
    while (object != &heap->live) {
        jinja_object *next = object->next;

        object_free(object);
        object = next;
    }
    heap->live.next = heap->live.previous = &heap->live;
    heap->count = 0;
}

jinja_value jinja_retain(jinja_value value)
{
    if (jinja_is_heap(value) && value.as.object->references >= 0)
        value.as.object->references++;
    return value;
}

void jinja_release(jinja_heap *heap, jinja_value value)
{
    jinja_object *object;

    if (!jinja_is_heap(value))
        return;
    object = value.as.object;
    if (object->references < 0 || --object->references > 0)
        return;

    object->previous->next = object->next;
    object->next->previous = object->previous;
    heap->count--;

    /* Free iteratively: releasing a deeply nested list must not recurse once per level. */
    object->next = heap->pending_free;
    heap->pending_free = object;
    if (heap->draining)
        return;
    heap->draining = true;
    while (heap->pending_free) {
        object = heap->pending_free;
        heap->pending_free = object->next;
        release_children(heap, object);
        object_free(object);
    }
    heap->draining = false;
}

/* ---- Constructors ---------------------------------------------------------------------------- */

jinja_value jinja_string_new(jinja_heap *heap, const char *bytes, size_t length)
{
    jinja_string *string;

    if (length > JINJA_MAX_STRING) {
        heap->out_of_memory = true;
        return jinja_object_value(JINJA_STRING, &empty_string);
    }
    string = heap_alloc(heap, sizeof(*string) + length + 1, JINJA_OBJECT_STRING);
    if (!string)
        return jinja_object_value(JINJA_STRING, &empty_string);
    string->bytes = (char *)(string + 1);
    if (length)
        memcpy(string->bytes, bytes, length);
    string->bytes[length] = '\0';
    string->length = length;
    string->chars = jinja_utf8_count(bytes, length);
    return jinja_object_value(JINJA_STRING, string);
}

jinja_value jinja_string_concat(jinja_heap *heap, const jinja_string *a, const jinja_string *b)
{
    jinja_string *string;

    if (a->length > JINJA_MAX_STRING - b->length) {
        heap->out_of_memory = true;
        return jinja_object_value(JINJA_STRING, &empty_string);
    }
    string = heap_alloc(heap, sizeof(*string) + a->length + b->length + 1, JINJA_OBJECT_STRING);
    if (!string)
        return jinja_object_value(JINJA_STRING, &empty_string);
    string->bytes = (char *)(string + 1);
    memcpy(string->bytes, a->bytes, a->length);
    memcpy(string->bytes + a->length, b->bytes, b->length);
    string->length = a->length + b->length;
    string->bytes[string->length] = '\0';
    string->chars = a->chars + b->chars;
    return jinja_object_value(JINJA_STRING, string);
}

jinja_value jinja_string_from_cstr(jinja_heap *heap, const char *text)
{
    return jinja_string_new(heap, text, strlen(text));
}

jinja_value jinja_string_from_buffer(jinja_heap *heap, jinja_buffer *buffer)
{
    jinja_value value;

    if (buffer->state != JINJA_BUFFER_OK) {
        heap->out_of_memory = true;
        jinja_buffer_free(buffer);
        return jinja_object_value(JINJA_STRING, &empty_string);
    }
    value = jinja_string_new(heap, buffer->data ? buffer->data : "", buffer->length);
    jinja_buffer_free(buffer);
    return value;
}

jinja_value jinja_undefined_named(jinja_heap *heap, const char *fmt, ...)
{
    char message[300];
    jinja_value hint;
    va_list args;

    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    hint = jinja_string_from_cstr(heap, message);
    if (hint.as.object == &empty_string.base)
        return jinja_undefined();
    return (jinja_value){ .type = JINJA_UNDEFINED, .as.object = hint.as.object };
}

jinja_value jinja_list_new(jinja_heap *heap, size_t capacity, bool is_tuple)
{
    jinja_list *list = heap_alloc(heap, sizeof(*list), JINJA_OBJECT_LIST);

    if (!list)
        return jinja_object_value(JINJA_LIST, &empty_list);
    list->is_tuple = is_tuple;
    if (capacity) {
        list->items = malloc(capacity * sizeof(*list->items));
        if (list->items)
            list->capacity = capacity;
    }
    return jinja_object_value(JINJA_LIST, list);
}

void jinja_list_push(jinja_heap *heap, jinja_value list_value, jinja_value item)
{
    jinja_list *list = jinja_as_list(list_value);

    if (list->base.references < 0) {
        heap->out_of_memory = true;
        jinja_release(heap, item);
        return;
    }
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 4;
        jinja_value *items = realloc(list->items, capacity * sizeof(*items));

        if (!items) {
            heap->out_of_memory = true;
            jinja_release(heap, item);
            return;
        }
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = item;
}

jinja_value jinja_dict_new(jinja_heap *heap, jinja_type type)
{
    jinja_dict *dict = heap_alloc(heap, sizeof(*dict), JINJA_OBJECT_DICT);

    if (!dict)
        return jinja_object_value(type, &empty_dict);
    return jinja_object_value(type, dict);
}

/* ---- Dict lookup ----------------------------------------------------------------------------- */

/* Dicts up to this size are searched linearly; larger ones get a hash index. */
#define DICT_LINEAR_MAX 8

static uint64_t hash_bytes(const char *bytes, size_t length)
{
    uint64_t hash = 14695981039346656037u; /* FNV-1a */
    size_t i;

    for (i = 0; i < length; i++) {
        hash ^= (unsigned char)bytes[i];
        hash *= 1099511628211u;
    }
    return hash;
}

static uint64_t hash_integer(uint64_t x)
{
    /* splitmix64's finalizer spreads consecutive integers over the table. */
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

/* A hash consistent with jinja_equal: 1, 1.0 and True hash alike, as in Python. Lists and
 * dicts are unhashable (false). */
static bool hash_value(jinja_value key, uint64_t *hash)
{
    size_t i;

    switch (key.type) {
    case JINJA_STRING:
        *hash = hash_bytes(jinja_as_string(key)->bytes, jinja_as_string(key)->length);
        return true;
    case JINJA_BOOL:
    case JINJA_INT:
        *hash = hash_integer((uint64_t)(key.type == JINJA_INT ? key.as.integer : key.as.boolean));
        return true;
    case JINJA_FLOAT:
        if (key.as.number == trunc(key.as.number) && fabs(key.as.number) < 9.2e18) {
            *hash = hash_integer((uint64_t)(int64_t)key.as.number);
        } else {
            uint64_t bits;

            memcpy(&bits, &key.as.number, sizeof(bits));
            *hash = hash_integer(bits);
        }
        return true;
    case JINJA_NONE:
    case JINJA_UNDEFINED:
        *hash = hash_integer(key.type == JINJA_NONE ? 0x4E4F4E45u : 0x554E4445u);
        return true;
    case JINJA_LIST:
        if (!jinja_as_list(key)->is_tuple)
            return false;
        *hash = 0x345678u;
        for (i = 0; i < jinja_as_list(key)->count; i++) {
            uint64_t item;

            if (!hash_value(jinja_as_list(key)->items[i], &item))
                return false;
            *hash = hash_integer(*hash ^ item);
        }
        return true;
    case JINJA_DICT:
        return false;
    default:
        *hash = hash_integer((uint64_t)(uintptr_t)key.as.object);
        return true;
    }
}

static void index_insert(jinja_dict *dict, size_t entry, uint64_t hash)
{
    size_t mask = dict->index_size - 1, slot = (size_t)hash & mask;

    while (dict->index[slot])
        slot = (slot + 1) & mask;
    dict->index[slot] = (uint32_t)(entry + 1);
}

/* Rebuild the index with at least twice as many slots as entries. Returns false when out of
 * memory, and then lookups stay linear, which is slower but correct. */
static bool index_rebuild(jinja_dict *dict)
{
    size_t size = 16, i;
    uint32_t *index;

    while (size < 2 * (dict->count + 1))
        size *= 2;
    index = calloc(size, sizeof(*index));
    if (!index)
        return false;
    free(dict->index);
    dict->index = index;
    dict->index_size = size;
    for (i = 0; i < dict->count; i++) {
        uint64_t hash = 0;

        hash_value(dict->keys[i], &hash);
        index_insert(dict, i, hash);
    }
    return true;
}

static const jinja_value *find_linear(const jinja_dict *dict, jinja_value key)
{
    size_t i;

    for (i = 0; i < dict->count; i++) {
        if (jinja_equal(dict->keys[i], key))
            return &dict->values[i];
    }
    return NULL;
}

const jinja_value *jinja_dict_find(const jinja_dict *dict, jinja_value key)
{
    uint64_t hash;
    size_t mask, slot;

    if (!hash_value(key, &hash))
        return NULL; /* an unhashable key is in no dict */
    if (!dict->index)
        return find_linear(dict, key);
    mask = dict->index_size - 1;
    for (slot = (size_t)hash & mask; dict->index[slot]; slot = (slot + 1) & mask) {
        size_t entry = dict->index[slot] - 1;

        if (jinja_equal(dict->keys[entry], key))
            return &dict->values[entry];
    }
    return NULL;
}

const jinja_value *jinja_dict_find_str(const jinja_dict *dict, const char *key, size_t length)
{
    size_t i, mask, slot;

    if (dict->index) {
        mask = dict->index_size - 1;
        for (slot = (size_t)hash_bytes(key, length) & mask; dict->index[slot]; slot = (slot + 1) & mask) {
            const jinja_value *k = &dict->keys[dict->index[slot] - 1];

            if (k->type == JINJA_STRING && jinja_as_string(*k)->length == length &&
                memcmp(jinja_as_string(*k)->bytes, key, length) == 0)
                return &dict->values[dict->index[slot] - 1];
        }
        return NULL;
    }
    for (i = 0; i < dict->count; i++) {
        const jinja_value *k = &dict->keys[i];

        if (k->type == JINJA_STRING && jinja_as_string(*k)->length == length &&
            memcmp(jinja_as_string(*k)->bytes, key, length) == 0)
            return &dict->values[i];
    }
    return NULL;
}

void jinja_dict_set(jinja_heap *heap, jinja_value dict_value, jinja_value key, jinja_value value)
{
    jinja_dict *dict = jinja_as_dict(dict_value);
    jinja_value *existing = (jinja_value *)jinja_dict_find(dict, key);
    uint64_t hash = 0;

    if (existing) {
        jinja_release(heap, *existing);
        *existing = value;
        jinja_release(heap, key);
        return;
    }
    if (dict->base.references < 0 || !hash_value(key, &hash) || dict->count >= UINT32_MAX - 1)
        goto fail;
    if (dict->count == dict->capacity) {
        size_t capacity = dict->capacity ? dict->capacity * 2 : 4;
        jinja_value *keys = realloc(dict->keys, capacity * sizeof(*keys));

        if (!keys)
            goto fail;
        dict->keys = keys;
        jinja_value *values = realloc(dict->values, capacity * sizeof(*values));
        if (!values)
            goto fail;
        dict->values = values;
        dict->capacity = capacity;
    }
    dict->keys[dict->count] = key;
    dict->values[dict->count] = value;
    dict->count++;
    if (dict->index && 2 * (dict->count + 1) <= dict->index_size)
        index_insert(dict, dict->count - 1, hash);
    else if (dict->count > DICT_LINEAR_MAX && !index_rebuild(dict)) {
        free(dict->index); /* keep searching linearly rather than with a stale index */
        dict->index = NULL;
        dict->index_size = 0;
    }
    return;

fail:
    heap->out_of_memory = true;
    jinja_release(heap, key);
    jinja_release(heap, value);
}

jinja_callable *jinja_callable_new(jinja_heap *heap, jinja_callable_kind kind, const char *name)
{
    jinja_callable *callable = heap_alloc(heap, sizeof(*callable), JINJA_OBJECT_CALLABLE);

    if (callable) {
        callable->kind = kind;
        callable->name = name;
        callable->receiver = jinja_undefined();
    }
    return callable;
}

jinja_loop *jinja_loop_new(jinja_heap *heap, jinja_value items, int depth)
{
    jinja_loop *loop = heap_alloc(heap, sizeof(*loop), JINJA_OBJECT_LOOP);

    if (loop) {
        loop->items = jinja_retain(items);
        loop->depth = depth;
        loop->last_changed = jinja_undefined();
    }
    return loop;
}

jinja_frame *jinja_frame_new(jinja_heap *heap, jinja_frame *parent)
{
    jinja_frame *frame = heap_alloc(heap, sizeof(*frame), JINJA_OBJECT_FRAME);
    jinja_value variables;

    if (!frame)
        return NULL;
    variables = jinja_dict_new(heap, JINJA_DICT);
    if (variables.as.object == &empty_dict.base) {
        jinja_release(heap, jinja_object_value(JINJA_DICT, frame));
        return NULL;
    }
    frame->variables = jinja_as_dict(variables);
    if (parent) {
        jinja_retain(jinja_object_value(JINJA_DICT, parent));
        frame->parent = parent;
    }
    return frame;
}

/* ---- Python semantics ------------------------------------------------------------------------ */

bool jinja_truthy(jinja_value value)
{
    switch (value.type) {
    case JINJA_UNDEFINED:
    case JINJA_NONE:
        return false;
    case JINJA_BOOL:
        return value.as.boolean;
    case JINJA_INT:
        return value.as.integer != 0;
    case JINJA_FLOAT:
        return value.as.number != 0.0;
    case JINJA_STRING:
        return jinja_as_string(value)->length > 0;
    case JINJA_LIST:
        return jinja_as_list(value)->count > 0;
    case JINJA_DICT:
        return jinja_as_dict(value)->count > 0;
    default:
        return true;
    }
}

bool jinja_is_number(jinja_value value)
{
    return value.type == JINJA_BOOL || value.type == JINJA_INT || value.type == JINJA_FLOAT;
}

double jinja_number(jinja_value value)
{
    if (value.type == JINJA_FLOAT)
        return value.as.number;
    if (value.type == JINJA_INT)
        return (double)value.as.integer;
    return value.type == JINJA_BOOL && value.as.boolean ? 1.0 : 0.0;
}

const char *jinja_type_name(jinja_value value)
{
    switch (value.type) {
    case JINJA_UNDEFINED: return "Undefined";
    case JINJA_NONE: return "NoneType";
    case JINJA_BOOL: return "bool";
    case JINJA_INT: return "int";
    case JINJA_FLOAT: return "float";
    case JINJA_STRING: return "str";
    case JINJA_LIST: return jinja_as_list(value)->is_tuple ? "tuple" : "list";
    case JINJA_DICT: return "dict";
    case JINJA_NAMESPACE: return "Namespace";
    case JINJA_CALLABLE:
        switch (jinja_as_callable(value)->kind) {
        case JINJA_CALL_MACRO:
        case JINJA_CALL_CALLER: return "Macro";
        case JINJA_CALL_METHOD: return "builtin_function_or_method";
        case JINJA_CALL_FUNCTION: return "function";
        }
        return "function";
    case JINJA_LOOP: return "LoopContext";
    }
    return "object";
}

static bool equal_at_depth(jinja_value a, jinja_value b, int depth);

static bool lists_equal(const jinja_list *a, const jinja_list *b, int depth)
{
    size_t i;

    if (a->is_tuple != b->is_tuple || a->count != b->count)
        return false;
    for (i = 0; i < a->count; i++) {
        if (!equal_at_depth(a->items[i], b->items[i], depth + 1))
            return false;
    }
    return true;
}

static bool dicts_equal(const jinja_dict *a, const jinja_dict *b, int depth)
{
    size_t i;

    /* Python compares dicts as sets of items: the order of keys does not matter. */
    if (a->count != b->count)
        return false;
    for (i = 0; i < a->count; i++) {
        const jinja_value *other = jinja_dict_find(b, a->keys[i]);

        if (!other || !equal_at_depth(a->values[i], *other, depth + 1))
            return false;
    }
    return true;
}

/* NOTE: values nested deeper than JINJA_MAX_VALUE_DEPTH compare unequal, where Python would
 * raise RecursionError. */
static bool equal_at_depth(jinja_value a, jinja_value b, int depth)
{
    if (depth > JINJA_MAX_VALUE_DEPTH)
        return false;
    if (jinja_is_number(a) && jinja_is_number(b)) {
        if (a.type != JINJA_FLOAT && b.type != JINJA_FLOAT)
            return (a.type == JINJA_INT ? a.as.integer : a.as.boolean) ==
                   (b.type == JINJA_INT ? b.as.integer : b.as.boolean);
        return jinja_number(a) == jinja_number(b);
    }
    if (a.type != b.type)
        return false;
    if (jinja_is_heap(a) && a.as.object == b.as.object && a.type != JINJA_UNDEFINED)
        return true; /* Python compares container items by identity first */
    switch (a.type) {
    case JINJA_UNDEFINED:
    case JINJA_NONE:
        return true;
    case JINJA_STRING:
        return jinja_as_string(a)->length == jinja_as_string(b)->length &&
               memcmp(jinja_as_string(a)->bytes, jinja_as_string(b)->bytes,
                      jinja_as_string(a)->length) == 0;
    case JINJA_LIST:
        return lists_equal(jinja_as_list(a), jinja_as_list(b), depth);
    case JINJA_DICT:
        return dicts_equal(jinja_as_dict(a), jinja_as_dict(b), depth);
    default:
        return a.as.object == b.as.object;
    }
}

bool jinja_equal(jinja_value a, jinja_value b)
{
    return equal_at_depth(a, b, 0);
}

static bool compare_at_depth(jinja_value a, jinja_value b, int *order, int depth)
{
    if (depth > JINJA_MAX_VALUE_DEPTH)
        return false;
    if (jinja_is_number(a) && jinja_is_number(b)) {
        if (a.type != JINJA_FLOAT && b.type != JINJA_FLOAT) {
            int64_t x = a.type == JINJA_INT ? a.as.integer : a.as.boolean;
            int64_t y = b.type == JINJA_INT ? b.as.integer : b.as.boolean;

            *order = (x > y) - (x < y);
        } else {
            double x = jinja_number(a), y = jinja_number(b);

            /* NaN is neither smaller nor larger, so every comparison with it is false. */
            *order = isnan(x) || isnan(y) ? 2 : (x > y) - (x < y);
        }
        return true;
    }
    if (a.type == JINJA_STRING && b.type == JINJA_STRING) {
        /* Byte order of UTF-8 is code point order, which is how Python orders str. */
        const jinja_string *x = jinja_as_string(a), *y = jinja_as_string(b);
        size_t n = x->length < y->length ? x->length : y->length;
        int c = n ? memcmp(x->bytes, y->bytes, n) : 0;

        *order = c ? (c > 0) - (c < 0) : (x->length > y->length) - (x->length < y->length);
        return true;
    }
    if (a.type == JINJA_LIST && b.type == JINJA_LIST &&
        jinja_as_list(a)->is_tuple == jinja_as_list(b)->is_tuple) {
        const jinja_list *x = jinja_as_list(a), *y = jinja_as_list(b);
        size_t i;

        for (i = 0; i < x->count && i < y->count; i++) {
            if (!equal_at_depth(x->items[i], y->items[i], depth + 1))
                return compare_at_depth(x->items[i], y->items[i], order, depth + 1);
        }
        *order = (x->count > y->count) - (x->count < y->count);
        return true;
    }
    return false;
}

bool jinja_compare(jinja_value a, jinja_value b, int *order)
{
    return compare_at_depth(a, b, order, 0);
}
