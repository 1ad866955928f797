/* estd ca rollover DIR: root CA key rollover (RFC 4210 §4.4; RFC 7030
 * §4.1.3 and draft-04 §4.1.3: /cacerts then serves the four certificates).
 *
 * A new key and NewWithNew (the new self-signed root), NewWithOld (the new
 * key certified by the old key: a device that trusts only the old root
 * reaches the new one through it) and OldWithNew (the old key certified by
 * the new key: a device that trusts only the new root still accepts what
 * the old key signed). Afterwards
 *   ca/ca.pem   = NewWithNew, ca/ca.key = the new key: issuance moves to it
 *   ca/extra.pem = OldWithOld (the old root), OldWithNew, NewWithOld, then
 *                 the unexpired certificates extra.pem held before
 *   ca/ca-old-<date>.key = the old key (0600), kept for the record
 * The TLS server certificate stays as it is: the old root, which every
 * device still trusts, issued it. Its chain in tls/server.pem gains
 * OldWithNew, so a device that already trusts only the new root accepts it
 * too. A running `estd serve` picks all of this up when restarted.
 *
 * The files are staged as *.rollover and renamed into place extra.pem,
 * ca.pem, ca.key (each rename atomic); an interrupted run leaves the
 * *.rollover files, which docs/operator.md says how to finish.
 *
 * A CA key on a PKCS#11 token rolls over to another token key the operator
 * names (--new-key pkcs11:...): each link is signed on the token, and
 * estd.conf's key URI, instead of ca.key, is what changes. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "cmd_common.h"
#include "pkcs11.h"
#include "secrets.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/signer.h"
#include "estkit/ca.h"
#include "estkit/rollover.h"
#include "estkit/mem.h"
#include "estkit/csr.h"

#define ROLLOVER_CMD "ca rollover"
#define ROLLOVER_DEFAULT_DAYS 3650
/* ca-old-<date>.key, -2, -3, ...: several rollovers on one day. */
#define ROLLOVER_BACKUP_ATTEMPTS 100

static const char ca_usage[] =
    "usage: estd ca rollover DIR [--key-type TYPE] [--ca-subject DN] [--days N] [--label LABEL]\n"
    "                        [--new-key pkcs11:URI]\n"
    "Replaces the root CA key (RFC 4210 section 4.4): makes a new key and root\n"
    "(NewWithNew) and the links NewWithOld and OldWithNew. ca/ca.pem and ca/ca.key become\n"
    "the new root and key, ca/extra.pem holds the old root and the links (so /cacerts\n"
    "serves all four, NewWithNew first), the old key is kept as ca/ca-old-DATE.key.\n"
    "Devices that trust the old root keep working; restart `estd serve` afterwards.\n"
    "  --key-type TYPE  type of the new key (default: the old key's type)\n"
    "  --ca-subject DN  subject of the new root (default: the old root's subject)\n"
    "  --days N         validity of the new root in days (default 3650)\n"
    "  --label LABEL    the CA served under that label (default: the default CA)\n"
    "  --new-key URI    for a CA key on a PKCS#11 token: the token key of the new root\n"
    "                   (estd.conf's key then names it; the old key stays on the token)\n"
    "Only a root CA rolls over; a subordinate CA gets a new certificate from its parent.\n"
    "Exit status: 0 done, 1 error (nothing changed).\n";

typedef struct rollover_opts {
    const char *dir, *subject, *label, *new_key;
    est_key_type key_type;
    int key_type_set;
    long days;
} rollover_opts;

/* The four certificates and the new key; owned. */
typedef struct rollover_set {
    EVP_PKEY *old_key, *new_key; /* NULL for token keys */
    est_signer *old_signer, *new_signer;
    char conf[ESTD_PATH_MAX]; /* DIR/estd.conf, rewritten for a token key */
    X509 *nwn, *nwo, *own;
    STACK_OF(X509) *extra; /* the new extra.pem */
} rollover_set;

