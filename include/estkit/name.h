/* estkit: names: distinguished names and subjectAltName lists from text. */
#ifndef ESTKIT_NAME_H
#define ESTKIT_NAME_H

#include <openssl/x509.h>
#include <openssl/x509v3.h> /* GENERAL_NAMES */
#include "estkit/api.h"
#include "estkit/error.h"

/* Parses "CN=x,O=y" or "/CN=x/O=y" into a name (X509_NAME_free). */
EST_API est_status est_name_parse(const char *dn, X509_NAME **out, est_error *err);

#define EST_SAN_MAX_NAMES 64
/* Appends names to *names (created when NULL; GENERAL_NAMES_free): a comma
 * list of "DNS:x", "IP:1.2.3.4", "email:x", "URI:x", or bare names (an IP
 * literal or a DNS name). */
EST_API est_status est_san_parse(const char *text, GENERAL_NAMES **names, est_error *err);

#endif
