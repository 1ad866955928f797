/* estd: a bounded table of 32-byte tags, each valid from one time until
 * another: what the verified-credential and verified-chain caches keep.
 * One slot per tag (by its first bytes; a newer tag replaces an older one
 * in its slot), compared in constant time, under one lock. */
#ifndef ESTD_TAG_TABLE_H
#define ESTD_TAG_TABLE_H

#include <time.h>

#define ESTD_TAG_LEN 32
#define ESTD_TAG_TABLE_SLOTS 4096

typedef struct estd_tag_table estd_tag_table;

estd_tag_table *estd_tag_table_new(void);
/* Wipes the tags too. NULL ok. */
void estd_tag_table_free(estd_tag_table *table);

/* 1 when tag was put with from <= now < until (and not replaced since). */
int estd_tag_table_hit(estd_tag_table *table, const unsigned char tag[ESTD_TAG_LEN], time_t now);
void estd_tag_table_put(estd_tag_table *table, const unsigned char tag[ESTD_TAG_LEN], time_t from,
                        time_t until);
/* Forgets every tag. NULL ok. */
void estd_tag_table_clear(estd_tag_table *table);

#endif
