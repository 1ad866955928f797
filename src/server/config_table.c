/* estd.conf: what the key tables (config_keys.h) turn into: a key set
 * from its text, every key at its default, relative paths resolved, and
 * the commented template `estd init` writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "config_keys.h"
#include "pkcs11.h"

est_status estd_config_set_string(char *dst, size_t cap, const char *value, est_error *err)
{
    if (strlen(value) >= cap)
        return est_error_set(err, EST_E_CONFIG, "value longer than %zu characters", cap - 1);
    memcpy(dst, value, strlen(value) + 1);
    return EST_OK;
}

est_status estd_config_set_number(const estd_config_key *key, unsigned *out, const char *value,
                                  est_error *err)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || v < key->min ||
        v > key->max)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not a whole number from %u to %u (%s)",
                             value, key->min, key->max, key->name);
    *out = (unsigned)v;
    return EST_OK;
}

static est_status set_bool(int *dst, const char *value, est_error *err)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        *dst = 1;
        return EST_OK;
    }
    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
        *dst = 0;
        return EST_OK;
    }
    return est_error_set(err, EST_E_CONFIG, "'%s' is not yes or no", value);
}

static est_status set_choice(int *dst, const char *value, const char *const *choices,
                             est_error *err)
{
    char list[256] = "";

    for (int i = 0; choices[i] != NULL; i++) {
        if (strcasecmp(value, choices[i]) == 0) {
            *dst = i;
            return EST_OK;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 choices[i]);
    }
    return est_error_set(err, EST_E_CONFIG, "'%s' is not one of the allowed values (%s)", value,
                         list);
}

static est_status key_value_set(const estd_config_key *key, void *base, const char *value,
                                est_error *err)
{
    void *field = (char *)base + key->offset;
    unsigned u = 0;
    est_status rc;

    switch (key->type) {
    case ESTD_KEY_UINT:
        return estd_config_set_number(key, (unsigned *)field, value, err);
    case ESTD_KEY_SIZE:
        if ((rc = estd_config_set_number(key, &u, value, err)) == EST_OK)
            *(size_t *)field = u;
        return rc;
    case ESTD_KEY_INT:
        if ((rc = estd_config_set_number(key, &u, value, err)) == EST_OK)
            *(int *)field = (int)u;
        return rc;
    case ESTD_KEY_BOOL:
        return set_bool((int *)field, value, err);
    case ESTD_KEY_CHOICE:
        return set_choice((int *)field, value, key->choices, err);
    case ESTD_KEY_STRING:
        if ((key->flags & ESTD_KEY_NOT_EMPTY) && value[0] == '\0')
            return est_error_set(err, EST_E_CONFIG, "%s must not be empty", key->name);
        return estd_config_set_string((char *)field, key->cap, value, err);
    case ESTD_KEY_CUSTOM:
        return key->set(base, key, value, err);
    }
    return est_error_set(err, EST_E_INTERNAL, "key %s: no type", key->name);
}

est_status estd_config_key_set(const estd_config_table *table, void *base, const char *key,
                               const char *value, est_error *err)
{
    for (size_t i = 0; i < table->count; i++)
        if (strcmp(key, table->keys[i].name) == 0)
            return key_value_set(&table->keys[i], base, value, err);
    return EST_E_NOT_FOUND;
}

/* The default as the template writes it ("ca/x" -> "ca-LABEL/x" when
 * labelled). buf holds numbers and labelled paths. */
static const char *default_text(const estd_config_key *key, const char *label, char *buf,
                                size_t cap)
{
    switch (key->type) {
    case ESTD_KEY_UINT:
    case ESTD_KEY_SIZE:
    case ESTD_KEY_INT:
        snprintf(buf, cap, "%u", key->def);
        return buf;
    case ESTD_KEY_BOOL:
        return key->def ? "yes" : "no";
    case ESTD_KEY_CHOICE:
        return key->choices[key->def];
    case ESTD_KEY_STRING:
    case ESTD_KEY_CUSTOM:
        break;
    }
    if (key->def_text == NULL)
        return "";
    if ((key->flags & ESTD_KEY_LABEL_PATH) && label[0] != '\0' &&
        strncmp(key->def_text, "ca/", 3) == 0) {
        snprintf(buf, cap, "ca-%s/%s", label, key->def_text + 3);
        return buf;
    }
    return key->def_text;
}

void estd_config_table_defaults(const estd_config_table *table, void *base, const char *label)
{
    char buf[ESTD_PATH_MAX];

    /* The defaults are the template's text through the same parser, so
     * both say the same; a default the parser refuses is a bug that the
     * key-table unit test reports. */
    for (size_t i = 0; i < table->count; i++) {
        /* A custom key without a default is left to the struct's zero or
         * to the section's code (a [ca]'s base64_line_length). */
        if (table->keys[i].type == ESTD_KEY_CUSTOM && table->keys[i].def_text == NULL)
            continue;
        (void)key_value_set(&table->keys[i], base,
                            default_text(&table->keys[i], label, buf, sizeof buf), NULL);
    }
}

est_status estd_config_table_resolve(const estd_config_table *table, void *base, const char *dir,
                                     est_error *err)
{
    for (size_t i = 0; i < table->count; i++) {
        const estd_config_key *key = &table->keys[i];
        if ((key->flags & ESTD_KEY_PATH) &&
            estd_config_path_resolve((char *)base + key->offset, key->cap, dir, err) != EST_OK)
            return EST_E_CONFIG;
    }
    return EST_OK;
}

static void template_key(FILE *f, const estd_config_key *key, const char *listen)
{
    char buf[64];
    const char *value = (key->flags & ESTD_KEY_INIT_LISTEN)
                            ? listen
                            : default_text(key, "", buf, sizeof buf);

    if (key->flags & ESTD_KEY_HIDDEN)
        return;
    for (const char *line = key->help; line != NULL && *line != '\0';) {
        size_t n = strcspn(line, "\n");
        fprintf(f, "# %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    fprintf(f, "%s =%s%s\n", key->name, value[0] ? " " : "", value);
}

static void template_section(FILE *f, const estd_config_section *section, const char *listen)
{
    fprintf(f, "[%s]\n", section->name);
    for (size_t p = 0; p < section->count; p++)
        for (size_t i = 0; i < section->parts[p].table->count; i++)
            template_key(f, &section->parts[p].table->keys[i], listen);
}

est_status estd_config_template(const char *listen, char **out, est_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    fputs("# estd.conf: configuration of one estd instance (written by `estd init`).\n"
          "# Relative paths are relative to this directory. Unknown keys are errors.\n\n",
          f);
    template_section(f, &estd_config_server_section, listen);
    fputc('\n', f);
    template_section(f, &estd_config_ca_section, listen);
    if (ferror(f) != 0) {
        fclose(f);
        free(text);
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    fclose(f);
    *out = text;
    return EST_OK;
}
