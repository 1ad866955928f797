/* estd: tag table (see tag_table.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "tag_table.h"

typedef struct tag_slot {
    unsigned char tag[ESTD_TAG_LEN];
    time_t from, until; /* until 0 = empty */
} tag_slot;

struct estd_tag_table {
    pthread_mutex_t lock;
    tag_slot slots[ESTD_TAG_TABLE_SLOTS];
};

estd_tag_table *estd_tag_table_new(void)
{
    estd_tag_table *table = calloc(1, sizeof *table);

    if (table != NULL && pthread_mutex_init(&table->lock, NULL) != 0) {
        free(table);
        return NULL;
    }
    return table;
}

void estd_tag_table_free(estd_tag_table *table)
{
    if (table == NULL)
        return;
    pthread_mutex_destroy(&table->lock);
    OPENSSL_cleanse(table, sizeof *table);
    free(table);
}

/* Tags are hash outputs: their first bytes are as good as any index. */
static tag_slot *slot_for(estd_tag_table *table, const unsigned char tag[ESTD_TAG_LEN])
{
    size_t v = 0;

    memcpy(&v, tag, sizeof v);
    return &table->slots[v % ESTD_TAG_TABLE_SLOTS];
}

int estd_tag_table_hit(estd_tag_table *table, const unsigned char tag[ESTD_TAG_LEN], time_t now)
{
    tag_slot *slot;
    int hit;

    if (table == NULL)
        return 0;
    pthread_mutex_lock(&table->lock);
    slot = slot_for(table, tag);
    hit = slot->until != 0 && now >= slot->from && now < slot->until &&
          CRYPTO_memcmp(slot->tag, tag, ESTD_TAG_LEN) == 0;
    pthread_mutex_unlock(&table->lock);
    return hit;
}

void estd_tag_table_put(estd_tag_table *table, const unsigned char tag[ESTD_TAG_LEN], time_t from,
                        time_t until)
{
    tag_slot *slot;

    if (table == NULL || until <= from)
        return;
    pthread_mutex_lock(&table->lock);
    slot = slot_for(table, tag);
    memcpy(slot->tag, tag, ESTD_TAG_LEN);
    slot->from = from;
    slot->until = until;
    pthread_mutex_unlock(&table->lock);
}

void estd_tag_table_clear(estd_tag_table *table)
{
    if (table == NULL)
        return;
    pthread_mutex_lock(&table->lock);
    OPENSSL_cleanse(table->slots, sizeof table->slots);
    pthread_mutex_unlock(&table->lock);
}
