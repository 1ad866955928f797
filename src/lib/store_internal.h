/* Internals shared by the store backends (store_sqlite*.c, store_pg*.c):
 * the checks and encodings every backend applies the same way, so the two
 * cannot drift apart. Defined in store_common.c. */
#ifndef ESTKIT_STORE_INTERNAL_H
#define ESTKIT_STORE_INTERNAL_H

#include <openssl/sha.h>
#include "estkit/store.h"

/* RFC 5280 §4.1.2.2: a serial is at most 20 octets, 40 hex digits. */
#define STORE_SERIAL_HEX_MAX 40
/* The one-time code salt is 16 random bytes as hex (schema 2). */
#define STORE_OTP_SALT_HEX_MAX 64

/* Column order of the SELECTs of each table (the row readers rely on it). */
enum { CERT_COL_SERIAL, CERT_COL_SUBJECT, CERT_COL_SAN, CERT_COL_SPKI, CERT_COL_NOT_BEFORE,
       CERT_COL_NOT_AFTER, CERT_COL_ISSUED_AT, CERT_COL_STATUS, CERT_COL_REVOKED_AT,
       CERT_COL_REASON, CERT_COL_LABEL, CERT_COL_REQUESTER, CERT_COL_AUTH, CERT_COL_OPERATION,
       CERT_COL_DER };
enum { USER_COL_NAME, USER_COL_HASH, USER_COL_REALM, USER_COL_HA1_MD5, USER_COL_HA1_SHA256,
       USER_COL_CREATED_AT, USER_COL_SRP_GROUP, USER_COL_SRP_SALT, USER_COL_SRP_VERIFIER,
       USER_COL_UNLOCKED_AT };
enum { PENDING_COL_ID, PENDING_COL_LABEL, PENDING_COL_CSR_SHA256, PENDING_COL_REQUESTER,
       PENDING_COL_AUTH, PENDING_COL_OPERATION, PENDING_COL_SUBJECT, PENDING_COL_STATUS,
       PENDING_COL_REASON, PENDING_COL_CERT_SERIAL, PENDING_COL_CREATED_AT,
       PENDING_COL_UPDATED_AT, PENDING_COL_CSR_DER };
enum { OTP_COL_ID, OTP_COL_LABEL, OTP_COL_SUBJECT, OTP_COL_CREATED_AT, OTP_COL_EXPIRES_AT,
       OTP_COL_USED_AT, OTP_COL_USED_SERIAL };

/* Column lists of the SELECTs, in the order of the enums above. */
#define CERT_COLUMNS                                                                          \
    "serial, subject, san, spki_sha256, not_before, not_after, issued_at, status, revoked_at," \
    " revocation_reason, label, requester, auth_method, operation, der"
/* USER_COLUMNS are what user_put writes (schema 4 added the SRP ones);
 * USER_SELECT_COLUMNS add unlocked_at, which only user_unlock writes, so an
 * unlock survives a password change. */
#define USER_COLUMNS                                                                   \
    "name, password_hash, digest_realm, digest_ha1_md5, digest_ha1_sha256, created_at," \
    " srp_group, srp_salt, srp_verifier"
#define USER_SELECT_COLUMNS USER_COLUMNS ", unlocked_at"
#define OTP_COLUMNS "id, label, subject, created_at, expires_at, used_at, used_serial"
#define PENDING_COLUMNS                                                                      \
    "id, label, csr_sha256, requester, auth_method, operation, subject, status, reason," \
    " cert_serial, created_at, updated_at, csr_der"

/* SERIAL is hex as `openssl x509 -serial` prints it, in any case; stored
 * and compared in uppercase. EST_E_INPUT names op. */
est_status store_serial_normalise(const char *in, char out[STORE_SERIAL_HEX_MAX + 1],
                                  const char *op, est_error *err);
/* RFC 5280 §5.3.1 CRLReason: 0-10 with 7 unassigned; -1 = no reason code. */
int store_crl_reason_valid(int reason);
/* EST_E_INPUT unless the record has what every stored certificate needs. */
est_status store_cert_record_check(const est_cert_record *rec, est_error *err);

/* A certificate filter as the list statements of every backend bind it:
 * each "no filter" (0, NULL filter) becomes the bound that lets every row
 * through, so the statements need no optional clauses and use the
 * (not_after, serial) index. status is EST_CERT_VALID, EST_CERT_REVOKED or
 * -1 (either). */
typedef struct store_cert_bounds {
    int64_t expiring_before; /* not_after < this */
    int64_t not_after_from;  /* not_after >= this (the first page) */
    int64_t issued_since;    /* issued_at >= this */
    int status;
    const char *contains;    /* NULL = any */
} store_cert_bounds;
void store_cert_bounds_of(const est_cert_filter *filter, store_cert_bounds *out);

/* An audit event as every backend stores it (issue #12): each text field
 * escaped by est_text_escape and cut at EST_AUDIT_FIELD_MAX, since audit
 * rows end up on terminals; count 0 made 1. ev's fields point into text
 * (NULL stays NULL). */
typedef struct store_audit_text {
    est_audit_event ev;
    char text[6][EST_AUDIT_FIELD_MAX + 1];
} store_audit_text;
void store_audit_escape(const est_audit_event *in, store_audit_text *out);

/* A code is 1-EST_OTP_CODE_MAX characters. */
est_status store_otp_code_valid(const char *code, const char *op, est_error *err);
/* Lowercase hex SHA-256(salt || code): what the otp table keeps (see the
 * schema 2 comment in store_sqlite.c). EST_E_STORE when salt is no salt. */
est_status store_otp_hash(const char *salt, const char *code, const char *op,
                          char out[2 * SHA256_DIGEST_LENGTH + 1], est_error *err);
/* Why a code found for the label cannot be used at now by subject
 * (EST_E_AUTH: used, expired, bound to another subject), or EST_OK. */
est_status store_otp_usable(const est_otp_record *r, const char *subject, int64_t now,
                            est_error *err);

#endif
