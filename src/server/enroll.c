/* estd: /simpleenroll and /simplereenroll (draft-04 §4.2, RFC 7030 §4.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include "cmd_common.h"
#include "issuer.h"
#include "server.h"
#include "estkit/csr.h"
#include "estkit/ca.h"
#include "estkit/csrattrs.h"
#include "estkit/mem.h"

/* RFC 7894 §3.5: estIdentityLinking carries the same binding. */
#define OID_EST_IDENTITY_LINKING "1.2.840.113549.1.9.16.2.58"

static const char *pkcs7_type(est_dialect dialect)
{
    return dialect == EST_DIALECT_DRAFT ? "application/pkcs7-mime"
                                        : "application/pkcs7-mime; smime-type=certs-only";
}

/* Reads the request body as a CSR: any of docs/design.md §2's encodings. check:
 * also est_csr_check (proof of possession, key policy); /serverkeygen
 * passes 0, since it must ignore the CSR's key and signature, and gets the
 * size limits only. */
int estd_body_check(const estd_request *req, const char *media_type, const char *what,
                    estd_response *resp)
{
    est_media_type *mt = NULL;
    est_error err;
    int ok = 0;

    if (req->content_type != NULL) {
        if (est_media_type_parse(req->content_type, &mt, &err) != EST_OK) {
            estd_response_error(resp, 415, "bad Content-Type: %s", err.message);
            goto out;
        }
        if (!est_media_type_is(mt, media_type)) {
            estd_response_error(resp, 415, "expected Content-Type %s, got %s", media_type,
                                est_media_type_get0_essence(mt));
            goto out;
        }
    }
    if (req->body_len == 0) {
        estd_response_error(resp, 400, "empty body: %s is required", what);
        goto out;
    }
    ok = 1;
out:
    est_media_type_free(mt);
    return ok;
}

int estd_csr_from_body(const estd_request *req, int check, X509_REQ **csr, estd_response *resp)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_error err;
    int ok = 0;

    if (!estd_body_check(req, "application/pkcs10", "a PKCS#10 request", resp))
        goto out;
    if (est_body_decode(req->body, req->body_len, &der, &der_len, NULL, &err) != EST_OK) {
        estd_response_error(resp, err.code == EST_E_TOO_LARGE ? 413 : 400, "%s", err.message);
        goto out;
    }
    /* Without check the limits still apply (issue #12): /serverkeygen puts
     * the CSR's subject and SAN into the certificate it issues. */
    if (est_csr_parse(der, der_len, csr, &err) != EST_OK ||
        (check && est_csr_check(*csr, &req->ca->cfg->profile, &err) != EST_OK) ||
        (!check &&
         est_csr_check_limits(*csr, &req->ca->cfg->profile.csr_limits, &err) != EST_OK)) {
        estd_response_error(resp, 400, "%s", err.message);
        goto out;
    }
    ok = 1;
out:
    est_free(der);
    return ok;
}