static int rollover_parse(int argc, char **argv, rollover_opts *o)
{
    enum { O_KEY_TYPE = 256, O_SUBJECT, O_DAYS, O_LABEL, O_NEW_KEY };
    static const struct option options[] = {
        {"key-type", required_argument, NULL, O_KEY_TYPE},
        {"ca-subject", required_argument, NULL, O_SUBJECT},
        {"days", required_argument, NULL, O_DAYS}, {"label", required_argument, NULL, O_LABEL},
        {"new-key", required_argument, NULL, O_NEW_KEY},
        {"help", no_argument, NULL, 'h'}, {0}};
    est_error err;
    int opt;

    memset(o, 0, sizeof *o);
    o->label = "";
    o->days = ROLLOVER_DEFAULT_DAYS;
    while ((opt = estd_getopt(argc, argv, "h", options, ROLLOVER_CMD)) != -1) {
        if (opt == 'h') {
            fputs(ca_usage, stdout);
            return 0;
        } else if (opt == O_KEY_TYPE) {
            if (est_key_type_parse(optarg, &o->key_type, &err) != EST_OK) {
                estd_usage_error(ROLLOVER_CMD, err.message);
                return -1;
            }
            o->key_type_set = 1;
        } else if (opt == O_SUBJECT) {
            o->subject = optarg;
        } else if (opt == O_LABEL) {
            o->label = optarg;
        } else if (opt == O_NEW_KEY) {
            /* one line of estd.conf */
            if (!estd_key_is_pkcs11(optarg) || strpbrk(optarg, "\r\n#") != NULL) {
                estd_usage_error(ROLLOVER_CMD, "--new-key takes a pkcs11: URI on one line, without '#'");
                return -1;
            }
            o->new_key = optarg;
        } else if (opt != O_DAYS ||
                   estd_number_arg(ROLLOVER_CMD, "--days", optarg, 1, EST_VALIDITY_DAYS_MAX, &o->days) != 0) {
            return -1;
        }
    }
    if (optind + 1 != argc) {
        estd_usage_error(ROLLOVER_CMD, "expected DIR");
        return -1;
    }
    o->dir = argv[optind];
    return 1;
}

/* The new key keeps the old key's type unless --key-type says otherwise. */
static est_key_type key_type_of(EVP_PKEY *key)
{
    char group[64] = "";
    int bits = EVP_PKEY_get_bits(key);

    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519: return EST_KEY_ED25519;
    case EVP_PKEY_RSA: return bits <= 2048 ? EST_KEY_RSA_2048 : bits <= 3072 ? EST_KEY_RSA_3072 : EST_KEY_RSA_4096;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(key, group, sizeof group, NULL) == 1 &&
            (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0))
            return EST_KEY_EC_P384;
        return EST_KEY_EC_P256;
    default: return EST_KEY_EC_P256;
    }
}

static void rollover_set_free(rollover_set *s)
{
    EVP_PKEY_free(s->old_key);
    EVP_PKEY_free(s->new_key);
    est_signer_free(s->old_signer);
    est_signer_free(s->new_signer);
    X509_free(s->nwn);
    X509_free(s->nwo);
    X509_free(s->own);
    sk_X509_pop_free(s->extra, X509_free);
}

static int push_ref(STACK_OF(X509) *list, X509 *cert)
{
    for (int i = 0; i < sk_X509_num(list); i++)
        if (X509_cmp(sk_X509_value(list, i), cert) == 0)
            return 1;
    if (!sk_X509_push(list, cert))
        return 0;
    X509_up_ref(cert);
    return 1;
}

/* extra.pem after the rollover: OldWithOld, OldWithNew, NewWithOld, then
 * what it held before (older links) unless expired. */
