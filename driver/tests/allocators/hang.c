/*
 * hang.c - never returns: mm_free spins forever. The grader must stop it at
 * its time limit, name the op where it stopped, and go on.
 */
#include <stddef.h>
#include <stdint.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"hang", "Spin Forever", "spin", "", ""};

int mm_init(void) { return 0; }

void *mm_malloc(size_t size) {
    size_t rounded = (size + 15) & ~(size_t)15;
    void *p = mem_sbrk((intptr_t)(rounded ? rounded : 16));
    return p == (void *)-1 ? NULL : p;
}

void mm_free(void *ptr) {
    volatile int forever = 1;
    while (forever && ptr != NULL) {
    }
}

void *mm_realloc(void *ptr, size_t size) {
    (void)ptr;
    (void)size;
    return NULL;
}
