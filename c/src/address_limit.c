/*
 * address_limit.c - the drop-in's setrlimit and prlimit (and their 64-bit names): a limit on the
 * address space set while the program runs fits the heaps' reservation to it.
 *
 * The drop-in reserves its heaps' address range at the first malloc, as large as RLIMIT_AS then
 * allows: with none, 256 GiB and a 16 GiB size map (arena.c). A program that lowers RLIMIT_AS
 * later finds that much counted against it already, and every mapping after fails: uWSGI's
 * `--limit-as 1024` died at its start, Python harnesses' `resource.setrlimit(RLIMIT_AS, ...)`
 * raised MemoryError at their next big list, where glibc's malloc went on (drop-in pass 27).
 * These wrappers set the limit, then have the arenas give back what their heaps do not use
 * (arena_fit_address_space), to be taken again as they grow.
 *
 * Guarantees:
 *   - every call does what the C library's does, by the same system call (prlimit64), with its
 *     result and errno;
 *   - a finite RLIMIT_AS for this process (pid 0 or its own) fits the reservation to it first;
 *     any other resource, process or an infinite limit is passed through alone;
 *   - a limit set otherwise (the raw system call, or `prlimit --pid` from outside) is seen once a
 *     mapping is refused for want of room: address_limit_refit fits the reservation to it then.
 */
#include "address_limit.h"

#include "arena.h"
#include "kernel_calls.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>

#define MS_EXPORT __attribute__((visibility("default")))

/* prlimit64 itself: 0, or -1 with errno. `limit` and `old`, a struct rlimit or rlimit64, the
   kernel reads and writes alike. */
static int kernel_prlimit(pid_t pid, int resource, const void *limit, void *old) {
    return (int)kernel_call(SYS_prlimit64, pid, resource, (long)limit, (long)old, 0, 0);
}

/* The soft RLIMIT_AS the reservation was last fitted to; RLIM_INFINITY: none yet. */
static _Atomic rlim_t fitted_to = RLIM_INFINITY;

static void fit(rlim_t limit) {
    fitted_to = limit;
    arena_fit_address_space();
}

/* Before the kernel sets a finite soft limit (`soft`; RLIM_INFINITY: none): the reservation
   fitted to it, when it is this process's address space. Fitted after, every mapping of the
   program's other threads in between failed (a thread's malloc of 300 KB, 2 in 2,000 limits set
   by the main thread): the limit counted the whole reservation until the fit was done. A limit
   the kernel then refuses has cost a fit: address space given back, and taken again as the heaps
   grow. */
static int set_limit(pid_t pid, int resource, const void *limit, void *old, rlim_t soft) {
    if (soft != RLIM_INFINITY && resource == RLIMIT_AS && (pid == 0 || pid == km_getpid()))
        fit(soft);
    return kernel_prlimit(pid, resource, limit, old);
}

bool address_limit_refit(void) {
    struct rlimit now;
    if (km_getrlimit(RLIMIT_AS, &now) != 0 || now.rlim_cur == RLIM_INFINITY ||
        now.rlim_cur == fitted_to)
        return false;
    fit(now.rlim_cur);
    return true;
}

MS_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
                      struct rlimit *old) {
    return set_limit(pid, (int)resource, limit, old,
                     limit != NULL ? limit->rlim_cur : RLIM_INFINITY);
}

MS_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
                        struct rlimit64 *old) {
    return set_limit(pid, (int)resource, limit, old,
                     limit != NULL ? (rlim_t)limit->rlim_cur : RLIM_INFINITY);
}

/* glibc's setrlimit is prlimit64 on this process. */
MS_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit) {
    return prlimit(0, resource, limit, NULL);
}

MS_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit) {
    return prlimit64(0, resource, limit, NULL);
}
