/*
 * threaded_lock.h - the drop-in's locks are taken only once the process has threads.
 *
 * As glibc's malloc does: while the process has a single thread, no other thread can appear until
 * this one creates it, and this one is busy here, so the mutex is skipped. lock_if_threaded says
 * whether it locked, and that answer goes to unlock_if, so a pair always matches even when a
 * thread is created in between. fork's handlers take the locks regardless (dropin.c).
 */
#ifndef MALLOCSIM_THREADED_LOCK_H
#define MALLOCSIM_THREADED_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/single_threaded.h>

static inline bool lock_if_threaded(pthread_mutex_t *m) {
    if (__libc_single_threaded)
        return false;
    pthread_mutex_lock(m);
    return true;
}

static inline void unlock_if(pthread_mutex_t *m, bool locked) {
    if (locked)
        pthread_mutex_unlock(m);
}

#endif /* MALLOCSIM_THREADED_LOCK_H */
