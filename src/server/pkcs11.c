/* estd: PKCS#11 keys through p11-kit (see pkcs11.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>
#include "pkcs11.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/signer.h"

#define P11_SESSIONS_MAX 64
#define P11_SLOTS_MAX 64

struct estd_p11_key {
    CK_FUNCTION_LIST *module;
    int initialized;
    CK_SESSION_HANDLE sessions[P11_SESSIONS_MAX];
    unsigned session_count;
    CK_OBJECT_HANDLE object;
    CK_OBJECT_HANDLE public_object; /* CK_INVALID_HANDLE when the token has none */
};

int estd_key_is_pkcs11(const char *key)
{
    return strncmp(key, "pkcs11:", 7) == 0;
}

/* Token trouble (PKCS#11 v2.40 §5.1): worth a retry after a restart, which
 * loads the module, logs in and finds the key again. */
static int token_gone(CK_RV rv)
{
    return rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_MEMORY || rv == CKR_GENERAL_ERROR ||
           rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_KEY_HANDLE_INVALID ||
           rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_TOKEN_NOT_RECOGNIZED;
}

static est_status p11_error(est_error *err, const char *what, CK_RV rv)
{
    return est_error_set(err, token_gone(rv) ? EST_E_UNAVAILABLE : EST_E_CONFIG,
                         "pkcs11: %s: %s (0x%lx)", what, p11_kit_strerror(rv), (unsigned long)rv);
}

static est_status pin_read(P11KitUri *uri, char *pin, size_t cap, est_error *err)
{
    const char *value = p11_kit_uri_get_pin_value(uri), *source = p11_kit_uri_get_pin_source(uri);
    uint8_t *data = NULL;
    size_t len = 0;
    est_status rc;

    if (value != NULL) {
        if (strlen(value) >= cap)
            return est_error_set(err, EST_E_CONFIG, "pkcs11: PIN over %zu bytes", cap - 1);
        strcpy(pin, value);
        return EST_OK;
    }
    if (source == NULL)
        return est_error_set(err, EST_E_CONFIG, "pkcs11: the URI has no pin-source");
    if (strncmp(source, "file:", 5) == 0)
        source += 5;
    if ((rc = est_file_read_secret(source, cap, &data, &len, err)) != EST_OK)
        return est_error_prefix(err, rc, "pkcs11: pin-source");
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (len >= cap || len == 0)
        rc = est_error_set(err, EST_E_CONFIG, "pkcs11: %s: not a PIN", source);
    else
        memcpy(pin, data, len + 1);
    OPENSSL_clear_free(data, len);
    return rc;
}

static est_status slot_find(estd_p11_key *k, P11KitUri *uri, CK_SLOT_ID *slot, est_error *err)
{
    CK_SLOT_ID slots[P11_SLOTS_MAX];
    CK_ULONG count = P11_SLOTS_MAX;
    CK_TOKEN_INFO info;
    CK_RV rv = k->module->C_GetSlotList(CK_TRUE, slots, &count);

    if (rv != CKR_OK)
        return p11_error(err, "C_GetSlotList", rv);
    for (CK_ULONG i = 0; i < count; i++) {
        if (k->module->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
            p11_kit_uri_match_token_info(uri, &info)) {
            *slot = slots[i];
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_CONFIG, "pkcs11: no token matches the URI");
}

/* The objects of class that the URI's object= (CKA_LABEL) and/or id=
 * (CKA_ID) name; at most two are reported. */
static est_status objects_find(estd_p11_key *k, P11KitUri *uri, CK_OBJECT_CLASS class,
                               CK_OBJECT_HANDLE handles[2], CK_ULONG *found, est_error *err)
{
    CK_ATTRIBUTE tmpl[8];
    CK_ULONG n = 0, uri_n = 0;
    CK_ATTRIBUTE_PTR attrs = p11_kit_uri_get_attributes(uri, &uri_n);
    CK_SESSION_HANDLE s = k->sessions[0];
    CK_RV rv;

    *found = 0;
    for (CK_ULONG i = 0; i < uri_n && n < 7; i++)
        if (attrs[i].type == CKA_LABEL || attrs[i].type == CKA_ID)
            tmpl[n++] = attrs[i];
    if (n == 0)
        return est_error_set(err, EST_E_CONFIG, "pkcs11: the URI names no object= or id=");
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &class, sizeof class};
    if ((rv = k->module->C_FindObjectsInit(s, tmpl, n)) != CKR_OK)
        return p11_error(err, "C_FindObjectsInit", rv);
    rv = k->module->C_FindObjects(s, handles, 2, found);
    k->module->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return p11_error(err, "C_FindObjects", rv);
    return EST_OK;
}

