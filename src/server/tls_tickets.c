/* estd: session ticket key ring (see tls_tickets.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "tls_tickets.h"

#define TICKET_NAME_LEN 16 /* RFC 5077 §4: key_name */
#define TICKET_AES_LEN 32
#define TICKET_HMAC_LEN 32

typedef struct ticket_key {
    unsigned char name[TICKET_NAME_LEN];
    unsigned char aes[TICKET_AES_LEN];
    unsigned char hmac[TICKET_HMAC_LEN];
    time_t created; /* 0 = empty */
} ticket_key;

/* Where an SSL_CTX keeps its ring. OpenSSL's ex_data indexes are process-
 * wide registrations and the ticket callback gets no argument, so the one
 * index is made once for the process (the CTX's app_data belongs to the
 * metrics). */
static pthread_once_t ring_index_once = PTHREAD_ONCE_INIT;
static int ring_index = -1;

static void ring_index_make(void)
{
    ring_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

struct estd_ticket_keys {
    pthread_mutex_t lock;
    unsigned rotate_seconds;
    ticket_key ring[ESTD_TICKET_KEYS]; /* ring[0] encrypts; the others only decrypt */
};

estd_ticket_keys *estd_ticket_keys_new(unsigned rotate_seconds)
{
    estd_ticket_keys *keys = calloc(1, sizeof *keys);

    if (keys == NULL)
        return NULL;
    keys->rotate_seconds = rotate_seconds > 0 ? rotate_seconds : 1;
    if (pthread_mutex_init(&keys->lock, NULL) != 0) {
        free(keys);
        return NULL;
    }
    if (!estd_ticket_keys_rotate(keys, time(NULL))) {
        estd_ticket_keys_free(keys);
        return NULL;
    }
    return keys;
}

void estd_ticket_keys_free(estd_ticket_keys *keys)
{
    if (keys == NULL)
        return;
    pthread_mutex_destroy(&keys->lock);
    OPENSSL_cleanse(keys, sizeof *keys);
    free(keys);
}

/* Under keys->lock. */
static int rotate_locked(estd_ticket_keys *keys, time_t now)
{
    ticket_key fresh;

    if (RAND_bytes(fresh.name, sizeof fresh.name) != 1 ||
        RAND_priv_bytes(fresh.aes, sizeof fresh.aes) != 1 ||
        RAND_priv_bytes(fresh.hmac, sizeof fresh.hmac) != 1) {
        OPENSSL_cleanse(&fresh, sizeof fresh);
        return 0;
    }
    fresh.created = now;
    OPENSSL_cleanse(&keys->ring[ESTD_TICKET_KEYS - 1], sizeof keys->ring[0]);
    memmove(&keys->ring[1], &keys->ring[0], (ESTD_TICKET_KEYS - 1) * sizeof keys->ring[0]);
    keys->ring[0] = fresh;
    OPENSSL_cleanse(&fresh, sizeof fresh);
    return 1;
}

int estd_ticket_keys_rotate(estd_ticket_keys *keys, time_t now)
{
    int ok;

    pthread_mutex_lock(&keys->lock);
    ok = rotate_locked(keys, now);
    pthread_mutex_unlock(&keys->lock);
    return ok;
}

int estd_ticket_keys_reset(estd_ticket_keys *keys, time_t now)
{
    int ok = 1;

    pthread_mutex_lock(&keys->lock);
    for (int i = 0; ok && i < ESTD_TICKET_KEYS; i++)
        ok = rotate_locked(keys, now);
    pthread_mutex_unlock(&keys->lock);
    return ok;
}

static int hmac_init(EVP_MAC_CTX *hctx, const ticket_key *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key->hmac, TICKET_HMAC_LEN),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};

    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

/* OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb):
 * enc = 1 makes a ticket with the current key (1 = done); enc = 0 opens
 * one: 0 = unknown key (full handshake), 1 = fine, 2 = fine but renew the
 * ticket under the current key. The ring rotates here when due. */
static int ticket_key_cb(SSL *ssl, unsigned char key_name[TICKET_NAME_LEN], unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    estd_ticket_keys *keys = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index);
    time_t now = time(NULL);
    ticket_key key;
    int rc = -1, found = -1;

    if (keys == NULL)
        return enc ? -1 : 0;
    pthread_mutex_lock(&keys->lock);
    if (now - keys->ring[0].created >= (time_t)keys->rotate_seconds || now < keys->ring[0].created)
        (void)rotate_locked(keys, now); /* on failure the old key serves on */
    if (enc)
        found = 0;
    for (int i = 0; !enc && i < ESTD_TICKET_KEYS; i++)
        if (keys->ring[i].created != 0 &&
            CRYPTO_memcmp(keys->ring[i].name, key_name, TICKET_NAME_LEN) == 0)
            found = i;
    if (found >= 0)
        key = keys->ring[found];
    pthread_mutex_unlock(&keys->lock);
    if (found < 0)
        return 0;
    if (enc) {
        memcpy(key_name, key.name, TICKET_NAME_LEN);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key.aes, iv) == 1 &&
            hmac_init(hctx, &key))
            rc = 1;
    } else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key.aes, iv) == 1 &&
               hmac_init(hctx, &key)) {
        rc = found == 0 ? 1 : 2;
    }
    OPENSSL_cleanse(&key, sizeof key);
    return rc;
}

int estd_ticket_keys_install(SSL_CTX *ctx, estd_ticket_keys *keys)
{
    if (pthread_once(&ring_index_once, ring_index_make) != 0 || ring_index < 0 ||
        !SSL_CTX_set_ex_data(ctx, ring_index, keys) ||
        !SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) ||
        !SSL_CTX_set_num_tickets(ctx, 1))
        return 0;
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    /* A ticket outlives its key by no more than the ring holds it. */
    SSL_CTX_set_timeout(ctx, (long)keys->rotate_seconds * ESTD_TICKET_KEYS);
    return 1;
}