static est_status extra_build(const estd_ca *ca, rollover_set *s, est_error *err)
{
    STACK_OF(X509) *before = NULL;
    est_status rc = EST_OK;

    if (ca->cfg->extra[0] != '\0' && access(ca->cfg->extra, F_OK) == 0 &&
        (rc = est_certs_read_file(ca->cfg->extra, &before, err)) != EST_OK)
        return rc;
    if ((s->extra = sk_X509_new_null()) == NULL || !push_ref(s->extra, ca->cert) ||
        !push_ref(s->extra, s->own) || !push_ref(s->extra, s->nwo))
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    for (int i = 0; rc == EST_OK && before != NULL && i < sk_X509_num(before); i++) {
        X509 *c = sk_X509_value(before, i);
        if (X509_cmp_current_time(X509_get0_notAfter(c)) > 0 && !push_ref(s->extra, c))
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    sk_X509_pop_free(before, X509_free);
    return rc;
}

static est_status rollover_make(const rollover_opts *o, const estd_ca *ca, rollover_set *s,
                                est_error *err)
{
    est_status rc;

    if (X509_self_signed(ca->cert, 1) != 1)
        return est_error_set(err, EST_E_CONFIG,
                             "%s is a subordinate CA: only a root rolls over (get a new "
                             "certificate from its parent CA)", ca->cfg->cert);
    if (estd_key_is_pkcs11(ca->cfg->key) != (o->new_key != NULL))
        return est_error_set(err, EST_E_CONFIG, o->new_key != NULL ?
                             "--new-key is for a CA key on a PKCS#11 token; this one is in %s" :
                             "the CA key %.200s is on a PKCS#11 token: name the new token key "
                             "with --new-key pkcs11:...", ca->cfg->key);
    if (o->new_key != NULL) {
        if (o->key_type_set)
            return est_error_set(err, EST_E_INPUT, "--key-type: the token key is what it is");
        if ((rc = estd_p11_signer_new(ca->cfg->key, X509_get0_pubkey(ca->cert), 0,
                                      &s->old_signer, err)) != EST_OK ||
            (rc = estd_p11_signer_new(o->new_key, NULL, 0, &s->new_signer, err)) != EST_OK)
            return rc;
    } else if ((rc = estd_ca_key_load(ca->cfg, &s->old_key, err)) != EST_OK ||
               (rc = est_key_generate(o->key_type_set ? o->key_type : key_type_of(s->old_key),
                                      &s->new_key, err)) != EST_OK) {
        return rc;
    } else if ((s->old_signer = est_signer_new_key(s->old_key)) == NULL ||
               (s->new_signer = est_signer_new_key(s->new_key)) == NULL) {
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    if ((rc = est_ca_rollover_signer(ca->cert, s->old_signer, s->new_signer, o->subject,
                                     (unsigned)o->days, &s->nwn, &s->nwo, &s->own, err)) != EST_OK)
        return rc;
    return extra_build(ca, s, err);
}

/* The TLS chain after the rollover: the server certificate, the path from
 * it to the new root (found by OpenSSL among the links; the new root itself
 * left out, as devices hold it), then the old chain. NULL when the server
 * certificate does not lead to this CA (not ours: left alone). */
static est_status tls_chain_build(const estd_instance *inst, rollover_set *s,
                                  STACK_OF(X509) **out, est_error *err)
{
    STACK_OF(X509) *certs = NULL, *untrusted = sk_X509_new_null(), *path = NULL, *chain = NULL;
    X509_STORE *anchor = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    est_status rc;

    *out = NULL;
    if ((rc = est_certs_read_file(inst->cfg.tls_cert, &certs, err)) != EST_OK)
        goto out;
    rc = EST_E_NOMEM;
    /* Links before roots: OpenSSL takes the first matching issuer, and an
     * old root (same subject and key as a link) would end the path
     * untrusted. After several rollovers the path runs through several
     * OldWithNew links. */
    if (untrusted == NULL || anchor == NULL || ctx == NULL || !X509_STORE_add_cert(anchor, s->nwn))
        goto out;
    for (int roots = 0; roots < 2; roots++)
        for (int i = 0; i < sk_X509_num(s->extra); i++) {
            X509 *c = sk_X509_value(s->extra, i);
            if ((X509_self_signed(c, 0) == 1) == roots && !push_ref(untrusted, c))
                goto out;
        }
    if (!X509_STORE_CTX_init(ctx, anchor, sk_X509_value(certs, 0), untrusted))
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        ERR_clear_error();
        rc = EST_OK; /* not issued under this CA */
        goto out;
    }
    if ((path = X509_STORE_CTX_get1_chain(ctx)) == NULL || (chain = sk_X509_new_null()) == NULL)
        goto out;
    X509_free(sk_X509_pop(path)); /* NewWithNew */
    for (int i = 0; i < sk_X509_num(path); i++)
        if (!push_ref(chain, sk_X509_value(path, i)))
            goto out;
    for (int i = 1; i < sk_X509_num(certs); i++)
        if (!push_ref(chain, sk_X509_value(certs, i)))
            goto out;
    *out = chain;
    chain = NULL;
    rc = EST_OK;
out:
    if (rc == EST_E_NOMEM)
        est_error_set_openssl(err, rc, "%s: building the new chain", inst->cfg.tls_cert);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(path, X509_free);
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(anchor);
    return rc;
}

/* DIR-of-path/name into out. */
static est_status sibling(char out[ESTD_PATH_MAX], const char *path, const char *name, est_error *err)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash != NULL ? (int)(slash - path) : 1;
    int n = snprintf(out, ESTD_PATH_MAX, "%.*s/%s", dir_len, slash != NULL ? path : ".", name);

    if (n < 0 || n >= ESTD_PATH_MAX)
        return est_error_set(err, EST_E_CONFIG, "%s: path too long", path);
    return EST_OK;
}