static est_status object_find(estd_p11_key *k, P11KitUri *uri, est_error *err)
{
    CK_OBJECT_HANDLE handles[2];
    CK_ULONG found;
    est_status rc;

    if ((rc = objects_find(k, uri, CKO_PRIVATE_KEY, handles, &found, err)) != EST_OK)
        return rc;
    if (found != 1)
        return est_error_set(err, EST_E_CONFIG, "pkcs11: the URI names %s private key",
                             found == 0 ? "no" : "more than one");
    k->object = handles[0];
    /* the matching public key object, for `estd init` */
    if ((rc = objects_find(k, uri, CKO_PUBLIC_KEY, handles, &found, err)) != EST_OK)
        return rc;
    k->public_object = found == 1 ? handles[0] : CK_INVALID_HANDLE;
    return EST_OK;
}

/* The key pair generated on the token (PKCS#11 v2.40 §5.13,
 * C_GenerateKeyPair) under the URI's label and/or id: the private half
 * sensitive and never extractable. A URI that already names a private key
 * is refused rather than made ambiguous. */
static est_status pair_generate(estd_p11_key *k, P11KitUri *uri, est_key_type type,
                                est_error *err)
{
    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    static const uint8_t f4[] = {0x01, 0x00, 0x01};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = type == EST_KEY_RSA_4096 ? 4096 : type == EST_KEY_RSA_3072 ? 3072 : 2048;
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub[8], priv[10];
    CK_ULONG np = 0, nv = 0, uri_n = 0, found;
    CK_ATTRIBUTE_PTR attrs = p11_kit_uri_get_attributes(uri, &uri_n);
    CK_OBJECT_HANDLE handles[2], pub_handle, priv_handle;
    CK_RV rv;
    est_status rc;

    if ((rc = objects_find(k, uri, CKO_PRIVATE_KEY, handles, &found, err)) != EST_OK)
        return rc;
    if (found != 0)
        return est_error_set(err, EST_E_CONFIG, "pkcs11: the URI already names a private key");
    for (CK_ULONG i = 0; i < uri_n && np < 2; i++)
        if (attrs[i].type == CKA_LABEL || attrs[i].type == CKA_ID)
            pub[np++] = priv[nv++] = attrs[i];
    pub[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    pub[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof no};
    priv[nv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof yes};
    if (type == EST_KEY_EC_P256 || type == EST_KEY_EC_P384) {
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        pub[np++] = type == EST_KEY_EC_P256 ? (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p256, sizeof p256}
                                            : (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p384, sizeof p384};
    } else if (type == EST_KEY_RSA_2048 || type == EST_KEY_RSA_3072 || type == EST_KEY_RSA_4096) {
        pub[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof bits};
        pub[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, (void *)f4, sizeof f4};
    } else {
        return est_error_set(err, EST_E_INPUT, "pkcs11: %s keys are not generated on a token",
                             est_key_type_name(type));
    }
    rv = k->module->C_GenerateKeyPair(k->sessions[0], &mech, pub, np, priv, nv, &pub_handle,
                                      &priv_handle);
    if (rv != CKR_OK)
        return p11_error(err, "C_GenerateKeyPair", rv);
    return EST_OK;
}

static est_status sessions_open(estd_p11_key *k, CK_SLOT_ID slot, unsigned n, CK_FLAGS flags,
                                const char *pin, est_error *err)
{
    CK_RV rv;

    for (; k->session_count < n; k->session_count++) {
        rv = k->module->C_OpenSession(slot, CKF_SERIAL_SESSION | flags, NULL, NULL,
                                      &k->sessions[k->session_count]);
        if (rv != CKR_OK)
            return p11_error(err, "C_OpenSession", rv);
    }
    /* Login is per application and token: one for all sessions. */
    rv = k->module->C_Login(k->sessions[0], CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv == CKR_PIN_INCORRECT)
        return est_error_set(err, EST_E_CONFIG, "pkcs11: C_Login: wrong PIN");
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return p11_error(err, "C_Login", rv);
    return EST_OK;
}

/* generate: NULL, or the type of the key pair to make first (read-write
 * session). */
static est_status key_open(const char *text, unsigned sessions, const est_key_type *generate,
                           estd_p11_key **out, est_error *err)
{
    estd_p11_key *k = calloc(1, sizeof *k);
    P11KitUri *uri = p11_kit_uri_new();
    char pin[ESTD_P11_PIN_MAX + 1] = "";
    const char *module;
    CK_SLOT_ID slot = 0;
    CK_RV rv;
    est_status rc = EST_E_NOMEM;

    *out = NULL;
    if (k == NULL || uri == NULL) {
        rc = est_error_set(err, rc, "out of memory");
        goto out;
    }
    if (sessions < 1 || sessions > P11_SESSIONS_MAX) {
        rc = est_error_set(err, EST_E_INTERNAL, "pkcs11: %u sessions", sessions);
        goto out;
    }
    if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK) {
        rc = est_error_set(err, EST_E_CONFIG, "pkcs11: not an RFC 7512 URI");
        goto out;
    }
    if ((module = p11_kit_uri_get_module_path(uri)) == NULL) {
        rc = est_error_set(err, EST_E_CONFIG, "pkcs11: the URI needs module-path=");
        goto out;
    }
    if ((rc = pin_read(uri, pin, sizeof pin, err)) != EST_OK)
        goto out;
    if ((k->module = p11_kit_module_load(module, 0)) == NULL) {
        rc = est_error_set(err, EST_E_CONFIG, "pkcs11: cannot load %s: %s", module,
                           p11_kit_message());
        goto out;
    }
    if ((rv = p11_kit_module_initialize(k->module)) != CKR_OK) {
        rc = p11_error(err, "C_Initialize", rv);
        goto out;
    }
    k->initialized = 1;
    if ((rc = slot_find(k, uri, &slot, err)) != EST_OK ||
        (rc = sessions_open(k, slot, sessions, generate != NULL ? CKF_RW_SESSION : 0, pin,
                            err)) != EST_OK ||
        (generate != NULL && (rc = pair_generate(k, uri, *generate, err)) != EST_OK) ||
        (rc = object_find(k, uri, err)) != EST_OK)
        goto out;
    *out = k;
    k = NULL;
out:
    OPENSSL_cleanse(pin, sizeof pin);
    p11_kit_uri_free(uri);
    estd_p11_key_free(k);
    return rc;
}

