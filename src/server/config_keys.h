/* estd.conf keys as data. Every key is one row of a table: its name, type,
 * where it lives in the config struct, its range, its default and the
 * comment `estd init` writes above it. config.c produces the defaults, the
 * parser, the range errors and the template from these rows, so a key is
 * written once (config_keys.c for [server] and [ca], config_ops.c and
 * config_upstream.c for the keys they own). */
#ifndef ESTD_CONFIG_KEYS_H
#define ESTD_CONFIG_KEYS_H

#include <stddef.h>
#include "estkit.h"

typedef enum estd_key_type {
    ESTD_KEY_UINT,   /* unsigned, min..max */
    ESTD_KEY_SIZE,   /* size_t, min..max */
    ESTD_KEY_INT,    /* int, min..max */
    ESTD_KEY_BOOL,   /* int: yes/true/1 or no/false/0 */
    ESTD_KEY_CHOICE, /* int or enum: the index of a word in choices */
    ESTD_KEY_STRING, /* char[cap] */
    ESTD_KEY_CUSTOM, /* the row's set hook; def_text is its default */
} estd_key_type;

enum estd_key_flag {
    ESTD_KEY_PATH = 1u << 0,        /* relative to DIR: made absolute on load */
    ESTD_KEY_LABEL_PATH = 1u << 1,  /* default "ca/x" is "ca-LABEL/x" in [ca "LABEL"] */
    ESTD_KEY_NOT_EMPTY = 1u << 2,   /* "" is refused */
    ESTD_KEY_HIDDEN = 1u << 3,      /* not in the template (docs/operator.md has it) */
    ESTD_KEY_INIT_LISTEN = 1u << 4, /* the template writes `estd init`'s listen address */
};

typedef struct estd_config_key estd_config_key;

/* A custom key's parser: base is the table's struct (the field is at
 * key->offset), value is trimmed. EST_E_CONFIG with a one-line reason. */
typedef est_status (*estd_key_setter)(void *base, const estd_config_key *key, const char *value,
                                      est_error *err);

struct estd_config_key {
    const char *name;
    estd_key_type type;
    size_t offset;              /* of the field in the table's struct */
    size_t cap;                 /* strings: sizeof the field */
    unsigned min, max;          /* numbers (and custom keys that take one) */
    unsigned def;               /* numbers, booleans, the index of a choice */
    const char *def_text;       /* strings and custom keys: the default as written; NULL = "" */
    const char *const *choices; /* ESTD_KEY_CHOICE: NULL-terminated words */
    estd_key_setter set;        /* ESTD_KEY_CUSTOM */
    unsigned flags;             /* enum estd_key_flag */
    const char *help;           /* lines of the comment above the key, or NULL */
};

typedef struct estd_config_table {
    const estd_config_key *keys;
    size_t count;
} estd_config_table;

#define ESTD_TABLE(rows) {rows, sizeof rows / sizeof rows[0]}

/* Row builders for the tables (designated initializers, so a row names
 * only what its type needs). */
#define ESTD_NUMBER(kind, st, n, field, lo, hi, d, h)                                  \
    {.name = n, .type = kind, .offset = offsetof(st, field), .min = lo, .max = hi, .def = d, \
     .help = h}
#define ESTD_UINT(st, n, field, lo, hi, d, h) ESTD_NUMBER(ESTD_KEY_UINT, st, n, field, lo, hi, d, h)
#define ESTD_SIZE(st, n, field, lo, hi, d, h) ESTD_NUMBER(ESTD_KEY_SIZE, st, n, field, lo, hi, d, h)
#define ESTD_INT(st, n, field, lo, hi, d, h) ESTD_NUMBER(ESTD_KEY_INT, st, n, field, lo, hi, d, h)
#define ESTD_BOOL(st, n, field, d, h) \
    {.name = n, .type = ESTD_KEY_BOOL, .offset = offsetof(st, field), .def = d, .help = h}
#define ESTD_CHOICE(st, n, field, words, d, h)                                               \
    {.name = n, .type = ESTD_KEY_CHOICE, .offset = offsetof(st, field), .choices = words, \
     .def = d, .help = h}
#define ESTD_STRING(st, n, field, d, fl, h)                                            \
    {.name = n, .type = ESTD_KEY_STRING, .offset = offsetof(st, field),               \
     .cap = sizeof(((st *)0)->field), .def_text = d, .flags = fl, .help = h}
#define ESTD_CUSTOM(st, n, field, fn, d, fl, h)                                        \
    {.name = n, .type = ESTD_KEY_CUSTOM, .offset = offsetof(st, field),               \
     .cap = sizeof(((st *)0)->field), .set = fn, .def_text = d, .flags = fl, .help = h}

/* The sections' tables (config_keys.c, config_ops.c, config_upstream.c). */
extern const estd_config_table estd_server_keys;   /* estd_config */
extern const estd_config_table estd_ops_server_keys; /* estd_ops_config */
extern const estd_config_table estd_ca_keys;       /* estd_ca_config */
extern const estd_config_table estd_ops_ca_keys;   /* est_profile */
extern const estd_config_table estd_upstream_keys; /* estd_upstream_config */

/* One section: its tables, each at an offset in the section's struct.
 * The template lists the keys in this order. */
typedef struct estd_config_part {
    const estd_config_table *table;
    size_t base;
} estd_config_part;

typedef struct estd_config_section {
    const char *name; /* "server", "ca" */
    const estd_config_part *parts;
    size_t count;
} estd_config_section;

extern const estd_config_section estd_config_server_section;
extern const estd_config_section estd_config_ca_section;

/* key = value into base (the table's struct). EST_E_NOT_FOUND, err
 * untouched, when key is not in the table. */
est_status estd_config_key_set(const estd_config_table *table, void *base, const char *key,
                               const char *value, est_error *err);
/* Every key of the table at its default; label ("" = default CA) for
 * ESTD_KEY_LABEL_PATH. The struct should be zeroed first. */
void estd_config_table_defaults(const estd_config_table *table, void *base, const char *label);
/* The ESTD_KEY_PATH keys made absolute under dir. */
est_status estd_config_table_resolve(const estd_config_table *table, void *base, const char *dir,
                                     est_error *err);

/* The setters the custom keys build on. */
est_status estd_config_set_string(char *dst, size_t cap, const char *value, est_error *err);
/* "'V' is not a whole number from MIN to MAX (KEY)" when out of range. */
est_status estd_config_set_number(const estd_config_key *key, unsigned *out, const char *value,
                                  est_error *err);

#endif
