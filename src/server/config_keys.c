/* The keys of estd.conf's [server] and [ca] sections, one row each (see
 * config_keys.h): type, field, range, default and the comment the template
 * `estd init` writes carries. The operations keys are in config_ops.c, the
 * upstream (RA) keys in config_upstream.c. docs/operator.md documents
 * every key (tests/unit/server/config_keys.c checks it). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "config_keys.h"
#include "estkit/key.h"
#include "estkit/csr.h"

/* Named limits of the [server] ranges. */
#define THREADS_MAX 256                 /* threads, workers */
#define PASSWORD_CHECKS_MAX 256         /* max_password_checks */
#define TICKET_KEY_SECONDS_MAX (7 * 86400) /* tls_ticket_key_seconds: a week */
#define BODY_BYTES_MIN 1024             /* max_body_bytes (max ESTD_MAX_BODY_BYTES_LIMIT) */
#define HEADER_BYTES_MIN 1024           /* max_header_bytes */
#define HEADER_BYTES_MAX (1u << 20)
#define TIMEOUT_SECONDS_MAX 3600        /* timeout_seconds and the front-door deadlines */
#define CONNECTIONS_MAX 1000000         /* max_connections, max_connections_per_address */
#define CREDENTIAL_CACHE_SECONDS_MAX 3600
#define STORE_CONNECTIONS_MAX 256
#define STORE_WAIT_SECONDS_MAX 300
#define NONCE_LIFETIME_SECONDS_MIN 10
#define DAY_SECONDS 86400               /* ceiling of several waits and windows */
#define AUDIT_MAX_ROWS_LIMIT 1000000000
#define GUESS_DELAY_AFTER_MAX 1000
#define GUESS_LOCK_AFTER_MAX 100000
#define GUESS_LOCK_SECONDS_MAX (30 * 86400)
/* Named limits of the [ca] ranges. */
#define RSA_BITS_MIN 2048
#define RSA_BITS_MAX 16384
/* csr_*: small enough to keep a CSR inside est_csr_parse's
 * EST_CSR_MAX_DER, large enough for any real certificate (issue #12). */
#define CSR_BYTES_MIN 256
#define CSR_SUBJECT_BYTES_MIN 64
#define CSR_VALUE_BYTES_MIN 16
#define CSR_RDNS_MAX 1000
#define CSR_ATTRIBUTES_MAX 1000
#define CSR_EXTENSIONS_MAX 10000
#define CSR_SAN_ENTRIES_MAX 10000

_Static_assert(sizeof(estd_pop_mode) == sizeof(int), "choice fields are ints");
_Static_assert(sizeof(estd_challenge_meaning) == sizeof(int), "choice fields are ints");
_Static_assert(sizeof(estd_approval) == sizeof(int), "choice fields are ints");

/* --- custom keys --------------------------------------------------------- */

static est_status set_tls_version(void *base, const estd_config_key *key, const char *value,
                                  est_error *err)
{
    if (strcmp(value, "1.2") != 0 && strcmp(value, "1.3") != 0)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not 1.2 or 1.3", value);
    return estd_config_set_string((char *)base + key->offset, key->cap, value, err);
}

static est_status set_realm(void *base, const estd_config_key *key, const char *value,
                            est_error *err)
{
    if (strpbrk(value, "\"\\") != NULL)
        return est_error_set(err, EST_E_CONFIG, "realm must not contain quotes or backslashes");
    return estd_config_set_string((char *)base + key->offset, key->cap, value, err);
}

static est_status set_digest_alg(void *base, const estd_config_key *key, const char *value,
                                 est_error *err)
{
    est_digest_alg *alg = (est_digest_alg *)(void *)((char *)base + key->offset);

    if (est_digest_alg_parse(value, alg, NULL) != EST_OK)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not MD5 or SHA-256", value);
    return EST_OK;
}

