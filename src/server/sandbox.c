/* estd: the signer process's sandbox (see sandbox.h).
 *
 * A hand-written classic BPF filter (seccomp(2), "SECCOMP_SET_MODE_FILTER")
 * rather than libseccomp: the list is short and this way it is all here.
 * It checks the architecture first (a 32-bit syscall ABI would renumber
 * everything), then allows a fixed list and kills the process for the
 * rest; the network process sees the socket close, logs how the signer
 * died and starts a new one. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include "sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

int estd_sandbox_filtered(void)
{
#ifdef SANDBOX_ARCH
    return 1;
#else
    return 0;
#endif
}

#ifdef SANDBOX_ARCH
/* What signing and answering on open sockets needs, with glibc, OpenSSL
 * and (in test builds) ASan's allocator. */
static const int allowed_always[] = {
    __NR_read, __NR_write, __NR_readv, __NR_writev, __NR_recvfrom, __NR_sendto,
    __NR_recvmsg, __NR_sendmsg, __NR_close, __NR_ppoll,
#ifdef __NR_poll
    __NR_poll,
#endif
    __NR_brk, __NR_mmap, __NR_munmap, __NR_mremap, __NR_mprotect, __NR_madvise,
    __NR_futex, __NR_getrandom, __NR_clock_gettime, __NR_gettimeofday, __NR_nanosleep,
    __NR_clock_nanosleep, __NR_sched_yield, __NR_getpid, __NR_gettid, __NR_getppid,
    __NR_rt_sigreturn, __NR_rt_sigprocmask, __NR_sigaltstack, __NR_restart_syscall,
    __NR_exit, __NR_exit_group, __NR_fstat, __NR_newfstatat, __NR_tgkill, __NR_rt_sigaction,
    __NR_set_robust_list, __NR_rseq, __NR_sched_getaffinity,
};
/* PKCS#11 modules that keep their token in files (SoftHSM) open, lock and
 * read them while logged in. */
static const int allowed_files[] = {
    __NR_openat, __NR_lseek, __NR_fcntl, __NR_flock, __NR_pread64, __NR_pwrite64,
    __NR_getdents64, __NR_statx, __NR_faccessat, __NR_readlinkat, __NR_fsync,
    __NR_ftruncate, __NR_unlinkat, __NR_mkdirat, __NR_renameat,
#ifdef __NR_access
    __NR_access,
#endif
#ifdef __NR_open
    __NR_open, __NR_stat, __NR_lstat, __NR_unlink, __NR_mkdir, __NR_rename, __NR_readlink,
#endif
    __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid, __NR_uname,
};

/* Refused with EACCES rather than killed: libraries that log to syslog on
 * an error (SoftHSM does) must see the socket fail, not take the signer
 * down with them. Still no socket of any kind. */
static const int refused[] = {__NR_socket, __NR_connect};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FILTER_MAX \
    (4 + 2 * (COUNT(allowed_always) + COUNT(allowed_files) + COUNT(refused)) + 2)

static size_t add_rule(struct sock_filter *f, size_t n, const int *list, size_t count,
                       unsigned action)
{
    for (size_t i = 0; i < count; i++) {
        struct sock_filter jeq = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)list[i], 0, 1);
        struct sock_filter ok = BPF_STMT(BPF_RET | BPF_K, action);
        f[n++] = jeq;
        f[n++] = ok;
    }
    return n;
}

static est_status filter_install(int allow_files, est_error *err)
{
    struct sock_filter f[FILTER_MAX];
    struct sock_fprog prog;
    size_t n = 0;
    struct sock_filter head[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    };
    struct sock_filter kill = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);

    memcpy(f, head, sizeof head);
    n = COUNT(head);
    n = add_rule(f, n, allowed_always, COUNT(allowed_always), SECCOMP_RET_ALLOW);
    n = add_rule(f, n, refused, COUNT(refused), SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA));
    if (allow_files)
        n = add_rule(f, n, allowed_files, COUNT(allowed_files), SECCOMP_RET_ALLOW);
    f[n++] = kill;
    prog.len = (unsigned short)n;
    prog.filter = f;
    /* TSYNC: the threads already started get the filter too. */
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
        return est_error_set(err, EST_E_INTERNAL, "seccomp: %s", strerror(errno));
    return EST_OK;
}
#endif

est_status estd_sandbox_apply(int allow_files, est_error *err)
{
    struct rlimit none = {0, 0};

    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return est_error_set(err, EST_E_INTERNAL, "prctl: %s", strerror(errno));
    /* Belt and braces (not dumpable already means no core): estd.service's
     * SystemCallFilter=~@resources makes setrlimit() fail, which is fine. */
    (void)setrlimit(RLIMIT_CORE, &none);
#ifdef SANDBOX_ARCH
    return filter_install(allow_files, err);
#else
    (void)allow_files;
    return est_error_set(err, EST_E_UNSUPPORTED, "no seccomp filter for this architecture");
#endif
}
