/*
 * overlap.c - a free block is reused but never taken off the free list
 * (test fixture, classic dialect).
 *
 * What is wrong: mm_malloc finds a fitting block on the free list and
 * returns it, but forgets to unlink it, so the next malloc of a fitting size
 * gets the same block again while the first is still live. The trace
 * "a 0 32, f 0, a 1 32, a 2 32" shows it at its last op.
 * Which check must catch it: the overlap check ("block 2 [...] overlaps
 * block 1 [...]"). The list links live in the 16-byte header, so the
 * payload checker's writes cannot crash the allocator first.
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#define ALIGNMENT 16

typedef struct header {
    size_t size;         /* payload capacity */
    struct header *next; /* next free block, when free */
} header;

static header *free_list;

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int mm_init(void) {
    free_list = NULL;
    return 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size = align(size);
    for (header *h = free_list; h != NULL; h = h->next)
        if (h->size >= size)
            return h + 1; /* BUG: h stays on free_list */
    header *h = mem_sbrk((intptr_t)(sizeof(header) + size));
    if (h == (void *)-1)
        return NULL;
    h->size = size;
    h->next = NULL;
    return h + 1;
}

void mm_free(void *ptr) {
    if (ptr == NULL)
        return;
    header *h = (header *)ptr - 1;
    h->next = free_list;
    free_list = h;
}

void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    void *newptr = mm_malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t old = ((header *)ptr - 1)->size;
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}