/* base64_line_length: 0 or a multiple of 4 up to EST_BODY_LINE_MAX. */
static est_status set_line_length(void *base, const estd_config_key *key, const char *value,
                                  est_error *err)
{
    unsigned u;
    est_status rc = estd_config_set_number(key, &u, value, err);

    if (rc != EST_OK)
        return rc;
    if (est_body_line_check(u, NULL) != EST_OK)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not 0 or a multiple of 4 up to %u",
                             value, EST_BODY_LINE_MAX);
    *(unsigned *)(void *)((char *)base + key->offset) = u;
    return EST_OK;
}

static est_status set_auth_policy(void *base, const estd_config_key *key, const char *value,
                                  est_error *err)
{
    return estd_auth_policy_parse(value, (estd_auth_policy *)(void *)((char *)base + key->offset),
                                  err);
}

/* csr_key_types = rsa, ec-p256, ec-p384, ec-p521, ed25519 (any subset). */
static est_status set_key_types(void *base, const estd_config_key *key, const char *value,
                                est_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"rsa", EST_KEY_ALLOW_RSA},         {"ec-p256", EST_KEY_ALLOW_EC_P256},
                 {"ec-p384", EST_KEY_ALLOW_EC_P384}, {"ec-p521", EST_KEY_ALLOW_EC_P521},
                 {"ed25519", EST_KEY_ALLOW_ED25519}};
    unsigned bits = 0;
    const char *p = value;

    while (*p != '\0') {
        size_t len, i;
        p += strspn(p, " \t,");
        if ((len = strcspn(p, " \t,")) == 0)
            break;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == len && strncasecmp(p, names[i].name, len) == 0)
                break;
        if (i == sizeof names / sizeof names[0])
            return est_error_set(err, EST_E_CONFIG, "unknown key type '%.*s' (rsa, ec-p256, "
                                 "ec-p384, ec-p521, ed25519)", (int)len, p);
        bits |= names[i].bit;
        p += len;
    }
    if (bits == 0)
        return est_error_set(err, EST_E_CONFIG, "csr_key_types lists no key type");
    *(unsigned *)(void *)((char *)base + key->offset) = bits;
    return EST_OK;
}

static est_status set_serverkeygen_key_type(void *base, const estd_config_key *key,
                                            const char *value, est_error *err)
{
    estd_ca_config *ca = base;

    (void)key;
    ca->serverkeygen_key_from_csr = strcmp(value, "csr") == 0;
    if (ca->serverkeygen_key_from_csr)
        return EST_OK;
    if (est_key_type_parse(value, &ca->serverkeygen_key_type, NULL) != EST_OK)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not csr or a key type (ec-p256, "
                                                "ec-p384, rsa-2048, ...)", value);
    return EST_OK;
}

/* A credential name, not a path: systemd puts it in its own directory. */
static est_status set_credential_name(void *base, const estd_config_key *key, const char *value,
                                      est_error *err)
{
    if (strchr(value, '/') != NULL || strcmp(value, "..") == 0 || strcmp(value, ".") == 0)
        return est_error_set(err, EST_E_CONFIG, "key_passphrase_credential is a credential "
                                                "name, not a path");
    return estd_config_set_string((char *)base + key->offset, key->cap, value, err);
}

static const char *const signers[] = {"process", "in-process", NULL};
static const char *const pop_modes[] = {"optional", "required", NULL};
static const char *const challenge_modes[] = {"channel-binding", "one-time-code", NULL};
static const char *const approvals[] = {"auto", "manual", NULL};
static const char *const signature_schemes[] = {"pkcs1", "pss", NULL};

/* --- [server] ------------------------------------------------------------ */

