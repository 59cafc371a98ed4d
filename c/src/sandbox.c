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
 * Every confined process also gives up every capability it has (the grader may
 * run as root) but reading past file permissions, which Landlock bounds: without
 * them the calls that change the machine (fanotify, the clock, the domain name,
 * real-time priority, a terminal's hang-up) fail for lack of privilege, whatever
 * the filter knows. Uid 0 without capabilities
 * still owns root's processes and IPC objects, so the filter also keeps every
 * call that names a process to this one (pid 0), and denies SysV and POSIX IPC,
 * which would carry what one run saw to the next (a -m32 retry, a later grade).
 *
 * A call numbered past every call libseccomp names (one a newer kernel added) is
 * denied by a stacked BPF filter of its own (deny_newer_calls), so that the table
 * need not know it; so is a call through another ABI than the process's own.
 *
 * A denied call raises SIGSYS (SCMP_ACT_TRAP); the handler stores the call's
 * number in the caller's shared word and dies of the same signal, so the parent
 * learns both that and what. An allocator that installs its own SIGSYS handler
 * only hides the name: the denied call still does not happen.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mallocsim.h"

/* What a denied call reaches: the instruction count's confinement (ms_sandbox_confine_count)
   leaves processes and pipes to valgrind (it starts its tool and runs its scheduler's lock through
   a pipe) and paths to Landlock, and denies the rest; it lets the count take a root of its own
   (REACH_ROOT: ms_sandbox_take_root) until its seal of reads denies that too. */
enum reach { REACH_PROCESS, REACH_PATH, REACH_PIPE, REACH_ROOT, REACH_ELSE };

typedef struct {
    const char *name;   /* the call, as libseccomp resolves it */
    const char *action; /* what a student's code tried, for a diagnosis */
    enum reach reach;
} denied_call;

static const char *const LOCK_ACTION = "lock, lease or watch a file";

/* Denied outright. A name the kernel or libseccomp does not know is skipped. */
static const denied_call DENIED[] = {
    {"fork", "start a process", REACH_PROCESS},
    {"vfork", "start a process", REACH_PROCESS},
    {"clone", "start a process or thread", REACH_PROCESS},
    {"clone3", "start a process or thread", REACH_PROCESS},
    {"execve", "run a program", REACH_PROCESS},
    {"execveat", "run a program", REACH_PROCESS},
    /* The agent dies with its grader, and every process of a count with the process group the
       grader starts it in (instructions.py): a count's child that left by setsid outlived the
       grade, writing; an agent that did, with its death undone, spun through the next students'
       timed passes (red-team pass 11: a classmate's 68 fell to 48, cached). */
    {"setsid", "leave the grader's process group", REACH_ELSE},
    {"setpgid", "leave the grader's process group", REACH_ELSE},
    {"socket", "use the network", REACH_ELSE},
    {"socketpair", "use the network", REACH_ELSE},
    {"connect", "use the network", REACH_ELSE},
    {"bind", "use the network", REACH_ELSE},
    {"socketcall", "use the network", REACH_ELSE}, /* the i386 ABI's socket calls, multiplexed */
    {"creat", "create a file", REACH_PATH},
    {"unlink", "delete a file", REACH_PATH},
    {"unlinkat", "delete a file", REACH_PATH},
    {"rename", "rename a file", REACH_PATH},
    {"renameat", "rename a file", REACH_PATH},
    {"renameat2", "rename a file", REACH_PATH},
    {"mkdir", "create a folder", REACH_PATH},
    {"mkdirat", "create a folder", REACH_PATH},
    {"rmdir", "delete a folder", REACH_PATH},
    {"link", "link a file", REACH_PATH},
    {"linkat", "link a file", REACH_PATH},
    {"symlink", "link a file", REACH_PATH},
    {"symlinkat", "link a file", REACH_PATH},
    {"chmod", "change a file's permissions", REACH_ELSE},
    {"fchmod", "change a file's permissions", REACH_ELSE},
    {"fchmodat", "change a file's permissions", REACH_ELSE},
    {"chown", "change a file's owner", REACH_ELSE},
    {"chown32", "change a file's owner", REACH_ELSE}, /* the 32-bit calls of a -m32 build */
    {"fchown32", "change a file's owner", REACH_ELSE},
    {"lchown32", "change a file's owner", REACH_ELSE},
    {"fchown", "change a file's owner", REACH_ELSE},
    {"lchown", "change a file's owner", REACH_ELSE},
    {"fchownat", "change a file's owner", REACH_ELSE},
    {"truncate", "truncate a file", REACH_PATH},
    {"ftruncate", "truncate a file", REACH_PATH},
    {"truncate64", "truncate a file", REACH_PATH},
    {"ftruncate64", "truncate a file", REACH_PATH},
    {"mknod", "create a device", REACH_PATH},
    {"mknodat", "create a device", REACH_PATH},
    /* The agent runs as the grader's user: as root it owns root's files, and every call that
       changes a file's mode, times or attributes would reach them (red-team pass 10: a
       submission made two files setuid and world-writable by fchmodat2, and made msagent
       unexecutable, which graded every student after it 0). */
    {"fchmodat2", "change a file's permissions", REACH_ELSE},
    {"utimensat", "change a file's times", REACH_ELSE},
    {"utimensat_time64", "change a file's times", REACH_ELSE},
    {"utimes", "change a file's times", REACH_ELSE},
    {"utime", "change a file's times", REACH_ELSE},
    {"futimesat", "change a file's times", REACH_ELSE},
    {"setxattr", "change a file's attributes", REACH_ELSE},
    {"lsetxattr", "change a file's attributes", REACH_ELSE},
    {"fsetxattr", "change a file's attributes", REACH_ELSE},
    {"setxattrat", "change a file's attributes", REACH_ELSE},
    {"removexattr", "change a file's attributes", REACH_ELSE},
    {"lremovexattr", "change a file's attributes", REACH_ELSE},
    {"fremovexattr", "change a file's attributes", REACH_ELSE},
    {"removexattrat", "change a file's attributes", REACH_ELSE},
    {"file_setattr", "change a file's attributes", REACH_ELSE},
    {"ptrace", "trace a process", REACH_ELSE},
    /* io_uring does file operations (create, rename, unlink) of its own, past every rule here */
    {"io_uring_setup", "use io_uring", REACH_ELSE},
    {"io_uring_enter", "use io_uring", REACH_ELSE},
    {"io_uring_register", "use io_uring", REACH_ELSE},
    /* AIO's rings are memory the kernel maps in, read-write, past the memory seal: 8 MiB of
       headers and lists off the heap raised a CMU grade's utilization by 3.6 points (red-team
       pass 10); and while they are held no other process on the machine gets any. */
    {"io_setup", "use asynchronous I/O", REACH_ELSE},
    {"io_submit", "use asynchronous I/O", REACH_ELSE},
    {"io_getevents", "use asynchronous I/O", REACH_ELSE},
    {"io_pgetevents", "use asynchronous I/O", REACH_ELSE},
    {"io_cancel", "use asynchronous I/O", REACH_ELSE},
    {"io_destroy", "use asynchronous I/O", REACH_ELSE},
    /* Storage outside the heap that no memory watch sees: a pipe holds what is written into it
       (146 MB in 20,000 of them, red-team pass 11), the LDT 64 KiB; memory the kernel maps. */
    {"pipe", "keep data in the kernel", REACH_PIPE},
    {"pipe2", "keep data in the kernel", REACH_PIPE},
    {"modify_ldt", "keep data in the kernel", REACH_ELSE},
    /* Kernel objects that hold a program's bytes past the memory seal: an eventfd's counter, a
       timer's interval, an epoll entry's user data; 20,000 eventfds held a CMU file's 64 list
       heads out of the global-data rule (49.6 -> 60.0, red-team pass 20). */
    {"eventfd", "keep data in the kernel", REACH_ELSE},
    {"eventfd2", "keep data in the kernel", REACH_ELSE},
    {"timer_create", "keep data in the kernel", REACH_ELSE},
    {"timerfd_create", "keep data in the kernel", REACH_ELSE},
    {"signalfd", "keep data in the kernel", REACH_ELSE},
    {"signalfd4", "keep data in the kernel", REACH_ELSE},
    {"epoll_create", "keep data in the kernel", REACH_ELSE},
    {"epoll_create1", "keep data in the kernel", REACH_ELSE},
    /* The page cache outlives the process: pages of readable files evicted or read, one bit
       each, carried a trace the x86-64 build saw whole in its timed passes to the -m32 build
       graded next, which read them back by mincore (red-team pass 12); a student graded
       earlier could pass one to a later one so. Reading a page's time stays (left: sandbox.md). */
    {"mincore", "watch the page cache", REACH_ELSE},
    {"cachestat", "watch the page cache", REACH_ELSE},
    {"fadvise64", "steer the page cache", REACH_ELSE},
    {"fadvise64_64", "steer the page cache", REACH_ELSE},
    {"readahead", "steer the page cache", REACH_ELSE},
    {"memfd_secret", "take memory from the kernel", REACH_ELSE},
    {"map_shadow_stack", "take memory from the kernel", REACH_ELSE},
    {"pidfd_open", "reach another process", REACH_ELSE},
    {"pidfd_getfd", "reach another process", REACH_ELSE},
    {"open_by_handle_at", "open a file by its handle", REACH_ELSE},
    /* A lock lives in the kernel while its file is open, and other processes see it: two open
       descriptions of one file kept an allocator's list heads as locks it read back, past the
       global-data rule, and a lock on a file any process opens is seen outside the sandbox
       (red-team pass 35). fcntl's lock commands are denied below (deny_file_locks). */
    {"flock", LOCK_ACTION, REACH_ELSE},
    {"iopl", "change the system", REACH_ELSE},
    {"ioperm", "change the system", REACH_ELSE},
    {"keyctl", "change the system", REACH_ELSE},
    {"add_key", "change the system", REACH_ELSE},
    {"request_key", "change the system", REACH_ELSE},
    {"syslog", "change the system", REACH_ELSE},
    {"swapon", "change the system", REACH_ELSE},
    {"swapoff", "change the system", REACH_ELSE},
    {"settimeofday", "change the system", REACH_ELSE},
    {"acct", "change the system", REACH_ELSE},
    {"process_vm_readv", "read another process", REACH_ELSE},
    {"process_vm_writev", "write another process", REACH_ELSE},
    {"mount", "change the system", REACH_ELSE},
    {"umount2", "change the system", REACH_ELSE},
    {"pivot_root", "change the system", REACH_ELSE},
    {"chroot", "change the system", REACH_ROOT},
    {"unshare", "change the system", REACH_ROOT},
    {"setns", "change the system", REACH_ELSE},
    {"reboot", "change the system", REACH_ELSE},
    {"init_module", "change the system", REACH_ELSE},
    {"finit_module", "change the system", REACH_ELSE},
    {"delete_module", "change the system", REACH_ELSE},
    {"kexec_load", "change the system", REACH_ELSE},
    {"bpf", "change the system", REACH_ELSE},
    {"perf_event_open", "change the system", REACH_ELSE},
    {"userfaultfd", "change the system", REACH_ELSE},
    {"settimeofday", "change the system", REACH_ELSE},
    {"clock_settime", "change the system", REACH_ELSE},
    {"sethostname", "change the system", REACH_ELSE},
    {"pidfd_send_signal", "signal another process", REACH_ELSE},
    {"rt_sigqueueinfo", "signal another process", REACH_ELSE},
    {"rt_tgsigqueueinfo", "signal another process", REACH_ELSE},
    /* IPC objects outlive the process, and root's are anybody's with uid 0: a message queue
       carried the checked pass's requests to the -m32 build graded next (red-team pass 8). */
    {"msgget", "use IPC objects", REACH_ELSE},
    {"msgsnd", "use IPC objects", REACH_ELSE},
    {"msgrcv", "use IPC objects", REACH_ELSE},
    {"msgctl", "use IPC objects", REACH_ELSE},
    {"semget", "use IPC objects", REACH_ELSE},
    {"semop", "use IPC objects", REACH_ELSE},
    {"semtimedop", "use IPC objects", REACH_ELSE},
    {"semctl", "use IPC objects", REACH_ELSE},
    {"shmget", "use IPC objects", REACH_ELSE},
    {"shmat", "use IPC objects", REACH_ELSE},
    {"shmctl", "use IPC objects", REACH_ELSE},
    {"shmdt", "use IPC objects", REACH_ELSE},
    {"ipc", "use IPC objects", REACH_ELSE}, /* the i386 ABI's SysV calls, multiplexed */
    {"mq_open", "use IPC objects", REACH_ELSE},
    {"mq_unlink", "use IPC objects", REACH_ELSE},
    {"mq_timedsend", "use IPC objects", REACH_ELSE},
    {"mq_timedreceive", "use IPC objects", REACH_ELSE},
    {"mq_notify", "use IPC objects", REACH_ELSE},
    {"mq_getsetattr", "use IPC objects", REACH_ELSE},
    /* Watching other processes' files: fanotify refused every open of a file on the machine
       while a grade ran (with root's capabilities; denied here either way). */
    {"fanotify_init", "watch the file system", REACH_ELSE},
    {"fanotify_mark", "watch the file system", REACH_ELSE},
    {"inotify_init", "watch the file system", REACH_ELSE},
    {"inotify_init1", "watch the file system", REACH_ELSE},
    {"inotify_add_watch", "watch the file system", REACH_ELSE},
    {"vhangup", "change the system", REACH_ELSE},
    {"clock_adjtime", "change the system", REACH_ELSE},
    {"adjtimex", "change the system", REACH_ELSE},
    {"setdomainname", "change the system", REACH_ELSE},
    {"fsopen", "change the system", REACH_ELSE},
    {"fsconfig", "change the system", REACH_ELSE},
    {"fsmount", "change the system", REACH_ELSE},
    {"fspick", "change the system", REACH_ELSE},
    {"move_mount", "change the system", REACH_ELSE},
    {"open_tree", "change the system", REACH_ELSE},
    {"mount_setattr", "change the system", REACH_ELSE},
    {"quotactl", "change the system", REACH_ELSE},
    {"kcmp", "reach another process", REACH_ELSE},
    {"process_madvise", "reach another process", REACH_ELSE},
    {"process_mrelease", "reach another process", REACH_ELSE},
};

/* A call numbered past every call libseccomp names is newer than this filter (fchmodat2 came
   with Linux 6.6; each release adds some): denied, whatever it does (deny_newer_calls). Numbers
   are looked for below CALL_NUMBERS. */
enum { CALL_NUMBERS = 1024 };
static const char *const NEWER_ACTION = "make a system call newer than the sandbox knows";

/* ioctl requests that change a file's flags (append-only, no-dump...) or its extended attributes
   on a descriptor: the owner of a file may, and the agent as root owns root's. */
static const unsigned long FILE_FLAG_REQUESTS[] = {
    0x40086602, /* FS_IOC_SETFLAGS */
    0x40046602, /* FS_IOC32_SETFLAGS (a -m32 build's) */
    0x401c5820, /* FS_IOC_FSSETXATTR */
    0x40087602, /* FS_IOC_SETVERSION */
    0x40047602, /* FS_IOC32_SETVERSION */
};
/* The kernel reads an int argument (prctl's option, ioctl's request) from the register's low 32
   bits; a rule compares all 64, so it compares these bits alone, or 1 << 32 | the value passes
   it (red-team pass 11: PR_SET_PDEATHSIG undone, file flags set). */
static const scmp_datum_t INT_BITS = 0xffffffff;
static const char *const FILE_FLAG_ACTION = "change a file's attributes";

/* Calls that act on a process (or group, or user) an argument names: allowed on this process
   only, which argument `arg` names as 0, and denied when it is anything else. prlimit64 set a
   classmate's grader's limits (RLIMIT_FSIZE 0 stopped a class run); setpriority,
   sched_setaffinity reached any process of the same uid. A call whose process is in another
   argument as well (setpriority's `which`) is listed once per argument. */
typedef struct {
    const char *name;
    unsigned arg;
} own_process_call;

static const own_process_call OWN_PROCESS_ONLY[] = {
    {"prlimit64", 0},      {"sched_setaffinity", 0}, {"sched_setscheduler", 0},
    {"sched_setparam", 0}, {"sched_setattr", 0},     {"migrate_pages", 0},
    {"move_pages", 0},     {"setpriority", 0},       {"setpriority", 1},
    {"ioprio_set", 0},     {"ioprio_set", 1},
};
static const char *const OWN_PROCESS_ACTION = "act on another process";

/* Denied by the seal (ms_sandbox_seal), once the library is loaded: memory from the
   kernel. brk is denied too, but for brk(0), which only asks where the break is. */
static const denied_call SEALED[] = {
    {"mmap", "take memory from the kernel", REACH_ELSE},
    {"mmap2", "take memory from the kernel", REACH_ELSE}, /* a 32-bit build's mmap */
    {"mremap", "take memory from the kernel", REACH_ELSE},
    {"memfd_create", "take memory from the kernel", REACH_ELSE},
    /* A file mapped before the seal, mapped again here, has its access time set as a read does
       (see SEALED_READS). */
    {"remap_file_pages", "map a file", REACH_ELSE},
};
/*
 * Refused by the seals (EACCES, as Landlock refuses a file it does not let a process read): a file
 * opened for reading, or a symbolic link read, once the trace is in sight. A read sets a file's
 * access time where it is older than the file's last change or a day old (relatime), a bit any
 * later process reads back by stat: a grade's x86-64 build left a hidden trace's realloc pattern in
 * 24 system files' times for its -m32 build, graded next (45.0 -> 52.5), and one student's grade
 * left it for a classmate's (32.3 -> 67.0: red-team pass 35). The callers close the descriptors
 * the library opened before they seal (remote.c, count_main.c), so these are the ways left to read
 * one. Opens that only write are the first filter's to refuse, or Landlock's.
 */
static const char *const SEALED_READS[] = {"readlink", "readlinkat", "uselib"};
/*
 * Refused by the agent's seal too (EACCES): every call left that walks a path without opening it.
 * The kernel's cache of names looked up and not found is the machine's: a name no one has walked
 * costs the file system a lookup the first time (about 8,000 cycles) and almost nothing after
 * (1,600), so one process sets a bit by a stat of a new name and any later one reads it by timing
 * a stat of that name, with no file opened and no time changed. A hidden trace's first sizes went
 * so from one grade's agent to a later one's, and an agent's answers to its count's constructor
 * (red-team pass 48: 57.4 -> 93.6, confirmed by the clock). A descriptor's own stat needs no walk:
 * fstat, which glibc makes as newfstatat on "" (AT_EMPTY_PATH), fails here, and stdio, its one
 * user in an allocator, then buffers as it does for a pipe; the flag cannot be told from a walk,
 * since with it a path that is not empty is walked all the same. Not the count's: valgrind walks
 * paths as it writes its profiles (its opens for writing walk too, refused by Landlock after).
 */
static const char *const SEALED_WALKS[] = {
    "stat",       "lstat",      "stat64",      "lstat64",          "oldstat",   "oldlstat",
    "newfstatat", "fstatat64",  "statx",       "access",           "faccessat", "faccessat2",
    "chdir",      "statfs",     "statfs64",    "getxattr",         "lgetxattr", "listxattr",
    "llistxattr", "getxattrat", "listxattrat", "name_to_handle_at"};
static const char *const OPEN_CALLS[] = {"open", "openat"};
/* The access modes that read: whatever else the flags say. An open of an existing file with
   O_RDONLY | O_CREAT creates nothing, and Landlock then checks only the read: the count, whose
   first filter lets valgrind create its profiles, read a stale system file so (red-team pass 46),
   and an O_RDWR file of its own folder stood in for the traces' socket. valgrind writes its
   profiles O_WRONLY; mode 3 is the first filter's to kill. */
static const scmp_datum_t READING_MODES[] = {O_RDONLY, O_RDWR};

/* `action` for each call of `names` (count of them) libseccomp knows, whatever its arguments. 0,
   or libseccomp's error. */
static int deny_named(scmp_filter_ctx ctx, uint32_t action, const char *const *names,
                      size_t count) {
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(names[i]);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, action, call, 0);
    }
    return rc;
}

