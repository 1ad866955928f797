/* Tests src/server/config.c: DIR/estd.conf parsing. Every key type (string,
 * bounded number, yes/no, choice, auth policy), limits at and one past
 * their bound, errors naming file:line, unknown keys and sections, labelled
 * CA sections, comments, the template `estd init` writes, and loading a
 * directory (relative paths resolved against it). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "config.h"
#include "estkit/csr.h"
#include "unit_main.h"

/* config.c's CONFIG_LINE_MAX (2048, including the terminating NUL): a line
 * of 2047 bytes is the longest accepted. */
#define LINE_LIMIT 2047

static int setup(void **state)
{
    estd_config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return -1;
    estd_config_defaults(cfg, "/srv/estd");
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static est_status parse(estd_config *cfg, const char *text, est_error *err)
{
    estd_config_defaults(cfg, "/srv/estd");
    memset(err, 0, sizeof *err);
    return estd_config_parse(cfg, "estd.conf", text, strlen(text), err);
}

static void parses(estd_config *cfg, const char *text)
{
    est_error err;
    if (parse(cfg, text, &err) != EST_OK)
        fail_msg("'%s' did not parse: %s", text, err.message);
}

/* The text fails with EST_E_CONFIG and a message starting with prefix. */
static void fails(estd_config *cfg, const char *text, const char *prefix)
{
    est_error err;
    est_status rc = parse(cfg, text, &err);
    if (rc == EST_OK)
        fail_msg("'%s' parsed but should fail with '%s'", text, prefix);
    if (rc != EST_E_CONFIG || err.code != EST_E_CONFIG)
        fail_msg("'%s': code %d/%d, not EST_E_CONFIG (%s)", text, rc, err.code, err.message);
    if (strncmp(err.message, prefix, strlen(prefix)) != 0)
        fail_msg("'%s': message '%s' does not start with '%s'", text, err.message, prefix);
}

/* A bounded number: key in [section] takes min and max and refuses one
 * past each (for min 0, "-1": not a number), naming line 2. */
static void bounded(estd_config *cfg, const char *section, const char *key, long long min,
                    long long max)
{
    const long long values[] = {min, max, min - 1, max + 1};
    char text[160];

    for (size_t i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "[%s]\n%s = %lld\n", section, key, values[i]);
        if (i < 2)
            parses(cfg, text);
        else
            fails(cfg, text, "estd.conf:2:");
    }
}

static void defaults_are_the_documented_ones(void **state)
{
    estd_config *cfg = *state;
    const estd_ca_config *ca = &cfg->cas[0];

    assert_string_equal(cfg->dir, "/srv/estd");
    assert_string_equal(cfg->listen, "127.0.0.1:8443");
    assert_string_equal(cfg->tls_cert, "tls/server.pem");
    assert_string_equal(cfg->store, "estd.db");
    assert_string_equal(cfg->realm, "estkit");
    assert_int_equal(cfg->ca_count, 1);
    assert_string_equal(ca->label, "");
    assert_string_equal(ca->cert, "ca/ca.pem");
    assert_string_equal(ca->chain, "ca/chain.pem");
    assert_string_equal(ca->extra, "ca/extra.pem");
    /* Digest is off by default (issue #12: HA1 is password-equivalent). */
    assert_int_equal(ca->enroll_auth.count, 2);
    assert_int_equal(ca->enroll_auth.alternatives[0], ESTD_AUTH_CERT);
    assert_int_equal(ca->enroll_auth.alternatives[1], ESTD_AUTH_BASIC);
    assert_int_equal(ca->reenroll_auth.count, 1);
    assert_int_equal(ca->reenroll_auth.alternatives[0], ESTD_AUTH_CERT);
    assert_int_equal(ca->approval, ESTD_APPROVAL_AUTO);
    assert_int_equal(ca->serverkeygen, 0);
    assert_int_equal(cfg->tls_ticket_key_seconds, 3600);
    assert_int_equal(cfg->guess_delay_after, 5);
    assert_int_equal(cfg->guess_lock_after, 20);
    assert_int_equal(cfg->guess_lock_seconds, 900);
    assert_int_equal(cfg->guess_delay_max_seconds, 60);
}

