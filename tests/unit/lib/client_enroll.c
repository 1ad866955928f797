/* Tests src/lib/client_enroll.c where no server is needed: the argument
 * rules of enroll/re-enroll/enroll_csr, and the channel binding handed to
 * callers that build their own CSR (draft-04 §3.5). The exchanges
 * themselves run against estd in tests/e2e/client_enroll.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "client_internal.h"
#include "ca_fixture.h"
#include "unit_main.h"

static est_client *client(void)
{
    est_client_config cfg;
    est_client *c = NULL;

    est_client_config_init(&cfg);
    cfg.server_url = "https://192.0.2.1:9";
    assert_int_equal(est_client_new(&cfg, &c, NULL), EST_OK);
    return c;
}

static void argument_rules(void **state)
{
    est_client *c = client();
    est_enroll_params p = {0};
    X509 *cert = (X509 *)1;
    EVP_PKEY *key = (EVP_PKEY *)1;
    est_error err;

    (void)state;
    /* A key made here must have somewhere to go. */
    assert_int_equal(est_client_enroll(c, &p, &cert, NULL, &err), EST_E_INTERNAL);
    assert_null(cert);
    /* draft-04 §4.2.2: re-enroll copies the names of the certificate. */
    assert_int_equal(est_client_reenroll(c, &p, &cert, &key, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "certificate to renew"));
    assert_null(key);
    assert_int_equal(est_client_enroll(NULL, &p, &cert, &key, &err), EST_E_INTERNAL);
    assert_int_equal(est_client_enroll(c, NULL, &cert, &key, &err), EST_E_INTERNAL);
    est_client_free(c);
}

static void enroll_csr_checks_before_sending(void **state)
{
    est_client *c = client();
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *req = ca_fixture_csr(key, "CN=x", NULL, 0);
    size_t len = 0;
    unsigned char *der = ca_fixture_csr_der(req, &len);
    X509 *cert = NULL;
    est_error err;

    (void)state;
    assert_int_equal(est_client_enroll_csr(c, EST_OP_CACERTS, der, len, &cert, &err), EST_E_INPUT);
    assert_int_equal(est_client_enroll_csr(c, EST_OP_SIMPLEENROLL, der, len - 1, &cert, &err),
                     EST_E_INPUT);
    assert_int_equal(est_client_enroll_csr(c, EST_OP_SIMPLEENROLL, (const uint8_t *)"junk", 4,
                                           &cert, &err), EST_E_INPUT);
    /* A good CSR gets as far as the missing trust anchor. */
    assert_int_equal(est_client_enroll_csr(c, EST_OP_SIMPLEREENROLL, der, len, &cert, &err),
                     EST_E_CONFIG);
    assert_null(cert);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    est_client_free(c);
}

static void channel_binding_for_own_csrs(void **state)
{
    static const uint8_t binding[12] = "finished-12";
    est_client *c = client();
    char out[EST_CHANNEL_BINDING_B64_MAX];
    est_error err;

    (void)state;
    assert_int_equal(est_client_get_channel_binding(c, out, sizeof out, &err), EST_E_TLS);
    assert_int_equal(c->binding_armed, 0);
    memcpy(c->binding, binding, sizeof binding);
    c->binding_len = sizeof binding;
    /* 12 bytes are 16 base64 characters: 17 with the NUL fit, 16 do not. */
    assert_int_equal(est_client_get_channel_binding(c, out, 16, &err), EST_E_TOO_LARGE);
    assert_int_equal(c->binding_armed, 0);
    assert_int_equal(est_client_get_channel_binding(c, out, 17, &err), EST_OK);
    assert_string_equal(out, "ZmluaXNoZWQtMTIA");
    assert_int_equal(c->binding_armed, 1);
    est_client_free(c);
}

UNIT_MAIN(
    cmocka_unit_test(argument_rules),
    cmocka_unit_test(enroll_csr_checks_before_sending),
    cmocka_unit_test(channel_binding_for_own_csrs))
