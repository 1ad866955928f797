/* estd user add|del|list DIR: the users HTTP Basic and Digest authenticate
 * (draft-04 §3.2.3).
 *
 * Passwords are stored as a salted scrypt hash (est_password_hash), never
 * in plaintext. Digest (RFC 7616) cannot work from such a hash: the server
 * needs HA1 = H(user ":" realm ":" password). `user add --digest`
 * therefore also stores HA1 for MD5 and SHA-256 for the configured realm;
 * without --digest (the default since HA1 is what an attacker wants) only
 * the scrypt hash is kept. HA1 is unsalted and password-equivalent for that
 * realm: whoever reads the store can answer Digest challenges as the user
 * (not Basic ones, and not in another realm), and it is one fast hash to
 * crack offline. The store file is 0600 for that reason. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "cmd_common.h"
#include "tls_srp.h"
#include "estkit/password.h"
#include "estkit/mem.h"

static const char user_usage[] =
    "usage: estd user add DIR NAME --password-stdin [--force] [--digest | --no-digest] [--srp]\n"
    "       estd user del DIR NAME\n"
    "       estd user unlock DIR NAME\n"
    "       estd user list DIR\n"
    "Manages the users HTTP Basic and Digest authentication accept.\n"
    "  add   reads the password from the first line of stdin; stores a salted scrypt\n"
    "        hash (the user can use Basic only).\n"
    "        --digest also stores, for Digest, HA1 = H(NAME:realm:password) in MD5 and\n"
    "        SHA-256 for the realm in estd.conf. HA1 is unsalted and password-equivalent\n"
    "        for that realm: anyone who reads estd.db can pass Digest as NAME (Basic\n"
    "        still needs the password). After changing the realm, add the Digest users\n"
    "        again with --force --digest.\n"
    "        --no-digest (the default) stores no HA1.\n"
    "        --force replaces an existing user's password; with or without --digest it\n"
    "        turns Digest on or off for the user.\n"
    "        --srp also stores a TLS-SRP verifier (RFC 5054, 3072-bit group, random salt)\n"
    "        so NAME can log in with TLS-SRP (policy method 'srp'); never the password.\n"
    "  del   removes the user.\n"
    "  unlock  lifts a lock (or back-off) that failed password attempts put on NAME\n"
    "        (guess_lock_after in estd.conf); a running estd sees it at the next attempt.\n"
    "  list  prints one line per user: name, created (UTC), Digest realm or \"basic-only\".\n"
    "NAME: 1-128 characters, no spaces, control characters, ':', '\"' or '\\'.\n"
    "Exit status: 0 done, 1 error.\n";

/* RFC 7617 §2: the user-id cannot contain ':'; RFC 7616 §3.4: it is a
 * quoted-string, so '"' and '\' would need escaping clients get wrong. */