/* What `estd init` writes must parse and mean the defaults. */
static void template_parses_to_the_defaults(void **state)
{
    estd_config *cfg = *state;
    estd_config *defaults = malloc(sizeof *defaults);
    char *text = NULL;
    est_error err;

    assert_non_null(defaults);
    assert_int_equal(estd_config_template("0.0.0.0:9443", &text, &err), EST_OK);
    parses(cfg, text);
    assert_string_equal(cfg->listen, "0.0.0.0:9443");
    estd_config_defaults(defaults, "/srv/estd");
    snprintf(defaults->listen, sizeof defaults->listen, "0.0.0.0:9443");
    assert_memory_equal(cfg, defaults, sizeof *cfg);
    free(text);
    free(defaults);
}

static void strings_are_set_and_bounded(void **state)
{
    estd_config *cfg = *state;
    char text[512];

    parses(cfg, "[server]\nlisten = [::1]:8443\nstore = /var/lib/estd/estd.db\nrealm = devices\n");
    assert_string_equal(cfg->listen, "[::1]:8443");
    assert_string_equal(cfg->store, "/var/lib/estd/estd.db");
    assert_string_equal(cfg->realm, "devices");
    /* realm is char[128]: 127 characters fit, 128 do not. */
    snprintf(text, sizeof text, "[server]\nrealm = %0127d\n", 0);
    parses(cfg, text);
    assert_int_equal(strlen(cfg->realm), 127);
    snprintf(text, sizeof text, "[server]\nrealm = %0128d\n", 0);
    fails(cfg, text, "estd.conf:2: value longer than 127 characters");
    fails(cfg, "[server]\nrealm = a\"b\n", "estd.conf:2: realm must not contain quotes");
    fails(cfg, "[server]\nrealm = a\\b\n", "estd.conf:2: realm must not contain quotes");
    /* An empty value is a value: third_party_trust = means none. */
    parses(cfg, "[server]\nthird_party_trust =\n");
    assert_string_equal(cfg->third_party_trust, "");
}

/* The front door's keys (conn.c, tls.c): each number at its bounds and one
 * past, the TLS lists bounded and never empty. */
static void front_door_keys(void **state)
{
    estd_config *cfg = *state;
    static const char *const uints[] = {"handshake_timeout_seconds",
                                        "request_head_timeout_seconds",
                                        "request_body_timeout_seconds"};
    char text[700];

    assert_int_equal(cfg->max_connections_per_address, 64);
    assert_int_equal(cfg->handshake_timeout_seconds, 10);
    assert_int_equal(cfg->request_head_timeout_seconds, 10);
    assert_int_equal(cfg->request_body_timeout_seconds, 30);
    assert_string_equal(cfg->tls_ciphers, ESTD_TLS_CIPHERS_DEFAULT);
    parses(cfg, "[server]\nmax_connections_per_address = 1\n");
    assert_int_equal(cfg->max_connections_per_address, 1);
    bounded(cfg, "server", "max_connections_per_address", 1, 1000000);
    fails(cfg, "[server]\nmax_connections_per_address = 0\n", "estd.conf:2: '0' is not a whole number from 1");
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        bounded(cfg, "server", uints[i], 1, 3600);
        snprintf(text, sizeof text, "[server]\n%s = 0\n", uints[i]);
        fails(cfg, text, "estd.conf:2: '0' is not a whole number from 1 to 3600");
    }
    parses(cfg, "[server]\nhandshake_timeout_seconds = 7\n");
    assert_int_equal(cfg->handshake_timeout_seconds, 7);
    parses(cfg, "[server]\ntls_ciphers = ECDHE-ECDSA-AES128-SHA\ntls_groups = P-384\n"
                "tls_ciphersuites = TLS_AES_256_GCM_SHA384\n");
    assert_string_equal(cfg->tls_ciphers, "ECDHE-ECDSA-AES128-SHA");
    assert_string_equal(cfg->tls_groups, "P-384");
    assert_string_equal(cfg->tls_ciphersuites, "TLS_AES_256_GCM_SHA384");
    fails(cfg, "[server]\ntls_groups =\n", "estd.conf:2: tls_groups must not be empty");
    /* tls_ciphers is char[512]: 511 characters fit, 512 do not. */
    snprintf(text, sizeof text, "[server]\ntls_ciphers = %0511d\n", 0);
    parses(cfg, text);
    snprintf(text, sizeof text, "[server]\ntls_ciphers = %0512d\n", 0);
    fails(cfg, text, "estd.conf:2: value longer than 511 characters");
}

