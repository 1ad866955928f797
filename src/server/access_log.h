/* One line per answered EST request (access_log.c), and its metrics. */
#ifndef ESTD_ACCESS_LOG_H
#define ESTD_ACCESS_LOG_H

#include "server.h"

/* uri: the request-target as sent; bytes: body length sent. */
void estd_access_log(estd_server *srv, const estd_request *req, const char *uri,
                     const estd_response *resp, size_t bytes);

#endif
