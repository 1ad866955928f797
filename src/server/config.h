/* estd configuration: DIR/estd.conf, an INI file.
 *
 *   [server]            listener, TLS, limits, store, HTTP auth realm
 *   [ca]                the default (unlabelled) CA: files, profile, policy
 *   [ca "LABEL"]        one more CA served under /.well-known/est/LABEL/
 *
 * Relative paths are relative to DIR. Unknown keys and sections are errors
 * (a typo must not silently weaken policy). Every key is one row of a table
 * (config_keys.h), from which the defaults, the parser and the commented
 * file `estd init` writes (estd_config_template) are all made. */
#ifndef ESTD_CONFIG_H
#define ESTD_CONFIG_H

#include <stddef.h>
#include "estkit.h"
#include "config_ops.h"

#define ESTD_CONFIG_MAX_BYTES (256 * 1024)
#define ESTD_CONFIG_MAX_LABELS 32
#define ESTD_PATH_MAX 4096
#define ESTD_AUTH_ALTERNATIVES_MAX 8
/* The largest max_body_bytes estd.conf may set. */
#define ESTD_MAX_BODY_BYTES_LIMIT (16u << 20)
/* TLS defaults: Mozilla's "intermediate" profile without DHE: ECDHE with
 * AEAD ciphers only on TLS 1.2 (no CBC: LUCKY13), every TLS 1.3 suite. */
#define ESTD_TLS_CIPHERS_DEFAULT                                                      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                      \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                      \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define ESTD_TLS_CIPHERSUITES_DEFAULT \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define ESTD_TLS_GROUPS_DEFAULT "X25519:P-256:P-384"

/* Authentication methods, combinable as bits: "cert+basic" = both. */
enum estd_auth_bit {
    ESTD_AUTH_CERT = 1u << 0,        /* TLS client cert issued by this EST CA */
    ESTD_AUTH_THIRD_PARTY = 1u << 1, /* TLS client cert from the third-party trust store */
    ESTD_AUTH_BASIC = 1u << 2,
    ESTD_AUTH_DIGEST = 1u << 3,
    ESTD_AUTH_NONE = 1u << 4,        /* no authentication (tests, closed networks) */
    ESTD_AUTH_SRP = 1u << 5,         /* TLS-SRP login (draft-04 §3.3.3, RFC 5054) */
};

/* A list of alternatives; a request is authorised when it satisfies every
 * bit of at least one alternative. "cert, basic" = either;
 * "cert+basic" = both. */
typedef struct estd_auth_policy {
    unsigned alternatives[ESTD_AUTH_ALTERNATIVES_MAX];
    size_t count;
} estd_auth_policy;

typedef enum estd_pop_mode {
    ESTD_POP_OPTIONAL = 0, /* verify the channel binding when present */
    ESTD_POP_REQUIRED = 1, /* a CSR without a matching binding is refused */
} estd_pop_mode;

typedef enum estd_challenge_meaning {
    ESTD_CHALLENGE_CHANNEL_BINDING = 0, /* draft-04 §3.5 (default) */
    ESTD_CHALLENGE_OTP = 1,             /* one-time enrollment code (`estd otp add`) */
} estd_challenge_meaning;

typedef enum estd_approval {
    ESTD_APPROVAL_AUTO = 0,
    ESTD_APPROVAL_MANUAL = 1, /* 202 + Retry-After; `estd pending approve` */
} estd_approval;

/* Who issues for a CA label: the embedded CA, or an upstream CA this estd
 * is a Registration Authority for (draft-04 §2, §3.7). */
typedef enum estd_issuer_kind {
    ESTD_ISSUER_EMBEDDED = 0, /* issue with cert/key (default) */
    ESTD_ISSUER_EST = 1,      /* forward to an upstream EST server */
    ESTD_ISSUER_CMP = 2,      /* forward to an upstream CMP server (RFC 4210) */
} estd_issuer_kind;