#define S estd_config
static const estd_config_key server_keys[] = {
    ESTD_STRING(S, "listen", listen, "127.0.0.1:8443", ESTD_KEY_INIT_LISTEN,
                "Address to serve HTTPS on. Bind to loopback unless devices reach it."),
    ESTD_UINT(S, "threads", threads, 0, THREADS_MAX, 0,
              "Event-loop threads (0 = one per core estd may run on) and worker threads\n"
              "that sign and write the store (0 = 16 per core: while some wait for the\n"
              "disk, others sign, and waiting writes share one commit)."),
    ESTD_UINT(S, "workers", workers, 0, THREADS_MAX, 0, NULL),
    ESTD_STRING(S, "tls_cert", tls_cert, "tls/server.pem", ESTD_KEY_PATH,
                "The server's TLS certificate (followed by its chain) and key."),
    ESTD_STRING(S, "tls_key", tls_key, "tls/server.key", ESTD_KEY_PATH, NULL),
    ESTD_CUSTOM(S, "tls_min_version", tls_min_version, set_tls_version, "1.2", 0,
                "Oldest TLS version accepted: 1.2 or 1.3."),
    ESTD_UINT(S, "tls_ticket_key_seconds", tls_ticket_key_seconds, 0, TICKET_KEY_SECONDS_MAX, 3600,
              "TLS session resumption (tickets, TLS 1.2 and 1.3): the ticket key changes\n"
              "this often; a ticket is good for twice as long. 0 = no resumption."),
    ESTD_STRING(S, "third_party_trust", third_party_trust, NULL, ESTD_KEY_PATH,
                "PEM bundle of third-party CAs whose client certificates may authenticate\n"
                "(e.g. a manufacturer's IDevID CA); used with the 'third-party' method."),
    /* Not ESTD_KEY_PATH: a PostgreSQL conninfo stays as written (estd_config_load). */
    ESTD_STRING(S, "store", store, "estd.db", 0,
                "The certificate store: a SQLite file (WAL mode), or a PostgreSQL database\n"
                "shared by several estd nodes: a libpq URI (postgresql://USER@HOST/DB) or\n"
                "keyword string; the password goes in a passfile (PGPASSFILE), not here."),
    ESTD_UINT(S, "store_connections", store_connections, 1, STORE_CONNECTIONS_MAX, 8,
              "PostgreSQL only: connections per node, and how long a request waits for\n"
              "one before it is answered 503 + Retry-After."),
    ESTD_UINT(S, "store_wait_seconds", store_wait_seconds, 1, STORE_WAIT_SECONDS_MAX, 10, NULL),
    ESTD_CUSTOM(S, "realm", realm, set_realm, "estkit", 0,
                "HTTP Basic/Digest realm. Digest users are bound to it: after changing it,\n"
                "set their passwords again with `estd user add --force`."),
    ESTD_CUSTOM(S, "digest_algorithm", digest_algorithm, set_digest_alg, "MD5", 0,
                "Algorithm the Digest challenge offers: MD5 (what every client speaks)\n"
                "or SHA-256 (RFC 7616). Credentials in either are verified."),
    ESTD_SIZE(S, "max_body_bytes", max_body_bytes, BODY_BYTES_MIN, ESTD_MAX_BODY_BYTES_LIMIT,
              64 * 1024,
              "Limits: request body (413 beyond), request head (431 beyond), idle\n"
              "keep-alive timeout, connections."),
    ESTD_SIZE(S, "max_header_bytes", max_header_bytes, HEADER_BYTES_MIN, HEADER_BYTES_MAX, 8 * 1024,
              NULL),
    ESTD_UINT(S, "timeout_seconds", timeout_seconds, 1, TIMEOUT_SECONDS_MAX, 30, NULL),
    ESTD_UINT(S, "max_connections", max_connections, 1, CONNECTIONS_MAX, 4096, NULL),
    ESTD_UINT(S, "nonce_lifetime_seconds", nonce_lifetime_seconds, NONCE_LIFETIME_SECONDS_MIN,
              DAY_SECONDS, 300, "How long a Digest nonce stays fresh."),
    ESTD_UINT(S, "credential_cache_seconds", credential_cache_seconds, 0,
              CREDENTIAL_CACHE_SECONDS_MAX, 60,
              "Seconds a verified Basic password is remembered, so a device that sends\n"
              "credentials on every request does not pay a slow hash each time. Only\n"
              "an HMAC of the credentials is kept; a password change applies at once.\n"
              "0 = verify every time."),
    ESTD_UINT(S, "max_password_checks", max_password_checks, 0, PASSWORD_CHECKS_MAX, 0,
              "Slow password checks allowed at once (wrong passwords are never cached);\n"
              "beyond that Basic requests get 503 + Retry-After, leaving workers for\n"
              "certificate-authenticated clients. 0 = one per core."),
    ESTD_UINT(S, "audit_auth_fail_window_seconds", audit_auth_fail_window_seconds, 0, DAY_SECONDS,
              60,
              "The audit table: repeated authentication failures from one address are\n"
              "written once per window, the rest counted into one row (0 = a row for\n"
              "each). Rows older than audit_retention_days (0 = forever) and beyond the\n"
              "newest audit_max_rows (0 = no cap) are pruned hourly while serving and\n"
              "by `estd audit prune`."),
    ESTD_UINT(S, "audit_retention_days", audit_retention_days, 0, EST_VALIDITY_DAYS_MAX, 365, NULL),
    ESTD_UINT(S, "audit_max_rows", audit_max_rows, 0, AUDIT_MAX_ROWS_LIMIT, 1000000, NULL),
    ESTD_UINT(S, "guess_delay_after", guess_delay_after, 0, GUESS_DELAY_AFTER_MAX, 5,
              "Password guessing (Basic, Digest): after guess_delay_after failures for a\n"
              "user name or from an address, each further check waits 1, 2, 4 ... up to\n"
              "guess_delay_max_seconds after the last failure (sooner: 401, no check).\n"
              "guess_lock_after failures lock the user name for guess_lock_seconds, or\n"
              "until `estd user unlock`. 0 = off / never lock."),
    ESTD_UINT(S, "guess_lock_after", guess_lock_after, 0, GUESS_LOCK_AFTER_MAX, 20, NULL),
    ESTD_UINT(S, "guess_lock_seconds", guess_lock_seconds, 1, GUESS_LOCK_SECONDS_MAX, 900, NULL),
    ESTD_UINT(S, "guess_delay_max_seconds", guess_delay_max_seconds, 1, DAY_SECONDS, 60, NULL),
    ESTD_UINT(S, "password_queue_max", password_queue_max, 1, ESTD_PASSWORD_QUEUE_MAX_LIMIT, 256,
              "A Basic check beyond max_password_checks waits in a queue (and checks\n"
              "of the same user and password share one hash); 503 + Retry-After only\n"
              "when this many wait already or the wait would pass password_queue_wait_ms."),
    ESTD_UINT(S, "password_queue_wait_ms", password_queue_wait_ms, 1,
              ESTD_PASSWORD_QUEUE_WAIT_MS_LIMIT, 10000, NULL),
    {.name = "base64_line_length", .type = ESTD_KEY_CUSTOM, .set = set_line_length,
     .offset = offsetof(S, base64_line_length), .min = 0, .max = EST_BODY_LINE_MAX,
     .def_text = "64", /* EST_BODY_LINE_DEFAULT; the key-table test checks */
     .help = "RFC 7030 bodies are base64 in lines of this many characters ended by\n"
             "LF (RFC 2045 lengths; libest needs lines); 0 = one unbroken line. A [ca]\n"
             "section may set its own. Clients that send no User-Agent (strongSwan's\n"
             "pki, which cannot read line breaks) get one line while this is yes."},
    ESTD_BOOL(S, "base64_unbroken_without_user_agent", base64_unbroken_without_user_agent, 1, NULL),
    ESTD_UINT(S, "max_connections_per_address", max_connections_per_address, 1, CONNECTIONS_MAX, 64,
              "The front door (docs/operator.md, \"Limits\"). Connections one client\n"
              "address may hold (IPv6: one /64); more are closed at once. At\n"
              "max_connections the oldest idle, else the oldest unfinished connection\n"
              "is closed to admit a new one. Total deadlines (not idle timers): TLS\n"
              "handshake from accept, a request head, a request body."),
    ESTD_UINT(S, "handshake_timeout_seconds", handshake_timeout_seconds, 1, TIMEOUT_SECONDS_MAX,
              10, NULL),
    ESTD_UINT(S, "request_head_timeout_seconds", request_head_timeout_seconds, 1,
              TIMEOUT_SECONDS_MAX, 10, NULL),
    ESTD_UINT(S, "request_body_timeout_seconds", request_body_timeout_seconds, 1,
              TIMEOUT_SECONDS_MAX, 30, NULL),
    ESTD_STRING(S, "tls_ciphers", tls_ciphers, ESTD_TLS_CIPHERS_DEFAULT, ESTD_KEY_NOT_EMPTY,
                "TLS 1.2 ciphers, TLS 1.3 ciphersuites, key-exchange groups (OpenSSL\n"
                "syntax). Default: Mozilla's intermediate profile, AEAD only."),
    ESTD_STRING(S, "tls_ciphersuites", tls_ciphersuites, ESTD_TLS_CIPHERSUITES_DEFAULT,
                ESTD_KEY_NOT_EMPTY, NULL),
    ESTD_STRING(S, "tls_groups", tls_groups, ESTD_TLS_GROUPS_DEFAULT, ESTD_KEY_NOT_EMPTY, NULL),
    ESTD_CHOICE(S, "signer", signer_in_process, signers, 0,
                "Where CA keys are used: process = a separate signer process that alone\n"
                "opens them and only signs (the network process never holds a CA key);\n"
                "in-process = in this process (no isolation; for measurements)."),
};
#undef S

