/* Tests src/server/config_keys.c and config_table.c by walking the key
 * tables of every section: each default is inside its range and parses,
 * the template `estd init` writes parses back into the defaults, each
 * ranged key takes its bounds and refuses one past them with a one-line
 * message naming file:line, the key and the range, and docs/operator.md
 * documents exactly the keys the tables hold. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "config_keys.h"
#include "estkit/csr.h"
#include "unit_main.h"

#define OPERATOR_MD ESTKIT_TEST_DATA "/../../docs/operator.md"

/* Every key of every section, flattened: where its section's struct
 * holds it (offset from estd_config, or from estd_ca_config for [ca]). */
typedef struct walked_key {
    const char *section; /* "server", "ca" */
    size_t offset;       /* of the field in the section's struct */
    const estd_config_key *key;
} walked_key;

#define KEYS_MAX 256

static size_t walk(walked_key *out)
{
    static const estd_config_section *const sections[] = {&estd_config_server_section,
                                                          &estd_config_ca_section};
    size_t n = 0;

    for (size_t s = 0; s < 2; s++)
        for (size_t p = 0; p < sections[s]->count; p++)
            for (size_t i = 0; i < sections[s]->parts[p].table->count; i++) {
                const estd_config_key *key = &sections[s]->parts[p].table->keys[i];
                assert_true(n < KEYS_MAX);
                out[n++] = (walked_key){sections[s]->name,
                                        sections[s]->parts[p].base + key->offset, key};
            }
    return n;
}

static int is_number(const estd_config_key *key)
{
    return key->type == ESTD_KEY_UINT || key->type == ESTD_KEY_SIZE ||
           key->type == ESTD_KEY_INT || (key->type == ESTD_KEY_CUSTOM && key->max > 0);
}

/* Bytes of the field a key sets (what a parse may change). */
static size_t field_size(const estd_config_key *key)
{
    switch (key->type) {
    case ESTD_KEY_SIZE:
        return sizeof(size_t);
    case ESTD_KEY_STRING:
    case ESTD_KEY_CUSTOM:
        return key->cap;
    default:
        return sizeof(int);
    }
}

static est_status parse(estd_config *cfg, const char *text, est_error *err)
{
    estd_config_defaults(cfg, "/srv/estd");
    memset(err, 0, sizeof *err);
    return estd_config_parse(cfg, "estd.conf", text, strlen(text), err);
}

/* The default as a line of the file. */
static void default_line(const walked_key *w, char *text, size_t cap)
{
    const estd_config_key *key = w->key;
    const char *value = key->def_text ? key->def_text : "";
    char number[16];

    if (key->type == ESTD_KEY_UINT || key->type == ESTD_KEY_SIZE || key->type == ESTD_KEY_INT) {
        if (key->def < key->min || key->def > key->max)
            fail_msg("%s: default %u outside %u..%u", key->name, key->def, key->min, key->max);
        snprintf(number, sizeof number, "%u", key->def);
        value = number;
    } else if (key->type == ESTD_KEY_BOOL) {
        value = key->def ? "yes" : "no";
    } else if (key->type == ESTD_KEY_CHOICE) {
        value = key->choices[key->def];
    }
    snprintf(text, cap, "[%s]\n%s = %s\n", w->section, key->name, value);
}

static void defaults_are_in_range_and_parse(void **state)
{
    estd_config *cfg = malloc(sizeof *cfg);
    walked_key keys[KEYS_MAX];
    size_t n = walk(keys);
    (void)state;

    assert_non_null(cfg);
    for (size_t i = 0; i < n; i++) {
        char text[1024];
        est_error err;
        /* A custom key without a default is set by the section's code. */
        if (keys[i].key->type == ESTD_KEY_CUSTOM && keys[i].key->def_text == NULL)
            continue;
        default_line(&keys[i], text, sizeof text);
        if (parse(cfg, text, &err) != EST_OK)
            fail_msg("%s: default does not parse: %s", keys[i].key->name, err.message);
    }
    free(cfg);
}

/* Every key the template writes is first spoiled, then the template is
 * parsed: what comes back must be the defaults, byte for byte. */