/* The value of a single-valued string attribute (printable/UTF8/IA5). */
static char *attribute_text(X509_REQ *csr, int nid)
{
    int idx = nid == NID_undef ? -1 : X509_REQ_get_attr_by_NID(csr, nid, -1);
    X509_ATTRIBUTE *attr = idx >= 0 ? X509_REQ_get_attr(csr, idx) : NULL;
    ASN1_TYPE *t = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
    const ASN1_STRING *s;

    if (t == NULL || (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
                      t->type != V_ASN1_IA5STRING && t->type != V_ASN1_OCTET_STRING))
        return NULL;
    s = t->value.asn1_string;
    return OPENSSL_strndup((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

/* draft-04 §3.5 proof-of-possession linking: the CSR's challengePassword
 * (or RFC 7894 estIdentityLinking) holds base64(channel binding) of the TLS
 * connection the CSR arrived on. */
int estd_pop_link_check(const estd_request *req, X509_REQ *csr, estd_response *resp)
{
    const estd_ca_config *cfg = req->ca->cfg;
    int linking_nid = OBJ_txt2nid(OID_EST_IDENTITY_LINKING);
    char *value = NULL;
    char expected[128];
    int ok = 0, n;

    if (cfg->challenge == ESTD_CHALLENGE_CHANNEL_BINDING)
        value = attribute_text(csr, NID_pkcs9_challengePassword);
    if (value == NULL && linking_nid != NID_undef)
        value = attribute_text(csr, linking_nid);
    if (value == NULL) {
        if (cfg->pop == ESTD_POP_REQUIRED) {
            estd_response_error(resp, 400, "proof-of-possession linking is required: put the "
                                           "TLS channel binding in challengePassword");
            goto out;
        }
        ok = 1;
        goto out;
    }
    if (req->binding_len == 0) {
        estd_response_error(resp, 400, "proof-of-possession linking failed: no channel binding "
                                       "available on this connection");
        goto out;
    }
    n = EVP_EncodeBlock((unsigned char *)expected, req->binding, (int)req->binding_len);
    if (n <= 0 || strlen(value) != (size_t)n || CRYPTO_memcmp(value, expected, (size_t)n) != 0) {
        estd_response_error(resp, 400, "proof-of-possession linking failed: challengePassword "
                                       "does not match this TLS connection's channel binding");
        goto out;
    }
    ok = 1;
out:
    OPENSSL_clear_free(value, value ? strlen(value) : 0);
    return ok;
}

/* challenge_password = one-time-code (docs/design.md §2): challengePassword is a
 * code from `estd otp add`, good once, for this CA label and, when the code
 * is bound to one, this subject. Call it last, once the request is
 * otherwise acceptable: the code is spent here, in one store transaction.
 * The client learns only "missing" or "not valid"; the audit log says why
 * (unknown, used, expired, other subject). */
int estd_otp_check(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                   X509_REQ *csr, int64_t *otp_id, estd_response *resp)
{
    est_store *store = srv->inst->store;
    const char *label = req->ca->cfg->label;
    char *code = NULL, subject[1024];
    est_otp_record *rec = NULL;
    est_error err;
    est_status rc;
    int ok = 0;

    *otp_id = 0;
    if (req->ca->cfg->challenge != ESTD_CHALLENGE_OTP)
        return 1;
    if ((code = attribute_text(csr, NID_pkcs9_challengePassword)) == NULL) {
        estd_response_error(resp, 403, "one-time enrollment code missing: put it in the CSR's "
                                       "challengePassword");
        goto out;
    }
    estd_name_text(X509_REQ_get_subject_name(csr), subject, sizeof subject);
    rc = est_store_otp_consume(store, label, code, subject, 0, &rec, &err);
    if (rc == EST_E_NOT_FOUND || rc == EST_E_AUTH || rc == EST_E_INPUT) {
        estd_audit(srv->inst, "otp-refused", label, auth->name, subject, NULL, err.message);
        estd_response_error(resp, 403, "one-time enrollment code not valid");
    } else if (rc != EST_OK) {
        estd_response_failure(resp, 500, &err);
    } else {
        *otp_id = rec->id;
        ok = 1;
    }
out:
    est_otp_record_free(rec);
    OPENSSL_clear_free(code, code ? strlen(code) : 0);
    return ok;
}

/* After a code was spent: which certificate it bought (or that none came
 * of it), for `estd otp list` and the audit log. */
void estd_otp_settle(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                     int64_t otp_id, X509 *cert, const char *outcome)
{
    est_store *store = srv->inst->store;
    BIGNUM *bn = NULL;
    char *serial = NULL, detail[160];

    if (otp_id == 0)
        return;
    if (cert != NULL && (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) != NULL)
        serial = BN_bn2hex(bn);
    if (serial != NULL && est_store_otp_set_serial(store, otp_id, serial, NULL) != EST_OK)
        outcome = "issued; recording the serial with the code failed";
    snprintf(detail, sizeof detail, "code %lld: %s", (long long)otp_id, outcome);
    estd_audit(srv->inst, "otp-use", req->ca->cfg->label, auth->name, NULL, serial, detail);
    OPENSSL_free(serial);
    BN_free(bn);
}

/* draft-04 §4.2.2: re-enroll keeps subject and subjectAltName unless policy
 * allows ChangeSubjectName. */
static int same_san(X509_REQ *csr, X509 *cert)
{
    GENERAL_NAMES *a = est_csr_get1_san(csr);
    GENERAL_NAMES *b = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    unsigned char *da = NULL, *db = NULL;
    int la = a ? i2d_GENERAL_NAMES(a, &da) : 0;
    int lb = b ? i2d_GENERAL_NAMES(b, &db) : 0;
    int same = la == lb && la >= 0 && (la == 0 || memcmp(da, db, (size_t)la) == 0);

    OPENSSL_free(da);
    OPENSSL_free(db);
    GENERAL_NAMES_free(a);
    GENERAL_NAMES_free(b);
    return same;
}

static int reenroll_check(const estd_request *req, const estd_auth_result *auth, X509_REQ *csr,
                          const char **operation, estd_response *resp)
{
    X509 *old = req->peer_cert;
    EVP_PKEY *new_key = X509_REQ_get0_pubkey(csr);

    if (old == NULL || !(auth->satisfied & ESTD_AUTH_CERT)) {
        estd_response_error(resp, 403, "re-enrollment needs the client certificate being renewed, "
                                       "issued by this CA, on the TLS connection");
        return 0;
    }
    if (!req->ca->cfg->allow_subject_change &&
        (X509_NAME_cmp(X509_REQ_get_subject_name(csr), X509_get_subject_name(old)) != 0 ||
         !same_san(csr, old))) {
        estd_response_error(resp, 400, "re-enrollment must keep the subject and subjectAltName "
                                       "of the current certificate");
        return 0;
    }
    *operation = EVP_PKEY_eq(new_key, X509_get0_pubkey(old)) == 1 ? "renew" : "rekey";
    return 1;
}

/* Optional enforcement of /csrattrs: curve and hash OIDs constrain the key
 * and signature; other OIDs must appear as attributes or requested
 * extensions. challengePassword is pop_link_check's business. */
int estd_csrattrs_check(const estd_request *req, X509_REQ *csr, estd_response *resp)
{
    const est_csrattrs *attrs = req->ca->csrattrs;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    int ok = 1;

    if (!req->ca->cfg->enforce_csrattrs)
        return 1;
    exts = X509_REQ_get_extensions(csr);
    for (size_t i = 0; ok && i < est_csrattrs_count(attrs); i++) {
        const ASN1_OBJECT *oid = est_csrattrs_get0_oid(attrs, i);
        int nid = OBJ_obj2nid(oid);
        char name[80];
        EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
        char group[64] = "";
        size_t glen = 0;

        OBJ_obj2txt(name, sizeof name, oid, 0);
        if (nid == NID_pkcs9_challengePassword)
            continue;
        if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) == 1 &&
            nid != NID_undef && EC_curve_nid2nist(nid) != NULL) {
            if (OBJ_sn2nid(group) != nid && OBJ_ln2nid(group) != nid) {
                estd_response_error(resp, 400, "/csrattrs asks for a key on curve %s", name);
                ok = 0;
            }
            continue;
        }
        if (nid != NID_undef && EVP_get_digestbynid(nid) != NULL) {
            int sig_nid = X509_REQ_get_signature_nid(csr), md_nid = NID_undef;
            if (!OBJ_find_sigid_algs(sig_nid, &md_nid, NULL) || md_nid != nid) {
                estd_response_error(resp, 400, "/csrattrs asks for a %s signature", name);
                ok = 0;
            }
            continue;
        }
        if (X509_REQ_get_attr_by_OBJ(csr, oid, -1) < 0 &&
            X509v3_get_ext_by_OBJ(exts, oid, -1) < 0) {
            estd_response_error(resp, 400, "the CSR lacks %s, which /csrattrs asks for", name);
            ok = 0;
        }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

static int respond_with_cert(const estd_request *req, X509 *cert, estd_response *resp)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    uint8_t *der = NULL;
    size_t der_len = 0;
    char *body = NULL;
    size_t body_len = 0;
    est_error err;
    int ok = 0;

    if (certs == NULL || !sk_X509_push(certs, cert)) {
        estd_response_error(resp, 500, "out of memory");
        goto out;
    }
    if (est_certs_only_build(certs, &der, &der_len, &err) != EST_OK ||
        est_body_encode_lines(der, der_len, req->route.dialect, "PKCS7", req->base64_line, &body,
                              &body_len, &err) != EST_OK) {
        estd_response_error(resp, 500, "%s", err.message);
        goto out;
    }
    estd_response_body(resp, 200, pkcs7_type(req->route.dialect),
                       req->route.dialect == EST_DIALECT_RFC7030, body, body_len);
    ok = 1;
out:
    sk_X509_free(certs); /* the certificate itself stays the caller's */
    est_free(der);
    return ok;
}

static void csr_sha256_hex(X509_REQ *csr, char out[65])
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    int len = i2d_X509_REQ(csr, &der);

    out[0] = '\0';
    if (len <= 0)
        return;
    SHA256(der, (size_t)len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    OPENSSL_free(der);
}

/* Stores a waiting request (fresh->csr_sha256 set by the caller; sets
 * fresh->id) and audits it as event. */
static est_status pending_store(estd_server *srv, const estd_request *req,
                                const estd_auth_result *auth, X509_REQ *csr,
                                const char *operation, const char *event,
                                est_pending_record *fresh, est_error *err)
{
    est_store *store = srv->inst->store;
    unsigned char *der = NULL;
    char subject[256];
    int len = i2d_X509_REQ(csr, &der);
    est_status rc;

    X509_NAME_oneline(X509_REQ_get_subject_name(csr), subject, sizeof subject);
    fresh->label = (char *)req->ca->cfg->label;
    fresh->requester = (char *)auth->name;
    fresh->auth_method = (char *)auth->method;
    fresh->operation = (char *)operation;
    fresh->subject = subject;
    fresh->status = EST_PENDING_WAITING;
    fresh->csr_der = der;
    fresh->csr_der_len = len > 0 ? (size_t)len : 0;
    rc = est_store_pending_insert(store, fresh, err);
    if (rc == EST_OK)
        estd_audit(srv->inst, event, req->ca->cfg->label, auth->name, subject, NULL, operation);
    fresh->subject = NULL;
    fresh->csr_der = NULL;
    OPENSSL_free(der);
    return rc;
}

/* draft-04 §4.2.3: manual approval answers 202 + Retry-After and the
 * client repeats the same request; the CSR's hash identifies it. Returns 1
 * when resp is final (202, 403, or the approved certificate). */
int estd_approval_gate(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                       X509_REQ *csr, const char *operation, estd_response *resp)
{
    est_store *store = srv->inst->store;
    const char *label = req->ca->cfg->label;
    est_pending_record *pending = NULL, fresh = {0};
    est_cert_record *rec = NULL;
    est_error err;
    est_status rc;

    if (req->ca->cfg->approval != ESTD_APPROVAL_MANUAL)
        return 0;
    csr_sha256_hex(csr, fresh.csr_sha256);
    rc = est_store_pending_find(store, label, fresh.csr_sha256, &pending, &err);
    if (rc == EST_E_NOT_FOUND)
        rc = pending_store(srv, req, auth, csr, operation, "pending", &fresh, &err);
    if (rc != EST_OK) {
        estd_response_failure(resp, 500, &err);
    } else if (pending == NULL || pending->status == EST_PENDING_WAITING) {
        estd_response_error(resp, 202, "request %lld is waiting for approval; retry later",
                            (long long)(pending ? pending->id : fresh.id));
        resp->retry_after = req->ca->cfg->retry_after_seconds;
    } else if (pending->status == EST_PENDING_APPROVED && pending->cert_serial == NULL) {
        /* Claimed by an approval that is issuing right now. */
        estd_response_error(resp, 202, "request %lld is approved; its certificate is being "
                            "issued; retry later", (long long)pending->id);
        resp->retry_after = req->ca->cfg->retry_after_seconds;
    } else if (pending->status == EST_PENDING_REJECTED) {
        estd_response_error(resp, 403, "request rejected: %s",
                            pending->reason ? pending->reason : "no reason given");
    } else if (est_store_cert_get(store, pending->cert_serial, &rec, &err) != EST_OK) {
        if (err.code == EST_E_UNAVAILABLE)
            estd_response_failure(resp, 500, &err);
        else
            estd_response_error(resp, 500, "approved request has no certificate in the store");
    } else {
        const unsigned char *p = rec->der;
        X509 *cert = d2i_X509(NULL, &p, (long)rec->der_len);
        if (cert == NULL || !respond_with_cert(req, cert, resp))
            estd_response_error(resp, 500, "stored certificate %s is unreadable", rec->serial);
        X509_free(cert);
    }
    est_pending_record_free(pending);
    est_cert_record_free(rec);
    return 1;
}

void estd_issue_refusal(const estd_request *req, const est_error *err, estd_response *resp)
{
    unsigned retry_after = resp->retry_after;
    int status = estd_issue_http_status(err->code);

    if (err->code == EST_E_UNAVAILABLE) { /* the store: its own answer and Retry-After */
        estd_response_failure(resp, status, err);
        return;
    }
    estd_response_error(resp, status, "%s", err->message);
    if (status == 202 || status == 503)
        resp->retry_after = retry_after ? retry_after : req->ca->cfg->retry_after_seconds;
}

/* The upstream answered 202 (draft-04 §4.2.3): the device repeats the same
 * request, on a new TLS connection, and the RA forwards the same CSR again,
 * which the upstream knows by its content. The pending row lets the repeat
 * pass pending_repeat (its linking was checked the first time) and shows
 * in `estd pending list` what waits upstream. */
static void upstream_pending_note(estd_server *srv, const estd_request *req,
                                  const estd_auth_result *auth, X509_REQ *csr,
                                  const char *operation)
{
    est_store *store = srv->inst->store;
    est_pending_record *known = NULL, fresh = {0};

    csr_sha256_hex(csr, fresh.csr_sha256);
    if (est_store_pending_find(store, req->ca->cfg->label, fresh.csr_sha256, &known,
                               NULL) == EST_OK) {
        est_pending_record_free(known);
        return;
    }
    pending_store(srv, req, auth, csr, operation, "pending-upstream", &fresh, NULL);
}

/* The certificate for a request that waited upstream came: its row is done. */
static void upstream_pending_settle(estd_server *srv, const estd_request *req, X509_REQ *csr,
                                    X509 *cert)
{
    est_store *store = srv->inst->store;
    est_pending_record *rec = NULL;
    char hash[65], serial[80];

    if (req->ca->cfg->upstream.issuer == ESTD_ISSUER_EMBEDDED)
        return;
    csr_sha256_hex(csr, hash);
    if (est_store_pending_find(store, req->ca->cfg->label, hash, &rec, NULL) == EST_OK &&
        rec->status == EST_PENDING_WAITING &&
        est_serial_to_hex(X509_get0_serialNumber(cert), serial, NULL) == EST_OK)
        est_store_pending_update(store, rec->id, EST_PENDING_APPROVED, "issued upstream",
                                 serial, NULL);
    est_pending_record_free(rec);
}

/* A repeat of a request already waiting for approval arrives on a new TLS
 * connection, so its channel binding cannot match; the binding was checked
 * when the request was first stored (draft-04 §4.2.3: "repeating the same
 * request"). */
static int pending_repeat(estd_server *srv, const estd_request *req, X509_REQ *csr)
{
    est_store *store = srv->inst->store;
    est_pending_record *rec = NULL;
    char hash[65];
    int known;

    if (req->ca->cfg->approval != ESTD_APPROVAL_MANUAL &&
        req->ca->cfg->upstream.issuer == ESTD_ISSUER_EMBEDDED)
        return 0;
    csr_sha256_hex(csr, hash);
    known = est_store_pending_find(store, req->ca->cfg->label, hash, &rec, NULL) == EST_OK;
    /* Without manual approval only a request still waiting upstream is a
     * repeat: one the upstream answered is a new request. */
    if (known && req->ca->cfg->approval != ESTD_APPROVAL_MANUAL)
        known = rec->status == EST_PENDING_WAITING;
    est_pending_record_free(rec);
    return known;
}

static int trusted_ra(const estd_request *req, const estd_auth_result *auth)
{
    return req->ca->cfg->trust_ra && auth->cert_is_ra && (auth->satisfied & ESTD_AUTH_CERT);
}

void estd_handle_enroll(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                        estd_response *resp)
{
    int reenroll = req->route.op == EST_OP_SIMPLEREENROLL, ra, repeat;
    int64_t otp_id = 0;
    const char *operation = "enroll";
    estd_requester who = {auth->name, auth->method, NULL};
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    est_error err;

    /* draft-04 §3.7: a client certificate from this CA with id-kp-cmcRA is
     * an RA. It has checked its own clients' PoP linking and forwards
     * their CSRs, so linking need not match this session and a re-enroll
     * need not carry the RA's own subject. */
    ra = trusted_ra(req, auth);
    if (!estd_csr_from_body(req, 1, &csr, resp))
        goto refused;
    repeat = pending_repeat(srv, req, csr);
    if (!ra && !repeat && !estd_pop_link_check(req, csr, resp))
        goto refused;
    if (!estd_csrattrs_check(req, csr, resp))
        goto refused;
    if (reenroll && ra)
        operation = "renew-via-ra";
    else if (reenroll && !reenroll_check(req, auth, csr, &operation, resp))
        goto refused;
    else if (reenroll)
        who.renewing = req->peer_cert; /* an upstream CMP CA gets a kur */
    /* One-time codes admit new enrollments; a re-enroll is admitted by the
     * certificate it renews. A repeat of a waiting request spent its code
     * when it was first stored. */
    if (!reenroll && !repeat && !estd_otp_check(srv, req, auth, csr, &otp_id, resp))
        goto refused;
    if (estd_approval_gate(srv, req, auth, csr, operation, resp)) {
        estd_otp_settle(srv, req, auth, otp_id, NULL,
                        resp->status == 202 ? "request waiting for approval" : "no certificate");
        goto out;
    }
    if (estd_issue(srv->inst, req->ca, csr, NULL, &who, operation, &cert, &resp->retry_after,
                   &err) != EST_OK) {
        estd_issue_refusal(req, &err, resp);
        if (err.code == EST_E_RETRY_LATER) {
            upstream_pending_note(srv, req, auth, csr, operation);
            estd_otp_settle(srv, req, auth, otp_id, NULL, "request waiting upstream");
            goto out;
        }
        estd_otp_settle(srv, req, auth, otp_id, NULL, "no certificate: issuing failed");
        goto refused;
    }
    upstream_pending_settle(srv, req, csr, cert);
    estd_otp_settle(srv, req, auth, otp_id, cert, "issued");
    respond_with_cert(req, cert, resp);
    goto out;
refused:
    estd_audit_refusal(srv, req, auth, resp);
out:
    X509_REQ_free(csr);
    X509_free(cert);
}
