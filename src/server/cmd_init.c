/* estd init DIR: a new instance directory.
 *
 *   DIR/ca/ca.key, ca.pem      the CA (a new self-signed root, or an
 *                              existing CA given with --ca-cert/--ca-key)
 *   DIR/ca/chain.pem           subordinate CA only: the certificates above
 *                              it up to the root (RFC 7030 §4.1.3: /cacerts
 *                              carries the chain)
 *   DIR/tls/server.key, .pem   the HTTPS certificate, issued by the CA for
 *                              --server-name (serverAuth), then the chain
 *   DIR/estd.conf              estd_config_template(), commented
 *   DIR/estd.db                the store (SQLite)
 *
 * Everything is built in DIR.tmp-XXXXXX (mode 0700), loaded once as
 * `estd serve` would load it, and only then renamed to DIR, so a failure
 * leaves nothing half-written. Keys are written 0600 (docs/design.md §4). */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "cmd_common.h"
#include "pkcs11.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/signer.h"
#include "estkit/csr.h"
#include "estkit/ca.h"
#include "estkit/issue.h"

#define INIT_CMD "init"
#define INIT_DEFAULT_SUBJECT "CN=estkit CA"
#define INIT_DEFAULT_LISTEN "127.0.0.1:8443"
#define INIT_DEFAULT_ROOT_DAYS 3650
/* The TLS server certificate: CA/Browser-Forum-like 825 days at most
 * (clipped to the CA's own validity by est_ca_issue_for_key). */
#define INIT_TLS_DAYS 825
/* --server-name may repeat; a TLS certificate with more names than this
 * is a configuration mistake. */
#define INIT_SERVER_NAMES_MAX 32
/* DIR plus the longest name inside it ("/tls/server.key.tmp-<pid>-<16
 * hex>") must fit ESTD_PATH_MAX. */
#define INIT_SUFFIX_MAX 64
/* estd.conf's [server] listen = ... (config.h: char listen[256]). */
#define INIT_LISTEN_MAX 255

static const char init_usage[] =
    "usage: estd init DIR [--ca-subject DN] [--key-type TYPE] [--server-name NAME]...\n"
    "                 [--enable-serverkeygen] [--listen HOST:PORT] [--days N] [--force]\n"
    "                 [--ca-cert FILE --ca-key FILE [--chain FILE]] [--store CONNINFO]\n"
    "Creates DIR (mode 0700) with a CA, a TLS server certificate, estd.conf and the store.\n"
    "  --ca-subject DN        subject of the new root CA (default \"" INIT_DEFAULT_SUBJECT "\");\n"
    "                         \"CN=x,O=y\" or \"/CN=x/O=y\"\n"
    "  --key-type TYPE        ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096,\n"
    "                         ed25519: the CA key and the TLS server key\n"
    "  --server-name NAME     DNS name or IP address for the TLS certificate; repeat for\n"
    "                         more (default: localhost and 127.0.0.1)\n"
    "  --enable-serverkeygen  offer /serverkeygen (serverkeygen = yes in estd.conf)\n"
    "  --listen HOST:PORT     address estd serves on (default " INIT_DEFAULT_LISTEN ")\n"
    "  --days N               validity of the new root CA in days (default 3650); the TLS\n"
    "                         certificate gets 825 days at most\n"
    "  --force                replace an existing estd directory (its CA key is deleted)\n"
    "  --ca-cert FILE         use an existing CA instead of a new root: its certificate\n"
    "                         (PEM; more certificates after it count as --chain)\n"
    "  --ca-key FILE          its private key (PEM, unencrypted); must match --ca-cert\n"
    "  --ca-key pkcs11:URI    alone: a new root CA for a key already on a PKCS#11 token;\n"
    "                         with --ca-cert: that CA, its key on the token\n"
    "                         (RFC 7512 URI with module-path and pin-source)\n"
    "  --generate-on-token    with --ca-key pkcs11:URI: first generate that key pair\n"
    "                         (--key-type) on the token, under the URI's object/id\n"
    "  --store CONNINFO       keep the store in PostgreSQL (a postgresql:// URI or keyword\n"
    "                         string; the password in a passfile, PGPASSFILE) instead of\n"
    "                         DIR/estd.db; makes the schema, or reuses one made before\n"
    "  --chain FILE           the certificates above --ca-cert up to the root (PEM); needed\n"
    "                         when --ca-cert is not self-signed; written to ca/chain.pem\n"
    "Exit status: 0 created, 1 error (nothing is left behind).\n";