static void numbers_accept_their_range_and_nothing_else(void **state)
{
    estd_config *cfg = *state;

    parses(cfg, "[server]\nthreads = 0\nworkers = 256\n");
    assert_int_equal(cfg->threads, 0);
    assert_int_equal(cfg->workers, 256);
    fails(cfg, "[server]\nthreads = 257\n", "estd.conf:2: '257' is not a whole number from 0 to 256");
    parses(cfg, "[server]\nmax_body_bytes = 1024\n");
    assert_int_equal(cfg->max_body_bytes, 1024);
    fails(cfg, "[server]\nmax_body_bytes = 1023\n", "estd.conf:2: '1023' is not a whole number");
    parses(cfg, "[server]\nmax_body_bytes = 16777216\n");
    assert_int_equal(cfg->max_body_bytes, 16777216);
    fails(cfg, "[server]\nmax_body_bytes = 16777217\n", "estd.conf:2:");
    parses(cfg, "[server]\ntimeout_seconds = 3600\nnonce_lifetime_seconds = 10\n");
    assert_int_equal(cfg->timeout_seconds, 3600);
    assert_int_equal(cfg->nonce_lifetime_seconds, 10);
    bounded(cfg, "server", "timeout_seconds", 1, 3600);
    bounded(cfg, "server", "nonce_lifetime_seconds", 10, 86400);
    parses(cfg, "[server]\nstore_connections = 256\nstore_wait_seconds = 300\n");
    assert_int_equal(cfg->store_connections, 256);
    assert_int_equal(cfg->store_wait_seconds, 300);
    parses(cfg, "[server]\nstore_connections = 1\nstore_wait_seconds = 1\n");
    bounded(cfg, "server", "store_connections", 1, 256);
    bounded(cfg, "server", "store_wait_seconds", 1, 300);
    parses(cfg, "[ca]\nvalidity_days = 36500\nretry_after_seconds = 1\nmin_rsa_bits = 2048\n");
    assert_int_equal(cfg->cas[0].profile.validity_days, 36500);
    assert_int_equal(cfg->cas[0].retry_after_seconds, 1);
    bounded(cfg, "ca", "validity_days", 1, 36500);
    fails(cfg, "[ca]\nmin_rsa_bits = 2047\n", "estd.conf:2:");
    /* Guessing countermeasures and session tickets (0 = off where allowed). */
    parses(cfg, "[server]\nguess_delay_after = 0\nguess_lock_after = 100000\n"
                "guess_lock_seconds = 2592000\nguess_delay_max_seconds = 86400\n"
                "tls_ticket_key_seconds = 604800\n");
    assert_int_equal(cfg->guess_delay_after, 0);
    assert_int_equal(cfg->guess_lock_after, 100000);
    assert_int_equal(cfg->guess_lock_seconds, 2592000);
    assert_int_equal(cfg->tls_ticket_key_seconds, 604800);
    bounded(cfg, "server", "guess_delay_after", 0, 1000);
    bounded(cfg, "server", "guess_lock_after", 0, 100000);
    bounded(cfg, "server", "guess_lock_seconds", 1, 2592000);
    bounded(cfg, "server", "guess_delay_max_seconds", 1, 86400);
    bounded(cfg, "server", "tls_ticket_key_seconds", 0, 604800);
    /* The password queue (issue 11) at its limits and one past. */
    parses(cfg, "[server]\npassword_queue_max = 65536\npassword_queue_wait_ms = 600000\n");
    assert_int_equal(cfg->password_queue_max, ESTD_PASSWORD_QUEUE_MAX_LIMIT);
    assert_int_equal(cfg->password_queue_wait_ms, ESTD_PASSWORD_QUEUE_WAIT_MS_LIMIT);
    bounded(cfg, "server", "password_queue_max", 1, 65536);
    bounded(cfg, "server", "password_queue_wait_ms", 1, 600000);
    /* base64_line_length: 0, or a multiple of 4 up to 76 (RFC 2045). */
    parses(cfg, "[server]\nbase64_line_length = 76\n[ca]\nbase64_line_length = 0\n");
    assert_int_equal(cfg->base64_line_length, 76);
    assert_int_equal(cfg->cas[0].base64_line_length, 0);
    fails(cfg, "[server]\nbase64_line_length = 80\n", "estd.conf:2:");
    fails(cfg, "[server]\nbase64_line_length = 77\n", "estd.conf:2:");
    fails(cfg, "[ca]\nbase64_line_length = 63\n",
          "estd.conf:2: '63' is not 0 or a multiple of 4 up to 76");
    /* Not numbers at all. */
    fails(cfg, "[server]\nthreads = -1\n", "estd.conf:2:");
    fails(cfg, "[server]\nthreads = 4x\n", "estd.conf:2:");
    fails(cfg, "[server]\nthreads =\n", "estd.conf:2:");
    fails(cfg, "[server]\nthreads = 0x10\n", "estd.conf:2:");
    fails(cfg, "[server]\nthreads = 99999999999999999999\n", "estd.conf:2:");
}