/* Refuse, with EACCES, what SEALED_READS says: open and openat in a mode that reads (their flags
   are their second and third argument), and the calls listed. */
static int deny_reads(scmp_filter_ctx ctx) {
    int rc = 0;
    for (size_t i = 0; i < sizeof OPEN_CALLS / sizeof OPEN_CALLS[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(OPEN_CALLS[i]);
        for (size_t m = 0; m < sizeof READING_MODES / sizeof READING_MODES[0] && rc == 0; m++) {
            struct scmp_arg_cmp flags =
                i == 0 ? SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, READING_MODES[m])
                       : SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, READING_MODES[m]);
            if (call != __NR_SCMP_ERROR)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), call, 1, flags);
        }
    }
    return rc == 0 ? deny_named(ctx, SCMP_ACT_ERRNO(EACCES), SEALED_READS,
                                sizeof SEALED_READS / sizeof SEALED_READS[0])
                   : rc;
}
static const char *const BRK_ACTION = "take memory from the kernel";
/* madvise with advice that gives pages back: MADV_REMOVE on the shared heap punches its pages out
   of the grader's file (memory a timed pass used past the checked heap, given back before the
   grader looks, would not count: remote.c, mem_share_used_past); the others make a private page
   read back as zeros, read-only or not (the watch's table, made read-only, was given back so, its
   count 0: red-team pass 45). No allocator needs them. MADV_DONTNEED stays allowed: the engine's
   own private heap is reset by it (memlib.c's mem_reset, which the CS:APP handout's mem_reset_brk
   reaches), and what it gives back of watched memory reads as not the pattern (data_tail.c). The
   advice is an int (INT_BITS: 1 << 32 | MADV_REMOVE passed a whole-word rule, red-team pass 23). */
