/* The checks and encodings both store backends share (store_internal.h). */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include "estkit/text.h"
#include "store_internal.h"

est_status store_serial_normalise(const char *in, char out[STORE_SERIAL_HEX_MAX + 1],
                                  const char *op, est_error *err)
{
    size_t len = in != NULL ? strnlen(in, STORE_SERIAL_HEX_MAX + 1) : 0;

    if (len == 0 || len > STORE_SERIAL_HEX_MAX || strspn(in, "0123456789abcdefABCDEF") != len)
        return est_error_set(err, EST_E_INPUT, "%s%s'%.48s' is not 1-%d hex digits",
                             op != NULL ? op : "", op != NULL ? ": " : "serial ",
                             in != NULL ? in : "", STORE_SERIAL_HEX_MAX);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(in[i] >= 'a' && in[i] <= 'f' ? in[i] - 'a' + 'A' : in[i]);
    out[len] = '\0';
    return EST_OK;
}

int store_crl_reason_valid(int reason)
{
    return reason >= -1 && reason <= 10 && reason != 7;
}

est_status store_cert_record_check(const est_cert_record *rec, est_error *err)
{
    if (rec == NULL || rec->subject == NULL || rec->der == NULL || rec->der_len == 0 ||
        rec->spki_sha256[0] == '\0')
        return est_error_set(err, EST_E_INPUT, "certificate insert: incomplete record");
    if (rec->status != EST_CERT_VALID && rec->status != EST_CERT_REVOKED)
        return est_error_set(err, EST_E_INPUT, "certificate insert: status %d", (int)rec->status);
    return EST_OK;
}

void store_cert_bounds_of(const est_cert_filter *filter, store_cert_bounds *out)
{
    static const est_cert_filter none = {0};
    const est_cert_filter *f = filter != NULL ? filter : &none;

    out->expiring_before = f->expiring_before != 0 ? f->expiring_before : INT64_MAX;
    out->not_after_from = f->not_after_from != 0 ? f->not_after_from : INT64_MIN;
    out->issued_since = f->issued_since != 0 ? f->issued_since : INT64_MIN;
    out->status = f->only_valid ? EST_CERT_VALID : f->only_revoked ? EST_CERT_REVOKED : -1;
    out->contains = f->contains;
}

est_status store_otp_code_valid(const char *code, const char *op, est_error *err)
{
    size_t len = code != NULL ? strnlen(code, EST_OTP_CODE_MAX + 1) : 0;

    if (len == 0 || len > EST_OTP_CODE_MAX)
        return est_error_set(err, EST_E_INPUT, "%s: a code is 1-%d characters", op,
                             EST_OTP_CODE_MAX);
    return EST_OK;
}

est_status store_otp_hash(const char *salt, const char *code, const char *op,
                          char out[2 * SHA256_DIGEST_LENGTH + 1], est_error *err)
{
    unsigned char buf[STORE_OTP_SALT_HEX_MAX + EST_OTP_CODE_MAX], md[SHA256_DIGEST_LENGTH];
    size_t salt_len = salt != NULL ? strlen(salt) : 0, code_len = strlen(code);

    if (salt_len == 0 || salt_len > STORE_OTP_SALT_HEX_MAX)
        return est_error_set(err, EST_E_STORE, "%s: the store has no valid one-time code salt",
                             op);
    memcpy(buf, salt, salt_len);
    memcpy(buf + salt_len, code, code_len);
    SHA256(buf, salt_len + code_len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    OPENSSL_cleanse(buf, sizeof buf);
    return EST_OK;
}

est_status store_otp_usable(const est_otp_record *r, const char *subject, int64_t now,
                            est_error *err)
{
    if (r->used_at != 0)
        return est_error_set(err, EST_E_AUTH, "one-time code %lld: already used",
                             (long long)r->id);
    if (now >= r->expires_at)
        return est_error_set(err, EST_E_AUTH, "one-time code %lld: expired", (long long)r->id);
    if (r->subject != NULL && (subject == NULL || strcmp(r->subject, subject) != 0))
        return est_error_set(err, EST_E_AUTH,
                             "one-time code %lld: valid only for subject '%.200s'",
                             (long long)r->id, r->subject);
    return EST_OK;
}

static const char *escaped(const char *in, char out[EST_AUDIT_FIELD_MAX + 1])
{
    if (in == NULL)
        return NULL;
    est_text_escape(in, strlen(in), out, EST_AUDIT_FIELD_MAX + 1);
    return out;
}

void store_audit_escape(const est_audit_event *in, store_audit_text *out)
{
    out->ev.event = escaped(in->event, out->text[0]);
    out->ev.label = escaped(in->label, out->text[1]);
    out->ev.actor = escaped(in->actor, out->text[2]);
    out->ev.subject = escaped(in->subject, out->text[3]);
    out->ev.serial = escaped(in->serial, out->text[4]);
    out->ev.detail = escaped(in->detail, out->text[5]);
    out->ev.count = in->count > 0 ? in->count : 1;
}
