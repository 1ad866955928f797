/* estd: what the signer process gives up once its keys are open. */
#ifndef ESTD_SANDBOX_H
#define ESTD_SANDBOX_H

#include "estkit.h"

/* Applies to the whole process (all threads):
 *  - PR_SET_DUMPABLE 0: no core dumps, no ptrace attach or /proc/PID/mem
 *    reads by the same user (root still can);
 *  - RLIMIT_CORE 0 where setrlimit() is allowed;
 *  - PR_SET_NO_NEW_PRIVS 1;
 *  - on x86-64 and aarch64, a seccomp filter that allows only what signing
 *    and talking over the already-open socketpairs need (read/recv, write/
 *    send, memory, futex, time, random, exit) and kills the process on
 *    anything else: no open(), execve(), fork(), ptrace(); socket() and
 *    connect() fail with EACCES (a library's syslog() must not kill it).
 *    allow_files adds opening and locking files, for PKCS#11 modules that
 *    read their token from disk while signing (SoftHSM does).
 * EST_E_UNSUPPORTED on other architectures is not an error for callers:
 * the prctl()s are still applied (see estd_sandbox_filtered). */
est_status estd_sandbox_apply(int allow_files, est_error *err);

/* Whether this build installs the seccomp filter (the architecture is known). */
int estd_sandbox_filtered(void);

#endif