typedef struct init_opts {
    const char *dir;
    const char *ca_subject;
    const char *listen;
    const char *ca_cert, *ca_key, *chain;
    const char *store; /* --store: a PostgreSQL conninfo, or NULL for DIR/estd.db */
    const char *names[INIT_SERVER_NAMES_MAX];
    size_t name_count;
    est_key_type key_type;
    long days;
    int serverkeygen, force, generate_on_token;
} init_opts;

/* What the CA part of init produced; owned, freed by init_ca_free. */
typedef struct init_ca {
    EVP_PKEY *key;         /* NULL for a token key: signer then */
    est_signer *signer;    /* the token key (pkcs11:), else NULL */
    X509 *cert;
    STACK_OF(X509) *chain; /* above cert, up to the root; empty for a root */
} init_ca;

static void init_ca_free(init_ca *ca)
{
    EVP_PKEY_free(ca->key);
    est_signer_free(ca->signer);
    X509_free(ca->cert);
    sk_X509_pop_free(ca->chain, X509_free);
}

static int init_parse(int argc, char **argv, init_opts *o)
{
    enum { O_SUBJECT = 256, O_KEY_TYPE, O_NAME, O_KEYGEN, O_LISTEN, O_DAYS, O_FORCE, O_CA_CERT,
           O_CA_KEY, O_CHAIN, O_STORE, O_GENERATE };
    static const struct option options[] = {
        {"ca-subject", required_argument, NULL, O_SUBJECT},
        {"key-type", required_argument, NULL, O_KEY_TYPE},
        {"server-name", required_argument, NULL, O_NAME},
        {"enable-serverkeygen", no_argument, NULL, O_KEYGEN},
        {"listen", required_argument, NULL, O_LISTEN},
        {"days", required_argument, NULL, O_DAYS},
        {"force", no_argument, NULL, O_FORCE},
        {"ca-cert", required_argument, NULL, O_CA_CERT},
        {"ca-key", required_argument, NULL, O_CA_KEY},
        {"chain", required_argument, NULL, O_CHAIN},
        {"store", required_argument, NULL, O_STORE},
        {"generate-on-token", no_argument, NULL, O_GENERATE},
        {"help", no_argument, NULL, 'h'},
        {0}};
    est_error err;
    int opt;

    memset(o, 0, sizeof *o);
    o->ca_subject = INIT_DEFAULT_SUBJECT;
    o->listen = INIT_DEFAULT_LISTEN;
    o->key_type = EST_KEY_EC_P256;
    o->days = INIT_DEFAULT_ROOT_DAYS;
    while ((opt = estd_getopt(argc, argv, "h", options, INIT_CMD)) != -1) {
        switch (opt) {
        case 'h': fputs(init_usage, stdout); return 0;
        case O_SUBJECT: o->ca_subject = optarg; break;
        case O_KEY_TYPE:
            if (est_key_type_parse(optarg, &o->key_type, &err) != EST_OK) {
                estd_usage_error(INIT_CMD, err.message);
                return -1;
            }
            break;
        case O_NAME:
            if (o->name_count == INIT_SERVER_NAMES_MAX) {
                estd_fail(INIT_CMD, "more than %d --server-name", INIT_SERVER_NAMES_MAX);
                return -1;
            }
            o->names[o->name_count++] = optarg;
            break;
        case O_KEYGEN: o->serverkeygen = 1; break;
        case O_LISTEN: o->listen = optarg; break;
        case O_DAYS:
            if (estd_number_arg(INIT_CMD, "--days", optarg, 1, EST_VALIDITY_DAYS_MAX, &o->days) != 0)
                return -1;
            break;
        case O_FORCE: o->force = 1; break;
        case O_CA_CERT: o->ca_cert = optarg; break;
        case O_CA_KEY: o->ca_key = optarg; break;
        case O_CHAIN: o->chain = optarg; break;
        case O_STORE: o->store = optarg; break;
        case O_GENERATE: o->generate_on_token = 1; break;
        default: return -1;
        }
    }
    if (optind + 1 != argc) {
        estd_usage_error(INIT_CMD, "expected exactly one DIR");
        return -1;
    }
    o->dir = argv[optind];
    /* --ca-key pkcs11:... alone: a new root for the token's key */
    if (!(o->ca_cert == NULL && o->ca_key != NULL && estd_key_is_pkcs11(o->ca_key)) &&
        ((o->ca_cert == NULL) != (o->ca_key == NULL) || (o->chain != NULL && o->ca_cert == NULL))) {
        estd_usage_error(INIT_CMD, "--ca-cert and --ca-key go together (--chain needs both)");
        return -1;
    }
    if (o->generate_on_token &&
        (o->ca_cert != NULL || o->ca_key == NULL || !estd_key_is_pkcs11(o->ca_key))) {
        estd_usage_error(INIT_CMD, "--generate-on-token needs --ca-key pkcs11:URI (no --ca-cert)");
        return -1;
    }
    if (strlen(o->listen) > INIT_LISTEN_MAX || strchr(o->listen, ':') == NULL ||
        strpbrk(o->listen, " \t\r\n#;") != NULL) {
        estd_usage_error(INIT_CMD, "--listen takes HOST:PORT");
        return -1;
    }
    /* One line of estd.conf; a SQLite store stays DIR/estd.db. */
    if (o->store != NULL && (!est_store_spec_is_pg(o->store) ||
                             strlen(o->store) >= ESTD_PATH_MAX ||
                             strpbrk(o->store, "\r\n#;") != NULL)) {
        estd_usage_error(INIT_CMD, "--store takes a PostgreSQL URI (postgresql://...) or "
                                   "keyword string, on one line without '#' or ';'");
        return -1;
    }
    if (o->name_count == 0) {
        o->names[o->name_count++] = "localhost";
        o->names[o->name_count++] = "127.0.0.1";
    }
    return 1;
}

