/* estd: issuer = cmp (stub until the CMP client lands). */
#include "issuer.h"

est_status estd_issuer_cmp_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                 const estd_requester *who, const char *operation, X509 **out,
                                 unsigned *retry_after, est_error *err)
{
    (void)inst; (void)ca; (void)csr; (void)who; (void)operation; (void)out; (void)retry_after;
    return est_error_set(err, EST_E_UNSUPPORTED, "issuer = cmp is not available yet");
}