static const char *const REMOVE_ACTION = "give memory pages back";
static const int GIVE_BACK_ADVICE[] = {MADV_REMOVE, MADV_FREE, MADV_WIPEONFORK,
                                       MADV_DONTNEED_LOCKED};
/* mprotect and pkey_mprotect are denied by the seal when they would make memory writable: a
   `const` array in the library's read-only data would be storage no global-data rule counts. */
static const char *const WRITABLE_ACTION = "make read-only memory writable";
static const char *const PROTECT_CALLS[] = {"mprotect", "pkey_mprotect"};

/* Refused in the count once its reads are sealed (count_seal_rules). */
static const char *const COUNT_SEALED[] = {"memfd_create", "mremap", "chroot", "unshare"};

/* open and openat with any of these flags: a file created, written or changed. */
static const int WRITE_FLAGS[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};

static volatile uint64_t *denied_word;

/* This build's ABI (the grader, decoding a 32-bit agent's word, is not of it), and the word's
   bit that says a call came through another (int 0x80 from 64-bit code; x32's numbers). */
#if defined(__x86_64__)
#define OWN_ABI AUDIT_ARCH_X86_64
#else
#define OWN_ABI AUDIT_ARCH_I386
#endif
static const uint32_t FOREIGN_ABI = UINT32_C(1) << 31, X32_CALL = 0x40000000;

static void on_denied(int sig, siginfo_t *info, void *context) {
    (void)context;
    if (denied_word != NULL)
        *denied_word = (uint64_t)info->si_arch << 32 |
                       (info->si_arch != OWN_ABI ? FOREIGN_ABI : 0) |
                       (uint32_t)(info->si_syscall + 1);
    signal(sig, SIG_DFL); /* async-signal-safe; then die of it */
    raise(sig);
}

static bool fail(ms_error *err, const char *what, int code) {
    snprintf(err->message, sizeof err->message, "the sandbox could not be set up: %s: %s", what,
             strerror(code < 0 ? -code : code));
    return false;
}

/* Deny, with `action`, every call of `table` the kernel and libseccomp know; with `only_else`,
   only those that reach neither processes nor paths. 0, or libseccomp's error. */
