/*
 * null_early.c - gives up when its first chunk is used up
 * (test fixture, classic dialect).
 *
 * What is wrong: mm_init takes one CHUNKSIZE of heap and mm_malloc carves
 * blocks from it, but when the chunk is used up it returns NULL instead of
 * growing the heap with mem_sbrk (the textbook's extend_heap call was left
 * out), although the heap is nowhere near its limit.
 * Which check must catch it: the NULL check. For "a 0 4000, a 1 200" the
 * second malloc (op 1) gets NULL ("malloc returned NULL for 200 bytes (heap
 * 4.0 KiB of ... limit)").
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"early", "Out Of Ideas", "early", "", ""};

#define ALIGNMENT 16
#define HEADER 16 /* holds the payload's capacity */
#define CHUNKSIZE 4096

static char *next; /* first unused byte of the chunk */
static char *end;  /* end of the chunk */

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int mm_init(void) {
    next = mem_sbrk(CHUNKSIZE);
    if (next == (void *)-1)
        return -1;
    end = next + CHUNKSIZE;
    return 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t cap = align(size);
    if ((size_t)(end - next) < HEADER + cap)
        return NULL; /* BUG: should grow the heap here */
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