est_status estd_p11_key_open(const char *uri, unsigned sessions, estd_p11_key **out,
                             est_error *err)
{
    return key_open(uri, sessions, NULL, out, err);
}

est_status estd_p11_key_generate(const char *uri, est_key_type type, est_error *err)
{
    estd_p11_key *k = NULL;
    est_status rc = key_open(uri, 1, &type, &k, err);

    estd_p11_key_free(k);
    return rc;
}

void estd_p11_key_free(estd_p11_key *k)
{
    if (k == NULL)
        return;
    if (k->initialized) {
        for (unsigned i = 0; i < k->session_count; i++)
            k->module->C_CloseSession(k->sessions[i]);
        p11_kit_module_finalize(k->module);
    }
    if (k->module != NULL)
        p11_kit_module_release(k->module);
    free(k);
}

/* r||s, each half the length (RFC 5480, PKCS#11 v2.40 §2.3.1), to DER. */
static est_status ecdsa_der(const uint8_t *raw, size_t len, uint8_t *sig, size_t cap,
                            size_t *sig_len, est_error *err)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL), *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
    uint8_t *p = sig;
    int n;

    if (es == NULL || r == NULL || s == NULL || len % 2 != 0 || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r), BN_free(s);
        return est_error_set(err, EST_E_CA, "pkcs11: malformed ECDSA signature");
    }
    n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (size_t)n > cap || i2d_ECDSA_SIG(es, &p) != n) {
        ECDSA_SIG_free(es);
        return est_error_set(err, EST_E_CA, "pkcs11: encoding the ECDSA signature");
    }
    ECDSA_SIG_free(es);
    *sig_len = (size_t)n;
    return EST_OK;
}