static int deny_calls(scmp_filter_ctx ctx, const denied_call *table, size_t count, uint32_t action,
                      bool only_else) {
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(table[i].name);
        if (call != __NR_SCMP_ERROR && (!only_else || table[i].reach == REACH_ELSE))
            rc = seccomp_rule_add(ctx, action, call, 0);
    }
    return rc;
}

/* Deny, with `action`, the ioctl requests that change a file's flags. */
static int deny_file_flags(scmp_filter_ctx ctx, uint32_t action) {
    int rc = 0;
    for (size_t i = 0; i < sizeof FILE_FLAG_REQUESTS / sizeof FILE_FLAG_REQUESTS[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, action, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, INT_BITS, FILE_FLAG_REQUESTS[i]));
    return rc;
}

/* fcntl's commands that leave a mark on a file another process sees: record locks F_GETLK,
   F_SETLK, F_SETLKW (5-7), the 32-bit ABI's F_GETLK64, F_SETLK64, F_SETLKW64 (12-14) and the open
   file description locks F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW (36-38); leases F_SETLEASE,
   F_GETLEASE (1024, 1025: a lease on a file the counted pass could open, seen in /proc/locks and
   by another process's open, red-team pass 36); F_NOTIFY (1026, a folder watched). On any
   descriptor (see flock, in DENIED). No allocator does these, nor do the C library or valgrind on
   its behalf. */
static const scmp_datum_t LOCK_COMMANDS[] = {5, 6, 7, 12, 13, 14, 36, 37, 38, 1024, 1025, 1026};
static const char *const FCNTL_CALLS[] = {"fcntl", "fcntl64"};

/* Deny, with `action`, fcntl's lock commands. */
static int deny_file_locks(scmp_filter_ctx ctx, uint32_t action) {
    int rc = 0;
    for (size_t c = 0; c < sizeof FCNTL_CALLS / sizeof FCNTL_CALLS[0] && rc == 0; c++) {
        int call = seccomp_syscall_resolve_name(FCNTL_CALLS[c]);
        for (size_t i = 0; call != __NR_SCMP_ERROR &&
                           i < sizeof LOCK_COMMANDS / sizeof LOCK_COMMANDS[0] && rc == 0;
             i++)
            rc = seccomp_rule_add(ctx, action, call, 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, INT_BITS, LOCK_COMMANDS[i]));
    }
    return rc;
}

/* Deny, with `action`, open and openat with `flag` among their flags. */
static int deny_open_flag(scmp_filter_ctx ctx, uint32_t action, scmp_datum_t flag) {
    int rc =
        seccomp_rule_add(ctx, action, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, action, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, flag, flag));
    return rc;
}

/* The first number past every call libseccomp names in the ABI `arch`. */
static uint32_t first_unnamed_call(uint32_t arch) {
    for (int call = CALL_NUMBERS - 1; call >= 0; call--) {
        char *name = seccomp_syscall_resolve_num_arch(arch, call);
        free(name);
        if (name != NULL)
            return (uint32_t)call + 1;
    }
    return 0;
}

/*
 * A filter of its own, stacked on the others, that answers `action` (SECCOMP_RET_TRAP or
 * SECCOMP_RET_KILL_PROCESS) to every call numbered past those libseccomp names, in x86-64's ABI
 * and in i386's (a -m32 build, valgrind's 32-bit tool). Written in BPF: libseccomp refuses a
 * rule on a number it cannot name in a 32-bit ABI. 0, or -errno.
 */
static int deny_newer_calls(uint32_t action) {
    struct sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first_unnamed_call(SCMP_ARCH_X86_64), 4, 3),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first_unnamed_call(SCMP_ARCH_X86), 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, action),
    };
    struct sock_fprog filter = {sizeof program / sizeof program[0], program};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0) == 0 ? 0 : -errno;
}

/* Deny, with `action`, every signal but this process's to itself (abort() raises SIGABRT at
   itself). */
static int deny_signals_to_others(scmp_filter_ctx ctx, uint32_t action) {
    scmp_datum_t self = (scmp_datum_t)getpid();
    const int calls[] = {SCMP_SYS(kill), SCMP_SYS(tkill), SCMP_SYS(tgkill)};
    int rc = 0;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, action, calls[i], 1, SCMP_A0(SCMP_CMP_NE, self));
    return rc;
}

/* Deny, with `action`, each OWN_PROCESS_ONLY call whose process argument is not 0. */
static int deny_other_processes(scmp_filter_ctx ctx, uint32_t action) {
    int rc = 0;
    size_t count = sizeof OWN_PROCESS_ONLY / sizeof OWN_PROCESS_ONLY[0];
    for (size_t i = 0; i < count && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(OWN_PROCESS_ONLY[i].name);
        struct scmp_arg_cmp named = {OWN_PROCESS_ONLY[i].arg, SCMP_CMP_NE, 0, 0};
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add_array(ctx, action, call, 1, &named);
    }
    return rc;
}

/*
 * Give up every capability but one: the bounding set (when this process may, as root may), the
 * ambient set, and the effective, permitted and inheritable ones. no_new_privs (set by the caller)
 * keeps an exec from gaining any back. Kept, when held: CAP_DAC_READ_SEARCH, so that a grader run
 * as root still reads what it was given in another user's folders (its build cache under a user's
 * home, a submitted library or traces in a folder of mode 700: "Permission denied" and a zero,
 * red-team pass 9); Landlock decides which paths may be read at all, and opening by handle, the
 * other way that capability opens, is denied.
 */
static bool drop_capabilities(ms_error *err) {
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (cap != CAP_DAC_READ_SEARCH && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
            errno != EPERM)
            return fail(err, "dropping capabilities", errno);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail(err, "dropping capabilities", errno);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct held[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, held) != 0)
        return fail(err, "reading capabilities", errno);
    uint32_t kept = held[0].permitted & (UINT32_C(1) << CAP_DAC_READ_SEARCH);
    memset(held, 0, sizeof held);
    held[0].effective = held[0].permitted = kept;
    if (syscall(SYS_capset, &header, held) != 0)
        return fail(err, "dropping capabilities", errno);
    return true;
}

static int add_rules(scmp_filter_ctx ctx) {
    int rc = deny_calls(ctx, DENIED, sizeof DENIED / sizeof DENIED[0], SCMP_ACT_TRAP, false);
    if (rc == 0)
        rc = deny_other_processes(ctx, SCMP_ACT_TRAP);
    if (rc == 0)
        rc = deny_file_flags(ctx, SCMP_ACT_TRAP);
    if (rc == 0)
        rc = deny_file_locks(ctx, SCMP_ACT_TRAP);
    for (size_t i = 0; i < sizeof WRITE_FLAGS / sizeof WRITE_FLAGS[0] && rc == 0; i++)
        rc = deny_open_flag(ctx, SCMP_ACT_TRAP, (scmp_datum_t)WRITE_FLAGS[i]);
    /* openat2 takes its flags in a struct the filter cannot read: refused. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(openat2), 0);
    /* The agent dies with its grader (PR_SET_PDEATHSIG, set before this filter): one that undid
       it outlived a timed-out grade and, with io_uring, wrote over the grade's results. And the
       grader reads its /proc files: an undumpable process's maps only CAP_SYS_PTRACE may read,
       so a grader not run as root saw none of the memory its constructors mapped (red-team
       pass 14). */
    static const int WATCHED[] = {PR_SET_PDEATHSIG, PR_SET_DUMPABLE};
    for (size_t i = 0; i < sizeof WATCHED / sizeof WATCHED[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(prctl), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, INT_BITS, (scmp_datum_t)WATCHED[i]));
    /* The handler that names a denied call is the sandbox's: an allocator that put its own in its
       place (signal(SIGSYS, ...)) tried every call denied to it, each made harmless, and was
       graded as if it had tried none (red-team pass 17). signal and sigaction are the 32-bit
       ABI's older ways to the same (libseccomp leaves them out where the ABI has none). */
    static const char *const HANDLER_CALLS[] = {"rt_sigaction", "sigaction", "signal"};
    for (size_t i = 0; i < sizeof HANDLER_CALLS / sizeof HANDLER_CALLS[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(HANDLER_CALLS[i]);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, call, 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, INT_BITS, (scmp_datum_t)SIGSYS));
    }
    if (rc == 0)
        rc = deny_signals_to_others(ctx, SCMP_ACT_TRAP);
    return rc;
}