/* Issue #12: the audit table's bounds. */
static void audit_keys(void **state)
{
    estd_config *cfg = *state;

    assert_int_equal(cfg->audit_auth_fail_window_seconds, 60);
    assert_int_equal(cfg->audit_retention_days, 365);
    assert_int_equal(cfg->audit_max_rows, 1000000);
    parses(cfg, "[server]\naudit_auth_fail_window_seconds = 0\naudit_retention_days = 0\n"
                "audit_max_rows = 0\n");
    assert_int_equal(cfg->audit_auth_fail_window_seconds, 0);
    assert_int_equal(cfg->audit_retention_days, 0);
    assert_int_equal(cfg->audit_max_rows, 0);
    parses(cfg, "[server]\naudit_auth_fail_window_seconds = 86400\naudit_retention_days = 36500\n"
                "audit_max_rows = 1000000000\n");
    assert_int_equal(cfg->audit_max_rows, 1000000000);
    bounded(cfg, "server", "audit_auth_fail_window_seconds", 0, 86400);
    bounded(cfg, "server", "audit_retention_days", 0, 36500);
    bounded(cfg, "server", "audit_max_rows", 0, 1000000000);
    fails(cfg, "[ca]\naudit_max_rows = 1\n", "estd.conf:2: unknown key");
}

/* Issue #12: the CSR limits, per CA label, at each bound and one past. */
static void csr_limits_per_ca(void **state)
{
    estd_config *cfg = *state;

    parses(cfg, "[ca]\ncsr_max_subject_bytes = 64\n[ca \"iot\"]\ncsr_max_subject_bytes = 65536\n"
                "csr_max_bytes = 256\ncsr_max_extensions = 0\ncsr_max_san_entries = 10000\n"
                "csr_max_subject_rdns = 1000\ncsr_max_value_bytes = 16\ncsr_max_attributes = 0\n"
                "csr_max_san_bytes = 0\nmax_rsa_bits = 16384\n");
    assert_int_equal(cfg->cas[0].profile.csr_limits.max_subject_bytes, 64);
    assert_int_equal(cfg->cas[0].profile.csr_limits.max_extensions, 32); /* default kept */
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_subject_bytes, 65536);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_bytes, 256);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_extensions, 0);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_san_entries, 10000);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_subject_rdns, 1000);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_value_bytes, 16);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_attributes, 0);
    assert_int_equal(cfg->cas[1].profile.csr_limits.max_san_bytes, 0);
    assert_int_equal(cfg->cas[1].profile.max_rsa_bits, 16384);
    fails(cfg, "[ca]\ncsr_max_subject_bytes = 63\n", "estd.conf:2: '63' is not a whole number");
    fails(cfg, "[ca]\ncsr_max_subject_bytes = 65537\n", "estd.conf:2:");
    fails(cfg, "[ca]\ncsr_max_bytes = 255\n", "estd.conf:2:");
    fails(cfg, "[ca]\ncsr_max_subject_rdns = 0\n", "estd.conf:2:");
    fails(cfg, "[ca]\ncsr_max_san_entries = 10001\n", "estd.conf:2:");
    fails(cfg, "[ca]\nmax_rsa_bits = 16385\n", "estd.conf:2:");
    fails(cfg, "[ca]\ncsr_max_everything = 1\n", "estd.conf:2: unknown key 'csr_max_everything'");
    assert_int_equal(cfg->cas[0].profile.key_types, EST_KEY_ALLOW_ALL);
    parses(cfg, "[ca]\ncsr_key_types = ec-p256,ED25519\n");
    assert_int_equal(cfg->cas[0].profile.key_types, EST_KEY_ALLOW_EC_P256 | EST_KEY_ALLOW_ED25519);
    fails(cfg, "[ca]\ncsr_key_types = ec-p224\n", "estd.conf:2: unknown key type 'ec-p224'");
    fails(cfg, "[ca]\ncsr_key_types = ,\n", "estd.conf:2: csr_key_types lists no key type");
}

