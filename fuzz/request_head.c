/* libFuzzer: the request-head path estd owns, together: the byte stream
 * (request_head.c) that splits heads from bodies, the head check, then on
 * an accepted head the routing of its target and the parsing of its
 * Authorization value (Basic or Digest), as request_cb and authn.c would.
 *
 * Properties: how the bytes are cut into feeds never changes the outcome
 * (the first byte picks the cut); an accepted head's target is visible
 * ASCII and its Content-Length within the limit; a refusal has a 4xx/5xx
 * status and a one-line reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "estkit/auth.h"
#include "estkit/route.h"
#include "estkit/mem.h"
#include "request_head.h"

#define FUZZ_MAX_HEAD 8192
#define FUZZ_MAX_BODY 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void follow_head(const char *head, size_t len)
{
    estd_head h;
    estd_head_refusal why = {0};
    char *target, *auth;
    est_route route;
    int rc = estd_head_check(head, len, FUZZ_MAX_BODY, &h, &why);

    if (rc != 0) {
        if (rc != why.status || rc < 400 || rc > 599 || why.reason[0] == '\0' ||
            strpbrk(why.reason, "\r\n") != NULL)
            abort();
        return;
    }
    if (h.content_length > FUZZ_MAX_BODY || h.target_len == 0 ||
        h.target_off + h.target_len > len || h.authorization_off + h.authorization_len > len)
        abort();
    for (size_t i = 0; i < h.target_len; i++)
        if ((unsigned char)head[h.target_off + i] <= 0x20 || head[h.target_off + i] == 0x7f)
            abort();
    target = strndup(head + h.target_off, h.target_len);
    auth = strndup(head + h.authorization_off, h.authorization_len);
    if (target == NULL || auth == NULL)
        abort();
    (void)est_route_parse(target, &route, NULL);
    if (h.authorization_len > 0) {
        char *user = NULL, *password = NULL;
        est_digest_credentials *cred = NULL;
        if (est_basic_parse(auth, &user, &password, NULL) == EST_OK) {
            est_free(user);
            est_secret_free(password);
        }
        if (est_digest_parse(auth, &cred, NULL) == EST_OK)
            est_digest_credentials_free(cred);
    }
    free(target);
    free(auth);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    estd_head_stream whole, pieces;
    size_t cut, at;
    int rc_whole, rc_pieces = 0;

    if (size == 0)
        return 0;
    cut = (size_t)data[0] % 7 + 1;
    data++, size--;
    /* The head as a whole, if the input is shaped like one. */
    follow_head((const char *)data, size);
    /* The stream: all at once, then in pieces of cut bytes. */
    estd_head_stream_init(&whole, FUZZ_MAX_HEAD, FUZZ_MAX_BODY);
    estd_head_stream_init(&pieces, FUZZ_MAX_HEAD, FUZZ_MAX_BODY);
    rc_whole = estd_head_stream_feed(&whole, data, size);
    for (at = 0; at < size && rc_pieces == 0; at += cut)
        rc_pieces = estd_head_stream_feed(&pieces, data + at, size - at < cut ? size - at : cut);
    if (rc_whole != rc_pieces || whole.requests != pieces.requests ||
        whole.position != pieces.position || whole.body_left != pieces.body_left ||
        (rc_whole != 0 && strcmp(whole.refusal.reason, pieces.refusal.reason) != 0))
        abort();
    estd_head_stream_release(&whole);
    estd_head_stream_release(&pieces);
    return 0;
}
