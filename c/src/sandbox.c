/*
 * sandbox.c - confine a process before it loads a student's allocator.
 *
 * A seccomp filter (libseccomp) over everything the process does from here on,
 * constructors of the library it loads next included: the calls that would let
 * the code act beyond its own address space are denied. The filter allows the
 * rest, since the engine, the C library and the Python process around it need
 * memory, reads and their own pipe; what it denies is listed, with the words a
 * diagnosis uses, in one table. Reads stay open (dlopen reads the library and
 * the C library its files); nothing read can leave: no network, no file
 * written, and the caller points stdout and stderr at /dev/null.
 *
 * A denied call raises SIGSYS (SCMP_ACT_TRAP); the handler stores the call's
 * number in the caller's shared word and dies of the same signal, so the parent
 * learns both that and what. An allocator that installs its own SIGSYS handler
 * only hides the name: the denied call still does not happen.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mallocsim.h"

typedef struct {
    const char *name;   /* the call, as libseccomp resolves it */
    const char *action; /* what a student's code tried, for a diagnosis */
} denied_call;

/* Denied outright. A name the kernel or libseccomp does not know is skipped. */
static const denied_call DENIED[] = {
    {"fork", "start a process"},
    {"vfork", "start a process"},
    {"clone", "start a process or thread"},
    {"clone3", "start a process or thread"},
    {"execve", "run a program"},
    {"execveat", "run a program"},
    {"socket", "use the network"},
    {"socketpair", "use the network"},
    {"connect", "use the network"},
    {"bind", "use the network"},
    {"creat", "create a file"},
    {"unlink", "delete a file"},
    {"unlinkat", "delete a file"},
    {"rename", "rename a file"},
    {"renameat", "rename a file"},
    {"renameat2", "rename a file"},
    {"mkdir", "create a folder"},
    {"mkdirat", "create a folder"},
    {"rmdir", "delete a folder"},
    {"link", "link a file"},
    {"linkat", "link a file"},
    {"symlink", "link a file"},
    {"symlinkat", "link a file"},
    {"chmod", "change a file's permissions"},
    {"fchmod", "change a file's permissions"},
    {"fchmodat", "change a file's permissions"},
    {"chown", "change a file's owner"},
    {"fchown", "change a file's owner"},
    {"lchown", "change a file's owner"},
    {"fchownat", "change a file's owner"},
    {"truncate", "truncate a file"},
    {"ftruncate", "truncate a file"},
    {"mknod", "create a device"},
    {"mknodat", "create a device"},
    {"utimensat", "change a file's times"},
    {"setxattr", "change a file's attributes"},
    {"ptrace", "trace a process"},
    {"process_vm_readv", "read another process"},
    {"process_vm_writev", "write another process"},
    {"mount", "change the system"},
    {"umount2", "change the system"},
    {"pivot_root", "change the system"},
    {"chroot", "change the system"},
    {"unshare", "change the system"},
    {"setns", "change the system"},
    {"reboot", "change the system"},
    {"init_module", "change the system"},
    {"finit_module", "change the system"},
    {"delete_module", "change the system"},
    {"kexec_load", "change the system"},
    {"bpf", "change the system"},
    {"perf_event_open", "change the system"},
    {"userfaultfd", "change the system"},
    {"settimeofday", "change the system"},
    {"clock_settime", "change the system"},
    {"sethostname", "change the system"},
    {"pidfd_send_signal", "signal another process"},
    {"rt_sigqueueinfo", "signal another process"},
    {"rt_tgsigqueueinfo", "signal another process"},
};

/* Denied by the seal (ms_sandbox_seal_memory), once the library is loaded: memory from the
   kernel. brk is denied too, but for brk(0), which only asks where the break is. */
static const denied_call SEALED[] = {
    {"mmap", "take memory from the kernel"},         {"mremap", "take memory from the kernel"},
    {"shmget", "take memory from the kernel"},       {"shmat", "take memory from the kernel"},
    {"memfd_create", "take memory from the kernel"},
};
static const char *const BRK_ACTION = "take memory from the kernel";