/* [ca] keys for an upstream issuer (config_upstream.c). */
typedef struct estd_upstream_config {
    estd_issuer_kind issuer;
    char url[1024];                  /* upstream_url: https://host:port/.well-known/est[/label], or CMP http URL */
    char trust[ESTD_PATH_MAX];       /* upstream_trust: anchors for the upstream's TLS (EST) or its CMP signer */
    char cert[ESTD_PATH_MAX];        /* upstream_cert: the RA's own certificate (TLS client / CMP signer) */
    char key[ESTD_PATH_MAX];         /* upstream_key */
    char user[128];                  /* upstream_user: Basic toward the upstream; "" = none */
    char password_file[ESTD_PATH_MAX]; /* upstream_password_file (0600) */
    char cmp_secret_file[ESTD_PATH_MAX]; /* cmp_secret_file: shared-secret MAC (0600); "" = signature */
    char cmp_reference[128];         /* cmp_reference: the secret's reference (senderKID) */
    char cacerts_cache[ESTD_PATH_MAX]; /* last good upstream /cacerts (PEM) */
    unsigned timeout_seconds;        /* upstream_timeout_seconds: connect + exchange */
    unsigned max_response_bytes;     /* upstream_max_response_bytes */
    unsigned cacerts_refresh_seconds;
    int csrattrs_from_upstream;      /* upstream_csrattrs: /csrattrs passed through */
} estd_upstream_config;

typedef struct estd_ca_config {
    char label[EST_LABEL_MAX + 1]; /* "" for the default CA */
    char cert[ESTD_PATH_MAX];      /* issuing CA certificate (PEM) */
    char key[ESTD_PATH_MAX];       /* its private key (PEM, 0600) */
    /* Key storage (issue #14): the passphrase of an encrypted key file. */
    char key_passphrase_file[ESTD_PATH_MAX];  /* a 0600 file; "" = none */
    char key_passphrase_credential[256];      /* $CREDENTIALS_DIRECTORY/NAME; "" = none */
    int signature_pss; /* signature = pss: RSASSA-PSS certificates and CRLs (RSA keys only) */
    char chain[ESTD_PATH_MAX];     /* certificates above it up to the root; "" = none */
    char extra[ESTD_PATH_MAX];     /* more certs for /cacerts (rollover links); "" = none */
    est_profile profile;
    estd_auth_policy enroll_auth;
    estd_auth_policy reenroll_auth;
    estd_pop_mode pop;
    estd_challenge_meaning challenge;
    estd_approval approval;
    unsigned retry_after_seconds;
    int allow_subject_change;   /* re-enroll may change subject/SAN */
    int trust_ra;               /* id-kp-cmcRA clients of this CA get RA policy (draft-04 §3.7) */
    int serverkeygen;           /* /serverkeygen offered */
    int serverkeygen_key_from_csr;       /* serverkeygen_key_type = csr */
    est_key_type serverkeygen_key_type;  /* what /serverkeygen generates */
    int serverkeygen_require_encryption; /* refuse keys without extra encryption */
    char kek_file[ESTD_PATH_MAX];        /* pre-shared KEKs for DecryptKeyIdentifier; "" = none */
    int fullcmc;                /* /fullcmc offered (default yes) */
    char csrattrs[1024];        /* comma list of OIDs / names for /csrattrs; "" = none */
    int enforce_csrattrs;       /* refuse CSRs lacking what /csrattrs asks */
    unsigned base64_line_length; /* RFC 7030 body lines; ESTD_LINE_INHERIT = [server]'s */
    estd_upstream_config upstream;
} estd_ca_config;

/* A [ca] base64_line_length not set: the [server] value applies. */
#define ESTD_LINE_INHERIT (~0u)
/* Bounds of the Basic password wait queue (password_gate.h). */
#define ESTD_PASSWORD_QUEUE_MAX_LIMIT 65536u
#define ESTD_PASSWORD_QUEUE_WAIT_MS_LIMIT 600000u

