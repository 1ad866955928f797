/* estd: /fullcmc (draft-04 §4.3, RFC 7030 §4.3). */
#include "server.h"

int estd_fullcmc_offered(const estd_request *req, estd_response *resp)
{
    if (req->ca->cfg->fullcmc)
        return 1;
    estd_response_error(resp, 501, "/fullcmc is not offered by this CA");
    return 0;
}

void estd_handle_fullcmc(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                         estd_response *resp)
{
    (void)srv;
    (void)req;
    (void)auth;
    estd_response_error(resp, 501, "/fullcmc is not implemented yet");
}
