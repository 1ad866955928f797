/* libFuzzer: estd_config_parse (DIR/estd.conf) and estd_auth_policy_parse
 * on arbitrary bytes. A parse either fails with a message or yields a
 * configuration whose invariants hold: 1..33 CAs with valid distinct
 * labels, terminated strings, 1..8 authentication alternatives each
 * non-empty and 'none' alone. Parsing is deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "estkit/csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_policy(const estd_auth_policy *p)
{
    if (p->count == 0 || p->count > ESTD_AUTH_ALTERNATIVES_MAX)
        abort();
    for (size_t i = 0; i < p->count; i++) {
        unsigned a = p->alternatives[i];
        /* Only the method bits, ESTD_AUTH_CERT up to ESTD_AUTH_SRP. */
        if (a == 0 || (a & ~(ESTD_AUTH_SRP * 2u - 1)) != 0 || ((a & ESTD_AUTH_NONE) && a != ESTD_AUTH_NONE))
            abort();
    }
}

static void check_string(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static void check_config(const estd_config *cfg)
{
    if (cfg->ca_count < 1 || cfg->ca_count > ESTD_CONFIG_MAX_LABELS + 1 || cfg->cas[0].label[0] != '\0')
        abort();
    check_string(cfg->listen, sizeof cfg->listen);
    check_string(cfg->realm, sizeof cfg->realm);
    if (strpbrk(cfg->realm, "\"\\") != NULL)
        abort();
    for (size_t i = 0; i < cfg->ca_count; i++) {
        const estd_ca_config *ca = &cfg->cas[i];
        check_string(ca->label, sizeof ca->label);
        check_string(ca->cert, sizeof ca->cert);
        check_string(ca->csrattrs, sizeof ca->csrattrs);
        if (i > 0 && (est_label_check(ca->label, NULL) != EST_OK ||
                      estd_config_find_ca(cfg, ca->label) != ca))
            abort();
        check_policy(&ca->enroll_auth);
        check_policy(&ca->reenroll_auth);
        if (ca->profile.validity_days < 1 || ca->profile.validity_days > EST_VALIDITY_DAYS_MAX)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static estd_config a, b; /* ~0.6 MB each: not on the stack */
    estd_auth_policy policy;
    est_error err = {0}, err2 = {0};
    est_status rc, rc2;
    char *text;

    estd_config_defaults(&a, "/fuzz");
    rc = estd_config_parse(&a, "fuzz.conf", (const char *)data, size, &err);
    if (rc == EST_OK)
        check_config(&a);
    else if (err.code == EST_OK || err.message[0] == '\0' || strncmp(err.message, "fuzz.conf", 9) != 0)
        abort();
    estd_config_defaults(&b, "/fuzz");
    rc2 = estd_config_parse(&b, "fuzz.conf", (const char *)data, size, &err2);
    if (rc != rc2 || (rc == EST_OK && memcmp(&a, &b, sizeof a) != 0) ||
        (rc != EST_OK && strcmp(err.message, err2.message) != 0))
        abort();

    /* The same bytes as one auth policy value. */
    if ((text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&err, 0, sizeof err);
    if (estd_auth_policy_parse(text, &policy, &err) == EST_OK)
        check_policy(&policy);
    else if (err.message[0] == '\0')
        abort();
    free(text);
    return 0;
}