/* A mount point as /proc/self/mountinfo writes it (space, tab, newline and backslash as \ooo),
   made a path in place. */
static void unescape_mount_point(char *point) {
    char *to = point;
    for (const char *from = point; *from != '\0'; to++)
        if (from[0] == '\\' && from[1] >= '0' && from[1] <= '3' && from[2] >= '0' &&
            from[2] <= '7' && from[3] >= '0' && from[3] <= '7') {
            *to = (char)((from[1] - '0') * 64 + (from[2] - '0') * 8 + (from[3] - '0'));
            from += 4;
        } else {
            *to = *from++;
        }
    *to = '\0';
}

/* Whether the comma-separated options name `option`. */
static bool has_option(const char *options, const char *option) {
    size_t n = strlen(option);
    for (const char *at = options; (at = strstr(at, option)) != NULL; at += n)
        if ((at == options || at[-1] == ',') && (at[n] == ',' || at[n] == '\0'))
            return true;
    return false;
}

/*
 * No access time changes from here on, in this process and those it starts: a mount namespace of
 * its own, every mount in it remounted noatime (its other flags kept). Any path a process may
 * only look up, not open, it can still walk, and walking a symbolic link sets the link's access
 * time where it is a day old (relatime): one agent stat()ed stale links of /usr by a hidden
 * trace's first sizes, and a classmate's agent read them back with lstat() into its team record,
 * or the same student's -m32 build placed its blocks by them (red-team pass 46: 45.0 -> 52.5). No
 * system-call filter can tell those walks from the ones a process needs (glibc's fstat is a
 * newfstatat, whose path the filter cannot read). Needs CAP_SYS_ADMIN (a grader run as root on
 * its machine; not root in a container that withholds it, as Docker does by default): without it
 * nothing changes, and false is returned.
 */
static bool freeze_access_times(void) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return false;
    FILE *mounts = fopen("/proc/self/mountinfo", "r");
    if (mounts == NULL)
        return false;
    bool root = false;
    char line[4096];
    while (fgets(line, sizeof line, mounts) != NULL) {
        char point[4096], options[1024];
        if (sscanf(line, "%*s %*s %*s %*s %4095s %1023s", point, options) != 2)
            continue;
        unescape_mount_point(point);
        unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOATIME;
        flags |= has_option(options, "ro") ? MS_RDONLY : 0;
        flags |= has_option(options, "nosuid") ? MS_NOSUID : 0;
        flags |= has_option(options, "nodev") ? MS_NODEV : 0;
        flags |= has_option(options, "noexec") ? MS_NOEXEC : 0;
        if (mount(NULL, point, NULL, flags, NULL) == 0 && strcmp(point, "/") == 0)
            root = true;
    }
    fclose(mounts);
    return root;
}

bool ms_sandbox_enter(uint64_t *denied, ms_error *err) {
    memset(err, 0, sizeof *err);
    (void)freeze_access_times(); /* first: it needs the capabilities dropped below */
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
    if (!drop_capabilities(err))
        return false;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, "seccomp_init", ENOMEM);
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP); /* named, not killed */
    if (rc == 0)
        rc = add_rules(ctx);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc == 0)
        rc = deny_newer_calls(SECCOMP_RET_TRAP);
    seccomp_release(ctx);
    return rc == 0 ? true : fail(err, "seccomp", rc);
}

/* ------------------------------------------------------ the instruction count */

/*
 * Landlock, by its system calls (the C library has no wrappers), with the constants of ABI
 * versions newer than these headers. The count runs valgrind, which must start its tool (exec)
 * and fork a child per pass, and writes its profiles at exit: the filter cannot deny processes
 * or file writes there, so Landlock confines the writes to one folder, TCP, and (ABI 6) signals
 * to the processes of the sandbox itself.
 */
#define MS_LANDLOCK_FS_TRUNCATE (1ULL << 14)        /* ABI 3 */
#define MS_LANDLOCK_NET_BIND_TCP (1ULL << 0)        /* ABI 4 */
#define MS_LANDLOCK_NET_CONNECT_TCP (1ULL << 1)     /* ABI 4 */
#define MS_LANDLOCK_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define MS_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)        /* ABI 6 */

typedef struct {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
} landlock_ruleset;

int ms_sandbox_landlock_abi(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? (int)abi : 0;
}

/* Every right that changes the file system, as far as this ABI knows them. */
static uint64_t write_rights(long abi) {
    uint64_t rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                      LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                      LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2)
        rights |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        rights |= MS_LANDLOCK_FS_TRUNCATE;
    return rights;
}

/* Allow `rights` beneath `path` (a folder, or one file with file rights only). */
static bool allow_beneath(int ruleset, const char *path, uint64_t rights) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct landlock_path_beneath_attr rule = {.allowed_access = rights, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    close(fd);
    return rc == 0;
}

/* What every confined process may read and run: the system's programs and libraries. */
static const char *const SYSTEM_READABLE[] = {"/usr",    "/lib", "/lib64", "/lib32",
                                              "/libx32", "/bin", "/sbin",  "/etc/ld.so.cache"};

/* Allow reading (and running) beneath `path`, a folder or one file; true for a path this system
   does not have (/lib64, /opt...). */
static bool allow_reading(int ruleset, const char *path, uint64_t reading) {
    struct stat seen;
    if (stat(path, &seen) != 0)
        return true;
    uint64_t granted =
        S_ISDIR(seen.st_mode) ? reading : LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
    return allow_beneath(ruleset, path, granted);
}

bool ms_sandbox_confine_build(const char *const *readable, size_t count, const char *writable,
                              ms_error *err) {
    memset(err, 0, sizeof *err);
    long abi = ms_sandbox_landlock_abi();
    if (abi < 1) {
        snprintf(err->message, sizeof err->message, "this kernel has no Landlock (%s)",
                 strerror(errno));
        return false;
    }
    uint64_t reading =
        LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE;
    uint64_t rights = reading | write_rights(abi);
    landlock_ruleset attr = {.handled_access_fs = rights};
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) { /* no TCP */
        attr.handled_access_net = MS_LANDLOCK_NET_BIND_TCP | MS_LANDLOCK_NET_CONNECT_TCP;
        size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) { /* no signal, nor abstract socket, outside the sandbox */
        attr.scoped = MS_LANDLOCK_SCOPE_ABSTRACT_UNIX | MS_LANDLOCK_SCOPE_SIGNAL;
        size = sizeof attr;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0)
        return fail(err, "landlock_create_ruleset", errno);
    uint64_t file_rights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                           (abi >= 3 ? MS_LANDLOCK_FS_TRUNCATE : 0);
    /* In the writable folder, regular files only, made, written and removed: a count that made
       3,000 nested folders there ended its grade in a traceback (the clean-up's recursion) and
       left 268 MB behind for good (red-team pass 18); no link, FIFO or device either. */
    uint64_t folder_rights =
        reading | file_rights | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
    bool ok = (writable == NULL || allow_beneath(ruleset, writable, folder_rights)) &&
              allow_beneath(ruleset, "/dev/null", file_rights);
    for (size_t i = 0; ok && i < sizeof SYSTEM_READABLE / sizeof SYSTEM_READABLE[0]; i++)
        ok = allow_reading(ruleset, SYSTEM_READABLE[i], reading);
    for (size_t i = 0; ok && i < count; i++)
        ok = allow_reading(ruleset, readable[i], reading);
    int code = errno;
    if (ok && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        ok = false;
        code = errno;
    }
    if (ok && !drop_capabilities(err)) {
        close(ruleset);
        return false;
    }
    if (ok && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        ok = false;
        code = errno;
    }
    close(ruleset);
    return ok ? true : fail(err, "landlock", code);
}