static int name_ok(const char *name)
{
    size_t len = strnlen(name, EST_USERNAME_MAX + 1);

    if (len == 0 || len > EST_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == 0x7f || c == ':' || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

/* One line from stdin into buf (cap > EST_PASSWORD_MAX + 1): the newline
 * is dropped, echo is off when stdin is a terminal. */
static int password_read(const char *command, char *buf, size_t cap)
{
    struct termios saved, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    size_t len;
    char *got;

    if (tty) {
        fputs("Password: ", stderr);
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    got = fgets(buf, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    if (got == NULL) {
        estd_fail(command, "no password on stdin");
        return -1;
    }
    len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    else if (len == cap - 1) {
        estd_fail(command, "password longer than %d bytes", EST_PASSWORD_MAX);
        return -1;
    }
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (len == 0 || len > EST_PASSWORD_MAX) {
        estd_fail(command, len == 0 ? "empty password" : "password longer than %d bytes",
                  EST_PASSWORD_MAX);
        return -1;
    }
    return 0;
}

static int user_add(int argc, char **argv)
{
    enum { O_STDIN = 256, O_FORCE, O_DIGEST, O_NO_DIGEST, O_SRP };
    static const struct option options[] = {
        {"password-stdin", no_argument, NULL, O_STDIN}, {"force", no_argument, NULL, O_FORCE},
        {"digest", no_argument, NULL, O_DIGEST}, {"no-digest", no_argument, NULL, O_NO_DIGEST},
        {"srp", no_argument, NULL, O_SRP}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *cmd = "user add";
    char password[EST_PASSWORD_MAX + 2], md5[EST_DIGEST_HEX_MAX], sha256[EST_DIGEST_HEX_MAX];
    int opt, from_stdin = 0, force = 0, digest = 0, srp = 0, status = ESTD_EXIT_ERROR;
    est_user_record rec = {0};
    const char *srp_group = NULL;
    estd_instance *inst = NULL;
    est_error err;

    while ((opt = estd_getopt(argc, argv, "h", options, cmd)) != -1) {
        if (opt == 'h') {
            fputs(user_usage, stdout);
            return ESTD_EXIT_OK;
        }
        if (opt == '?')
            return ESTD_EXIT_ERROR;
        from_stdin |= opt == O_STDIN;
        force |= opt == O_FORCE;
        /* The last of --digest / --no-digest wins; no HA1 unless asked for. */
        if (opt == O_DIGEST || opt == O_NO_DIGEST)
            digest = opt == O_DIGEST;
        srp |= opt == O_SRP;
    }
    if (optind + 2 != argc)
        return estd_usage_error(cmd, "expected DIR NAME");
    if (!from_stdin)
        return estd_usage_error(cmd, "the password is read from stdin only: add --password-stdin");
    if (!name_ok(argv[optind + 1]))
        return estd_usage_error(cmd, "not a valid user name");
    if ((inst = estd_admin_open(cmd, argv[optind], 0)) == NULL ||
        password_read(cmd, password, sizeof password) != 0)
        goto out;
    rec.name = argv[optind + 1];
    if (est_password_hash(password, &rec.password_hash, &err) != EST_OK ||
        (digest && (est_digest_ha1(EST_DIGEST_MD5, rec.name, inst->cfg.realm, password, md5, &err) != EST_OK ||
                    est_digest_ha1(EST_DIGEST_SHA256, rec.name, inst->cfg.realm, password, sha256, &err) != EST_OK))) {
        estd_fail(cmd, "%s", err.message);
        goto out;
    }
    if (srp && estd_srp_verifier_make(rec.name, password, &srp_group, &rec.srp_salt,
                                      &rec.srp_verifier, &err) != EST_OK) {
        estd_fail(cmd, "%s", err.message);
        goto out;
    }
    rec.srp_group = (char *)srp_group; /* static text; user_put only reads it */
    if (digest) {
        rec.digest_realm = inst->cfg.realm;
        rec.digest_ha1_md5 = md5;
        rec.digest_ha1_sha256 = sha256;
    }
    if (est_store_user_put(inst->store, &rec, force, &err) != EST_OK) {
        if (err.code == EST_E_CONFLICT)
            estd_fail(cmd, "user '%s' exists (--force sets a new password)", rec.name);
        else
            estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        goto out;
    }
    if (estd_admin_audit(cmd, inst, force ? "user-put" : "user-add", "", rec.name, NULL,
                         srp ? (digest ? "basic+digest+srp" : "basic+srp")
                             : (digest ? "basic+digest" : "basic-only")) == 0)
        status = ESTD_EXIT_OK;
out:
    OPENSSL_cleanse(password, sizeof password);
    OPENSSL_cleanse(md5, sizeof md5);
    OPENSSL_cleanse(sha256, sizeof sha256);
    est_free(rec.password_hash);
    free(rec.srp_salt);
    if (rec.srp_verifier != NULL)
        OPENSSL_clear_free(rec.srp_verifier, strlen(rec.srp_verifier));
    estd_instance_free(inst);
    return status;
}

/* The store changes of user del / unlock: one user by NAME, audited as
 * event; a name the store does not know is its own one-line error. */
enum user_change { USER_DELETE, USER_UNLOCK };

static int user_change_main(const char *cmd, enum user_change change, const char *event, int argc,
                            char **argv)
{
    estd_instance *inst = NULL;
    const char *name;
    est_error err;
    est_status rc;
    int parsed, status = ESTD_EXIT_ERROR;

    if ((parsed = estd_operands(cmd, user_usage, argc, argv, 2, "expected DIR NAME")) >= 0)
        return parsed;
    if ((inst = estd_admin_open(cmd, argv[optind], 0)) == NULL)
        return ESTD_EXIT_ERROR;
    name = argv[optind + 1];
    rc = change == USER_DELETE ? est_store_user_delete(inst->store, name, &err)
                               : est_store_user_unlock(inst->store, name, (int64_t)time(NULL), &err);
    if (rc != EST_OK) {
        if (err.code == EST_E_NOT_FOUND)
            estd_fail(cmd, "no user '%.128s'", name);
        else
            estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
    } else if (estd_admin_audit(cmd, inst, event, "", name, NULL, NULL) == 0) {
        status = ESTD_EXIT_OK;
    }
    estd_instance_free(inst);
    return status;
}

static int user_del(int argc, char **argv)
{
    return user_change_main("user del", USER_DELETE, "user-del", argc, argv);
}

static int user_unlock(int argc, char **argv)
{
    return user_change_main("user unlock", USER_UNLOCK, "user-unlock", argc, argv);
}

static int print_user(const est_user_record *rec, void *arg)
{
    const char *realm = arg;
    char created[ESTD_TIME_TEXT_MAX];

    const char *srp = rec->srp_verifier != NULL ? " srp" : "";

    estd_time_text(rec->created_at, created);
    if (rec->digest_realm == NULL || rec->digest_ha1_md5 == NULL)
        printf("%s %s basic-only%s\n", rec->name, created, srp);
    else if (strcmp(rec->digest_realm, realm) != 0)
        printf("%s %s digest-stale(realm '%s', now '%s')%s\n", rec->name, created,
               rec->digest_realm, realm, srp);
    else
        printf("%s %s digest(realm '%s')%s\n", rec->name, created, rec->digest_realm, srp);
    return 0;
}

/* Lists with the configured realm, which each digest column is for. */
static est_status list_users(estd_instance *inst, void *arg, est_error *err)
{
    (void)arg;
    return est_store_user_list(inst->store, print_user, inst->cfg.realm, err);
}

static int user_list(int argc, char **argv)
{
    const char *cmd = "user list";
    int parsed;

    if ((parsed = estd_operands(cmd, user_usage, argc, argv, 1, "expected DIR")) >= 0)
        return parsed;
    return estd_admin_list(cmd, argv[optind], list_users, NULL);
}

int estd_user_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"add", user_add}, {"del", user_del}, {"list", user_list},
                                                 {"unlock", user_unlock}};

    return estd_subcommand_run("user", table, sizeof table / sizeof table[0], user_usage,
                               "expected add, del, list or unlock", argc, argv);
}