/* open and openat with any of these flags: a file created, written or changed. */
static const int WRITE_FLAGS[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};

static volatile uint64_t *denied_word;

static void on_denied(int sig, siginfo_t *info, void *context) {
    (void)context;
    if (denied_word != NULL)
        *denied_word = (uint64_t)info->si_syscall + 1;
    signal(sig, SIG_DFL); /* async-signal-safe; then die of it */
    raise(sig);
}

static bool fail(ms_error *err, const char *what, int code) {
    snprintf(err->message, sizeof err->message, "the sandbox could not be set up: %s: %s", what,
             strerror(code < 0 ? -code : code));
    return false;
}

static int add_rules(scmp_filter_ctx ctx) {
    int rc = 0;
    for (size_t i = 0; i < sizeof DENIED / sizeof DENIED[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(DENIED[i].name);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, call, 0);
    }
    for (size_t i = 0; i < sizeof WRITE_FLAGS / sizeof WRITE_FLAGS[0] && rc == 0; i++) {
        scmp_datum_t flag = (scmp_datum_t)WRITE_FLAGS[i];
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, flag, flag));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(openat), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, flag, flag));
    }
    /* openat2 takes its flags in a struct the filter cannot read: refused. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(openat2), 0);
    /* Signals to this process alone (abort() raises SIGABRT at itself). */
    scmp_datum_t self = (scmp_datum_t)getpid();
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_NE, self));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(tkill), 1, SCMP_A0(SCMP_CMP_NE, self));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_NE, self));
    return rc;
}

bool ms_sandbox_enter(uint64_t *denied, ms_error *err) {
    memset(err, 0, sizeof *err);
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        return fail(err, "RLIMIT_CORE", errno);
    if (setrlimit(RLIMIT_FSIZE, &none) != 0) /* no file grows, whatever is open */
        return fail(err, "RLIMIT_FSIZE", errno);
    denied_word = denied;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_denied;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSYS, &action, NULL) != 0)
        return fail(err, "SIGSYS handler", errno);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(err, "no_new_privs", errno);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, "seccomp_init", ENOMEM);
    int rc = add_rules(ctx);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc == 0 ? true : fail(err, "seccomp", rc);
}

bool ms_sandbox_seal_memory(ms_error *err) {
    memset(err, 0, sizeof *err);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, "seccomp_init", ENOMEM);
    int rc = 0;
    for (size_t i = 0; i < sizeof SEALED / sizeof SEALED[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(SEALED[i].name);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, call, 0);
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(brk), 1, SCMP_A0(SCMP_CMP_NE, 0));
    if (rc == 0)
        rc = seccomp_load(ctx); /* stacked on the first filter: both apply */
    seccomp_release(ctx);
    return rc == 0 ? true : fail(err, "seccomp (memory)", rc);
}

static const char *action_of(int call) {
    for (size_t i = 0; i < sizeof DENIED / sizeof DENIED[0]; i++)
        if (seccomp_syscall_resolve_name(DENIED[i].name) == call)
            return DENIED[i].action;
    for (size_t i = 0; i < sizeof SEALED / sizeof SEALED[0]; i++)
        if (seccomp_syscall_resolve_name(SEALED[i].name) == call)
            return SEALED[i].action;
    if (call == SCMP_SYS(brk))
        return BRK_ACTION;
    if (call == SCMP_SYS(open) || call == SCMP_SYS(openat) || call == SCMP_SYS(openat2))
        return "create or write a file";
    if (call == SCMP_SYS(kill) || call == SCMP_SYS(tkill) || call == SCMP_SYS(tgkill))
        return "signal another process";
    return "make a system call the sandbox denies";
}

const char *ms_sandbox_denied_action(uint64_t call) {
    static char text[160];
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)call);
    snprintf(text, sizeof text, "%s (%s)", action_of((int)call), name ? name : "?");
    free(name);
    return text;
}
