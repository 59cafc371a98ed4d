/*
 * word_lock.h - the drop-in's locks (the arenas', the depot's bins', the tables of mapped blocks
 * and aliases): one word each, taken and given inline, sleeping in the kernel only when another
 * thread holds it.
 *
 * Every malloc and free of a block too big for the thread caches takes its arena's lock. As a
 * pthread adaptive mutex that cost a call through the PLT each way and 65 instructions a pair
 * (the type's dispatch, the owner and user counts), 14% of the instructions of a program
 * replacing blocks of 1,100-2,000 bytes (callgrind: 270.0 M -> 232.8 M with this lock), and as
 * much of rptest's time in perf's samples. Here taking a free lock is one compare-and-exchange
 * and giving it back one exchange, as glibc's malloc does with its own arenas' locks.
 *
 * The word: 0 free, 1 held, 2 held and maybe waited for (Drepper, "Futexes Are Tricky", the
 * third mutex). A taker that finds it held spins a while first, as the adaptive mutex did (the
 * holder's work is short: a fit or a merge), then marks it 2 and sleeps on the futex; the giver
 * that finds 2 wakes one sleeper. The system calls go straight to the kernel (kernel_calls.h)
 * and leave errno as it was: a malloc that succeeds sets no errno.
 *
 * Guarantees: mutual exclusion between word_lock_take and word_lock_give, with acquire and
 * release order (what one holder wrote, the next reads); no lost wake-up; no system call while the
 * lock is free or only one thread wants it; errno unchanged. Not recursive, not robust, and a
 * lock held across fork stays held in the child (the drop-in's fork handlers take and give them
 * all: arena.c).
 */
#ifndef MALLOCSIM_WORD_LOCK_H
#define MALLOCSIM_WORD_LOCK_H

#include "kernel_calls.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    _Atomic uint32_t word; /* 0 free, 1 held, 2 held and maybe waited for; 0 initialises it */
} word_lock;

enum {
    WORD_LOCK_FREE,
    WORD_LOCK_HELD,
    WORD_LOCK_WAITED,
    WORD_LOCK_SPINS = 100, /* looks before sleeping, as glibc's adaptive mutex makes by default */
};

static inline bool word_lock_try(word_lock *l) {
    uint32_t free_word = WORD_LOCK_FREE;
    return atomic_compare_exchange_strong_explicit(&l->word, &free_word, WORD_LOCK_HELD,
                                                   memory_order_acquire, memory_order_relaxed);
}

/* The taker's way when the lock is held: spin, then sleep until a giver wakes it. Out of line,
   so that word_lock_take's way saves no register. */
__attribute__((noinline)) static void word_lock_wait(word_lock *l) {
    for (int spin = 0; spin < WORD_LOCK_SPINS; spin++) {
        if (atomic_load_explicit(&l->word, memory_order_relaxed) == WORD_LOCK_FREE &&
            word_lock_try(l))
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause(); /* spinning, to the core: spare the pipeline, and the sibling */
#endif
    }
    int saved = errno;
    /* Marked waited for, so that the giver wakes somebody; whoever finds it free takes it so,
       which costs at most one wake-up nobody needed. */
    while (atomic_exchange_explicit(&l->word, WORD_LOCK_WAITED, memory_order_acquire) !=
           WORD_LOCK_FREE)
        (void)kernel_call(SYS_futex, (long)&l->word, FUTEX_WAIT_PRIVATE, WORD_LOCK_WAITED, 0, 0, 0);
    errno = saved;
}

__attribute__((noinline)) static void word_lock_wake(word_lock *l) {
    int saved = errno;
    (void)kernel_call(SYS_futex, (long)&l->word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    errno = saved;
}

static inline void word_lock_take(word_lock *l) {
    if (!word_lock_try(l))
        word_lock_wait(l);
}

static inline void word_lock_give(word_lock *l) {
    if (atomic_exchange_explicit(&l->word, WORD_LOCK_FREE, memory_order_release) ==
        WORD_LOCK_WAITED)
        word_lock_wake(l);
}

#endif /* MALLOCSIM_WORD_LOCK_H */
