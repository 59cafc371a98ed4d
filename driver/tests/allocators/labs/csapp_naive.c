/*
 * csapp_naive.c - a student's first mm.c for the CS:APP classic malloc lab
 * (test fixture for the "classic" lab profile).
 *
 * Lab: the CS:APP classic handout (malloclab-handout, mdriver.c of 2002):
 * int mm_init (negative = failure), mm_malloc/mm_free/mm_realloc, a filled
 * team_t, ALIGNMENT 8, a 20 MB heap (MAX_HEAP).
 *
 * What it does: the naive idea, kept at 8-byte alignment. Every malloc takes
 * a fresh block from mem_sbrk: an 8-byte word holding the request size, then
 * the payload rounded up to 8. free does nothing, so nothing is ever reused,
 * and realloc is malloc + copy (the old block is simply abandoned).
 *
 * Expected verdict (the real CS:APP mdriver built for x86-64, ALIGNMENT 8,
 * MAX_HEAP 20 MB, on the 11 default traces): the traces whose total
 * allocation passes 20 MB run the heap out - mem_sbrk fails, mm_malloc or
 * mm_realloc returns NULL and the driver reports "mm_malloc failed." or
 * "mm_realloc failed." - on coalescing-bal, random-bal, random2-bal,
 * realloc-bal and realloc2-bal, so the driver prints "Terminated with 5
 * errors", "correct:6" and "perfidx:0". See
 * driver/tests/labs_driver_verdicts.json.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlib.h"
#include "mm.h"

team_t team = {
    /* Team name */
    "naive",
    /* First member's full name */
    "Harry Bovik",
    /* First member's email address */
    "bovik@cs.cmu.edu",
    /* Second member's full name (leave blank if none) */
    "",
    /* Second member's email address (leave blank if none) */
    ""};

/* 8-byte alignment, as the write-up asks */
#define ALIGNMENT 8
#define ROUND_UP(n) (((n) + (ALIGNMENT - 1)) & ~(size_t)(ALIGNMENT - 1))
#define HEADER 8 /* the request size, kept for realloc */

int mm_init(void) { return 0; }

/*
 * mm_malloc - bump the break by a header and the rounded-up payload.
 */
void *mm_malloc(size_t size) {
    size_t total;
    char *p;

    if (size > (size_t)INT32_MAX - HEADER - ALIGNMENT)
        return NULL;
    total = HEADER + ROUND_UP(size);
    p = mem_sbrk((int)total);
    if (p == (void *)-1)
        return NULL;
    *(size_t *)p = size;
    return p + HEADER;
}

/*
 * mm_free - nothing: the block is never reused.
 */
void mm_free(void *ptr) { (void)ptr; }

/*
 * mm_realloc - a new block with the old bytes copied in.
 */
void *mm_realloc(void *ptr, size_t size) {
    void *newp;
    size_t old;

    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    newp = mm_malloc(size);
    if (newp == NULL)
        return NULL;
    old = *(size_t *)((char *)ptr - HEADER);
    memcpy(newp, ptr, old < size ? old : size);
    mm_free(ptr);
    return newp;
}
