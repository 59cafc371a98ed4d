/*
 * segfault.c - crashes: mm_malloc writes through a NULL pointer on its third
 * call. The grader must report SIGSEGV and the op it was at, then go on.
 */
#include <stddef.h>
#include <stdint.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"segfault", "Crash Test", "crash", "", ""};
static int calls;

int mm_init(void) {
    calls = 0;
    return 0;
}

void *mm_malloc(size_t size) {
    if (++calls == 3) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    size_t rounded = (size + 15) & ~(size_t)15;
    void *p = mem_sbrk((intptr_t)(rounded ? rounded : 16));
    return p == (void *)-1 ? NULL : p;
}

void mm_free(void *ptr) { (void)ptr; }

void *mm_realloc(void *ptr, size_t size) {
    (void)ptr;
    (void)size;
    return NULL;
}