static void template_parses_back_into_the_defaults(void **state)
{
    estd_config *want = malloc(sizeof *want), *got = malloc(sizeof *got);
    walked_key keys[KEYS_MAX];
    size_t n = walk(keys);
    est_profile lib;
    char *text = NULL;
    est_error err;
    (void)state;

    assert_non_null(want);
    assert_non_null(got);
    estd_config_defaults(want, "/srv/estd");
    estd_config_defaults(got, "/srv/estd");
    for (size_t i = 0; i < n; i++) {
        const estd_config_key *key = keys[i].key;
        char *field = (strcmp(keys[i].section, "ca") == 0 ? (char *)&got->cas[0] : (char *)got) +
                      keys[i].offset;
        if (key->flags & ESTD_KEY_HIDDEN)
            continue;
        /* Text fields: a NUL-padded "Z", which any parse overwrites up to
         * where the defaults are zero anyway. */
        memset(field, 0, field_size(key));
        memset(field, 0x5a,
               key->type == ESTD_KEY_STRING || key->type == ESTD_KEY_CUSTOM ? 1 : field_size(key));
    }
    assert_int_equal(estd_config_template("127.0.0.1:8443", &text, &err), EST_OK);
    assert_int_equal(estd_config_parse(got, "estd.conf", text, strlen(text), &err), EST_OK);
    assert_memory_equal(got, want, sizeof *want);
    /* The [ca] profile rows agree with the library's own defaults. */
    est_profile_default(&lib);
    assert_memory_equal(&want->cas[0].profile, &lib, sizeof lib);
    assert_int_equal(want->base64_line_length, EST_BODY_LINE_DEFAULT);
    free(text);
    free(want);
    free(got);
}

static void one_past(estd_config *cfg, const char *section, const estd_config_key *key,
                     long value)
{
    char text[256], want[256];
    est_error err;

    snprintf(text, sizeof text, "[%s]\n%s = %ld\n", section, key->name, value);
    if (parse(cfg, text, &err) != EST_E_CONFIG)
        fail_msg("%s = %ld parsed", key->name, value);
    snprintf(want, sizeof want, "estd.conf:2: '%ld' is not a whole number from %u to %u (%s)",
             value, key->min, key->max, key->name);
    assert_string_equal(err.message, want);
}

static void ranged_keys_take_their_bounds_and_refuse_one_past(void **state)
{
    estd_config *cfg = malloc(sizeof *cfg);
    walked_key keys[KEYS_MAX];
    size_t n = walk(keys), ranged = 0;
    (void)state;

    assert_non_null(cfg);
    for (size_t i = 0; i < n; i++) {
        const estd_config_key *key = keys[i].key;
        const char *name = keys[i].section;
        char text[256];
        est_error err;
        if (!is_number(key))
            continue;
        ranged++;
        snprintf(text, sizeof text, "[%s]\n%s = %u\n[%s]\n%s = %u\n", name, key->name, key->min,
                 name, key->name, key->max);
        if (parse(cfg, text, &err) != EST_OK)
            fail_msg("%s at its bounds: %s", key->name, err.message);
        one_past(cfg, name, key, (long)key->min - 1);
        one_past(cfg, name, key, (long)key->max + 1);
    }
    assert_true(ranged >= 40);
    free(cfg);
}

static char *operator_md(void)
{
    FILE *f = fopen(OPERATOR_MD, "r");
    char *text;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

/* `name`, `name = ...` in the text, or name = ... starting a line. */
static int documented(const char *doc, const char *name)
{
    char needle[3][128];

    snprintf(needle[0], sizeof needle[0], "`%s`", name);
    snprintf(needle[1], sizeof needle[1], "`%s =", name);
    snprintf(needle[2], sizeof needle[2], "\n%s =", name);
    for (size_t i = 0; i < 3; i++)
        if (strstr(doc, needle[i]) != NULL)
            return 1;
    return 0;
}

static int in_a_table(const walked_key *keys, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(keys[i].key->name) == len && strncmp(keys[i].key->name, name, len) == 0)
            return 1;
    return 0;
}

/* Forward: every key of every table is in docs/operator.md. Reverse: every
 * "key = value" line of an ```ini example there is a key of a table. */
static void operator_guide_documents_every_key(void **state)
{
    char *doc = operator_md();
    walked_key keys[KEYS_MAX];
    size_t n = walk(keys);
    char missing[1024] = "";
    int in_ini = 0;
    (void)state;

    for (size_t i = 0; i < n; i++)
        if (!documented(doc, keys[i].key->name))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     keys[i].key->name);
    if (missing[0] != '\0') {
        free(doc);
        fail_msg("not in docs/operator.md:%s", missing);
    }
    for (char *line = strtok(doc, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        size_t len = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (strncmp(line, "```", 3) == 0)
            in_ini = strcmp(line, "```ini") == 0;
        else if (in_ini && len > 0 && strncmp(line + len, " =", 2) == 0 &&
                 !in_a_table(keys, n, line, len))
            fail_msg("docs/operator.md sets '%.*s', which is no estd.conf key", (int)len, line);
    }
    free(doc);
}

UNIT_MAIN(
    cmocka_unit_test(defaults_are_in_range_and_parse),
    cmocka_unit_test(template_parses_back_into_the_defaults),
    cmocka_unit_test(ranged_keys_take_their_bounds_and_refuse_one_past),
    cmocka_unit_test(operator_guide_documents_every_key))