/* --- the CA --------------------------------------------------------------- */

static est_status ca_create_root(const init_opts *o, init_ca *ca, est_error *err)
{
    est_status rc;

    if (o->ca_key != NULL) { /* pkcs11: the key is on the token */
        if ((o->generate_on_token &&
             (rc = estd_p11_key_generate(o->ca_key, o->key_type, err)) != EST_OK) ||
            (rc = estd_p11_signer_new(o->ca_key, NULL, 0, &ca->signer, err)) != EST_OK ||
            (rc = est_ca_make_root_signer(ca->signer, o->ca_subject, (unsigned)o->days,
                                          &ca->cert, err)) != EST_OK)
            return est_error_prefix(err, rc, "new root CA on the token");
    } else if ((rc = est_key_generate(o->key_type, &ca->key, err)) != EST_OK ||
               (rc = est_ca_make_root(ca->key, o->ca_subject, (unsigned)o->days, &ca->cert,
                                      err)) != EST_OK) {
        return est_error_prefix(err, rc, "new root CA");
    }
    if ((ca->chain = sk_X509_new_null()) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    return EST_OK;
}

/* The chain from ca->cert up to a self-signed root, built and verified
 * by OpenSSL from the candidate certificates (any order). */
static est_status ca_chain_verify(init_ca *ca, STACK_OF(X509) *candidates, const char *file,
                                  est_error *err)
{
    X509_STORE *roots = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    STACK_OF(X509) *path = NULL;
    est_status rc = EST_E_NOMEM;

    if (roots == NULL || ctx == NULL || untrusted == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(candidates); i++) {
        X509 *c = sk_X509_value(candidates, i);
        if (!(X509_self_signed(c, 0) == 1 ? X509_STORE_add_cert(roots, c) : sk_X509_push(untrusted, c)))
            goto out;
    }
    if (!X509_STORE_CTX_init(ctx, roots, ca->cert, untrusted))
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        rc = est_error_set(err, EST_E_CONFIG, "%s: the CA certificate does not chain to a root: %s",
                           file, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    if ((path = X509_STORE_CTX_get1_chain(ctx)) == NULL)
        goto out;
    X509_free(sk_X509_shift(path)); /* the CA certificate itself */
    sk_X509_pop_free(ca->chain, X509_free);
    ca->chain = path;
    rc = EST_OK;
out:
    if (rc == EST_E_NOMEM)
        est_error_set_openssl(err, rc, "%s: building the chain", file);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(roots);
    sk_X509_free(untrusted); /* borrowed from candidates */
    return rc;
}

/* An existing CA (root or subordinate): the key must be the certificate's,
 * the certificate must be a CA (basicConstraints CA:TRUE, keyCertSign when
 * keyUsage is present) and a subordinate must chain to a root. A token
 * key (pkcs11:) is matched by the token's public key object. */
static est_status ca_import(const init_opts *o, init_ca *ca, est_error *err)
{
    STACK_OF(X509) *certs = NULL, *more = NULL;
    int token = estd_key_is_pkcs11(o->ca_key);
    est_status rc;

    if ((rc = est_certs_read_file(o->ca_cert, &certs, err)) != EST_OK ||
        (token && (rc = estd_p11_signer_new(o->ca_key, NULL, 0, &ca->signer, err)) != EST_OK) ||
        (!token && (rc = est_key_read_file(o->ca_key, &ca->key, err)) != EST_OK) ||
        (o->chain != NULL && (rc = est_certs_read_file(o->chain, &more, err)) != EST_OK))
        goto out;
    ca->cert = sk_X509_shift(certs);
    rc = EST_E_CONFIG;
    if ((token ? EVP_PKEY_eq(X509_get0_pubkey(ca->cert), est_signer_get0_public_key(ca->signer))
               : X509_check_private_key(ca->cert, ca->key)) != 1) {
        ERR_clear_error();
        est_error_set(err, rc, "%s: the key does not match the certificate %s", o->ca_key, o->ca_cert);
        goto out;
    }
    if (X509_check_ca(ca->cert) < 1) {
        est_error_set(err, rc, "%s: not a CA certificate (needs basicConstraints CA:TRUE and keyCertSign)",
                      o->ca_cert);
        goto out;
    }
    for (int i = 0; more != NULL && i < sk_X509_num(more); i++) {
        if (!sk_X509_push(certs, sk_X509_value(more, i))) {
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
        X509_up_ref(sk_X509_value(more, i));
    }
    if (X509_self_signed(ca->cert, 1) == 1) {
        if (sk_X509_num(certs) > 0) {
            est_error_set(err, rc, "%s: a self-signed root has no chain; drop the extra certificates",
                          o->chain != NULL ? o->chain : o->ca_cert);
            goto out;
        }
        ca->chain = certs;
        certs = NULL;
        rc = EST_OK;
        goto out;
    }
    if (sk_X509_num(certs) == 0) {
        est_error_set(err, rc, "%s is not self-signed: give the certificates above it up to the root "
                               "with --chain FILE", o->ca_cert);
        goto out;
    }
    rc = ca_chain_verify(ca, certs, o->chain != NULL ? o->chain : o->ca_cert, err);
out:
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(more, X509_free);
    return rc;
}

/* --- files in the new directory -------------------------------------------- */

static est_status path_join(char out[ESTD_PATH_MAX], const char *dir, const char *name,
                            est_error *err)
{
    int n = snprintf(out, ESTD_PATH_MAX, "%s/%s", dir, name);

    if (n < 0 || n >= ESTD_PATH_MAX)
        return est_error_set(err, EST_E_CONFIG, "%s/%s: path too long", dir, name);
    return EST_OK;
}

static est_status make_subdir(const char *dir, const char *name, est_error *err)
{
    char path[ESTD_PATH_MAX];
    est_status rc = path_join(path, dir, name, err);

    if (rc == EST_OK && mkdir(path, 0700) != 0)
        rc = est_error_set(err, EST_E_IO, "%s: mkdir: %s", path, strerror(errno));
    return rc;
}

/* Writes certs (one certificate, then optionally more) as PEM. */
static est_status write_certs(const char *dir, const char *name, X509 *first,
                              STACK_OF(X509) *rest, est_error *err)
{
    char path[ESTD_PATH_MAX];
    STACK_OF(X509) *all = rest != NULL ? sk_X509_dup(rest) : sk_X509_new_null();
    est_status rc;

    if (all == NULL || (first != NULL && !sk_X509_unshift(all, first)))
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    else if ((rc = path_join(path, dir, name, err)) == EST_OK)
        rc = est_certs_write_file(path, all, err);
    sk_X509_free(all); /* borrowed certificates */
    return rc;
}

static est_status write_ca(const char *tmp, const init_ca *ca, est_error *err)
{
    char path[ESTD_PATH_MAX];
    est_status rc;

    if ((rc = make_subdir(tmp, "ca", err)) != EST_OK ||
        (ca->key != NULL && /* a token key stays on the token */
         ((rc = path_join(path, tmp, "ca/ca.key", err)) != EST_OK ||
          (rc = est_key_write_file(path, ca->key, err)) != EST_OK)) ||
        (rc = write_certs(tmp, "ca/ca.pem", ca->cert, NULL, err)) != EST_OK)
        return rc;
    if (sk_X509_num(ca->chain) > 0)
        rc = write_certs(tmp, "ca/chain.pem", NULL, ca->chain, err);
    return rc;
}

/* The HTTPS certificate: a fresh key of the CA's type, issued by the CA
 * with serverAuth for the server names (RFC 6125: the names go into the
 * subjectAltName; CN repeats the first for old clients). */
static est_status write_tls(const char *tmp, const init_opts *o, const init_ca *ca, est_error *err)
{
    char path[ESTD_PATH_MAX];
    EVP_PKEY *key = NULL;
    est_signer *signer = NULL;
    est_ca *issuer = NULL;
    X509_NAME *subject = X509_NAME_new();
    X509 *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    est_profile profile;
    est_status rc = EST_E_NOMEM;

    est_profile_default(&profile);
    profile.validity_days = INIT_TLS_DAYS;
    snprintf(profile.extended_key_usage, sizeof profile.extended_key_usage, "serverAuth");
    if (subject == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    /* est_ca_new takes the signer: the token key gets a session of its own */
    if (ca->signer != NULL &&
        (rc = estd_p11_signer_new(o->ca_key, X509_get0_pubkey(ca->cert), 0, &signer, err)) !=
            EST_OK)
        goto out;
    if (subject == NULL || (signer == NULL && (signer = est_signer_new_key(ca->key)) == NULL) ||
        (issuer = est_ca_new(ca->cert, ca->chain, NULL, signer)) == NULL ||
        (chain = sk_X509_dup(ca->chain)) == NULL || !sk_X509_unshift(chain, ca->cert) ||
        !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)o->names[0], -1, -1, 0)) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "TLS certificate for %.64s", o->names[0]);
        goto out;
    }
    if ((rc = est_key_generate(o->key_type, &key, err)) != EST_OK ||
        (rc = est_ca_issue_for_key(issuer, key, subject, (const char *const *)o->names,
                                   o->name_count, &profile, &cert, err)) != EST_OK) {
        est_error_prefix(err, rc, "TLS certificate");
        goto out;
    }
    if ((rc = make_subdir(tmp, "tls", err)) != EST_OK ||
        (rc = path_join(path, tmp, "tls/server.key", err)) != EST_OK ||
        (rc = est_key_write_file(path, key, err)) != EST_OK)
        goto out;
    rc = write_certs(tmp, "tls/server.pem", cert, chain, err);
out:
    EVP_PKEY_free(key);
    est_ca_free(issuer); /* owns signer; est_ca_new frees it on failure too */
    X509_NAME_free(subject);
    X509_free(cert);
    sk_X509_free(chain);
    return rc;
}