bool ms_sandbox_confine_agent(const char *library, ms_error *err) {
    /* Its own folder (the engine's libraries) and the library file, found before the rules
       apply: not the library's folder, where its build left mm.c, mm.i and mm.s (the agent read
       a comment of its own source there, holding payload bytes a grade before had seen:
       red-team pass 19). */
    char engine[4096];
    ssize_t length = readlink("/proc/self/exe", engine, sizeof engine - 1);
    engine[length > 0 ? length : 0] = '\0';
    char *engine_end = strrchr(engine, '/');
    /* /proc/self resolves, when the rule is made, to this process's folder: its own maps and
       status stay readable, the grader's /proc/PID not. */
    const char *readable[3] = {"/proc/self", library};
    size_t count = 2;
    if (engine_end != NULL) {
        *engine_end = '\0';
        readable[count++] = engine;
    }
    return ms_sandbox_confine_build(readable, count, NULL, err);
}

/* The largest file the count may write: its profiles and output are kilobytes; a student's code
   that wrote without end filled the disk. */
static const rlim_t COUNT_FILE_BYTES = (rlim_t)256 << 20;

/*
 * Deny, with `action`, the ways a count can take disk space its folder's watch cannot see
 * (instructions.py stops it past COUNT_FOLDER_BYTES or COUNT_FOLDER_FILES): a file opened
 * O_TMPFILE has no name in the folder (a count filled the disk with them, and its classmates'
 * builds and counts failed for a minute: red-team pass 21); fallocate reserves gigabytes between
 * two looks; openat2's flags lie in a struct no rule can read. valgrind uses none of them.
 */
static int deny_unseen_storage(scmp_filter_ctx ctx, uint32_t action) {
    int rc = deny_open_flag(ctx, action, __O_TMPFILE);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, action, SCMP_SYS(fallocate), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, action, SCMP_SYS(openat2), 0);
    return rc;
}

bool ms_sandbox_confine_count(const char *const *readable, size_t count, const char *writable,
                              ms_error *err) {
    memset(err, 0, sizeof *err);
    (void)freeze_access_times();
    long abi = ms_sandbox_landlock_abi();
    if (abi < 1) {
        snprintf(err->message, sizeof err->message,
                 "the sandbox could not be set up: this kernel has no Landlock (%s), which "
                 "confines the instruction count's files; use --throughput time",
                 strerror(errno));
        return false;
    }
    struct rlimit none = {0, 0}, files = {COUNT_FILE_BYTES, COUNT_FILE_BYTES};
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        return fail(err, "RLIMIT_CORE", errno);
    if (setrlimit(RLIMIT_FSIZE, &files) != 0)
        return fail(err, "RLIMIT_FSIZE", errno);
    if (!ms_sandbox_confine_build(readable, count, writable, err))
        return false;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, "seccomp_init", ENOMEM);
    /* The count of a -m32 build runs valgrind's 32-bit tool: its calls are the x86 ABI's, which a
       filter of the native ABI alone kills at its first call. The same rules cover both (names
       libseccomp translates per ABI, multiplexed socketcall and ipc included). */
    if (seccomp_arch_native() != SCMP_ARCH_X86 && seccomp_arch_add(ctx, SCMP_ARCH_X86) != 0) {
        seccomp_release(ctx);
        return fail(err, "seccomp (x86)", EINVAL);
    }
    /* A denied call kills with no name here: valgrind owns the process's signals. */
    int rc = deny_calls(ctx, DENIED, sizeof DENIED / sizeof DENIED[0], SCMP_ACT_KILL_PROCESS, true);
    /* chroot stays, for ms_sandbox_take_root, and unshare for its user namespace alone: another
       mount, network or IPC namespace is a system of the process's own to change. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(unshare), 1,
                              SCMP_A0(SCMP_CMP_NE, CLONE_NEWUSER));
    /* Processes stay in the count's family: a process made with CLONE_PARENT is its parent's
       sibling, no child of mscount's, and so escaped mscount's look at its children while it
       answered for the counted passes (red-team pass 32: 46.3 -> 77.6). clone3 passes its flags
       in a struct the filter cannot read: it fails as a kernel without it would, and glibc
       falls back to clone. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_PARENT, CLONE_PARENT));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = deny_other_processes(ctx, SCMP_ACT_KILL_PROCESS);
    if (rc == 0)
        rc = deny_file_flags(ctx, SCMP_ACT_KILL_PROCESS);
    if (rc == 0)
        rc = deny_file_locks(ctx, SCMP_ACT_KILL_PROCESS);
    /* An open of access mode 3, neither read nor write, asks Landlock for no right at all: the
       counted pass opened files it may not read, to lease them, and the grader's terminal, to set
       its window size and turn its echo off (red-team pass 36). Only ioctl-only opens use it;
       the agent's filter traps it among a write's flags. */
    if (rc == 0)
        rc = deny_open_flag(ctx, SCMP_ACT_KILL_PROCESS, O_ACCMODE);
    if (rc == 0)
        rc = deny_unseen_storage(ctx, SCMP_ACT_KILL_PROCESS);
    /* Signals stay within the sandbox: Landlock's scope (ABI 6) does that for every process of
       it; without, only this one's own are allowed, and a pass's child that aborts dies. */
    if (rc == 0 && abi < 6)
        rc = deny_signals_to_others(ctx, SCMP_ACT_KILL_PROCESS);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc == 0)
        rc = deny_newer_calls(SECCOMP_RET_KILL_PROCESS);
    seccomp_release(ctx);
    return rc == 0 ? true : fail(err, "seccomp", rc);
}

/* The seccomp filters stacked on this process, from /proc/self/status; -1 when it does not say. */
static int64_t stacked_filters(void) {
    FILE *status = fopen("/proc/self/status", "re");
    if (status == NULL)
        return -1;
    char line[256];
    long long filters = -1;
    while (filters < 0 && fgets(line, sizeof line, status) != NULL)
        if (sscanf(line, "Seccomp_filters: %lld", &filters) != 1)
            filters = -1;
    fclose(status);
    return filters;
}

static uint64_t open_files_limit(void) {
    struct rlimit open_files;
    return getrlimit(RLIMIT_NOFILE, &open_files) == 0 ? (uint64_t)open_files.rlim_cur : 0;
}

void ms_sandbox_note_before_load(ms_before_load *before) {
    for (int fd = 0; fd < 3; fd++) {
        struct stat file;
        bool open = fstat(fd, &file) == 0;
        before->dev[fd] = open ? (uint64_t)file.st_dev : 0;
        before->ino[fd] = open ? (uint64_t)file.st_ino : 0;
    }
    before->open_files = open_files_limit();
    before->filters = stacked_filters();
}

/* Every descriptor from `from` to `to` closed: at once where the kernel has close_range (5.9;
   valgrind keeps its own out of the range), else one by one up to `limit`. */
static void close_between(unsigned from, unsigned to, uint64_t limit) {
    if (from > to || syscall(SYS_close_range, from, to, 0U) == 0)
        return;
    for (uint64_t fd = from; fd <= to && fd < limit && fd < 65536; fd++)
        close((int)fd);
}

const char *ms_sandbox_after_load(const ms_before_load *before, const int *keep, size_t count) {
    /* Closed around the kept ones, from the lowest up, whatever the limit is now. */
    uint64_t limit = open_files_limit();
    if (limit < before->open_files)
        limit = before->open_files;
    for (unsigned from = 3;;) {
        unsigned next = ~0U; /* the lowest kept descriptor at or past `from` */
        for (size_t i = 0; i < count; i++)
            if (keep[i] >= 0 && (unsigned)keep[i] >= from && (unsigned)keep[i] < next)
                next = (unsigned)keep[i];
        if (next == ~0U) {
            close_between(from, ~0U, limit);
            break;
        }
        if (next > from)
            close_between(from, next - 1, limit);
        from = next + 1;
    }
    ms_before_load now;
    ms_sandbox_note_before_load(&now);
    if (memcmp(now.dev, before->dev, sizeof now.dev) != 0 ||
        memcmp(now.ino, before->ino, sizeof now.ino) != 0)
        return "put another file in place of descriptor 0, 1 or 2";
    if (now.open_files != before->open_files)
        return "changed the process's limit of open descriptors";
    if (now.filters != before->filters)
        return "installed a system-call filter of its own (seccomp), or hid the process's filters";
    return NULL;
}