/* --- [ca] and [ca "LABEL"] ----------------------------------------------- */

#define C estd_ca_config
static const estd_config_key ca_keys[] = {
    ESTD_STRING(C, "cert", cert, "ca/ca.pem", ESTD_KEY_PATH | ESTD_KEY_LABEL_PATH,
                "The default CA, served at /.well-known/est/<operation>.\n"
                "More CAs: a section [ca \"LABEL\"] with the same keys, served at\n"
                "/.well-known/est/LABEL/<operation>."),
    ESTD_STRING(C, "key", key, "ca/ca.key", ESTD_KEY_PATH | ESTD_KEY_LABEL_PATH,
                "The CA key: a PEM file (mode 0600; may be an encrypted PKCS#8 PEM).\n"
                "Its passphrase, if encrypted: key_passphrase_file = PATH (mode 0600) or\n"
                "key_passphrase_credential = NAME (a systemd credential, read from\n"
                "$CREDENTIALS_DIRECTORY/NAME). Never on the command line."),
    ESTD_STRING(C, "key_passphrase_file", key_passphrase_file, NULL,
                ESTD_KEY_PATH | ESTD_KEY_HIDDEN, NULL),
    ESTD_CUSTOM(C, "key_passphrase_credential", key_passphrase_credential, set_credential_name,
                NULL, ESTD_KEY_HIDDEN, NULL),
    {.name = "signature", .type = ESTD_KEY_CHOICE, .offset = offsetof(C, signature_pss),
     .choices = signature_schemes, .flags = ESTD_KEY_HIDDEN},
    ESTD_STRING(C, "chain", chain, "ca/chain.pem", ESTD_KEY_PATH | ESTD_KEY_LABEL_PATH,
                "Certificates above the CA up to the root (subordinate CA), and more\n"
                "certificates /cacerts serves (rollover links). Missing files are fine."),
    ESTD_STRING(C, "extra", extra, "ca/extra.pem", ESTD_KEY_PATH | ESTD_KEY_LABEL_PATH, NULL),
    ESTD_UINT(C, "validity_days", profile.validity_days, 1, EST_VALIDITY_DAYS_MAX, 365,
              "Profile of issued certificates."),
    ESTD_STRING(C, "extended_key_usage", profile.extended_key_usage, "clientAuth", 0,
                "Comma list of OpenSSL short names: clientAuth, serverAuth, ..."),
    ESTD_BOOL(C, "honour_san", profile.honour_san, 1,
              "Copy the subjectAltName a CSR requests (other requested extensions never)."),
    ESTD_CUSTOM(C, "csr_key_types", profile.key_types, set_key_types,
                "rsa, ec-p256, ec-p384, ec-p521, ed25519", 0,
                "Keys a CSR may carry (any of rsa, ec-p256, ec-p384, ec-p521, ed25519):\n"
                "RSA of min_rsa_bits to max_rsa_bits, EC on named curves only (never\n"
                "explicit parameters), Ed25519 also needs allow_ed25519. Ed448 and other\n"
                "types are refused."),
    ESTD_INT(C, "min_rsa_bits", profile.min_rsa_bits, RSA_BITS_MIN, RSA_BITS_MAX, 2048, NULL),
    ESTD_INT(C, "max_rsa_bits", profile.max_rsa_bits, RSA_BITS_MIN, RSA_BITS_MAX, 8192, NULL),
    ESTD_BOOL(C, "allow_ed25519", profile.allow_ed25519, 1, NULL),
    ESTD_SIZE(C, "csr_max_bytes", profile.csr_limits.max_bytes, CSR_BYTES_MIN, EST_CSR_MAX_DER,
              16384,
              "Limits on one CSR (400 naming the limit beyond): the whole DER, the\n"
              "subject's DER, its attributes (RDN components) and one value's bytes,\n"
              "PKCS#10 attributes, requested extensions, subjectAltName names and DER."),
    ESTD_SIZE(C, "csr_max_subject_bytes", profile.csr_limits.max_subject_bytes,
              CSR_SUBJECT_BYTES_MIN, EST_CSR_MAX_DER, 4096, NULL),
    ESTD_UINT(C, "csr_max_subject_rdns", profile.csr_limits.max_subject_rdns, 1, CSR_RDNS_MAX, 32,
              NULL),
    ESTD_SIZE(C, "csr_max_value_bytes", profile.csr_limits.max_value_bytes, CSR_VALUE_BYTES_MIN,
              EST_CSR_MAX_DER, 1024, NULL),
    ESTD_UINT(C, "csr_max_attributes", profile.csr_limits.max_attributes, 0, CSR_ATTRIBUTES_MAX,
              16, NULL),
    ESTD_UINT(C, "csr_max_extensions", profile.csr_limits.max_extensions, 0, CSR_EXTENSIONS_MAX,
              32, NULL),
    ESTD_UINT(C, "csr_max_san_entries", profile.csr_limits.max_san_entries, 0,
              CSR_SAN_ENTRIES_MAX, 100, NULL),
    ESTD_SIZE(C, "csr_max_san_bytes", profile.csr_limits.max_san_bytes, 0, EST_CSR_MAX_DER, 8192,
              NULL),
    ESTD_CUSTOM(C, "enroll_auth", enroll_auth, set_auth_policy, "cert, basic", 0,
                "Who may enroll / re-enroll. Alternatives separated by ',', combined\n"
                "methods by '+': cert (issued by this CA), third-party (third_party_trust),\n"
                "basic, digest, none. Example: enroll_auth = cert, third-party+basic\n"
                "digest also needs users added with `estd user add --digest`, which\n"
                "stores unsalted, password-equivalent HA1 (see docs/operator.md)."),
    ESTD_CUSTOM(C, "reenroll_auth", reenroll_auth, set_auth_policy, "cert", 0, NULL),
    ESTD_CHOICE(C, "pop_linking", pop, pop_modes, ESTD_POP_OPTIONAL,
                "Proof-of-possession linking (channel binding in challengePassword):\n"
                "optional = checked when present; required = refused when missing."),
    ESTD_CHOICE(C, "challenge_password", challenge, challenge_modes,
                ESTD_CHALLENGE_CHANNEL_BINDING,
                "What challengePassword means: channel-binding (draft-04 section 3.5:\n"
                "the TLS channel binding) or one-time-code (a code from `estd otp add`,\n"
                "good for one new enrollment by /simpleenroll or /serverkeygen; /fullcmc\n"
                "enrollment is then refused, re-enroll needs no code). With one-time-code,\n"
                "channel binding can still be sent in estIdentityLinking (RFC 7894)."),
    ESTD_CHOICE(C, "approval", approval, approvals, ESTD_APPROVAL_AUTO,
                "auto = issue at once; manual = answer 202 and wait for `estd pending approve`."),
    ESTD_UINT(C, "retry_after_seconds", retry_after_seconds, 1, DAY_SECONDS, 60, NULL),
    ESTD_BOOL(C, "allow_subject_change", allow_subject_change, 0,
              "Whether re-enroll may change the subject and subjectAltName."),
    ESTD_BOOL(C, "trust_ra", trust_ra, 1,
              "Client certificates of this CA carrying id-kp-cmcRA are RAs (draft-04\n"
              "section 3.7): their CSRs need not be linked to the RA's own TLS session,\n"
              "and their re-enroll requests may carry their clients' subjects."),
    ESTD_BOOL(C, "serverkeygen", serverkeygen, 0,
              "Offer /serverkeygen (off by default: the server then knows the key)."),
    ESTD_CUSTOM(C, "serverkeygen_key_type", serverkeygen_key_type, set_serverkeygen_key_type,
                "ec-p256", 0,
                "What it generates: a key type (ec-p256, ec-p384, rsa-2048, rsa-3072,\n"
                "rsa-4096, ed25519) or csr (the type of the key in the request)."),
    ESTD_BOOL(C, "serverkeygen_require_encryption", serverkeygen_require_encryption, 0,
              "Refuse to return a key without encryption beyond TLS: the CSR must then\n"
              "carry a DecryptKeyIdentifier (a key from kek_file) or an\n"
              "AsymmetricDecryptKeyIdentifier (the TLS client certificate's key)."),
    ESTD_STRING(C, "kek_file", kek_file, NULL, ESTD_KEY_PATH,
                "Pre-shared key-encryption keys, one per line: ID_HEX KEY_HEX (16, 24 or\n"
                "32 bytes of key). Keep it mode 0600; estd refuses a wider one."),
    ESTD_BOOL(C, "fullcmc", fullcmc, 1,
              "Offer /fullcmc (Full PKI Requests: PKCS#10 enrollment, revokeRequest)."),
    ESTD_STRING(C, "csrattrs", csrattrs, NULL, 0,
                "What /csrattrs lists: comma list of OIDs or OpenSSL names, e.g.\n"
                "challengePassword, 1.3.6.1.1.1.1.22. With pop_linking = required the\n"
                "challengePassword OID is listed anyway."),
    ESTD_BOOL(C, "enforce_csrattrs", enforce_csrattrs, 0,
              "Refuse CSRs that lack an attribute /csrattrs asks for."),
    /* Unset, a [ca] takes [server]'s (estd_ca_config_defaults, estd_config_load). */
    {.name = "base64_line_length", .type = ESTD_KEY_CUSTOM, .set = set_line_length,
     .offset = offsetof(C, base64_line_length), .min = 0, .max = EST_BODY_LINE_MAX,
     .flags = ESTD_KEY_HIDDEN},
};
#undef C

const estd_config_table estd_server_keys = ESTD_TABLE(server_keys);
const estd_config_table estd_ca_keys = ESTD_TABLE(ca_keys);

static const estd_config_part server_parts[] = {
    {&estd_server_keys, 0},
    {&estd_ops_server_keys, offsetof(estd_config, ops)},
};
static const estd_config_part ca_parts[] = {
    {&estd_ca_keys, 0},
    {&estd_ops_ca_keys, offsetof(estd_ca_config, profile)},
    {&estd_upstream_keys, offsetof(estd_ca_config, upstream)},
};
const estd_config_section estd_config_server_section = {"server", server_parts, 2};
const estd_config_section estd_config_ca_section = {"ca", ca_parts, 3};
