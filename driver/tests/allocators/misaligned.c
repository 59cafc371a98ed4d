/*
 * misaligned.c - 8-byte alignment on a 64-bit machine (test fixture, classic dialect).
 *
 * What is wrong: this is the 32-bit textbook's ALIGNMENT 8 with an 8-byte
 * header in front of the payload. The heap starts 16-byte aligned and every
 * block is a multiple of 16, so every payload sits at 8 mod 16.
 * Which check must catch it: the alignment check, on the first malloc
 * ("block 0 [...] is not 16-byte aligned").
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#define ALIGNMENT 8
#define WSIZE 8
#define ALIGN(size) (((size) + (ALIGNMENT - 1)) & ~(size_t)(ALIGNMENT - 1))

static size_t block_size(size_t size) {
    /* header + payload, rounded to 16 so the heap stays "aligned" */
    return (WSIZE + ALIGN(size) + 15) & ~(size_t)15;
}

int mm_init(void) { return 0; }

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t bsize = block_size(size);
    char *block = mem_sbrk((intptr_t)bsize);
    if (block == (void *)-1)
        return NULL;
    memcpy(block, &bsize, WSIZE);
    return block + WSIZE;
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
    size_t bsize;
    memcpy(&bsize, (char *)ptr - WSIZE, WSIZE);
    size_t old = bsize - WSIZE;
    memcpy(newptr, ptr, old < size ? old : size);
    return newptr;
}
