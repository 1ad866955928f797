/* est fullcmc and est revoke: Full PKI Requests over /fullcmc (draft-04
 * §4.3): an enrollment with a PKCS#10 request, or a revokeRequest signed
 * with the key of the certificate to revoke. */
#include <string.h>
#include "est.h"
#include "estkit/certs_only.h"
#include "estkit/channel_binding.h"
#include "estkit/cmc.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/crl.h"
#include "estkit/csrattrs.h"

static const char fullcmc_usage[] =
    "usage: est fullcmc --server URL --trust FILE [auth] --key FILE [--key-type T]\n"
    "                   --subject DN [--san NAMES]... [--pop-link] [--no-csrattrs]\n"
    "                   -o CERTFILE\n"
    "Enrolls through /fullcmc: the CSR travels in a signed Full PKI Request; the key\n"
    "in FILE is made (0600) when FILE does not exist. The CSR carries the TLS channel\n"
    "binding with --pop-link or when /csrattrs lists challengePassword.\n";

static const char revoke_usage[] =
    "usage: est revoke --server URL --trust FILE --cert FILE --key FILE [--reason R]\n"
    "Asks the CA to revoke --cert with a revokeRequest over /fullcmc, signed with\n"
    "--key; R is a CRL reason (unspecified, keyCompromise, superseded, ...).\n";

enum {
    OPT_KEY = OPT_COMMAND_BASE, OPT_KEY_TYPE, OPT_SUBJECT, OPT_SAN, OPT_CERT, OPT_REASON,
    OPT_POP_LINK, OPT_NO_CSRATTRS
};

typedef struct cmc_job {
    est_cli cli;
    const char *key_path, *cert_path, *out, *subject_text, *reason_text;
    est_key_type key_type;
    int reason, pop_link, skip_csrattrs;
    char binding[EST_CHANNEL_BINDING_B64_MAX]; /* "" unless linking */
    GENERAL_NAMES *san;
    X509 *cert;
    EVP_PKEY *key, *new_key;
    X509_STORE *trust; /* checks who signed the response */
} cmc_job;

static void job_free(cmc_job *j)
{
    GENERAL_NAMES_free(j->san);
    X509_free(j->cert);
    EVP_PKEY_free(j->key);
    EVP_PKEY_free(j->new_key);
    X509_STORE_free(j->trust);
    est_cli_free(&j->cli);
}

static est_cmd_outcome option(cmc_job *j, int opt, char **argv)
{
    est_error err;

    switch (opt) {
    case 'o': j->out = optarg; return EST_CMD_CONTINUE;
    case OPT_KEY: j->key_path = optarg; return EST_CMD_CONTINUE;
    case OPT_CERT: j->cert_path = optarg; return EST_CMD_CONTINUE;
    case OPT_SUBJECT: j->subject_text = optarg; return EST_CMD_CONTINUE;
    case OPT_REASON: j->reason_text = optarg; return EST_CMD_CONTINUE;
    case OPT_POP_LINK: j->pop_link = 1; return EST_CMD_CONTINUE;
    case OPT_NO_CSRATTRS: j->skip_csrattrs = 1; return EST_CMD_CONTINUE;
    case OPT_KEY_TYPE:
        if (est_key_type_parse(optarg, &j->key_type, &err) != EST_OK)
            return est_cli_fail(&j->cli, &err);
        return EST_CMD_CONTINUE;
    case OPT_SAN:
        return est_san_parse(optarg, &j->san, &err) == EST_OK ? EST_CMD_CONTINUE
                                                              : est_cli_fail(&j->cli, &err);
    default:
        return est_cli_option(&j->cli, opt, argv);
    }
}

