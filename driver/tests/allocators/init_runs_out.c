/*
 * init_runs_out.c - mm_init that works twice, then fails for good
 * (test fixture, classic dialect).
 *
 * What is wrong: each mm_init takes a fresh descriptor for its heap from a
 * static pool of two and never gives one back, so from its third call on it
 * finds the pool empty and fails. Both checked runs of a trace (two calls)
 * are correct.
 * Which check must catch it: the timed passes, whose first mm_init is the
 * third call ("in the timed passes: mm_init failed (returned -1)"); a
 * benchmark reports the failure and goes on timing the other allocators.
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"runs out", "Pool Party", "pool", "", ""};

#define ALIGNMENT 16
#define HEADER 16 /* holds the payload's capacity */
#define POOL 2

struct heap {
    char *next; /* first unused byte of the heap */
};

static struct heap pool[POOL];
static int taken; /* BUG: never reset, so the pool runs dry */
static struct heap *heap;

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int mm_init(void) {
    if (taken == POOL)
        return -1;
    heap = &pool[taken++];
    heap->next = mem_sbrk(0);
    return 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t cap = align(size);
    char *block = mem_sbrk((intptr_t)(HEADER + cap));
    if (block == (void *)-1)
        return NULL;
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
