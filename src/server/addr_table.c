/* estd: connections per client address (see addr_table.h).
 *
 * A chained hash table under one mutex: an accept and a close each take it
 * once, which is cheap next to a TLS handshake. An entry exists while its
 * address holds a connection, so the table never holds more entries than
 * there are connections. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "addr_table.h"

#define ADDR_TABLE_BUCKETS_MAX 65536

typedef struct addr_entry {
    estd_addr_key key;
    unsigned count;
    unsigned refused;
    struct addr_entry *next;
} addr_entry;

struct estd_addr_table {
    pthread_mutex_t lock;
    unsigned per_address;
    size_t mask;
    addr_entry **buckets;
};

estd_addr_table *estd_addr_table_new(unsigned per_address, unsigned expected)
{
    estd_addr_table *t = calloc(1, sizeof *t);
    size_t n = 16;

    if (t == NULL)
        return NULL;
    while (n < expected && n < ADDR_TABLE_BUCKETS_MAX)
        n *= 2;
    t->buckets = calloc(n, sizeof *t->buckets);
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    t->per_address = per_address;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void estd_addr_table_free(estd_addr_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        while (t->buckets[i] != NULL) {
            addr_entry *e = t->buckets[i];
            t->buckets[i] = e->next;
            free(e);
        }
    }
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int estd_addr_key_from(const struct sockaddr *sa, socklen_t len, estd_addr_key *key)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(key, 0, sizeof *key);
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        key->bytes[0] = 4;
        memcpy(key->bytes + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0) {
            key->bytes[0] = 4;
            memcpy(key->bytes + 1, a + 12, 4);
        } else {
            key->bytes[0] = 6;
            memcpy(key->bytes + 1, a, 8); /* the /64 */
        }
        return 0;
    }
    return -1;
}

void estd_addr_table_set_per_address(estd_addr_table *t, unsigned per_address)
{
    pthread_mutex_lock(&t->lock);
    t->per_address = per_address;
    pthread_mutex_unlock(&t->lock);
}

static size_t key_hash(const estd_addr_key *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < sizeof key->bytes; i++)
        h = (h ^ key->bytes[i]) * 16777619u;
    return h;
}

static addr_entry **slot_of(estd_addr_table *t, const estd_addr_key *key)
{
    addr_entry **slot = &t->buckets[key_hash(key) & t->mask];
    while (*slot != NULL && memcmp(&(*slot)->key, key, sizeof *key) != 0)
        slot = &(*slot)->next;
    return slot;
}

int estd_addr_table_acquire(estd_addr_table *t, const estd_addr_key *key, unsigned *refused)
{
    addr_entry **slot, *e;
    int rc = -1;

    pthread_mutex_lock(&t->lock);
    slot = slot_of(t, key);
    e = *slot;
    if (e == NULL && (e = calloc(1, sizeof *e)) != NULL) {
        e->key = *key;
        *slot = e;
    }
    if (e != NULL && e->count < t->per_address) {
        e->count++;
        e->refused = 0;
        rc = 0;
    } else if (e != NULL) {
        *refused = ++e->refused;
    } else {
        *refused = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void estd_addr_table_release(estd_addr_table *t, const estd_addr_key *key)
{
    addr_entry **slot, *e;

    pthread_mutex_lock(&t->lock);
    slot = slot_of(t, key);
    e = *slot;
    if (e != NULL && e->count > 0 && --e->count == 0) {
        *slot = e->next;
        free(e);
    }
    pthread_mutex_unlock(&t->lock);
}
