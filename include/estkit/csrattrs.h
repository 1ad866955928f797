/* estkit: CSR attributes (/csrattrs).
 *
 * draft-04 §4.5.2: SEQUENCE OF OBJECT IDENTIFIER.
 * RFC 7030 §4.5.2: CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID,
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }.
 * Decoding accepts both (the draft form is a valid RFC form). Unknown OIDs
 * and attributes are kept. Encoding in the draft dialect writes attributes
 * as their type OID only. */
#ifndef ESTKIT_CSRATTRS_H
#define ESTKIT_CSRATTRS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"
#include "estkit/key.h"
#include "estkit/types.h"

#define EST_CSRATTRS_MAX_ENTRIES 128
#define EST_CSRATTRS_MAX_DER 16384

typedef struct est_csrattrs est_csrattrs;

/* An empty list (NULL on allocation failure); est_csrattrs_free, NULL ok. */
EST_API est_csrattrs *est_csrattrs_new(void);
EST_API void est_csrattrs_free(est_csrattrs *attrs);

/* DER CsrAttrs of either dialect -> a list (est_csrattrs_free); an encoding
 * in dialect into *der (est_free). */
EST_API est_status est_csrattrs_decode(const uint8_t *der, size_t der_len, est_csrattrs **out,
                                       est_error *err);
EST_API est_status est_csrattrs_encode(const est_csrattrs *attrs, est_dialect dialect,
                                       uint8_t **der, size_t *der_len, est_error *err);

/* The number of entries. */
EST_API size_t est_csrattrs_count(const est_csrattrs *attrs);
/* The OID of entry i: the bare OID, or the attribute's type. */
EST_API const ASN1_OBJECT *est_csrattrs_get0_oid(const est_csrattrs *attrs, size_t i);
/* The attribute of entry i, or NULL when the entry is a bare OID. */
EST_API const X509_ATTRIBUTE *est_csrattrs_get0_attribute(const est_csrattrs *attrs, size_t i);
/* 1 when some entry (OID or attribute type) equals nid, else 0. */
EST_API int est_csrattrs_has_nid(const est_csrattrs *attrs, int nid);

/* Appends a bare OID given in dotted or short/long-name form. */
EST_API est_status est_csrattrs_add_oid(est_csrattrs *attrs, const char *oid, est_error *err);
/* Appends an attribute; takes ownership of attr on success. */
EST_API est_status est_csrattrs_add_attribute(est_csrattrs *attrs, X509_ATTRIBUTE *attr,
                                              est_error *err);

/* What /csrattrs asks of the key (draft-04 §4.5.2): *type_set is 1 when a
 * known curve or algorithm is named (1.3.132.0.4 is sect113r1 and not
 * known), and *md is the requested hash or NULL. */
EST_API void est_csrattrs_key_wishes(const est_csrattrs *attrs, int *type_set, est_key_type *type,
                                     const EVP_MD **md);

#endif
