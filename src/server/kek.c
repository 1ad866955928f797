/* estd: the kek_file table (see kek.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "kek.h"
#include "estkit/file.h"

typedef struct kek_entry {
    uint8_t id[EST_DECRYPT_KEY_ID_MAX];
    size_t id_len;
    uint8_t key[ESTD_KEK_MAX];
    size_t key_len;
} kek_entry;

struct estd_kek_table {
    kek_entry *entries;
    size_t count;
};

void estd_kek_table_free(estd_kek_table *table)
{
    if (table == NULL)
        return;
    OPENSSL_clear_free(table->entries, table->count * sizeof *table->entries);
    free(table);
}

static est_status line_parse(char *line, size_t number, kek_entry *e, est_error *err)
{
    char *key_hex = strpbrk(line, " \t");

    if (key_hex == NULL)
        return est_error_set(err, EST_E_CONFIG, "kek_file:%zu: expected ID_HEX KEY_HEX", number);
    *key_hex++ = '\0';
    key_hex += strspn(key_hex, " \t");
    key_hex[strcspn(key_hex, " \t\r")] = '\0';
    if (OPENSSL_hexstr2buf_ex(e->id, sizeof e->id, &e->id_len, line, '\0') != 1 ||
        e->id_len == 0)
        return est_error_set(err, EST_E_CONFIG, "kek_file:%zu: the identifier is not 1 to %d "
                             "bytes of hex", number, EST_DECRYPT_KEY_ID_MAX);
    if (OPENSSL_hexstr2buf_ex(e->key, sizeof e->key, &e->key_len, key_hex, '\0') != 1 ||
        (e->key_len != 16 && e->key_len != 24 && e->key_len != 32))
        return est_error_set(err, EST_E_CONFIG, "kek_file:%zu: the key is not 16, 24 or 32 "
                             "bytes of hex", number);
    return EST_OK;
}

est_status estd_kek_table_load(const char *path, estd_kek_table **out, est_error *err)
{
    estd_kek_table *table = calloc(1, sizeof *table);
    uint8_t *text = NULL;
    size_t len = 0, lines = 1, number = 0;
    char *line, *next;
    est_status rc = EST_E_NOMEM;

    *out = NULL;
    if (table == NULL)
        return est_error_set(err, rc, "out of memory");
    if ((rc = est_file_read_secret(path, ESTD_KEK_FILE_MAX, &text, &len, err)) != EST_OK) {
        est_error_prefix(err, rc, "kek_file");
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    table->entries = OPENSSL_zalloc(lines * sizeof *table->entries);
    if (table->entries == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (line = (char *)text; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        number++;
        line += strspn(line, " \t\r");
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if ((rc = line_parse(line, number, &table->entries[table->count], err)) != EST_OK)
            goto out;
        table->count++;
    }
    *out = table;
    table = NULL;
    rc = EST_OK;
out:
    if (table != NULL) {
        /* count entries filled, plus the one a bad line half-filled */
        table->count = lines;
        estd_kek_table_free(table);
    }
    OPENSSL_clear_free(text, len + 1);
    return rc;
}

int estd_kek_table_find(const estd_kek_table *table, const uint8_t *id, size_t id_len,
                        uint8_t kek[ESTD_KEK_MAX], size_t *kek_len)
{
    for (size_t i = 0; table != NULL && i < table->count; i++) {
        const kek_entry *e = &table->entries[i];
        if (e->id_len == id_len && CRYPTO_memcmp(e->id, id, id_len) == 0) {
            memcpy(kek, e->key, e->key_len);
            *kek_len = e->key_len;
            return 1;
        }
    }
    return 0;
}