/* The descriptors no call may use once the count is sealed (ms_sandbox_seal_reads), and how many.
 */
typedef struct {
    const int *fds;
    size_t count;
} untouchable_fds;

/* The seal's rules: memory from the kernel and the files' reads (ms_sandbox_seal). */
/*
 * The process's own kernel state that holds any bytes it is given and gives them back: a signal's
 * action (its handler, restorer and mask: 780 bytes over the signals that never come), an
 * interval timer's values, an alternate signal stack, the process's name. An allocator kept 768
 * bytes of its lists there from call to call, past the global-data rule (CMU's 128 bytes: 80.0 ->
 * 100.0, red-team pass 48), as kernel objects held bytes past the memory seal before (pass 20,
 * DENIED). Asking what is set stays allowed; the engine sets none of them once sealed.
 */
static int deny_kept_state(scmp_filter_ctx ctx) {
    static const char *const ACTION_CALLS[] = {"rt_sigaction", "sigaction"}; /* a new action */
    int rc = 0;
    for (size_t i = 0; i < sizeof ACTION_CALLS / sizeof ACTION_CALLS[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(ACTION_CALLS[i]);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, call, 1, SCMP_A1(SCMP_CMP_NE, 0));
    }
    static const char *const SETTING_CALLS[] = {"signal", "setitimer", "alarm"}; /* each sets */
    if (rc == 0)
        rc = deny_named(ctx, SCMP_ACT_TRAP, SETTING_CALLS,
                        sizeof SETTING_CALLS / sizeof SETTING_CALLS[0]);
    if (rc == 0)
        rc =
            seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(sigaltstack), 1, SCMP_A0(SCMP_CMP_NE, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(prctl), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, INT_BITS, PR_SET_NAME));
    return rc;
}

static int seal_rules(scmp_filter_ctx ctx, const untouchable_fds *none) {
    (void)none;
    int rc = deny_calls(ctx, SEALED, sizeof SEALED / sizeof SEALED[0], SCMP_ACT_TRAP, false);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(brk), 1, SCMP_A0(SCMP_CMP_NE, 0));
    for (size_t i = 0; i < sizeof GIVE_BACK_ADVICE / sizeof GIVE_BACK_ADVICE[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(madvise), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, INT_BITS, GIVE_BACK_ADVICE[i]));
    for (size_t i = 0; i < sizeof PROTECT_CALLS / sizeof PROTECT_CALLS[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(PROTECT_CALLS[i]);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, call, 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, PROT_WRITE));
    }
    if (rc == 0)
        rc = deny_kept_state(ctx);
    if (rc == 0)
        rc = deny_named(ctx, SCMP_ACT_ERRNO(EACCES), SEALED_WALKS,
                        sizeof SEALED_WALKS / sizeof SEALED_WALKS[0]);
    return rc == 0 ? deny_reads(ctx) : rc;
}

/* A filter of `rules` (given `fds`), stacked on the process's first: both apply, the stricter
   action of the two where both match (a write's flags the first filter's to trap and name).
   Another ABI's calls are the first filter's to deny; left alone here. False with err filled
   (`what`) when refused. */
static bool stack_filter(int (*rules)(scmp_filter_ctx, const untouchable_fds *),
                         const untouchable_fds *fds, const char *what, ms_error *err) {
    memset(err, 0, sizeof *err);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, "seccomp_init", ENOMEM);
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    if (rc == 0)
        rc = rules(ctx, fds);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc == 0 ? true : fail(err, what, rc);
}

bool ms_sandbox_seal(ms_error *err) {
    const untouchable_fds none = {NULL, 0};
    return stack_filter(seal_rules, &none, "seccomp (seal)", err);
}

/* The calls that take a descriptor, and which of their arguments are descriptors (a bit each). */
typedef struct {
    const char *name;
    unsigned fd_args;
} fd_call;

static const fd_call FD_CALLS[] = {
    {"read", 1},
    {"write", 1},
    {"pread64", 1},
    {"pwrite64", 1},
    {"readv", 1},
    {"writev", 1},
    {"preadv", 1},
    {"pwritev", 1},
    {"preadv2", 1},
    {"pwritev2", 1},
    {"lseek", 1},
    {"_llseek", 1},
    {"fcntl", 1},
    {"fcntl64", 1},
    {"ftruncate", 1},
    {"ftruncate64", 1},
    {"fallocate", 1},
    {"fsync", 1},
    {"fdatasync", 1},
    {"sync_file_range", 1},
    {"mmap", 1u << 4},
    {"mmap2", 1u << 4},
    {"sendfile", 3},
    {"sendfile64", 3},
    {"splice", 5},
    {"tee", 3},
    {"copy_file_range", 5},
    {"vmsplice", 1},
    {"dup", 1},
    {"dup2", 1},
    {"dup3", 1},
    {"ioctl", 1},
};

/* clone's exit signal, its flags' low byte, other than SIGCHLD (17): every value 0-255 but 17,
   in eight patterns of a mask and a value (seccomp compares a masked argument for equality). */
static const struct {
    scmp_datum_t mask, value;
} NOT_SIGCHLD[] = {
    {0xF0, 0x00}, /* 0-15 */
    {0xFF, 0x10}, /* 16 */
    {0xFE, 0x12}, /* 18-19 */
    {0xFC, 0x14}, /* 20-23 */
    {0xF8, 0x18}, /* 24-31 */
    {0xE0, 0x20}, /* 32-63 */
    {0xC0, 0x40}, /* 64-127 */
    {0x80, 0x80}, /* 128-255 */
};
_Static_assert(SIGCHLD == 0x11, "the patterns above leave out 17 alone");

/* The count's seal (ms_sandbox_seal_reads): the reads, and any use of valgrind's files that the
   process could reach by number (`fds`). valgrind answers an open of /proc/self/cmdline, auxv or
   exe itself, with a duplicate of a descriptor of its own: its files of the first two are
   writable and nameless in the count's folder, shared by every pass of a count (a pass wrote there
   what a later one read, red-team pass 36); the third is the counting program's own file, whose
   read sets its access time. Refused by duplicating, a pass reached them by their numbers with
   pread and pwrite, and wrote hundreds of MiB past the folder's cap (pass 37). valgrind itself
   never touches them once the process runs. */
