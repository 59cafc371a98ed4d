/*
 * threaded_lock.h - the drop-in's locks are taken only once the process has threads, and not by
 * the thread that forks while it holds them all.
 *
 * As glibc's malloc does: while the process has a single thread, no other thread can appear until
 * this one creates it, and this one is busy here, so the mutex is skipped. lock_if_threaded says
 * whether it locked, and that answer goes to unlock_if, so a pair always matches even when a
 * thread is created in between. fork's handlers take the locks regardless (dropin.c), and from
 * then until they give them back the forking thread holds every one: a fork handler of another
 * library that mallocs in between (its prepare handler runs after ours, its parent and child
 * handlers before ours, when it registered first) skips them too. Waiting for them, fork hung
 * (drop-in pass 19); glibc takes its own malloc's locks inside fork, after every handler.
 */
#ifndef MALLOCSIM_THREADED_LOCK_H
#define MALLOCSIM_THREADED_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/single_threaded.h>

/* True in the forking thread while fork's handlers hold every lock (dropin.c). */
extern _Thread_local bool dropin_forking __attribute__((tls_model("initial-exec")));

/* Whether the calling thread takes no lock now: a single thread, or the one forking. */
static inline bool locks_skipped(void) { return __libc_single_threaded || dropin_forking; }

static inline bool lock_if_threaded(pthread_mutex_t *m) {
    if (locks_skipped())
        return false;
    pthread_mutex_lock(m);
    return true;
}

static inline void unlock_if(pthread_mutex_t *m, bool locked) {
    if (locked)
        pthread_mutex_unlock(m);
}

#endif /* MALLOCSIM_THREADED_LOCK_H */
