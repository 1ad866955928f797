/* The revoked certificates of one CA, as est_ca_make_crl takes them
 * (crl_list.c); used by `estd crl` and by the CRL http_listen serves. */
#ifndef ESTD_CRL_LIST_H
#define ESTD_CRL_LIST_H

#include "instance.h"
#include "estkit/crl.h"

/* A CRL with more entries than this is not what one process should build
 * in memory; such a CA needs CRL partitioning. */
#define ESTD_CRL_ENTRIES_MAX 1000000

typedef struct estd_revoked_list {
    const char *label;
    est_revoked_entry *entries;
    char (*serials)[41];        /* the strings entries[i].serial_hex point into */
    size_t count, cap;
    int failed;
} estd_revoked_list;

/* Fills a zeroed list with the revoked certificates of the CA label. */
est_status estd_revoked_list_load(estd_instance *inst, const char *label, estd_revoked_list *l,
                                  est_error *err);
void estd_revoked_list_release(estd_revoked_list *l);

#endif
