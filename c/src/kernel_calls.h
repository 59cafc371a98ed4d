/*
 * kernel_calls.h - the drop-in's system calls, made straight to the kernel.
 *
 * glibc's own malloc makes its system calls inside the C library, where no other library can step
 * in; the drop-in, a library of its own, made them through the C library's exported functions,
 * which a preloaded tracer, profiler or time faker may wrap, and a wrapper that mallocs came back
 * into malloc in the middle of it: libfaketime's getpid recursed until the stack ran out; a
 * wrapper of mmap deadlocked the first malloc (the reservation's mmap, inside pthread_once, came
 * back to wait for that same pthread_once); one of madvise, inside malloc_trim, waited for the
 * arena lock its caller held; one of syscall() recursed as getpid's had (helpers' drop-in passes
 * 16 to 18). On x86-64 these are the `syscall` instruction itself; elsewhere, syscall(). Each
 * gives what the C library's function of that name gives, errno included.
 */
#ifndef MALLOCSIM_KERNEL_CALLS_H
#define MALLOCSIM_KERNEL_CALLS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* System call `number` with six arguments: its result, or -1 with errno set. */
static inline long kernel_call(long number, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long result;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if (result < 0 && result > -4096) { /* the kernel's -errno */
        errno = (int)-result;
        return -1;
    }
    return result;
#else
    return syscall(number, a, b, c, d, e, f);
#endif
}

static inline void *km_mmap(void *at, size_t len, int prot, int flags, int fd, off_t offset) {
    return (void *)kernel_call(SYS_mmap, (long)at, (long)len, prot, flags, fd, (long)offset);
}

static inline int km_munmap(void *at, size_t len) {
    return (int)kernel_call(SYS_munmap, (long)at, (long)len, 0, 0, 0, 0);
}

static inline int km_mprotect(void *at, size_t len, int prot) {
    return (int)kernel_call(SYS_mprotect, (long)at, (long)len, prot, 0, 0, 0);
}

static inline int km_madvise(void *at, size_t len, int advice) {
    return (int)kernel_call(SYS_madvise, (long)at, (long)len, advice, 0, 0, 0);
}

/* Without MREMAP_FIXED's fifth argument: the drop-in never asks for an address. */
static inline void *km_mremap(void *at, size_t old_len, size_t new_len, int flags) {
    return (void *)kernel_call(SYS_mremap, (long)at, (long)old_len, (long)new_len, flags, 0, 0);
}

/* The program break: brk(2) with 0 moves nothing and answers where the break is. */
static inline uintptr_t km_break(void) { return (uintptr_t)kernel_call(SYS_brk, 0, 0, 0, 0, 0, 0); }

static inline long km_getpid(void) { return kernel_call(SYS_getpid, 0, 0, 0, 0, 0, 0); }

static inline long km_gettid(void) { return kernel_call(SYS_gettid, 0, 0, 0, 0, 0, 0); }

static inline long km_getrandom(void *into, size_t len, unsigned flags) {
    return kernel_call(SYS_getrandom, (long)into, (long)len, flags, 0, 0, 0);
}

static inline int km_mincore(void *at, size_t len, unsigned char *resident) {
    return (int)kernel_call(SYS_mincore, (long)at, (long)len, (long)resident, 0, 0, 0);
}

/* getrlimit's answer, by prlimit64 on this process (a wrapper of getrlimit that malloced waited
   for the reservation it was called in, as mmap's had: drop-in pass 18). */
static inline int km_getrlimit(int resource, struct rlimit *limit) {
    return (int)kernel_call(SYS_prlimit64, 0, resource, 0, (long)limit, 0, 0);
}

/* `len` bytes of address space reserved at `at` exactly (PROT_NONE, MAP_NORESERVE: no memory, no
   commit charge) where nothing is mapped: false when something is, or the system refuses (errno
   says). A kernel before 4.17 takes MAP_FIXED_NOREPLACE's address as a hint: what it mapped
   elsewhere is given back. */
static inline bool km_reserve_at(void *at, size_t len) {
    void *p = km_mmap(at, len, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != MAP_FAILED && p != at)
        km_munmap(p, len);
    return p == at;
}

/* The page size, asked of no library function (getauxval and sysconf may be another preloaded
   library's wrappers that malloc: drop-in pass 19): x86-64's pages are 4 KiB, whatever the
   kernel; elsewhere, the auxiliary vector. */
static inline size_t km_pagesize(void) {
#if defined(__x86_64__)
    return 4096;
#else
    return (size_t)getauxval(AT_PAGESZ);
#endif
}

#endif /* MALLOCSIM_KERNEL_CALLS_H */