static void booleans_are_yes_or_no(void **state)
{
    estd_config *cfg = *state;
    static const char *const yes[] = {"yes", "YES", "true", "1"};
    static const char *const no[] = {"no", "False", "0"};
    char text[128];

    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        snprintf(text, sizeof text, "[ca]\nserverkeygen = %s\n", yes[i]);
        parses(cfg, text);
        assert_int_equal(cfg->cas[0].serverkeygen, 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        snprintf(text, sizeof text, "[ca]\nhonour_san = %s\n", no[i]);
        parses(cfg, text);
        assert_int_equal(cfg->cas[0].profile.honour_san, 0);
    }
    fails(cfg, "[ca]\nserverkeygen = maybe\n", "estd.conf:2: 'maybe' is not yes or no");
    fails(cfg, "[ca]\nserverkeygen = 2\n", "estd.conf:2:");
    fails(cfg, "[ca]\nserverkeygen =\n", "estd.conf:2:");
}

static void choices_take_only_their_words(void **state)
{
    estd_config *cfg = *state;

    parses(cfg, "[ca]\npop_linking = required\napproval = Manual\n"
                "challenge_password = one-time-code\n");
    assert_int_equal(cfg->cas[0].pop, ESTD_POP_REQUIRED);
    assert_int_equal(cfg->cas[0].approval, ESTD_APPROVAL_MANUAL);
    assert_int_equal(cfg->cas[0].challenge, ESTD_CHALLENGE_OTP);
    fails(cfg, "[ca]\npop_linking = sometimes\n", "estd.conf:2: 'sometimes' is not one of");
    fails(cfg, "[ca]\napproval = automatic\n", "estd.conf:2:");
    fails(cfg, "[server]\ntls_min_version = 1.1\n", "estd.conf:2: '1.1' is not 1.2 or 1.3");
    parses(cfg, "[server]\ntls_min_version = 1.3\n");
    assert_string_equal(cfg->tls_min_version, "1.3");
}

static void auth_policy_syntax(void **state)
{
    estd_auth_policy p;
    est_error err;
    (void)state;

    /* docs/design.md §3: ',' separates alternatives, '+' combines methods. */
    assert_int_equal(estd_auth_policy_parse("cert, basic+digest", &p, &err), EST_OK);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.alternatives[0], ESTD_AUTH_CERT);
    assert_int_equal(p.alternatives[1], ESTD_AUTH_BASIC | ESTD_AUTH_DIGEST);
    assert_int_equal(estd_auth_policy_parse(" CERT + Third-Party ,none", &p, &err), EST_OK);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.alternatives[0], ESTD_AUTH_CERT | ESTD_AUTH_THIRD_PARTY);
    assert_int_equal(p.alternatives[1], ESTD_AUTH_NONE);
    assert_int_equal(estd_auth_policy_parse("srp+cert, cert, srp", &p, &err), EST_OK);
    assert_int_equal(p.alternatives[0], ESTD_AUTH_SRP | ESTD_AUTH_CERT);
    assert_int_equal(p.alternatives[2], ESTD_AUTH_SRP);
    /* ESTD_AUTH_ALTERNATIVES_MAX alternatives fit, one more does not. */
    assert_int_equal(estd_auth_policy_parse("cert,basic,digest,none,third-party,cert+basic,"
                                            "cert+digest,basic+digest", &p, &err), EST_OK);
    assert_int_equal(p.count, ESTD_AUTH_ALTERNATIVES_MAX);
    assert_int_equal(estd_auth_policy_parse("cert,basic,digest,none,third-party,cert+basic,"
                                            "cert+digest,basic+digest,cert", &p, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "more than 8"));
    static const char *const bad[] = {"", " ", "cert,,basic", "cert+", "+basic", "kerberos",
                                      "cert basic", "none+basic", "basic+none", "cert;basic", ","};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        if (estd_auth_policy_parse(bad[i], &p, &err) != EST_E_CONFIG || err.message[0] == '\0')
            fail_msg("auth policy '%s' was accepted", bad[i]);
    }
}

