/* estkit: freeing what the API hands out.
 *
 * One allocator rule: every buffer or string an estkit function returns
 * through an output parameter (uint8_t **, char **) comes from OpenSSL's
 * allocator and is freed with est_free (est_secret_free for passwords and
 * other secrets, which cleanses first). OpenSSL objects (X509, EVP_PKEY,
 * STACK_OF(X509), ...) keep their own _free; estkit objects their
 * est_thing_free. Each function's comment repeats which applies. */
#ifndef ESTKIT_MEM_H
#define ESTKIT_MEM_H

#include "estkit/api.h"

/* Frees a buffer or string returned by estkit (OPENSSL_free); NULL ok. */
EST_API void est_free(void *ptr);
/* Cleanses and frees a NUL-terminated secret returned by estkit; NULL ok. */
EST_API void est_secret_free(char *secret);

#endif
