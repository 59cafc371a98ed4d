/*
 * hang.c - never returns: mm_free spins forever, or, built with HANG_ASLEEP
 * defined, waits for ever on a lock it already holds (a student's
 * non-recursive mutex taken twice), asleep and using no CPU time. The grader
 * must stop it, name the op where it stopped, and go on.
 */
#include <stddef.h>
#include <stdint.h>
#ifdef HANG_ASLEEP
#include <pthread.h>
#endif

#include "memlib.h"
#include "mm.h"

team_t team = {"hang", "Spin Forever", "spin", "", ""};

int mm_init(void) { return 0; }

void *mm_malloc(size_t size) {
    size_t rounded = (size + 15) & ~(size_t)15;
    void *p = mem_sbrk((intptr_t)(rounded ? rounded : 16));
    return p == (void *)-1 ? NULL : p;
}

#ifdef HANG_ASLEEP
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void mm_free(void *ptr) {
    if (ptr != NULL) {
        pthread_mutex_lock(&lock);
        pthread_mutex_lock(&lock); /* the default kind deadlocks: asleep in the kernel */
    }
}
#else
void mm_free(void *ptr) {
    volatile int forever = 1;
    while (forever && ptr != NULL) {
    }
}
#endif

void *mm_realloc(void *ptr, size_t size) {
    (void)ptr;
    (void)size;
    return NULL;
}