static void auth_policy_in_the_file(void **state)
{
    estd_config *cfg = *state;

    parses(cfg, "[ca]\nenroll_auth = third-party+basic\nreenroll_auth = cert, basic\n");
    assert_int_equal(cfg->cas[0].enroll_auth.count, 1);
    assert_int_equal(cfg->cas[0].enroll_auth.alternatives[0], ESTD_AUTH_THIRD_PARTY | ESTD_AUTH_BASIC);
    assert_int_equal(cfg->cas[0].reenroll_auth.count, 2);
    fails(cfg, "[ca]\nenroll_auth = cert, password\n",
          "estd.conf:2: unknown authentication method 'password'");
}

static void errors_name_the_file_and_line(void **state)
{
    estd_config *cfg = *state;

    fails(cfg, "# comment\n\n[server]\nlisten = 1.2.3.4:1\nfoo = bar\n",
          "estd.conf:5: unknown key 'foo' in [server]");
    fails(cfg, "[ca]\n\nvalidity = 3\n", "estd.conf:3: unknown key 'validity' in a [ca] section");
    /* [server] keys are not [ca] keys and the other way round. */
    fails(cfg, "[ca]\nlisten = 1.2.3.4:1\n", "estd.conf:2: unknown key 'listen'");
    fails(cfg, "[server]\nserverkeygen = yes\n", "estd.conf:2: unknown key 'serverkeygen'");
    fails(cfg, "[nope]\n", "estd.conf:1: unknown section [nope]");
    fails(cfg, "[Server]\n", "estd.conf:1: unknown section [Server]");
    fails(cfg, "listen = 1.2.3.4:1\n", "estd.conf:1: setting outside a section");
    fails(cfg, "[server]\nlisten\n", "estd.conf:2: expected 'key = value'");
    fails(cfg, "[server]\n= 5\n", "estd.conf:2: empty key");
    fails(cfg, "[server\n", "estd.conf:1: malformed section header");
    fails(cfg, "[]\n", "estd.conf:1: malformed section header");
    /* Keys are case-sensitive: a typo must not pass. */
    fails(cfg, "[server]\nListen = 1.2.3.4:1\n", "estd.conf:2: unknown key 'Listen'");
    /* The line count survives CRLF and a last line without newline. */
    fails(cfg, "[server]\r\nthreads = 1\r\nbogus = 1", "estd.conf:3: unknown key 'bogus'");
}

static void comments_and_whitespace(void **state)
{
    estd_config *cfg = *state;

    parses(cfg, "  # indented comment\n; semicolon comment\n\t[server]  \n"
                "listen = 10.0.0.1:443   # trailing comment\n"
                "realm=x ; another\n\r\n");
    assert_string_equal(cfg->listen, "10.0.0.1:443");
    assert_string_equal(cfg->realm, "x");
    /* '#' without a space before it is part of the value. */
    parses(cfg, "[ca]\ncsrattrs = 1.2.3#4\n");
    assert_string_equal(cfg->cas[0].csrattrs, "1.2.3#4");
    /* Only the first '=' splits. */
    parses(cfg, "[ca]\nextended_key_usage = a=b\n");
    assert_string_equal(cfg->cas[0].profile.extended_key_usage, "a=b");
    parses(cfg, "");
    assert_int_equal(cfg->ca_count, 1);
}

