/*
 * test_word_lock.c - the arenas' lock (c/src/word_lock.h): mutual exclusion under contention,
 * takers that sleep and are woken, errno kept when a signal interrupts a sleep. Built with
 * ThreadSanitizer, which reports any access to the plain counter below that the lock's acquire and
 * release order does not separate.
 */
#include "word_lock.h"

#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

enum { THREADS = 4, ROUNDS = 200000, SLEEPERS = 3 };

static word_lock lock;
static long counter;  /* plain: only the lock guards it */
static int inside;    /* takers inside at once: never more than one */
static long overlaps; /* times a taker found another inside */

static void *contend(void *unused) {
    (void)unused;
    for (int i = 0; i < ROUNDS; i++) {
        word_lock_take(&lock);
        overlaps += inside != 0;
        inside = 1;
        counter++;
        inside = 0;
        word_lock_give(&lock);
    }
    return NULL;
}

static void test_exclusion(void) {
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, contend, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    CHECK(counter == (long)THREADS * ROUNDS, "counted %ld of %ld", counter, (long)THREADS * ROUNDS);
    CHECK(overlaps == 0, "%ld takers found another inside", overlaps);
    CHECK(atomic_load(&lock.word) == WORD_LOCK_FREE, "left %u", atomic_load(&lock.word));
}

static _Atomic int woken;      /* sleepers that got the lock */
static _Atomic int errno_kept; /* ...and found errno as they had set it */

static void *sleeper(void *arg) {
    int mine = 4000 + (int)(intptr_t)arg;
    errno = mine;
    word_lock_take(&lock); /* held by the main thread for far longer than the spins */
    atomic_fetch_add(&errno_kept, errno == mine);
    atomic_fetch_add(&woken, 1);
    word_lock_give(&lock);
    return NULL;
}

static void interrupted(int signal) { (void)signal; }

static void pause_ms(long ms) {
    struct timespec pause = {0, ms * 1000 * 1000};
    nanosleep(&pause, NULL);
}

static void test_sleepers_are_woken(void) {
    /* Without SA_RESTART: a signal ends a sleeper's futex wait with EINTR, which must not reach
       its errno. */
    struct sigaction action = {.sa_handler = interrupted};
    sigaction(SIGUSR1, &action, NULL);
    word_lock_take(&lock);
    pthread_t threads[SLEEPERS];
    for (int i = 0; i < SLEEPERS; i++)
        pthread_create(&threads[i], NULL, sleeper, (void *)(intptr_t)i);
    pause_ms(50);
    for (int i = 0; i < SLEEPERS; i++)
        pthread_kill(threads[i], SIGUSR1);
    pause_ms(20);
    CHECK(atomic_load(&woken) == 0, "%d took a held lock", atomic_load(&woken));
    CHECK(atomic_load(&lock.word) == WORD_LOCK_WAITED, "waited for, yet %u",
          atomic_load(&lock.word));
    errno = 77;
    word_lock_give(&lock); /* wakes one; each wakes the next as it gives */
    CHECK(errno == 77, "the giver's errno became %d", errno);
    for (int i = 0; i < SLEEPERS; i++)
        pthread_join(threads[i], NULL);
    CHECK(atomic_load(&woken) == SLEEPERS, "%d of %d sleepers woken", atomic_load(&woken),
          SLEEPERS);
    CHECK(atomic_load(&errno_kept) == SLEEPERS, "%d of %d kept errno", atomic_load(&errno_kept),
          SLEEPERS);
    CHECK(atomic_load(&lock.word) == WORD_LOCK_FREE, "left %u", atomic_load(&lock.word));
}

int main(void) {
    test_exclusion();
    test_sleepers_are_woken();
    return CHECK_DONE();
}