static est_status load_trust(cmc_job *j, est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    est_status rc;

    if (j->cli.cfg.explicit_trust_file == NULL)
        return EST_OK;
    if ((rc = est_certs_read_file(j->cli.cfg.explicit_trust_file, &certs, err)) != EST_OK)
        return rc;
    if ((j->trust = X509_STORE_new()) == NULL)
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    for (int i = 0; rc == EST_OK && i < sk_X509_num(certs); i++)
        if (X509_STORE_add_cert(j->trust, sk_X509_value(certs, i)) != 1)
            rc = est_error_set_openssl(err, EST_E_NOMEM, "trust store");
    if (j->trust != NULL)
        X509_STORE_set_flags(j->trust, X509_V_FLAG_PARTIAL_CHAIN);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* A failed, pending or unexpected CMC answer as an error. */
static est_status cmc_status(const est_client *client, const est_cmc_response *r,
                             est_error *err)
{
    const char *srv = est_client_get0_server(client);
    const char *sep = r->status_string[0] ? ": " : "";

    if (r->status == EST_CMC_SUCCESS)
        return EST_OK;
    if (r->status == EST_CMC_PENDING)
        return est_error_set(err, EST_E_RETRY_LATER, "%s: CMC status pending%s%s", srv, sep,
                             r->status_string);
    return est_error_set(err, EST_E_POLICY, "%s: CMC status %s (%s)%s%s", srv,
                         est_cmc_status_name(r->status), est_cmc_fail_name(r->fail_info), sep,
                         r->status_string);
}

/* Sends request and reads the answer: a Full PKI Response (status, ids,
 * certificate for key when key is non-NULL) or, for an enrollment, a Simple
 * PKI Response. */
static est_status exchange(cmc_job *j, est_client *client, const uint8_t *req, size_t req_len,
                           const est_cmc_ids *ids, EVP_PKEY *key, X509 **cert, est_error *err)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_cmc_response *r = NULL;
    STACK_OF(X509) *certs = NULL;
    est_error http_err;
    est_status rc = est_client_fullcmc(client, req, req_len, &der, &len, &http_err), prc;

    if (der == NULL) {
        if (rc == EST_OK)
            return est_error_set(err, EST_E_PROTOCOL, "%s: empty response",
                                 est_client_get0_server(client));
        *err = http_err;
        return rc;
    }
    prc = est_cmc_response_parse(der, len, j->trust, &r, err);
    if (prc == EST_OK) {
        /* The CMC status says more than the HTTP status it came with. */
        if ((prc = est_cmc_response_check_ids(r, ids, err)) == EST_OK)
            prc = cmc_status(client, r, err);
        if (prc == EST_OK && rc != EST_OK) {
            *err = http_err;
            prc = rc;
        }
    } else if (rc != EST_OK) {
        *err = http_err;
        prc = rc;
    } else if (prc == EST_E_PROTOCOL && key != NULL &&
               est_certs_only_parse(der, len, &certs, NULL) == EST_OK) {
        prc = EST_OK; /* a Simple PKI Response: just the certificate */
    }
    if (prc == EST_OK && key != NULL) {
        X509 *c = certs ? NULL : est_cmc_response_get0_cert_for_key(r, key);
        for (int i = 0; certs != NULL && c == NULL && i < sk_X509_num(certs); i++)
            if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, i)), key) == 1)
                c = sk_X509_value(certs, i);
        if (c == NULL || !X509_up_ref(c))
            prc = est_error_set(err, EST_E_PROTOCOL, "no certificate for the key in the response");
        else
            *cert = c;
    }
    sk_X509_pop_free(certs, X509_free);
    est_cmc_response_free(r);
    OPENSSL_free(der);
    return prc;
}

static est_status build_enroll(cmc_job *j, uint8_t **der, size_t *len, est_cmc_ids *ids,
                               est_error *err)
{
    X509_NAME *subject = NULL;
    X509_REQ *csr = NULL;
    est_csr_params cp = {.key = j->key ? j->key : j->new_key, .san = j->san,
                         .challenge_password = j->binding[0] ? j->binding : NULL};
    est_cmc_request_spec spec = {0};
    est_status rc;

    if ((rc = est_name_parse(j->subject_text, &subject, err)) == EST_OK) {
        cp.subject = subject;
        rc = est_csr_build(&cp, &csr, err);
    }
    if (rc == EST_OK) {
        spec.csr = csr;
        spec.signer_key = cp.key;
        rc = est_cmc_request_build(&spec, ids, der, len, err);
    }
    X509_REQ_free(csr);
    X509_NAME_free(subject);
    return rc;
}

/* draft-04 §3.5 for a CSR inside CMC: ask /csrattrs on the connection the
 * request will use; link when told to or when it lists challengePassword.
 * An HTTP refusal of /csrattrs is no reason to stop. */
static est_status maybe_link(cmc_job *j, est_client *client, est_error *err)
{
    est_csrattrs *attrs = NULL;
    est_status rc = EST_OK;
    int link = j->pop_link;

    if (!j->skip_csrattrs || j->pop_link) {
        rc = est_client_csrattrs(client, &attrs, err);
        if (rc != EST_OK && est_client_get_http_status(client) == 0)
            return rc;
        link = link || (attrs != NULL && est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword));
        est_csrattrs_free(attrs);
        rc = EST_OK;
    }
    if (link)
        rc = est_client_get_channel_binding(client, j->binding, sizeof j->binding, err);
    return rc;
}

