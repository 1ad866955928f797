/* estd revoke DIR SERIAL / estd crl DIR: revocation (RFC 5280 §5).
 *
 * `revoke` marks the certificate revoked in the store; from then on the
 * server refuses it for re-enrollment. `crl` signs a CRL of every revoked
 * certificate of one CA with the CA key and a CRL number the store hands
 * out (monotonic, never reused: RFC 5280 §5.2.3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>
#include "cmd_common.h"
#include "crl_list.h"
#include "estkit/file.h"
#include "estkit/crl.h"

/* RFC 5280 §5.3.1 CRLReason removeFromCRL: only in delta CRLs. */
#define CRL_REASON_REMOVE_FROM_CRL 8
#define CRL_DEFAULT_NEXT_UPDATE_DAYS 7
#define CRL_NEXT_UPDATE_DAYS_MAX 3650L

static const char revoke_usage[] =
    "usage: estd revoke DIR SERIAL [--reason REASON]\n"
    "Marks the certificate revoked in the store (the server then refuses it for\n"
    "re-enrollment); `estd crl DIR` publishes the change. SERIAL is hex in any case,\n"
    "as `openssl x509 -serial` prints it.\n"
    "  --reason REASON  RFC 5280 reason: unspecified, keyCompromise, cACompromise,\n"
    "                   affiliationChanged, superseded, cessationOfOperation,\n"
    "                   certificateHold, privilegeWithdrawn, aACompromise\n"
    "                   (default: no reason code)\n"
    "Exit status: 0 revoked, 1 error, 2 already revoked.\n";

static const char crl_usage[] =
    "usage: estd crl DIR [-o FILE] [--days N] [--label LABEL]\n"
    "Writes a CRL (PEM) of the revoked certificates of one CA, signed with its key.\n"
    "  -o, --output FILE  write FILE (atomically) instead of stdout\n"
    "  --days N           nextUpdate N days from now (default 7)\n"
    "  --label LABEL      the CA served under that label (default: the default CA)\n"
    "After `estd ca rollover` the CRL is signed by the new CA key; it covers the\n"
    "certificates the old key issued only for relying parties that reach them\n"
    "through the new root (see docs/operator.md).\n"
    "Exit status: 0 done, 1 error.\n";

static int revoke_parse(int argc, char **argv, int *reason)
{
    enum { O_REASON = 256 };
    static const struct option options[] = {{"reason", required_argument, NULL, O_REASON},
                                            {"help", no_argument, NULL, 'h'}, {0}};
    est_error err;
    int opt;

    *reason = -1;
    while ((opt = estd_getopt(argc, argv, "h", options, "revoke")) != -1) {
        if (opt == 'h') {
            fputs(revoke_usage, stdout);
            return 0;
        }
        if (opt != O_REASON)
            return -1;
        if (est_crl_reason_parse(optarg, reason, &err) != EST_OK) {
            estd_fail("revoke", "%s", err.message);
            return -1;
        }
        if (*reason == CRL_REASON_REMOVE_FROM_CRL) {
            estd_fail("revoke", "removeFromCRL only appears in delta CRLs (RFC 5280 §5.3.1)");
            return -1;
        }
    }
    if (optind + 2 != argc) {
        estd_usage_error("revoke", "expected DIR SERIAL");
        return -1;
    }
    return 1;
}