typedef struct estd_config {
    char dir[ESTD_PATH_MAX];
    /* [server] */
    char listen[256];               /* HOST:PORT */
    unsigned threads;               /* event-loop threads; 0 = cores */
    unsigned workers;               /* crypto/store worker threads; 0 = cores */
    char tls_cert[ESTD_PATH_MAX];   /* server certificate (+ chain), PEM */
    char tls_key[ESTD_PATH_MAX];
    char tls_min_version[8];        /* "1.2" or "1.3" */
    unsigned tls_ticket_key_seconds; /* session ticket key rotation; 0 = no resumption */
    char third_party_trust[ESTD_PATH_MAX]; /* PEM bundle of third-party client CAs; "" = none */
    char store[ESTD_PATH_MAX];      /* SQLite file, or a PostgreSQL conninfo (est_store_spec_is_pg) */
    unsigned store_connections;     /* PostgreSQL: connections at most */
    unsigned store_wait_seconds;    /* PostgreSQL: wait for a free connection, then 503 */
    char realm[128];                /* HTTP auth realm */
    est_digest_alg digest_algorithm; /* what the Digest challenge offers */
    size_t max_body_bytes;
    size_t max_header_bytes;
    unsigned timeout_seconds;
    unsigned max_connections;
    unsigned nonce_lifetime_seconds;
    unsigned credential_cache_seconds; /* 0 = verify every Basic password */
    /* Guessing countermeasures (draft-04 §3.3.3; guess_guard.h). */
    unsigned guess_delay_after;      /* free failures per user / address; 0 = off */
    unsigned guess_lock_after;       /* failures that lock a user name; 0 = never */
    unsigned guess_lock_seconds;     /* lock length and memory of a failure */
    unsigned guess_delay_max_seconds; /* back-off ceiling */
    unsigned max_password_checks;   /* concurrent slow hashes; beyond: queue; 0 = cores */
    /* Interop and password queue (issue 11). */
    unsigned password_queue_max;    /* password checks waiting for a slot; beyond: 503 */
    unsigned password_queue_wait_ms; /* longest wait for a slot; beyond: 503 */
    unsigned base64_line_length;    /* RFC 7030 body lines: 0 = one line, else 4..76 */
    int base64_unbroken_without_user_agent; /* one line to clients sending no User-Agent */
    /* The audit table (issue #12). */
    unsigned audit_auth_fail_window_seconds; /* one auth-fail row per address per window; 0 = each */
    unsigned audit_retention_days;  /* rows older are pruned; 0 = kept forever */
    unsigned audit_max_rows;        /* beyond, the oldest are pruned; 0 = no cap */
    /* The front door (conn.c, tls.c; docs/operator.md "Limits"). */
    unsigned max_connections_per_address; /* per IPv4 address / IPv6 /64 */
    unsigned handshake_timeout_seconds;    /* total, from accept */
    unsigned request_head_timeout_seconds; /* total, for one request head */
    unsigned request_body_timeout_seconds; /* total, for one body */
    char tls_ciphers[512];          /* TLS 1.2 cipher list (OpenSSL syntax) */
    char tls_ciphersuites[256];     /* TLS 1.3 ciphersuites */
    char tls_groups[256];           /* key-exchange groups */
    int signer_in_process;          /* signer = in-process: CA keys in the network process */
    estd_ops_config ops;            /* renewal, publication, metrics, log (config_ops.h) */
    /* [ca] and [ca "LABEL"]; cas[0] is the default CA. */
    estd_ca_config cas[ESTD_CONFIG_MAX_LABELS + 1];
    size_t ca_count;
} estd_config;

/* Defaults for everything (paths relative to dir). */
void estd_config_defaults(estd_config *cfg, const char *dir);
void estd_ca_config_defaults(estd_ca_config *ca, const char *label);

/* Parses text (len bytes) into cfg, which should hold defaults. name is used
 * in messages ("estd.conf:12: unknown key 'foo'"). */
est_status estd_config_parse(estd_config *cfg, const char *name, const char *text, size_t len,
                             est_error *err);
/* Reads DIR/estd.conf over the defaults; resolves relative paths. */
est_status estd_config_load(estd_config *cfg, const char *dir, est_error *err);

/* Makes a relative path absolute under dir ("" stays ""). */
est_status estd_config_path_resolve(char *path, size_t cap, const char *dir, est_error *err);

/* config_upstream.c: the upstream keys of a [ca] section. EST_E_NOT_FOUND
 * when key is not one of them. */
void estd_upstream_config_defaults(estd_upstream_config *up, const char *label);
est_status estd_upstream_key_set(estd_upstream_config *up, const char *key, const char *value,
                                 est_error *err);
est_status estd_upstream_config_finish(estd_upstream_config *up, const char *dir, est_error *err);

/* The CA for a label ("" = default), or NULL. */
const estd_ca_config *estd_config_find_ca(const estd_config *cfg, const char *label);

/* "cert, basic+digest" -> policy. */
est_status estd_auth_policy_parse(const char *text, estd_auth_policy *out, est_error *err);

/* The commented file `estd init` writes, made from the key tables
 * (config_keys.h; config_table.c). *out malloc'd. */
est_status estd_config_template(const char *listen, char **out, est_error *err);

#endif
