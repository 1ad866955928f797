/* estd: pre-shared key-encryption keys for /serverkeygen (kek_file).
 *
 * Read once when estd starts, from the descriptor whose mode was checked
 * (fstat, not stat-then-open), and kept in memory until it stops; lookups
 * never touch the file again. */
#ifndef ESTD_KEK_H
#define ESTD_KEK_H

#include <stddef.h>
#include <stdint.h>
#include "estkit.h"

/* kek_file: a few keys, one short line each. */
#define ESTD_KEK_FILE_MAX (64 * 1024)
#define ESTD_KEK_MAX 32

typedef struct estd_kek_table estd_kek_table;

/* Parses "ID_HEX KEY_HEX" lines ('#' comments, blank lines); keys 16, 24
 * or 32 bytes. A bad line is an error naming its number. */
est_status estd_kek_table_load(const char *path, estd_kek_table **out, est_error *err);
void estd_kek_table_free(estd_kek_table *table); /* cleanses; NULL is a no-op */

/* Copies the key for id into kek (ESTD_KEK_MAX bytes); 0 when unknown. */
int estd_kek_table_find(const estd_kek_table *table, const uint8_t *id, size_t id_len,
                        uint8_t kek[ESTD_KEK_MAX], size_t *kek_len);

#endif