est_status estd_p11_sign(estd_p11_key *k, unsigned session, EVP_PKEY *public_key, int pss,
                         const uint8_t *data, size_t len, uint8_t *sig, size_t cap,
                         size_t *sig_len, est_error *err)
{
    /* PKCS#11 v2.40 §2.1.14-15: the token hashes with SHA-256 and pads
     * with the parameters est_rsa_pss_setup uses (RFC 4055 §3.1). */
    CK_RSA_PKCS_PSS_PARAMS pss_params = {CKM_SHA256, CKG_MGF1_SHA256, EST_RSA_PSS_SALT_LEN};
    const EVP_MD *md = est_key_digest(public_key);
    int ec = EVP_PKEY_get_base_id(public_key) == EVP_PKEY_EC;
    uint8_t digest[EVP_MAX_MD_SIZE], raw[1024];
    unsigned int digest_len = 0;
    CK_ULONG raw_len = sizeof raw;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_SESSION_HANDLE s;
    CK_RV rv;

    if (session >= k->session_count || md == NULL)
        return est_error_set(err, EST_E_INTERNAL, "pkcs11: no session %u or no digest", session);
    s = k->sessions[session];
    if (ec) {
        if (EVP_Digest(data, len, digest, &digest_len, md, NULL) != 1)
            return est_error_set_openssl(err, EST_E_CA, "digest");
        data = digest;
        len = digest_len;
    } else if (EVP_PKEY_get_base_id(public_key) == EVP_PKEY_RSA) {
        int nid = EVP_MD_get_type(md);
        mech.mechanism = nid == NID_sha384   ? CKM_SHA384_RSA_PKCS
                         : nid == NID_sha512 ? CKM_SHA512_RSA_PKCS
                                             : CKM_SHA256_RSA_PKCS;
        if (pss) {
            mech.mechanism = CKM_SHA256_RSA_PKCS_PSS;
            mech.pParameter = &pss_params;
            mech.ulParameterLen = sizeof pss_params;
        }
    } else {
        return est_error_set(err, EST_E_UNSUPPORTED, "pkcs11: EC and RSA keys only");
    }
    if ((rv = k->module->C_SignInit(s, &mech, k->object)) != CKR_OK)
        return p11_error(err, "C_SignInit", rv);
    if ((rv = k->module->C_Sign(s, (CK_BYTE_PTR)data, len, raw, &raw_len)) != CKR_OK)
        return p11_error(err, "C_Sign", rv);
    if (ec)
        return ecdsa_der(raw, raw_len, sig, cap, sig_len, err);
    if (raw_len > cap)
        return est_error_set(err, EST_E_CA, "pkcs11: signature over %zu bytes", cap);
    memcpy(sig, raw, raw_len);
    *sig_len = raw_len;
    return EST_OK;
}

/* An attribute of the public key object, malloc'd. */
static uint8_t *attribute_get(estd_p11_key *k, CK_ATTRIBUTE_TYPE type, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    uint8_t *value;

    if (k->module->C_GetAttributeValue(k->sessions[0], k->public_object, &a, 1) != CKR_OK ||
        a.ulValueLen == CK_UNAVAILABLE_INFORMATION || (value = malloc(a.ulValueLen + 1)) == NULL)
        return NULL;
    a.pValue = value;
    if (k->module->C_GetAttributeValue(k->sessions[0], k->public_object, &a, 1) != CKR_OK) {
        free(value);
        return NULL;
    }
    *len = a.ulValueLen;
    return value;
}

/* PKCS#11 v2.40 §2.3.3: CKA_EC_PARAMS is the DER curve OID, CKA_EC_POINT a
 * DER OCTET STRING holding the uncompressed point; §2.1.2: RSA's modulus
 * and public exponent are big-endian integers. */
est_status estd_p11_key_get1_public(estd_p11_key *k, EVP_PKEY **out, est_error *err)
{
    CK_ULONG a_len = 0, b_len = 0;
    uint8_t *a = NULL, *b = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    ASN1_OBJECT *curve = NULL;
    ASN1_OCTET_STRING *point = NULL;
    BIGNUM *n = NULL, *e = NULL;
    const unsigned char *p;
    int ec;
    est_status rc = EST_E_CONFIG;

    *out = NULL;
    if (k->public_object == CK_INVALID_HANDLE) {
        rc = est_error_set(err, rc, "pkcs11: the token has no public key object for the URI");
        goto out;
    }
    ec = (a = attribute_get(k, CKA_EC_PARAMS, &a_len)) != NULL;
    if (ec) {
        b = attribute_get(k, CKA_EC_POINT, &b_len);
        p = a;
        curve = d2i_ASN1_OBJECT(NULL, &p, (long)a_len);
        p = b;
        point = b != NULL ? d2i_ASN1_OCTET_STRING(NULL, &p, (long)b_len) : NULL;
        if (bld == NULL || curve == NULL || point == NULL ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, "group", OBJ_nid2sn(OBJ_obj2nid(curve)), 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, "pub", ASN1_STRING_get0_data(point),
                                              (size_t)ASN1_STRING_length(point)))
            goto bad;
    } else {
        a = attribute_get(k, CKA_MODULUS, &a_len);
        b = attribute_get(k, CKA_PUBLIC_EXPONENT, &b_len);
        if (a == NULL || b == NULL || bld == NULL ||
            (n = BN_bin2bn(a, (int)a_len, NULL)) == NULL ||
            (e = BN_bin2bn(b, (int)b_len, NULL)) == NULL || !OSSL_PARAM_BLD_push_BN(bld, "n", n) ||
            !OSSL_PARAM_BLD_push_BN(bld, "e", e))
            goto bad;
    }
    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, ec ? "EC" : "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto bad;
    rc = EST_OK;
    goto out;
bad:
    rc = est_error_set_openssl(err, rc, "pkcs11: reading the public key from the token");
out:
    free(a);
    free(b);
    ASN1_OBJECT_free(curve);
    ASN1_OCTET_STRING_free(point);
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
