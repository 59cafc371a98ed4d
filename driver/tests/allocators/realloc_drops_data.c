/*
 * realloc_drops_data.c - realloc copies 16 bytes too few
 * (test fixture, classic dialect).
 *
 * What is wrong: the header holds the payload's capacity, but mm_realloc
 * subtracts the header size from it once more, as if it held the block's
 * size: the last 16 bytes of the old payload are not copied.
 * Which check must catch it: the realloc check. For "a 0 48, r 0 64" the
 * realloc (op 1) finds byte 32 of the kept data wrong ("realloc did not keep
 * the data").
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#define ALIGNMENT 16
#define HEADER 16 /* holds the payload's capacity */

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int mm_init(void) { return 0; }

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
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    void *newptr = mm_malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t cap;
    memcpy(&cap, (char *)ptr - HEADER, sizeof cap);
    size_t old = cap - HEADER; /* BUG: cap is the payload already */
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}
