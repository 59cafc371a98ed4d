/*
 * metadata_overwrite.c - a boundary-tag footer one word too far
 * (test fixture, classic dialect).
 *
 * What is wrong: the CS:APP layout (8-byte header, payload, 8-byte footer,
 * block sizes a multiple of 16) with FTRP missing its "- DSIZE": the footer
 * of a block sits at bp + size, which is the first payload word of the next
 * block. Nothing looks wrong until a block is freed while the one after it is
 * live: mm_free's footer overwrites live data.
 * Which check must catch it: the payload check. For "a 0 32, a 1 32, f 0,
 * f 1" the free of block 1 (op 3) finds its byte 0 overwritten.
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#define WSIZE 8
#define DSIZE 16

#define PACK(size, alloc) ((size) | (alloc))
#define GET(p) (*(size_t *)(p))
#define PUT(p, val) (*(size_t *)(p) = (val))
#define GET_SIZE(p) (GET(p) & ~(size_t)0xf)
#define HDRP(bp) ((char *)(bp)-WSIZE)
#define FTRP(bp) ((char *)(bp) + GET_SIZE(HDRP(bp))) /* BUG: should be - DSIZE */

int mm_init(void) {
    /* One padding word, so that every payload after an 8-byte header is 16-aligned. */
    return mem_sbrk(WSIZE) == (void *)-1 ? -1 : 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t asize = (size + DSIZE + (DSIZE - 1)) & ~(size_t)(DSIZE - 1); /* + header and footer */
    char *bp = mem_sbrk((intptr_t)asize);
    if (bp == (void *)-1)
        return NULL;
    /* The old break is where the header goes; the payload starts after it. */
    bp += WSIZE;
    PUT(HDRP(bp), PACK(asize, 1));
    return bp;
}

void mm_free(void *bp) {
    if (bp == NULL)
        return;
    size_t size = GET_SIZE(HDRP(bp));
    PUT(HDRP(bp), PACK(size, 0));
    PUT(FTRP(bp), PACK(size, 0)); /* lands on the next block's payload */
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
    size_t old = GET_SIZE(HDRP(ptr)) - DSIZE;
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}
