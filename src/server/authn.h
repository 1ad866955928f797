/* estd: who is asking (draft-04 §3.3.2 TLS client certificates, §3.3.3
 * TLS-SRP, §3.2.3 HTTP Basic/Digest) and whether the policy lets them in. Runs on a worker
 * thread: password hashing and chain verification are not loop work. */
#ifndef ESTD_AUTHN_H
#define ESTD_AUTHN_H

#include <openssl/x509.h>
#include "chain_cache.h"
#include "credential_cache.h"
#include "guess_guard.h"
#include "instance.h"

/* A Basic password verdict reached before authentication (the password
 * gate, password_check.c), for the credentials whose cache tag is tag. */
typedef struct estd_password_result {
    int result;                        /* 1 verified, -1 wrong, 0 none */
    unsigned char tag[ESTD_TAG_LEN];
} estd_password_result;

/* draft-04 §3.3.3: the guessing guard's answer for a Basic check, taken
 * before the password gate (password_check.c) so that no hash and no queue
 * slot is spent on a delayed or locked name. With verdict GO a reservation
 * is held until exactly one outcome is reported: by authentication
 * (settled), or as abandoned when the request ends without one
 * (estd_guess_pre_release). */
typedef struct estd_guess_pre {
    int decided;                 /* the guard was asked for user from addr */
    estd_guess_verdict verdict;
    unsigned retry_after;
    int settled;                 /* the outcome was reported */
    char user[EST_USERNAME_MAX + 1];
    char addr[64];
} estd_guess_pre;

/* Reports an unsettled reservation of pre as abandoned. NULL guard ok. */
void estd_guess_pre_release(estd_guess_guard *guard, estd_guess_pre *pre);

typedef struct estd_auth_input {
    X509 *peer_cert;             /* borrowed; NULL without a client certificate */
    STACK_OF(X509) *peer_chain;  /* borrowed; the rest of the presented chain */
    const char *authorization;   /* Authorization header, or NULL */
    const char *method;          /* for Digest */
    const char *uri;             /* the request-target, for Digest */
    const char *peer_addr;       /* client address (no port): guessing counters */
    const char *srp_user;        /* TLS-SRP login of the connection, or NULL */
    const estd_password_result *password; /* or NULL: Basic hashes here */
    estd_guess_pre *guess_pre;   /* or NULL: the guard's answer taken before the gate */
} estd_auth_input;

typedef struct estd_auth_result {
    unsigned satisfied;          /* ESTD_AUTH_* bits that verified */
    unsigned presented;          /* ESTD_AUTH_* bits the client tried */
    int cert_is_ra;              /* client certificate carries id-kp-cmcRA */
    int digest_stale;            /* Digest with an expired nonce: answer stale=true */
    int busy;                    /* a password could not be checked now: answer 503 */
    estd_guess_verdict guess;    /* GO, or why no password was even checked */
    unsigned retry_after;        /* with guess != GO: seconds */
    int guess_locked_now;        /* this failure locked the user name */
    int store_down;              /* the store could not be asked (revocation, user): 503 */
    char name[256];              /* user name, else the certificate subject */
    char attempted[256];         /* user name of a failed password, for the audit */
    char method[48];             /* "cert", "basic", "cert+basic", ... */
    char reason[160];            /* why a presented credential failed */
} estd_auth_result;

/* What authentication remembers between requests (any may be NULL). */
typedef struct estd_auth_caches {
    est_digest_nonces *nonces;         /* Digest nonces handed out */
    estd_credential_cache *credentials; /* verified Basic passwords */
    estd_chain_cache *chains;          /* verified client certificate chains */
    estd_guess_guard *guard;           /* failed-guess counters (draft-04 §3.3.3) */
    const char *dummy_hash;            /* checked for unknown users: same cost */
} estd_auth_caches;

/* Verifies whatever the client presented (never fails on a bad credential:
 * that is recorded in out->reason). Returns an error only for internal
 * failures. */
est_status estd_authenticate(estd_instance *inst, estd_ca *ca, const estd_auth_caches *caches,
                             const estd_auth_input *in, estd_auth_result *out, est_error *err);

/* 1 when some alternative of policy is fully satisfied. */
int estd_auth_allows(const estd_auth_policy *policy, const estd_auth_result *res);

/* Which HTTP schemes the policy could be satisfied with (ESTD_AUTH_BASIC /
 * ESTD_AUTH_DIGEST bits), for WWW-Authenticate. */
unsigned estd_auth_http_schemes(const estd_auth_policy *policy);

#endif
