/*
 * good_bump.c - a correct, naive allocator (test fixture, classic dialect).
 *
 * Nothing is wrong with it: every check must pass. Every malloc grows the
 * heap by a fresh 16-byte header and the payload rounded up to 16; free does
 * nothing; realloc is malloc + copy + free; calloc is malloc + memset. Its
 * utilization is poor and its figures are easy to compute by hand.
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"bump", "A. Student", "astudent", "", ""};

#define ALIGNMENT 16
#define HEADER 16 /* holds the payload's capacity, keeps the payload aligned */

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

static size_t capacity(void *ptr) {
    size_t cap;
    memcpy(&cap, (char *)ptr - HEADER, sizeof cap);
    return cap;
}

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
    size_t old = capacity(ptr);
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}

void *mm_calloc(size_t nmemb, size_t size) {
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *ptr = mm_malloc(nmemb * size);
    if (ptr != NULL)
        memset(ptr, 0, nmemb * size);
    return ptr;
}

int mm_checkheap(int verbose) {
    (void)verbose;
    return 1;
}
