/* Server-side Digest nonces (RFC 7616 §3.3, §5.4, §5.5).
 *
 * nonce = base64url(time || serial || random || HMAC-SHA256(secret, ...))
 * with time the issue time (8 bytes, big-endian seconds), serial a counter
 * of the book (8 bytes), 16 random bytes, and a secret drawn per book or
 * set by the server (estd sets the store's, so nodes sharing a store
 * accept each other's nonces; the nc table below stays per node). The
 * server thus needs no table to tell an authentic nonce from a forged one
 * or to see that it expired.
 *
 * Replay (RFC 7616 §5.5): nc must strictly increase per nonce, which needs
 * state: a bounded table of nonces seen in use with the last nc of each.
 * When the table is full the least recently used entry is evicted, and the
 * serial of every evicted nonce raises a watermark: a nonce not in the
 * table whose serial is at or below the watermark may have been used
 * before, so it is answered as "stale" (the client retries with a fresh
 * nonce, RFC 7616 §3.3 stale=true) instead of being trusted again. Serials
 * rather than times, so that nonces issued in the same second as an evicted
 * one are not caught by the watermark. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "estkit/auth.h"
#include "auth_b64.h"

#define NONCE_TIME_LEN 8
#define NONCE_SERIAL_LEN 8
#define NONCE_RANDOM_LEN 16
#define NONCE_MAC_LEN 32
#define NONCE_ID_LEN (NONCE_TIME_LEN + NONCE_SERIAL_LEN + NONCE_RANDOM_LEN)
#define NONCE_RAW_LEN (NONCE_ID_LEN + NONCE_MAC_LEN)
#define NONCE_SECRET_LEN 32
/* Nonces whose nc we remember. A linear scan of this many entries costs a
 * few microseconds, far below a TLS handshake, so no index is kept. */
#define NONCE_TABLE_SIZE 4096
/* est_digest_nonce_issue's documented bound on its output. */
#define NONCE_TEXT_MAX 128

typedef struct nonce_entry {
    uint8_t id[NONCE_ID_LEN]; /* time || serial || random */
    uint32_t last_nc;
    uint64_t last_use; /* book->tick at the last accepted use; 0 = free */
} nonce_entry;

struct est_digest_nonces {
    pthread_mutex_t lock;
    unsigned lifetime;
    uint8_t secret[NONCE_SECRET_LEN];
    uint64_t tick;      /* LRU clock */
    uint64_t serial;    /* last serial issued; the first is 1 */
    uint64_t watermark; /* highest serial of an evicted entry; 0 = none */
    nonce_entry table[NONCE_TABLE_SIZE];
};

est_digest_nonces *est_digest_nonces_new(unsigned lifetime_seconds)
{
    est_digest_nonces *book;

    if (lifetime_seconds == 0)
        return NULL;
    book = calloc(1, sizeof *book);
    if (book == NULL)
        return NULL;
    if (RAND_bytes(book->secret, sizeof book->secret) != 1 ||
        pthread_mutex_init(&book->lock, NULL) != 0) {
        OPENSSL_cleanse(book->secret, sizeof book->secret);
        free(book);
        return NULL;
    }
    book->lifetime = lifetime_seconds;
    return book;
}

/* Shorter than this is no secret worth the name (128 bits). */
#define NONCE_SECRET_MIN 16

est_status est_digest_nonces_set_secret(est_digest_nonces *book, const uint8_t *secret,
                                        size_t len, est_error *err)
{
    if (book == NULL || secret == NULL || len < NONCE_SECRET_MIN || len > NONCE_SECRET_LEN)
        return est_error_set(err, EST_E_INPUT, "nonce secret: %d-%d bytes", NONCE_SECRET_MIN,
                             NONCE_SECRET_LEN);
    pthread_mutex_lock(&book->lock);
    memset(book->secret, 0, sizeof book->secret);
    memcpy(book->secret, secret, len);
    pthread_mutex_unlock(&book->lock);
    return EST_OK;
}

void est_digest_nonces_free(est_digest_nonces *book)
{
    if (book == NULL)
        return;
    pthread_mutex_destroy(&book->lock);
    OPENSSL_cleanse(book->secret, sizeof book->secret);
    free(book);
}

static int nonce_mac(const est_digest_nonces *book, const uint8_t id[NONCE_ID_LEN],
                     uint8_t mac[NONCE_MAC_LEN])
{
    size_t mac_len = 0;

    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, book->secret, sizeof book->secret, id,
                     NONCE_ID_LEN, mac, NONCE_MAC_LEN, &mac_len) != NULL &&
           mac_len == NONCE_MAC_LEN;
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t issue_time(const uint8_t *id)
{
    return be64_get(id);
}

static uint64_t issue_serial(const uint8_t *id)
{
    return be64_get(id + NONCE_TIME_LEN);
}

static int expired(const est_digest_nonces *book, uint64_t issued, uint64_t now)
{
    /* A nonce from the future means the clock stepped back; it expires
     * from its issue time all the same. */
    return now > issued && now - issued > book->lifetime;
}

