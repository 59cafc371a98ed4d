/*
 * kernel_memory.h - the drop-in's memory system calls, made straight to the kernel.
 *
 * glibc's own malloc reaches mmap, munmap, mprotect, madvise and mremap inside the C library,
 * where no other library can step in; the drop-in, a library of its own, reached them through
 * the C library's exported functions, which a preloaded tracer or profiler may wrap. A wrapper of
 * mmap that mallocs deadlocked every program at its first malloc: the reservation's mmap, inside
 * pthread_once, came back into malloc, which waited for that same pthread_once; under an arena's
 * lock it would wait for that lock, and with no lock it would enter the policy in the middle of
 * an operation. These functions take the same arguments and give the same results and errno.
 */
#ifndef MALLOCSIM_KERNEL_MEMORY_H
#define MALLOCSIM_KERNEL_MEMORY_H

#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline void *km_mmap(void *at, size_t len, int prot, int flags, int fd, off_t offset) {
    return (void *)syscall(SYS_mmap, at, len, prot, flags, fd, offset);
}

static inline int km_munmap(void *at, size_t len) { return (int)syscall(SYS_munmap, at, len); }

static inline int km_mprotect(void *at, size_t len, int prot) {
    return (int)syscall(SYS_mprotect, at, len, prot);
}

static inline int km_madvise(void *at, size_t len, int advice) {
    return (int)syscall(SYS_madvise, at, len, advice);
}

/* Without MREMAP_FIXED's fifth argument: the drop-in never asks for an address. */
static inline void *km_mremap(void *at, size_t old_len, size_t new_len, int flags) {
    return (void *)syscall(SYS_mremap, at, old_len, new_len, flags);
}

#endif /* MALLOCSIM_KERNEL_MEMORY_H */