static int run_enroll(cmc_job *j)
{
    est_client *client = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    est_cmc_ids ids;
    X509 *cert = NULL;
    est_error err;
    est_status rc;
    int r;

    rc = est_cli_read_key(j->key_path, &j->key, &err);
    if (rc == EST_E_NOT_FOUND)
        rc = est_key_generate(j->key_type, &j->new_key, &err);
    if (rc == EST_OK)
        rc = load_trust(j, &err);
    if (rc != EST_OK)
        return est_cli_fail(&j->cli, &err);
    if ((r = est_cli_client_new(&j->cli, &client)) != EST_EXIT_DONE)
        return r;
    if (maybe_link(j, client, &err) != EST_OK ||
        build_enroll(j, &der, &len, &ids, &err) != EST_OK ||
        exchange(j, client, der, len, &ids, j->key ? j->key : j->new_key, &cert, &err) != EST_OK ||
        (j->new_key != NULL && est_key_write_file(j->key_path, j->new_key, &err) != EST_OK) ||
        est_cli_write_cert(j->out, cert, &err) != EST_OK)
        r = est_cli_fail(&j->cli, &err);
    X509_free(cert);
    OPENSSL_free(der);
    OPENSSL_cleanse(j->binding, sizeof j->binding);
    est_client_free(client);
    return r;
}

int fullcmc_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        {"key", required_argument, NULL, OPT_KEY},
        {"key-type", required_argument, NULL, OPT_KEY_TYPE},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"san", required_argument, NULL, OPT_SAN},
        {"pop-link", no_argument, NULL, OPT_POP_LINK},
        {"no-csrattrs", no_argument, NULL, OPT_NO_CSRATTRS},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    cmc_job j = {.key_type = EST_KEY_EC_P256};
    int opt;
    est_cmd_outcome r = EST_CMD_CONTINUE;

    est_cli_init(&j.cli, "fullcmc", fullcmc_usage);
    while (r == EST_CMD_CONTINUE && (opt = getopt_long(argc, argv, ":o:v", options, NULL)) != -1)
        r = option(&j, opt, argv);
    if (r == EST_CMD_CONTINUE)
        r = est_cli_finish_options(&j.cli, argc, argv, 1);
    if (r == EST_CMD_CONTINUE && (j.key_path == NULL || j.subject_text == NULL || j.out == NULL))
        r = est_cli_error(&j.cli, "--key FILE, --subject DN and -o CERTFILE are required");
    if (r == EST_CMD_CONTINUE)
        r = run_enroll(&j);
    job_free(&j);
    return r;
}

static int run_revoke(cmc_job *j)
{
    est_client *client = NULL;
    est_cmc_request_spec spec = {0};
    est_cmc_ids ids;
    uint8_t *der = NULL;
    size_t len = 0;
    est_error err;
    int r;

    if (est_cli_read_cert(j->cert_path, &j->cert, &err) != EST_OK ||
        est_key_read_file(j->key_path, &j->key, &err) != EST_OK || load_trust(j, &err) != EST_OK ||
        (j->reason_text != NULL &&
         est_crl_reason_parse(j->reason_text, &j->reason, &err) != EST_OK))
        return est_cli_fail(&j->cli, &err);
    /* The holder of the certificate proves it over TLS too, by default. */
    if (j->cli.cfg.tls_cert_file == NULL && j->cli.cfg.username == NULL) {
        j->cli.cfg.tls_cert_file = j->cert_path;
        j->cli.cfg.tls_key_file = j->key_path;
    }
    if ((r = est_cli_client_new(&j->cli, &client)) != EST_EXIT_DONE)
        return r;
    spec.revoke_cert = j->cert;
    spec.revoke_reason = j->reason;
    spec.signer_key = j->key;
    spec.signer_cert = j->cert;
    if (est_cmc_request_build(&spec, &ids, &der, &len, &err) != EST_OK ||
        exchange(j, client, der, len, &ids, NULL, NULL, &err) != EST_OK)
        r = est_cli_fail(&j->cli, &err);
    else
        est_cli_info(&j->cli, "%s revoked", j->cert_path);
    OPENSSL_free(der);
    est_client_free(client);
    return r;
}

int revoke_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"reason", required_argument, NULL, OPT_REASON},
        {NULL, 0, NULL, 0},
    };
    cmc_job j = {0};
    int opt;
    est_cmd_outcome r = EST_CMD_CONTINUE;

    est_cli_init(&j.cli, "revoke", revoke_usage);
    while (r == EST_CMD_CONTINUE && (opt = getopt_long(argc, argv, ":v", options, NULL)) != -1)
        r = option(&j, opt, argv);
    if (r == EST_CMD_CONTINUE)
        r = est_cli_finish_options(&j.cli, argc, argv, 1);
    if (r == EST_CMD_CONTINUE && (j.cert_path == NULL || j.key_path == NULL))
        r = est_cli_error(&j.cli, "--cert FILE and --key FILE are required");
    if (r == EST_CMD_CONTINUE)
        r = run_revoke(&j);
    job_free(&j);
    return r;
}
