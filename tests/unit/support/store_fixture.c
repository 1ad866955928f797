/* Test fixtures for the store unit tests: see store_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store_fixture.h"

store_fixture *store_fixture_new(void)
{
    store_fixture *fx = calloc(1, sizeof *fx);

    if (fx == NULL)
        return NULL;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/estkit-store-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return NULL;
    }
    snprintf(fx->path, sizeof fx->path, "%s/estd.db", fx->dir);
    if (est_store_open_sqlite(fx->path, 1, &fx->store, NULL) != EST_OK) {
        store_fixture_free(fx);
        return NULL;
    }
    return fx;
}

void store_fixture_free(store_fixture *fx)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".junk"};
    char file[PATH_MAX + 16];

    if (fx == NULL)
        return;
    est_store_close(fx->store);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", fx->path, suffixes[i]);
        unlink(file);
    }
    rmdir(fx->dir);
    free(fx);
}

est_status store_fixture_reopen(store_fixture *fx, est_error *err)
{
    est_store_close(fx->store);
    fx->store = NULL;
    return est_store_open_sqlite(fx->path, 0, &fx->store, err);
}

est_cert_record *store_fixture_cert(const char *serial, int64_t not_after, size_t der_len)
{
    est_cert_record *rec = calloc(1, sizeof *rec);

    if (rec == NULL)
        return NULL;
    snprintf(rec->serial, sizeof rec->serial, "%s", serial);
    snprintf(rec->spki_sha256, sizeof rec->spki_sha256, "%064x", 0xab);
    rec->subject = strdup("CN=device,O=Example");
    rec->san = strdup("DNS:device.example");
    rec->label = strdup("");
    rec->requester = strdup("alice");
    rec->auth_method = strdup("basic");
    rec->operation = strdup("enroll");
    rec->not_before = not_after - 86400;
    rec->not_after = not_after;
    rec->issued_at = not_after - 86400;
    rec->revocation_reason = -1;
    rec->der_len = der_len > 0 ? der_len : 1;
    rec->der = malloc(rec->der_len);
    if (rec->subject == NULL || rec->san == NULL || rec->label == NULL ||
        rec->requester == NULL || rec->auth_method == NULL || rec->operation == NULL ||
        rec->der == NULL) {
        est_cert_record_free(rec);
        return NULL;
    }
    for (size_t i = 0; i < rec->der_len; i++)
        rec->der[i] = (uint8_t)(i * 7 + 0x30);
    return rec;
}

static int count_visit(const est_cert_record *rec, void *arg)
{
    (void)rec;
    ++*(size_t *)arg;
    return 0;
}

size_t store_fixture_count(est_store *store, const est_cert_filter *filter)
{
    size_t n = 0;

    if (store->ops->cert_list(store->impl, filter, count_visit, &n, NULL) != EST_OK)
        return (size_t)-1;
    return n;
}