int estd_revoke_main(int argc, char **argv)
{
    const char *cmd = "revoke", *serial;
    est_cert_record *rec = NULL;
    estd_instance *inst = NULL;
    est_error err;
    char detail[64];
    int reason, parsed, status = ESTD_EXIT_ERROR;

    if ((parsed = revoke_parse(argc, argv, &reason)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    if ((serial = estd_serial_arg(cmd, argv[optind + 1])) == NULL ||
        (inst = estd_admin_open(cmd, argv[optind], 0)) == NULL)
        return ESTD_EXIT_ERROR;
    if ((rec = estd_admin_cert_get(cmd, inst, serial)) == NULL)
        goto out;
    if (est_store_cert_revoke(inst->store, rec->serial, reason, (int64_t)time(NULL),
                              &err) != EST_OK) {
        if (err.code == EST_E_CONFLICT) {
            estd_fail(cmd, "certificate %s is already revoked", rec->serial);
            status = ESTD_EXIT_NOTHING;
        } else {
            estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        }
        goto out;
    }
    snprintf(detail, sizeof detail, "reason %d", reason);
    if (estd_admin_audit(cmd, inst, "revoke", rec->label ? rec->label : "", rec->subject,
                         rec->serial, detail) != 0)
        goto out;
    printf("revoked %s (%s); `estd crl` publishes it\n", rec->serial, rec->subject ? rec->subject : "");
    status = ESTD_EXIT_OK;
out:
    est_cert_record_free(rec);
    estd_instance_free(inst);
    return status;
}

/* --- crl --------------------------------------------------------------------- */

static int crl_parse(int argc, char **argv, const char **output, long *days, const char **label)
{
    enum { O_DAYS = 256, O_LABEL };
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'}, {"days", required_argument, NULL, O_DAYS},
        {"label", required_argument, NULL, O_LABEL}, {"help", no_argument, NULL, 'h'}, {0}};
    int opt;

    *output = NULL;
    *days = CRL_DEFAULT_NEXT_UPDATE_DAYS;
    *label = "";
    while ((opt = estd_getopt(argc, argv, "ho:", options, "crl")) != -1) {
        if (opt == 'h') {
            fputs(crl_usage, stdout);
            return 0;
        } else if (opt == 'o') {
            *output = optarg;
        } else if (opt == O_LABEL) {
            *label = optarg;
        } else if (opt != O_DAYS ||
                   estd_number_arg("crl", "--days", optarg, 1, CRL_NEXT_UPDATE_DAYS_MAX, days) != 0) {
            return -1;
        }
    }
    if (optind + 1 != argc) {
        estd_usage_error("crl", "expected DIR");
        return -1;
    }
    return 1;
}

static est_status crl_write(X509_CRL *crl, const char *output, est_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    BUF_MEM *mem = NULL;
    est_status rc = EST_E_NOMEM;

    if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
        est_error_set_openssl(err, rc, "encoding the CRL");
        goto out;
    }
    BIO_get_mem_ptr(bio, &mem);
    if (output != NULL) {
        rc = est_file_write_atomic(output, mem->data, mem->length, 0644, err);
    } else if (fwrite(mem->data, 1, mem->length, stdout) != mem->length || fflush(stdout) != 0) {
        rc = est_error_set(err, EST_E_IO, "writing to stdout failed");
    } else {
        rc = EST_OK;
    }
out:
    BIO_free(bio);
    return rc;
}

int estd_crl_main(int argc, char **argv)
{
    const char *cmd = "crl", *output, *label;
    estd_revoked_list list = {0};
    estd_instance *inst = NULL;
    estd_ca *ca;
    X509_CRL *crl = NULL;
    est_error err;
    char detail[96];
    long days, number = 0;
    int parsed, status = ESTD_EXIT_ERROR;

    if ((parsed = crl_parse(argc, argv, &output, &days, &label)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    if ((inst = estd_admin_open(cmd, argv[optind], ESTD_OPEN_KEYS)) == NULL)
        return ESTD_EXIT_ERROR;
    if ((ca = estd_instance_find_ca(inst, label)) == NULL) {
        estd_fail(cmd, "%s/estd.conf: no CA with label '%.64s'", inst->cfg.dir, label);
        goto out;
    }
    if (ca->ca == NULL) {
        estd_fail(cmd, "CA '%.64s' issues upstream (issuer = est or cmp): its CRL is the "
                       "upstream CA's", label);
        goto out;
    }
    if (estd_revoked_list_load(inst, label, &list, &err) != EST_OK ||
        est_store_next_crl_number(inst->store, &number, &err) != EST_OK) {
        estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        goto out;
    }
    if (est_ca_make_crl(ca->ca, list.entries, list.count, number, (unsigned)days, &crl, &err) !=
            EST_OK ||
        crl_write(crl, output, &err) != EST_OK) {
        estd_fail(cmd, "%s", err.message);
        goto out;
    }
    snprintf(detail, sizeof detail, "CRL number %ld, %zu entries", number, list.count);
    if (estd_admin_audit(cmd, inst, "crl", label, NULL, NULL, detail) == 0)
        status = ESTD_EXIT_OK;
out:
    X509_CRL_free(crl);
    estd_revoked_list_release(&list);
    estd_instance_free(inst);
    return status;
}
