/*
 * init_no_reset.c - mm_init that initializes only once
 * (test fixture, classic dialect).
 *
 * What is wrong: mm_init sets up the allocator's chunk pointers only on its
 * first call ("if (next == NULL)"). The driver resets the heap and calls
 * mm_init before every run; from the second run on, the allocator still
 * believes its old chunk is there and hands out addresses past the new,
 * empty heap's break. The first run of any trace is correct.
 * Which check must catch it: the heap-bounds check, in the second run from a
 * fresh heap ("block 0 [...] is not inside the heap [...]").
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#define ALIGNMENT 16
#define HEADER 16
#define CHUNKSIZE 4096

static char *next; /* first unused byte of the current chunk */
static char *end;  /* end of the current chunk (the break) */

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int mm_init(void) {
    if (next == NULL) /* BUG: must start over on every call */
        next = end = mem_sbrk(0);
    return next == (void *)-1 ? -1 : 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t cap = align(size);
    if ((size_t)(end - next) < HEADER + cap) {
        size_t grow = HEADER + cap > CHUNKSIZE ? HEADER + cap : CHUNKSIZE;
        char *old = mem_sbrk((intptr_t)grow);
        if (old == (void *)-1)
            return NULL;
        next = old;
        end = old + grow;
    }
    char *block = next;
    next += HEADER + cap;
    memcpy(block, &cap, sizeof cap);
    return block + HEADER;
}

void mm_free(void *ptr) { (void)ptr; }

void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0)
        return NULL;
    void *newptr = mm_malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t old;
    memcpy(&old, (char *)ptr - HEADER, sizeof old);
    memcpy(newptr, ptr, old < size ? old : size);
    return newptr;
}