/* ca-old-<UTC date>.key beside the CA key, never over an existing file. */
static est_status backup_old_key(const estd_ca *ca, EVP_PKEY *key, char out[ESTD_PATH_MAX],
                                 est_error *err)
{
    char date[16], name[64];
    time_t now = time(NULL);
    struct tm tm;
    est_status rc;

    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    for (int n = 1; n <= ROLLOVER_BACKUP_ATTEMPTS; n++) {
        if (n == 1)
            snprintf(name, sizeof name, "ca-old-%s.key", date);
        else
            snprintf(name, sizeof name, "ca-old-%s-%d.key", date, n);
        if ((rc = sibling(out, ca->cfg->key, name, err)) != EST_OK)
            return rc;
        if (access(out, F_OK) != 0 && errno == ENOENT)
            return estd_ca_key_save(ca->cfg, out, key, err);
    }
    return est_error_set(err, EST_E_IO, "%s: %d old keys from today already", out,
                         ROLLOVER_BACKUP_ATTEMPTS);
}

typedef struct staged_file {
    const char *target;
    char staged[ESTD_PATH_MAX];
} staged_file;

static est_status stage_certs(staged_file *f, const char *target, X509 *one, STACK_OF(X509) *many,
                              est_error *err)
{
    STACK_OF(X509) *list = many != NULL ? many : sk_X509_new_null();
    est_status rc;
    int n = snprintf(f->staged, sizeof f->staged, "%s.rollover", target);

    if (n < 0 || (size_t)n >= sizeof f->staged) {
        rc = est_error_set(err, EST_E_CONFIG, "%s: path too long", target);
    } else if (list == NULL || (one != NULL && !sk_X509_push(list, one))) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    } else {
        f->target = target; /* from here on, a failure unlinks f->staged */
        rc = est_certs_write_file(f->staged, list, err);
    }
    if (many == NULL)
        sk_X509_free(list); /* one is borrowed */
    return rc;
}

/* Renames in order (est_file_write_atomic synced the contents; each
 * rename is atomic). *renamed counts the files in place: after a partial
 * install nothing may be cleaned up, the staged new key included. */
static est_status install(staged_file *files, size_t count, int *renamed, est_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (files[i].target == NULL)
            continue;
        if (rename(files[i].staged, files[i].target) != 0)
            return est_error_set(err, EST_E_IO,
                                 "%s: rename from %s: %s%s", files[i].target, files[i].staged,
                                 strerror(errno),
                                 *renamed > 0 ? " (rollover half done: see docs/operator.md)" : "");
        (*renamed)++;
    }
    return EST_OK;
}