static void labelled_ca_sections(void **state)
{
    estd_config *cfg = *state;

    parses(cfg, "[ca]\nvalidity_days = 10\n[ca \"east-1\"]\nvalidity_days = 20\n"
                "[ca  \"west.b\" ]\napproval = manual\n[ca]\nserverkeygen = yes\n");
    assert_int_equal(cfg->ca_count, 3);
    assert_int_equal(cfg->cas[0].profile.validity_days, 10);
    assert_int_equal(cfg->cas[0].serverkeygen, 1);
    assert_string_equal(cfg->cas[1].label, "east-1");
    assert_int_equal(cfg->cas[1].profile.validity_days, 20);
    assert_string_equal(cfg->cas[1].cert, "ca-east-1/ca.pem");
    assert_string_equal(cfg->cas[1].key, "ca-east-1/ca.key");
    assert_int_equal(cfg->cas[1].approval, ESTD_APPROVAL_AUTO);
    assert_string_equal(cfg->cas[2].label, "west.b");
    assert_int_equal(cfg->cas[2].approval, ESTD_APPROVAL_MANUAL);
    assert_ptr_equal(estd_config_find_ca(cfg, "west.b"), &cfg->cas[2]);
    assert_ptr_equal(estd_config_find_ca(cfg, ""), &cfg->cas[0]);
    assert_null(estd_config_find_ca(cfg, "north"));

    fails(cfg, "[ca \"a\"]\n[ca \"a\"]\n", "estd.conf:2: CA label 'a' defined twice");
    fails(cfg, "[ca east]\n", "estd.conf:1: a labelled CA section is [ca \"LABEL\"]");
    fails(cfg, "[ca \"east]\n", "estd.conf:1: a labelled CA section");
    fails(cfg, "[ca \"east\" x]\n", "estd.conf:1: a labelled CA section");
    fails(cfg, "[ca \"\"]\n", "estd.conf:1:");
    fails(cfg, "[ca \"a/b\"]\n", "estd.conf:1:");
    fails(cfg, "[ca \".hidden\"]\n", "estd.conf:1:");
    /* docs/design.md §2: a label never equals an operation name. */
    fails(cfg, "[ca \"cacerts\"]\n", "estd.conf:1:");
    fails(cfg, "[ca \"simpleEnroll\"]\n", "estd.conf:1:");
}

static void label_count_limit(void **state)
{
    estd_config *cfg = *state;
    size_t cap = (ESTD_CONFIG_MAX_LABELS + 1) * 24;
    char *text = calloc(1, cap);
    size_t len = 0;

    assert_non_null(text);
    for (int i = 0; i < ESTD_CONFIG_MAX_LABELS; i++)
        len += (size_t)snprintf(text + len, cap - len, "[ca \"l%d\"]\n", i);
    parses(cfg, text);
    assert_int_equal(cfg->ca_count, ESTD_CONFIG_MAX_LABELS + 1);
    snprintf(text + len, cap - len, "[ca \"one-more\"]\n");
    fails(cfg, text, "estd.conf:33: more than 32 CA labels");
    free(text);
}

static void size_limits(void **state)
{
    estd_config *cfg = *state;
    char *text = malloc(ESTD_CONFIG_MAX_BYTES + 2);
    est_error err;

    assert_non_null(text);
    /* A line of LINE_LIMIT bytes is read; one more byte is an error. */
    memset(text, '#', LINE_LIMIT);
    text[LINE_LIMIT] = '\0';
    parses(cfg, text);
    memset(text, '#', LINE_LIMIT + 1);
    text[LINE_LIMIT + 1] = '\0';
    fails(cfg, text, "estd.conf:1: line longer than 2047 bytes");
    /* The whole file: ESTD_CONFIG_MAX_BYTES of blank lines pass, one more byte does not. */
    memset(text, '\n', ESTD_CONFIG_MAX_BYTES + 1);
    estd_config_defaults(cfg, "/srv/estd");
    assert_int_equal(estd_config_parse(cfg, "estd.conf", text, ESTD_CONFIG_MAX_BYTES, &err), EST_OK);
    assert_int_equal(estd_config_parse(cfg, "estd.conf", text, ESTD_CONFIG_MAX_BYTES + 1, &err),
                     EST_E_CONFIG);
    assert_non_null(strstr(err.message, "estd.conf: larger than"));
    free(text);
}

