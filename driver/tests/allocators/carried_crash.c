/*
 * carried_crash.c - correct from a fresh heap, crashes on a heap carried over: once every block
 * it handed out has been freed, its next mm_malloc writes through NULL, as an allocator whose
 * state does not survive an emptied heap would. Its checked passes, each from mm_init, pass;
 * `bench --carry-heap` must catch the crash in its child process and go on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"carried_crash", "Crash Test", "crash", "", ""};
static size_t live;
static bool emptied;

int mm_init(void) {
    live = 0;
    emptied = false;
    return 0;
}

void *mm_malloc(size_t size) {
    if (emptied) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    size_t rounded = (size + 15) & ~(size_t)15;
    void *p = mem_sbrk((intptr_t)(rounded ? rounded : 16));
    if (p == (void *)-1)
        return NULL;
    live++;
    return p;
}

void mm_free(void *ptr) {
    if (ptr != NULL && --live == 0)
        emptied = true;
}

void *mm_realloc(void *ptr, size_t size) {
    (void)ptr;
    (void)size;
    return NULL;
}