est_status est_digest_nonce_issue(est_digest_nonces *book, time_t now, char *out, size_t cap,
                                  est_error *err)
{
    uint8_t raw[NONCE_RAW_LEN];
    uint64_t serial;

    if (book == NULL || out == NULL)
        return est_error_set(err, EST_E_INPUT, "no nonce book");
    pthread_mutex_lock(&book->lock);
    serial = ++book->serial;
    pthread_mutex_unlock(&book->lock);
    be64_put(raw, now < 0 ? 0 : (uint64_t)now);
    be64_put(raw + NONCE_TIME_LEN, serial);
    if (RAND_bytes(raw + NONCE_TIME_LEN + NONCE_SERIAL_LEN, NONCE_RANDOM_LEN) != 1 ||
        !nonce_mac(book, raw, raw + NONCE_ID_LEN))
        return est_error_set_openssl(err, EST_E_INTERNAL, "Digest nonce");
    if (auth_b64_encode(raw, sizeof raw, out, cap, 1) == 0)
        return est_error_set(err, EST_E_TOO_LARGE, "nonce buffer of %zu bytes too small", cap);
    return EST_OK;
}

/* nc = 8 hex digits (checked by est_digest_parse; checked again here
 * because this is a public entry point). */
static int nc_parse(const char *nc, uint32_t *value)
{
    uint32_t v = 0;

    if (nc == NULL || strlen(nc) != 8)
        return 0;
    for (int i = 0; i < 8; i++) {
        char c = nc[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint32_t)d;
    }
    *value = v;
    return 1;
}

/* Finds id's entry (*found = 1), or else the slot a new entry takes: a
 * free one, an expired one, or else the least recently used (*evict = 1).
 * Called with the lock held. */
static nonce_entry *table_find(est_digest_nonces *book, const uint8_t *id, uint64_t now,
                               int *found, int *evict)
{
    nonce_entry *victim = NULL;

    *found = *evict = 0;
    for (size_t i = 0; i < NONCE_TABLE_SIZE; i++) {
        nonce_entry *e = &book->table[i];

        if (e->last_use != 0 && memcmp(e->id, id, NONCE_ID_LEN) == 0) {
            *found = 1;
            return e;
        }
        if (victim != NULL && !*evict)
            continue; /* already have a free slot; still looking for id */
        if (e->last_use == 0 || expired(book, issue_time(e->id), now)) {
            victim = e;
            *evict = 0;
        } else if (victim == NULL || e->last_use < victim->last_use) {
            victim = e;
            *evict = 1;
        }
    }
    return victim;
}

/* Applies the replay rules to an authentic, unexpired nonce. Called with
 * the lock held. */
static est_status nonce_use(est_digest_nonces *book, const uint8_t *id, uint32_t nc,
                            uint64_t now, est_error *err)
{
    int found, evict;
    nonce_entry *e;

    if (nc == 0)
        return est_error_set(err, EST_E_AUTH, "Digest nc must start at 1");
    e = table_find(book, id, now, &found, &evict);
    if (found) {
        if (nc <= e->last_nc)
            return est_error_set(err, EST_E_AUTH, "Digest nc replayed");
    } else {
        if (issue_serial(id) <= book->watermark)
            return est_error_set(err, EST_E_AUTH, "stale nonce (forgotten)");
        if (evict && issue_serial(e->id) > book->watermark)
            book->watermark = issue_serial(e->id);
        memcpy(e->id, id, NONCE_ID_LEN);
    }
    e->last_nc = nc;
    e->last_use = ++book->tick;
    return EST_OK;
}

est_status est_digest_nonce_check(est_digest_nonces *book, const char *nonce, const char *nc,
                                  time_t now, est_error *err)
{
    uint8_t raw[AUTH_B64_DECODE_CAP(NONCE_TEXT_MAX)];
    uint8_t mac[NONCE_MAC_LEN];
    uint64_t issued, t_now = now < 0 ? 0 : (uint64_t)now;
    size_t raw_len = 0, len;
    uint32_t nc_value;
    est_status rc;

    if (book == NULL || nonce == NULL)
        return est_error_set(err, EST_E_INPUT, "no nonce");
    if (!nc_parse(nc, &nc_value))
        return est_error_set(err, EST_E_AUTH, "Digest nc missing or not 8 hex digits");
    len = strnlen(nonce, NONCE_TEXT_MAX + 1);
    if (len > NONCE_TEXT_MAX ||
        auth_b64_decode(nonce, len, raw, sizeof raw, &raw_len, 1) != EST_OK ||
        raw_len != NONCE_RAW_LEN)
        return est_error_set(err, EST_E_AUTH, "Digest nonce not issued by this server");
    if (!nonce_mac(book, raw, mac))
        return est_error_set_openssl(err, EST_E_INTERNAL, "Digest nonce");
    if (CRYPTO_memcmp(mac, raw + NONCE_ID_LEN, NONCE_MAC_LEN) != 0)
        return est_error_set(err, EST_E_AUTH, "Digest nonce not issued by this server");
    issued = issue_time(raw);
    if (expired(book, issued, t_now))
        return est_error_set(err, EST_E_AUTH, "stale nonce (expired)");
    pthread_mutex_lock(&book->lock);
    rc = nonce_use(book, raw, nc_value, t_now, err);
    pthread_mutex_unlock(&book->lock);
    return rc;
}
