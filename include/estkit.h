/* estkit: EST (RFC 7030 / draft-ietf-pkix-est-04) library.
 *
 * One header per module under estkit/; this file includes them all.
 * Conventions: every fallible call returns est_status and fills an optional
 * est_error; thing_new/thing_free pairs, free(NULL) is a no-op; get0 borrows,
 * get1 hands out a reference; no global state, no printing. */
#ifndef ESTKIT_H
#define ESTKIT_H

#include "estkit/api.h"
#include "estkit/error.h"
#include "estkit/mem.h"
#include "estkit/types.h"
#include "estkit/body.h"
#include "estkit/certs_only.h"
#include "estkit/csrattrs.h"
#include "estkit/multipart.h"
#include "estkit/media_type.h"
#include "estkit/route.h"
#include "estkit/auth.h"
#include "estkit/password.h"
#include "estkit/channel_binding.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/name.h"
#include "estkit/csr.h"
#include "estkit/signer.h"
#include "estkit/ca.h"
#include "estkit/issue.h"
#include "estkit/crl.h"
#include "estkit/rollover.h"
#include "estkit/store.h"
#include "estkit/client.h"
#include "estkit/cmc.h"
#include "estkit/key_package.h"
#include "estkit/text.h"

#endif