static void dir_sync(const char *path)
{
    char dir[ESTD_PATH_MAX];
    int fd;

    if (sibling(dir, path, ".", NULL) != EST_OK || (fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
        return;
    (void)fsync(fd);
    close(fd);
}

enum { STAGE_EXTRA, STAGE_TLS, STAGE_CERT, STAGE_KEY, STAGE_COUNT };

/* estd.conf naming the new token key: the old URI, there exactly once,
 * replaced (any other layout is the operator's to edit). */
static est_status stage_conf(staged_file *f, const char *dir, const char *old_uri,
                             const char *new_uri, char conf[ESTD_PATH_MAX], est_error *err)
{
    uint8_t *text = NULL;
    char *at, *edited = NULL;
    size_t len;
    est_status rc;
    int n = snprintf(conf, ESTD_PATH_MAX, "%s/estd.conf", dir);

    if (n < 0 || n >= ESTD_PATH_MAX ||
        snprintf(f->staged, sizeof f->staged, "%s.rollover", conf) >= (int)sizeof f->staged)
        return est_error_set(err, EST_E_CONFIG, "%s: path too long", dir);
    if ((rc = est_file_read(conf, ESTD_CONFIG_MAX_BYTES, &text, &len, err)) != EST_OK)
        return rc;
    if ((at = strstr((char *)text, old_uri)) == NULL || strstr(at + 1, old_uri) != NULL) {
        rc = est_error_set(err, EST_E_CONFIG, "%s: the key URI is not there exactly once", conf);
    } else if (asprintf(&edited, "%.*s%s%s", (int)(at - (char *)text), (char *)text, new_uri,
                        at + strlen(old_uri)) < 0) {
        edited = NULL;
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    } else {
        f->target = conf;
        rc = est_file_write_atomic(f->staged, edited, strlen(edited), 0600, err);
    }
    free(edited);
    est_free(text);
    return rc;
}

static est_status stage_all(const estd_instance *inst, const estd_ca *ca, rollover_set *s,
                            const rollover_opts *o, STACK_OF(X509) *tls_chain, staged_file *files,
                            est_error *err)
{
    est_status rc;
    int n;

    if ((rc = stage_certs(&files[STAGE_EXTRA], ca->cfg->extra, NULL, s->extra, err)) != EST_OK ||
        (tls_chain != NULL &&
         (rc = stage_certs(&files[STAGE_TLS], inst->cfg.tls_cert, NULL, tls_chain, err)) != EST_OK) ||
        (rc = stage_certs(&files[STAGE_CERT], ca->cfg->cert, s->nwn, NULL, err)) != EST_OK)
        return rc;
    if (s->new_key == NULL)
        return stage_conf(&files[STAGE_KEY], o->dir, ca->cfg->key, o->new_key, s->conf, err);
    files[STAGE_KEY].target = ca->cfg->key;
    n = snprintf(files[STAGE_KEY].staged, ESTD_PATH_MAX, "%s.rollover", ca->cfg->key);
    if (n < 0 || n >= ESTD_PATH_MAX)
        return est_error_set(err, EST_E_CONFIG, "%s: path too long", ca->cfg->key);
    return estd_ca_key_save(ca->cfg, files[STAGE_KEY].staged, s->new_key, err);
}

static void print_summary(const estd_ca *ca, const rollover_set *s, const char *backup, int tls)
{
    char subject[256], serial[41] = "";

    estd_name_text(X509_get_subject_name(s->nwn), subject, sizeof subject);
    est_serial_to_hex(X509_get0_serialNumber(s->nwn), serial, NULL);
    printf("estd: new root %s (serial %s, %s) in %s\n"
           "  links OldWithNew and NewWithOld and the old root in %s\n"
           "  old key kept in %s\n%s"
           "Restart `estd serve` to issue with the new key.\n",
           subject, serial, est_key_type_name(key_type_of(est_signer_get0_public_key(s->new_signer))),
           ca->cfg->cert, ca->cfg->extra, s->old_key == NULL ? "the token" : backup, tls ? "  TLS chain extended with OldWithNew\n" : "");
}

static int rollover_main(int argc, char **argv)
{
    rollover_opts o;
    rollover_set s = {0};
    staged_file files[STAGE_COUNT] = {0};
    STACK_OF(X509) *tls_chain = NULL;
    estd_instance *inst = NULL;
    estd_ca *ca;
    char backup[ESTD_PATH_MAX] = "", serial[41] = "", detail[ESTD_PATH_MAX + 64];
    int parsed, installed = 0, status = ESTD_EXIT_ERROR;
    est_error err;

    if ((parsed = rollover_parse(argc, argv, &o)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    if ((inst = estd_admin_open(ROLLOVER_CMD, o.dir, ESTD_OPEN_KEYS)) == NULL)
        return ESTD_EXIT_ERROR;
    if ((ca = estd_instance_find_ca(inst, o.label)) == NULL) {
        estd_fail(ROLLOVER_CMD, "%s/estd.conf: no CA with label '%.64s'", o.dir, o.label);
        goto out;
    }
    if (ca->cfg->extra[0] == '\0') {
        estd_fail(ROLLOVER_CMD, "%s/estd.conf: 'extra' is empty; the rollover links need a file", o.dir);
        goto out;
    }
    if (rollover_make(&o, ca, &s, &err) != EST_OK || tls_chain_build(inst, &s, &tls_chain, &err) != EST_OK ||
        stage_all(inst, ca, &s, &o, tls_chain, files, &err) != EST_OK ||
        (s.old_key != NULL && backup_old_key(ca, s.old_key, backup, &err) != EST_OK) || install(files, STAGE_COUNT, &installed, &err) != EST_OK) {
        estd_fail(ROLLOVER_CMD, "%s", err.message);
        goto out;
    }
    for (int i = 0; i < STAGE_COUNT; i++)
        if (files[i].target != NULL)
            dir_sync(files[i].target);
    est_serial_to_hex(X509_get0_serialNumber(s.nwn), serial, NULL);
    snprintf(detail, sizeof detail, "new key %s; old key in %s",
             est_key_type_name(key_type_of(est_signer_get0_public_key(s.new_signer))),
             s.old_key == NULL ? "the token" : backup);
    if (estd_admin_audit(ROLLOVER_CMD, inst, "ca-rollover", o.label, NULL, serial, detail) != 0)
        goto out;
    print_summary(ca, &s, backup, tls_chain != NULL);
    status = ESTD_EXIT_OK;
out:
    if (!installed) {
        for (int i = 0; i < STAGE_COUNT; i++)
            if (files[i].target != NULL)
                unlink(files[i].staged);
        if (backup[0] != '\0')
            unlink(backup);
    }
    sk_X509_pop_free(tls_chain, X509_free);
    rollover_set_free(&s);
    estd_instance_free(inst);
    return status;
}

int estd_ca_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"rollover", rollover_main}};

    return estd_subcommand_run("ca", table, sizeof table / sizeof table[0], ca_usage,
                               "expected rollover", argc, argv);
}
