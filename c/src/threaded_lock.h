/*
 * threaded_lock.h - the drop-in's locks are taken only once the process has threads, and its fork
 * handlers are registered before the first one is.
 *
 * As glibc's malloc does: while the process has a single thread, no other thread can appear until
 * this one creates it, and this one is busy here, so the mutex is skipped. lock_if_threaded says
 * whether it locked, and that answer goes to unlock_if, so a pair always matches even when a
 * thread is created in between. fork's handlers take the locks regardless (dropin.c).
 *
 * Those handlers matter only once a lock can be held by a thread other than the one that forks,
 * so they are registered then, by the first call that finds the process threaded, before it takes
 * any lock (or by the first registration of anyone else's, which puts ours first: dropin.c).
 * Registered at load, the dlsym that finds glibc's registration cost every program, threads or
 * not, about 120 KB of resident memory in the C library's and the loader's pages (a one-malloc
 * program: 1,476 KB then, 1,355 now, glibc's malloc 1,276, the means of 60 runs).
 */
#ifndef MALLOCSIM_THREADED_LOCK_H
#define MALLOCSIM_THREADED_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/single_threaded.h>

/* dropin.c: the drop-in's fork handlers registered (or the process ended with a message), and
   whether that is done. */
void dropin_register_fork_handlers(void);
extern _Atomic bool dropin_fork_handlers_registered;

/* Whether the process has threads; if so, the fork handlers are registered when this returns. */
static inline bool process_threaded(void) {
    if (__libc_single_threaded)
        return false;
    if (!atomic_load_explicit(&dropin_fork_handlers_registered, memory_order_acquire))
        dropin_register_fork_handlers();
    return true;
}

static inline bool lock_if_threaded(pthread_mutex_t *m) {
    if (!process_threaded())
        return false;
    pthread_mutex_lock(m);
    return true;
}

static inline void unlock_if(pthread_mutex_t *m, bool locked) {
    if (locked)
        pthread_mutex_unlock(m);
}

#endif /* MALLOCSIM_THREADED_LOCK_H */
