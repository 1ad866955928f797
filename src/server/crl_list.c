/* The revoked certificates of one CA (crl_list.h), read from the store. */
#include <stdlib.h>
#include <string.h>
#include "crl_list.h"
#include "estkit/crl.h"

static int collect_revoked(const est_cert_record *rec, void *arg)
{
    estd_revoked_list *l = arg;

    if (rec->status != EST_CERT_REVOKED || strcmp(rec->label ? rec->label : "", l->label) != 0)
        return 0;
    if (l->count == ESTD_CRL_ENTRIES_MAX) {
        l->failed = EST_E_TOO_LARGE;
        return 1;
    }
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        est_revoked_entry *e;
        char(*s)[41];
        if ((e = realloc(l->entries, cap * sizeof *e)) != NULL)
            l->entries = e;
        if (e == NULL || (s = realloc(l->serials, cap * sizeof *s)) == NULL) {
            l->failed = EST_E_NOMEM;
            return 1;
        }
        l->serials = s;
        l->cap = cap;
    }
    memcpy(l->serials[l->count], rec->serial, sizeof l->serials[0]);
    l->entries[l->count].revoked_at = (time_t)rec->revoked_at;
    l->entries[l->count].reason = rec->revocation_reason;
    l->count++;
    return 0;
}

/* The serial strings the entries point into are set once the list stops
 * growing (realloc moves them). */
est_status estd_revoked_list_load(estd_instance *inst, const char *label, estd_revoked_list *l,
                                  est_error *err)
{
    est_cert_filter all = {0};
    est_status rc;

    l->label = label;
    rc = est_store_cert_list(inst->store, &all, collect_revoked, l, err);

    if (rc == EST_OK && l->failed != 0)
        rc = l->failed == EST_E_TOO_LARGE
                 ? est_error_set(err, EST_E_TOO_LARGE, "more than %d revoked certificates",
                                 ESTD_CRL_ENTRIES_MAX)
                 : est_error_set(err, EST_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == EST_OK && i < l->count; i++)
        l->entries[i].serial_hex = l->serials[i];
    return rc;
}

void estd_revoked_list_release(estd_revoked_list *l)
{
    free(l->entries);
    free(l->serials);
    memset(l, 0, sizeof *l);
}