/* estd.conf from the lead's template, then parsed back: the settings init
 * changes must be what the parser reads, or init fails loudly. */
/* "\nkey = ca/ca.key\n" -> the token key's URI. *text replaced. */
static est_status config_key_set(char **text, const char *uri, est_error *err)
{
    static const char key_line[] = "\nkey = ca/ca.key\n";
    char *at = strstr(*text, key_line), *edited = NULL;

    if (at == NULL)
        return est_error_set(err, EST_E_INTERNAL, "estd.conf template lacks 'key = ca/ca.key'");
    if (strpbrk(uri, "\r\n#") != NULL)
        return est_error_set(err, EST_E_INPUT, "--ca-key: a URI on one line, without '#'");
    if (asprintf(&edited, "%.*s\nkey = %s\n%s", (int)(at - *text), *text, uri,
                 at + strlen(key_line)) < 0)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    free(*text);
    *text = edited;
    return EST_OK;
}

static est_status write_config(const char *tmp, const init_opts *o, est_error *err)
{
    static const char keygen_off[] = "\nserverkeygen = no\n";
    static const char store_default[] = "\nstore = estd.db\n";
    char path[ESTD_PATH_MAX];
    char *text = NULL, *edited = NULL, *at;
    estd_config *cfg = malloc(sizeof *cfg);
    est_status rc;

    if (cfg == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if ((rc = estd_config_template(o->listen, &text, err)) != EST_OK)
        goto out;
    rc = EST_E_INTERNAL;
    if (o->store != NULL) {
        if ((at = strstr(text, store_default)) == NULL) {
            est_error_set(err, rc, "estd.conf template lacks '%s'", "store = estd.db");
            goto out;
        }
        if (asprintf(&edited, "%.*s\nstore = %s\n%s", (int)(at - text), text, o->store,
                     at + strlen(store_default)) < 0) {
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
        free(text);
        text = edited;
    }
    if (o->serverkeygen) {
        if ((at = strstr(text, keygen_off)) == NULL) {
            est_error_set(err, rc, "estd.conf template lacks '%s'", "serverkeygen = no");
            goto out;
        }
        if (asprintf(&edited, "%.*s\nserverkeygen = yes\n%s", (int)(at - text), text,
                     at + strlen(keygen_off)) < 0) {
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
        free(text);
        text = edited;
    }
    if (o->ca_key != NULL && estd_key_is_pkcs11(o->ca_key) &&
        (rc = config_key_set(&text, o->ca_key, err)) != EST_OK)
        goto out;
    estd_config_defaults(cfg, tmp);
    if ((rc = estd_config_parse(cfg, "estd.conf", text, strlen(text), err)) != EST_OK)
        goto out;
    if (cfg->cas[0].serverkeygen != o->serverkeygen || strcmp(cfg->listen, o->listen) != 0) {
        rc = est_error_set(err, EST_E_INTERNAL, "estd.conf template did not take the settings");
        goto out;
    }
    if ((rc = path_join(path, tmp, "estd.conf", err)) == EST_OK)
        rc = est_file_write_atomic(path, text, strlen(text), 0600, err);
out:
    free(text);
    free(cfg);
    return rc;
}

/* The store, created empty, with the init itself as its first audit event. */
static est_status write_store(const char *tmp, const init_opts *o, const init_ca *ca,
                              est_error *err)
{
    char path[ESTD_PATH_MAX], serial[41], subject[256], detail[256];
    est_store *store = NULL;
    est_status rc;

    estd_name_text(X509_get_subject_name(ca->cert), subject, sizeof subject);
    snprintf(detail, sizeof detail, "%s CA, key type %s, TLS names %s%s",
             o->ca_cert != NULL ? "imported" : "new root", est_key_type_name(o->key_type),
             o->names[0], o->name_count > 1 ? ", ..." : "");
    if ((rc = est_serial_to_hex(X509_get0_serialNumber(ca->cert), serial, err)) != EST_OK ||
        (rc = path_join(path, tmp, "estd.db", err)) != EST_OK ||
        (rc = est_store_open(o->store != NULL ? o->store : path, 1, NULL, &store, err)) != EST_OK)
        return rc;
    est_audit_event ev = {"init", "", estd_admin_actor(), subject, serial, detail, 1};
    rc = est_store_audit_append(store, &ev, err);
    est_store_close(store);
    return rc;
}

static est_status build(const char *tmp, const init_opts *o, init_ca *ca, est_error *err)
{
    estd_instance *inst = NULL;
    est_status rc;

    rc = o->ca_cert != NULL ? ca_import(o, ca, err) : ca_create_root(o, ca, err);
    if (rc != EST_OK || (rc = write_ca(tmp, ca, err)) != EST_OK ||
        (rc = write_tls(tmp, o, ca, err)) != EST_OK || (rc = write_config(tmp, o, err)) != EST_OK ||
        (rc = write_store(tmp, o, ca, err)) != EST_OK)
        return rc;
    /* Load it as `estd serve` will: what init wrote must be usable. */
    if ((rc = estd_instance_open(tmp, ESTD_OPEN_KEYS, &inst, err)) != EST_OK)
        return est_error_prefix(err, rc, "checking the new directory");
    estd_instance_free(inst);
    return EST_OK;
}

/* --- installing the directory ------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void dir_remove(const char *path)
{
    /* FTW_PHYS: a symlink inside is removed, never followed. */
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        estd_fail(INIT_CMD, "%s: could not remove: %s", path, strerror(errno));
}

/* 1 when path is a directory without entries, 0 when it has some, -1 on error. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* May DIR be created? 0: it does not exist or is empty; 1: it is an
 * estd directory that --force replaces; -1: no (printed). --force never
 * deletes a directory that holds no estd.conf: a mistyped DIR such as a
 * home directory must not be wiped. */
static int dir_check_target(const init_opts *o)
{
    char conf[ESTD_PATH_MAX];
    struct stat sb;
    int empty;

    if (lstat(o->dir, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        estd_fail(INIT_CMD, "%s: %s", o->dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        estd_fail(INIT_CMD, "%s exists and is not a directory", o->dir);
        return -1;
    }
    if ((empty = dir_is_empty(o->dir)) != 0) {
        if (empty < 0)
            estd_fail(INIT_CMD, "%s: %s", o->dir, strerror(errno));
        return empty > 0 ? 0 : -1;
    }
    if (!o->force) {
        estd_fail(INIT_CMD, "%s is not empty; use --force to replace an estd directory", o->dir);
        return -1;
    }
    snprintf(conf, sizeof conf, "%s/estd.conf", o->dir);
    if (access(conf, F_OK) != 0) {
        estd_fail(INIT_CMD, "%s is not empty and holds no estd.conf; not replacing it", o->dir);
        return -1;
    }
    return 1;
}

/* tmp -> DIR by rename (atomic on one file system). Replacing: the old DIR
 * moves aside first, comes back if the new one cannot take its place,
 * and is deleted only once the new one is in place. */
static int dir_install(const char *tmp, const init_opts *o, int replace)
{
    char old[ESTD_PATH_MAX];

    if (replace) {
        snprintf(old, sizeof old, "%s.old-XXXXXX", o->dir);
        if (mkdtemp(old) == NULL || rename(o->dir, old) != 0) {
            estd_fail(INIT_CMD, "%s: moving it aside: %s", o->dir, strerror(errno));
            return -1;
        }
    }
    if (rename(tmp, o->dir) != 0) {
        estd_fail(INIT_CMD, "%s: %s", o->dir, strerror(errno));
        if (replace && rename(old, o->dir) != 0)
            estd_fail(INIT_CMD, "%s: could not move the old directory back from %s", o->dir, old);
        return -1;
    }
    if (replace)
        dir_remove(old);
    return 0;
}

static void print_summary(const init_opts *o, const init_ca *ca)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char subject[256];

    estd_name_text(X509_get_subject_name(ca->cert), subject, sizeof subject);
    printf("estd: created %s\n  CA: %s (%s)\n  CA certificate: %s/ca/ca.pem, SHA-256 fingerprint ",
           o->dir, subject, o->ca_cert != NULL ? "imported" : est_key_type_name(o->key_type),
           o->dir);
    if (X509_digest(ca->cert, EVP_sha256(), md, &md_len) == 1) {
        fputs("sha256:", stdout);
        for (unsigned int i = 0; i < md_len; i++)
            printf("%02x", md[i]);
    }
    printf("\n  TLS names:");
    for (size_t i = 0; i < o->name_count; i++)
        printf(" %s", o->names[i]);
    printf("\nNext: estd user add %s NAME --password-stdin; estd serve %s\n", o->dir, o->dir);
}

int estd_init_main(int argc, char **argv)
{
    char dir[ESTD_PATH_MAX], tmp[ESTD_PATH_MAX];
    init_opts o;
    init_ca ca = {0};
    est_error err;
    int parsed, replace, status = ESTD_EXIT_ERROR;
    size_t len;

    if ((parsed = init_parse(argc, argv, &o)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    /* "data/" and "data" are one directory; DIR.tmp-... must be its sibling. */
    len = strlen(o.dir);
    while (len > 1 && o.dir[len - 1] == '/')
        len--;
    if (len == 0 || len + INIT_SUFFIX_MAX >= sizeof dir) {
        estd_fail(INIT_CMD, "'%.60s': not a usable directory name", o.dir);
        return ESTD_EXIT_ERROR;
    }
    snprintf(dir, sizeof dir, "%.*s", (int)len, o.dir);
    o.dir = dir;
    if ((replace = dir_check_target(&o)) < 0)
        return ESTD_EXIT_ERROR;
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir);
    if (mkdtemp(tmp) == NULL) {
        estd_fail(INIT_CMD, "%s: cannot create a directory beside it: %s", dir, strerror(errno));
        return ESTD_EXIT_ERROR;
    }
    if (build(tmp, &o, &ca, &err) != EST_OK) {
        estd_fail(INIT_CMD, "%s", err.message);
        dir_remove(tmp);
        goto out;
    }
    if (dir_install(tmp, &o, replace) != 0) {
        dir_remove(tmp);
        goto out;
    }
    print_summary(&o, &ca);
    status = ESTD_EXIT_OK;
out:
    init_ca_free(&ca);
    return status;
}