static int count_seal_rules(scmp_filter_ctx ctx, const untouchable_fds *untouchable) {
    int rc = deny_reads(ctx);
    /* Nor is memory made writable (EACCES), as the agent's seal traps it: a started allocator
       made a page of mscount's code writable, and every check mscount makes after the start
       would only advise (red-team pass 42). valgrind makes no such call once the program runs. */
    for (size_t i = 0; i < sizeof PROTECT_CALLS / sizeof PROTECT_CALLS[0] && rc == 0; i++) {
        int call = seccomp_syscall_resolve_name(PROTECT_CALLS[i]);
        if (call != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), call, 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, PROT_WRITE));
    }
    /* Nor a file of memory made (its empty reads stood in for the count's own list of children,
       red-team pass 44), nor a mapping moved: a writable copy moved over a page of mscount's code
       made it writable past the rule above (pass 44). valgrind makes neither call for itself. Nor,
       the count's root taken (ms_sandbox_take_root), another root. */
    if (rc == 0)
        rc = deny_named(ctx, SCMP_ACT_ERRNO(EACCES), COUNT_SEALED,
                        sizeof COUNT_SEALED / sizeof COUNT_SEALED[0]);
    /* Nor a thread started (EAGAIN, as pthread_create fails for want of resources): a thread
       of the allocator's outlived mscount's look at its threads, whose status file it had
       forged, held glibc's heap lock while it read and replayed the traces, and handed them to
       mscount on a descriptor of its own (red-team pass 46: 57.4 -> 93.6, confirmed by the
       clock). mscount forks its passes without CLONE_THREAD, and valgrind makes a thread only
       for one of its program's. clone3 is ENOSYS already (the first filter). */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAGAIN), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    /* Nor a thread in all but name (CLONE_VM without CLONE_THREAD), nor a process whose exit
       signal is not SIGCHLD, which a wait reports only when asked for every kind of child: each
       lived beside mscount's passes with the list of its children pointed at an empty file, and
       answered every counted op, uncounted (red-team pass 47: 57.4 -> 93.6, confirmed by the
       clock). mscount's passes are forks: clone with SIGCHLD alone (and glibc's tid flags). */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAGAIN), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM, CLONE_VM));
    for (size_t i = 0; i < sizeof NOT_SIGCHLD / sizeof NOT_SIGCHLD[0] && rc == 0; i++)
        rc = seccomp_rule_add(
            ctx, SCMP_ACT_ERRNO(EAGAIN), SCMP_SYS(clone), 1,
            SCMP_A0(SCMP_CMP_MASKED_EQ, NOT_SIGCHLD[i].mask, NOT_SIGCHLD[i].value));
    for (size_t c = 0; c < sizeof FD_CALLS / sizeof FD_CALLS[0] && rc == 0; c++) {
        int call = seccomp_syscall_resolve_name(FD_CALLS[c].name);
        for (unsigned arg = 0; call != __NR_SCMP_ERROR && arg < 6 && rc == 0; arg++)
            for (size_t f = 0;
                 (FD_CALLS[c].fd_args & (1u << arg)) && f < untouchable->count && rc == 0; f++) {
                struct scmp_arg_cmp is_it = {arg, SCMP_CMP_MASKED_EQ, INT_BITS,
                                             (scmp_datum_t)(unsigned)untouchable->fds[f]};
                rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EBADF), call, 1, is_it);
            }
    }
    return rc;
}

/*
 * The count's root from here on: `folder`, the one it writes its profiles in (red-team pass 49).
 * Every path looked up, found or not, leaves an entry in the kernel's cache of names, which every
 * process on the machine shares, and a name looked up before is found several times faster: a
 * counted pass stat()ed fresh names as a hidden trace's sizes said, and a later grade's count read
 * them back by timing the same lookups (a trace's first size carried exactly; a file graded twice
 * was counted at 53.7 instructions an op on cp-decl against 14,060). The agent's seal refuses
 * every lookup; the count's cannot (valgrind opens its profiles by path). Rooted in a folder of
 * its own, which the grader removes after, the count's lookups reach no name another grade can.
 * chroot needs CAP_SYS_CHROOT, which the count gave up (ms_sandbox_confine_build): taken in a
 * user namespace of its own, with no id mapped in it, which gives power over nothing else. Where
 * the kernel allows neither (a container whose filter refuses user namespaces), the root stays,
 * and false is returned.
 */
bool ms_sandbox_take_root(int folder) {
    if (fchdir(folder) != 0)
        return false;
    if (chroot(".") != 0 && (unshare(CLONE_NEWUSER) != 0 || chroot(".") != 0))
        return false;
    return chdir("/") == 0;
}

bool ms_sandbox_seal_reads(const int *untouchable, size_t count, ms_error *err) {
    const untouchable_fds fds = {untouchable, count};
    return stack_filter(count_seal_rules, &fds, "seccomp (reads)", err);
}

/*
 * A counted pass's seal (ms_sandbox_seal_forks): no process or thread started (EAGAIN, as fork
 * fails for want of resources). The count's seal lets mscount fork its passes, so a pass could
 * fork a helper of its own, made invisible by SIGCHLD set to SIG_IGN: the kernel reaps such a
 * child at once, and neither the count's look at its children nor the pass's RUSAGE_CHILDREN
 * sees it; the helper ran every counted op in a process whose profile nobody reads (red-team
 * pass 48: 57.4 -> 93.6). clone3 is ENOSYS already (the first filter), and another ABI's calls
 * are the first filter's too. Written in BPF, made on the stack: libseccomp's mallocs, in the
 * pass's process before the pass, changed glibc's heap that its count then started from (glibc's
 * warm count, T_ref's, 102.9 -> 106.4 instructions an op).
 */
bool ms_sandbox_seal_forks(ms_error *err) {
    memset(err, 0, sizeof *err);
    struct sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OWN_ABI, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
    };
    struct sock_fprog filter = {sizeof program / sizeof program[0], program};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0) == 0
               ? true
               : fail(err, "seccomp (forks)", -errno);
}

/* Whether `call` is the system call named `name` in the ABI `arch`. */
static bool is_call(uint32_t arch, int call, const char *name) {
    int number = seccomp_syscall_resolve_name_arch(arch, name);
    return number != __NR_SCMP_ERROR && number == call;
}

/* What `call` (in the ABI `arch`, `known`: libseccomp names it) tried, for a diagnosis. */
static const char *action_of(uint32_t arch, int call, bool known) {
    for (size_t i = 0; i < sizeof DENIED / sizeof DENIED[0]; i++)
        if (is_call(arch, call, DENIED[i].name))
            return DENIED[i].action;
    for (size_t i = 0; i < sizeof SEALED / sizeof SEALED[0]; i++)
        if (is_call(arch, call, SEALED[i].name))
            return SEALED[i].action;
    if (is_call(arch, call, "brk"))
        return BRK_ACTION;
    if (is_call(arch, call, "madvise"))
        return REMOVE_ACTION;
    if (is_call(arch, call, "prctl"))
        return "outlive the grader, hide from it, or keep data in its name";
    if (is_call(arch, call, "rt_sigaction") || is_call(arch, call, "sigaction") ||
        is_call(arch, call, "signal"))
        return "set a signal's action (one for SIGSYS hides the calls the sandbox denies; any "
               "keeps data in the kernel)";
    if (is_call(arch, call, "setitimer") || is_call(arch, call, "alarm") ||
        is_call(arch, call, "sigaltstack"))
        return "keep data in the kernel";
    for (size_t i = 0; i < sizeof PROTECT_CALLS / sizeof PROTECT_CALLS[0]; i++)
        if (is_call(arch, call, PROTECT_CALLS[i]))
            return WRITABLE_ACTION;
    if (is_call(arch, call, "open") || is_call(arch, call, "openat") ||
        is_call(arch, call, "openat2"))
        return "create or write a file";
    if (is_call(arch, call, "kill") || is_call(arch, call, "tkill") ||
        is_call(arch, call, "tgkill"))
        return "signal another process";
    for (size_t i = 0; i < sizeof OWN_PROCESS_ONLY / sizeof OWN_PROCESS_ONLY[0]; i++)
        if (is_call(arch, call, OWN_PROCESS_ONLY[i].name))
            return OWN_PROCESS_ACTION;
    if (is_call(arch, call, "ioctl"))
        return FILE_FLAG_ACTION;
    for (size_t i = 0; i < sizeof FCNTL_CALLS / sizeof FCNTL_CALLS[0]; i++)
        if (is_call(arch, call, FCNTL_CALLS[i]))
            return LOCK_ACTION;
    return known ? "make a system call the sandbox denies" : NEWER_ACTION;
}

/* `call`: the ABI (its AUDIT_ARCH_* value, libseccomp's arch token; 0: this build's) in the high
   32 bits, the call's number in that ABI in the low ones, as the SIGSYS handler leaves them. */
const char *ms_sandbox_denied_action(uint64_t call) {
    static char text[160];
    uint32_t arch = (uint32_t)(call >> 32);
    if (arch == 0)
        arch = seccomp_arch_native();
    bool foreign = ((uint32_t)call & FOREIGN_ABI) != 0 || ((uint32_t)call & X32_CALL) != 0;
    int number = (int)((uint32_t)call & ~FOREIGN_ABI);
    char *name = seccomp_syscall_resolve_num_arch(arch, number);
    if (foreign)
        snprintf(text, sizeof text, "make a system call through another ABI than its own (%s)",
                 name                       ? name
                 : (number & X32_CALL) != 0 ? "x32"
                                            : "?");
    else
        snprintf(text, sizeof text, "%s (%s)", action_of(arch, number, name != NULL),
                 name ? name : "?");
    free(name);
    return text;
}
