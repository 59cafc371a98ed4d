/*
 * threaded_lock.h - the drop-in's locks are taken only once the process has threads, and its fork
 * handlers are registered before the first one is.
 *
 * As glibc's malloc does: while the process has a single thread, no other thread can appear until
 * this one creates it, and this one is busy here, so the lock (word_lock.h) is skipped.
 * lock_if_threaded says whether it locked, and that answer goes to unlock_if, so a pair always
 * matches even when a thread is created in between. fork's handlers take the locks regardless
 * (dropin.c).
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

#include "word_lock.h"

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

static inline bool lock_if_threaded(word_lock *l) {
    if (!process_threaded())
        return false;
    word_lock_take(l);
    return true;
}

static inline void unlock_if(word_lock *l, bool locked) {
    if (locked)
        word_lock_give(l);
}

#endif /* MALLOCSIM_THREADED_LOCK_H */