static void nul_byte_is_an_error(void **state)
{
    estd_config *cfg = *state;
    static const char text[] = "[server]\nrealm = a\0b\n";
    est_error err;

    estd_config_defaults(cfg, "/srv/estd");
    assert_int_equal(estd_config_parse(cfg, "estd.conf", text, sizeof text - 1, &err), EST_E_CONFIG);
    assert_string_equal(err.message, "estd.conf:2: NUL byte");
}

/* --- estd_config_load: a real directory ------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void load_resolves_relative_paths(void **state)
{
    estd_config *cfg = *state;
    char dir[] = "/tmp/estd-config-test-XXXXXX", path[256];
    est_error err;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/estd.conf", dir);
    /* A PostgreSQL store is a connection string, not a path. */
    write_file(path, "[server]\nstore = host=db dbname=estd\n");
    assert_int_equal(estd_config_load(cfg, dir, &err), EST_OK);
    assert_string_equal(cfg->store, "host=db dbname=estd");
    write_file(path, "[server]\nstore = postgresql://estd@db/estd\n");
    assert_int_equal(estd_config_load(cfg, dir, &err), EST_OK);
    assert_string_equal(cfg->store, "postgresql://estd@db/estd");
    write_file(path, "[server]\nstore = /abs/estd.db\n[ca \"x\"]\nchain =\n");
    assert_int_equal(estd_config_load(cfg, dir, &err), EST_OK);
    snprintf(path, sizeof path, "%s/tls/server.pem", dir);
    assert_string_equal(cfg->tls_cert, path);
    assert_string_equal(cfg->store, "/abs/estd.db");
    snprintf(path, sizeof path, "%s/ca-x/ca.key", dir);
    assert_string_equal(cfg->cas[1].key, path);
    assert_string_equal(cfg->cas[1].chain, ""); /* "" stays "": no file */
    assert_string_equal(cfg->third_party_trust, "");

    /* A bad file: the message names the path and the line. */
    snprintf(path, sizeof path, "%s/estd.conf", dir);
    write_file(path, "[server]\n\nthreads = many\n");
    assert_int_equal(estd_config_load(cfg, dir, &err), EST_E_CONFIG);
    snprintf(path, sizeof path, "%s/estd.conf:3: 'many'", dir);
    assert_true(strncmp(err.message, path, strlen(path)) == 0);

    /* No file at all. */
    snprintf(path, sizeof path, "%s/estd.conf", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(estd_config_load(cfg, dir, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "not found"));
    assert_non_null(strstr(err.message, path));
    assert_int_equal(rmdir(dir), 0);
}

UNIT_MAIN(
    cmocka_unit_test_setup_teardown(defaults_are_the_documented_ones, setup, teardown),
    cmocka_unit_test_setup_teardown(template_parses_to_the_defaults, setup, teardown),
    cmocka_unit_test_setup_teardown(strings_are_set_and_bounded, setup, teardown),
    cmocka_unit_test_setup_teardown(numbers_accept_their_range_and_nothing_else, setup, teardown),
    cmocka_unit_test_setup_teardown(booleans_are_yes_or_no, setup, teardown),
    cmocka_unit_test_setup_teardown(choices_take_only_their_words, setup, teardown),
    cmocka_unit_test(auth_policy_syntax),
    cmocka_unit_test_setup_teardown(auth_policy_in_the_file, setup, teardown),
    cmocka_unit_test_setup_teardown(errors_name_the_file_and_line, setup, teardown),
    cmocka_unit_test_setup_teardown(comments_and_whitespace, setup, teardown),
    cmocka_unit_test_setup_teardown(labelled_ca_sections, setup, teardown),
    cmocka_unit_test_setup_teardown(label_count_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(size_limits, setup, teardown),
    cmocka_unit_test_setup_teardown(csr_limits_per_ca, setup, teardown),
    cmocka_unit_test_setup_teardown(audit_keys, setup, teardown),
    cmocka_unit_test_setup_teardown(front_door_keys, setup, teardown),
    cmocka_unit_test_setup_teardown(nul_byte_is_an_error, setup, teardown),
    cmocka_unit_test_setup_teardown(load_resolves_relative_paths, setup, teardown))
