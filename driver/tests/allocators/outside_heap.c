/*
 * outside_heap.c - grows the heap by one chunk, whatever the request
 * (test fixture, classic dialect).
 *
 * What is wrong: the heap is grown in CHUNKSIZE steps when the current chunk
 * is too small, but by one CHUNKSIZE only, even for a request bigger than
 * that: a large block starts inside the heap and ends past its break, in
 * memory the heap has not handed out. Small requests work.
 * Which check must catch it: the heap-bounds check, on the first request
 * above 4 KiB ("block 0 [...] is not inside the heap [...]"): the whole block
 * must lie inside, not just its start.
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
    next = end = mem_sbrk(0);
    return next == (void *)-1 ? -1 : 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t cap = align(size);
    if ((size_t)(end - next) < HEADER + cap) {
        if (mem_sbrk(CHUNKSIZE) == (void *)-1) /* BUG: HEADER + cap may exceed it */
            return NULL;
        next = end; /* the rest of the old chunk is wasted; fine */
        end += CHUNKSIZE;
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
