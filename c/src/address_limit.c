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
 *     result and errno; a limit the kernel refuses changes nothing;
 *   - a finite RLIMIT_AS accepted for this process (pid 0 or its own) fits the reservation to it;
 *     any other resource, process or an infinite limit is passed through alone;
 *   - not seen: a limit set by the raw system call, or on this process by another one (prlimit
 *     from outside): the reservation stays as it was.
 */
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

/* After the kernel set a finite soft limit: the reservation fitted to it, when it is this
   process's address space. */
static void fit_to_finite(pid_t pid, int resource) {
    if (resource == RLIMIT_AS && (pid == 0 || pid == km_getpid()))
        arena_fit_address_space();
}

MS_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
                      struct rlimit *old) {
    int result = kernel_prlimit(pid, (int)resource, limit, old);
    if (result == 0 && limit != NULL && limit->rlim_cur != RLIM_INFINITY)
        fit_to_finite(pid, (int)resource);
    return result;
}

MS_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
                        struct rlimit64 *old) {
    int result = kernel_prlimit(pid, (int)resource, limit, old);
    if (result == 0 && limit != NULL && limit->rlim_cur != RLIM64_INFINITY)
        fit_to_finite(pid, (int)resource);
    return result;
}

/* glibc's setrlimit is prlimit64 on this process. */
MS_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit) {
    return prlimit(0, resource, limit, NULL);
}

MS_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit) {
    return prlimit64(0, resource, limit, NULL);
}
