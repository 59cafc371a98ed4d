/*
 * csapp_explicit.c - a student's mm.c for the CS:APP classic malloc lab
 * (test fixture for the "classic" lab profile).
 *
 * Lab: the CS:APP classic handout (malloclab-handout, mdriver.c of 2002):
 * int mm_init (negative = failure), mm_malloc/mm_free/mm_realloc, a filled
 * team_t, ALIGNMENT 8, a 20 MB heap, the heap's bytes kept between passes.
 *
 * What it does: an explicit, doubly linked free list (LIFO insertion, best
 * fit) over blocks with 4-byte boundary tags; the links are 4-byte offsets
 * from the start of the heap, so a block is never smaller than 16 bytes.
 * Freed blocks are merged with free neighbours at once. When nothing fits,
 * the heap grows only by what the request lacks beyond a free block at its
 * end. realloc works in place when it can: a shrink keeps the block, a grow
 * takes a free next block or extends the heap when the block is the last
 * one; otherwise malloc + copy + free.
 *
 * Its checker is the write-up's int mm_check(void) (non-zero when the heap
 * is consistent), static and called by nothing: the lab's mm.h declares no
 * checker, so a grader must not require one.
 *
 * Expected verdict (the real CS:APP mdriver built for x86-64, ALIGNMENT 8,
 * MAX_HEAP 20 MB, on the 11 default traces): all 11 valid ("correct:11"),
 * mean utilization 89% against csapp_implicit.c's 74% ("Perf index = 54
 * (util) + ..."); realloc-bal 100% and realloc2-bal 87%, their one
 * realloc'd block growing in place. Like every allocator it fails CMU's
 * syn-mix-realloc at line 317 under this driver (the driver's signed-char
 * comparison). See driver/tests/labs_driver_verdicts.json.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlib.h"
#include "mm.h"

/*********************************************************
 * NOTE TO STUDENTS: Before you do anything else, please
 * provide your team information in the following struct.
 ********************************************************/
team_t team = {
    /* Team name */
    "explicit",
    /* First member's full name */
    "Harry Bovik",
    /* First member's email address */
    "bovik@cs.cmu.edu",
    /* Second member's full name (leave blank if none) */
    "Ben Bitdiddle",
    /* Second member's email address (leave blank if none) */
    "ben@cs.cmu.edu"};

/*
 * Block layout (bp = payload pointer, 8-byte aligned):
 *   bp-4: header  (size | allocated)
 *   bp+0: next free block, as an offset from heap_lo (free blocks only)
 *   bp+4: previous free block, likewise
 *   bp+size-8: footer (a copy of the header)
 * Offset 0 means "none": no payload ever starts at the heap's first byte.
 */
#define WORD 4
#define DWORD 8
#define MINBLK 16
#define SIZE_LIMIT ((size_t)1 << 30)

#define GET(p) (*(uint32_t *)(p))
#define PUT(p, v) (*(uint32_t *)(p) = (uint32_t)(v))
#define PACK(size, alloc) ((uint32_t)(size) | (uint32_t)(alloc))

#define HDRP(bp) ((char *)(bp)-WORD)
#define SIZE(bp) (GET(HDRP(bp)) & ~0x7u)
#define USED(bp) (GET(HDRP(bp)) & 0x1u)
#define FTRP(bp) ((char *)(bp) + SIZE(bp) - DWORD)
#define NEXT_BLK(bp) ((char *)(bp) + SIZE(bp))
#define PREV_BLK(bp) ((char *)(bp) - (GET((char *)(bp)-DWORD) & ~0x7u))
#define PREV_USED(bp) (GET((char *)(bp)-DWORD) & 0x1u)

static char *heap_lo;   /* first byte of the heap: offsets count from here */
static char *prologue;  /* payload pointer of the prologue block */
static char *free_head; /* first block of the free list, or NULL */

/* Free-list links, stored as 32-bit offsets from heap_lo. With LINKS_AS_32_BIT_POINTERS, as the
   pointers themselves, cut to 32 bits: what code written for the handout's -m32 build does, and
   what crashes on x86-64, where the grader must say why. With LINKS_AS_ADJACENT_POINTERS, as
   whole pointers a word (4 bytes) apart: written for -m32 too, and crashing on x86-64, where the
   two overlap, without a compiler warning. */
#if defined(LINKS_AS_32_BIT_POINTERS)
static char *link_get(char *p) { return (char *)GET(p); }
static void link_set(char *p, char *bp) { PUT(p, bp); }
#elif defined(LINKS_AS_ADJACENT_POINTERS)
static char *link_get(char *p) { return *(char **)p; }
static void link_set(char *p, char *bp) { *(char **)p = bp; }
#else
static char *link_get(char *p) {
    uint32_t off = GET(p);
    return off ? heap_lo + off : NULL;
}
static void link_set(char *p, char *bp) { PUT(p, bp ? (uint32_t)(bp - heap_lo) : 0); }
#endif
#define NEXT_FREE(bp) link_get((char *)(bp))
#define PREV_FREE(bp) link_get((char *)(bp) + WORD)

static void set_block(char *bp, size_t size, int used) {
    PUT(HDRP(bp), PACK(size, used));
    PUT((char *)bp + size - DWORD, PACK(size, used));
}

static void list_push(char *bp) {
    link_set(bp, free_head);
    link_set(bp + WORD, NULL);
    if (free_head != NULL)
        link_set(free_head + WORD, bp);
    free_head = bp;
}

static void list_remove(char *bp) {
    char *next = NEXT_FREE(bp);
    char *prev = PREV_FREE(bp);
    if (prev != NULL)
        link_set(prev, next);
    else
        free_head = next;
    if (next != NULL)
        link_set(next + WORD, prev);
}

/* Merge free block bp (not in the list) with free neighbours, list it. */
static char *coalesce(char *bp) {
    size_t size = SIZE(bp);
    char *next = NEXT_BLK(bp);

    if (!USED(next)) {
        list_remove(next);
        size += SIZE(next);
    }
    if (!PREV_USED(bp)) {
        char *prev = PREV_BLK(bp);
        list_remove(prev);
        size += SIZE(prev);
        bp = prev;
    }
    set_block(bp, size, 0);
    list_push(bp);
    return bp;
}

/* Extend the heap by bytes; the old epilogue becomes the new header. */
static char *extend(size_t bytes) {
    char *bp = mem_sbrk((int)bytes);
    if (bp == (void *)-1)
        return NULL;
    set_block(bp, bytes, 0);
    PUT(HDRP(NEXT_BLK(bp)), PACK(0, 1));
    return coalesce(bp);
}

static size_t adjust(size_t size) {
    size_t asize = (size + WORD + WORD + (DWORD - 1)) & ~(size_t)(DWORD - 1);
    return asize < MINBLK ? MINBLK : asize;
}

/* Best fit over the whole free list; an exact fit ends the search. */
static char *best_fit(size_t asize) {
    char *bp, *best = NULL;
    for (bp = free_head; bp != NULL; bp = NEXT_FREE(bp)) {
        size_t size = SIZE(bp);
        if (size == asize)
            return bp;
        if (size > asize && (best == NULL || size < SIZE(best)))
            best = bp;
    }
    return best;
}

/* The block just before the epilogue, if it is free. */
static char *free_tail(void) {
    char *epilogue = (char *)mem_heap_hi() + 1; /* its payload pointer */
    if (PREV_USED(epilogue))
        return NULL;
    return PREV_BLK(epilogue);
}

/* Mark free block bp (already off the list) used for asize bytes. */
static void place(char *bp, size_t asize) {
    size_t size = SIZE(bp);
    if (size - asize >= MINBLK) {
        set_block(bp, asize, 1);
        set_block(NEXT_BLK(bp), size - asize, 0);
        list_push(NEXT_BLK(bp));
    } else {
        set_block(bp, size, 1);
    }
}

/*
 * mm_init - padding word, prologue, epilogue; an empty free list. The heap
 * grows on demand only.
 */
int mm_init(void) {
    char *p = mem_sbrk(4 * WORD);
    if (p == (void *)-1)
        return -1;
    heap_lo = p;
    PUT(p, 0);
    PUT(p + WORD, PACK(DWORD, 1));
    PUT(p + 2 * WORD, PACK(DWORD, 1));
    PUT(p + 3 * WORD, PACK(0, 1));
    prologue = p + 2 * WORD;
    free_head = NULL;
    return 0;
}

void *mm_malloc(size_t size) {
    size_t asize;
    char *bp;

    if (size == 0 || size > SIZE_LIMIT)
        return NULL;
    asize = adjust(size);
    bp = best_fit(asize);
    if (bp == NULL) {
        /* Grow by what a free block at the end of the heap lacks. */
        char *tail = free_tail();
        size_t need = tail ? asize - SIZE(tail) : asize;
        bp = extend(need);
        if (bp == NULL)
            return NULL;
    }
    list_remove(bp);
    place(bp, asize);
    return bp;
}

void mm_free(void *ptr) {
    if (ptr == NULL)
        return;
    set_block(ptr, SIZE(ptr), 0);
    coalesce(ptr);
}

/* Give back the end of used block bp beyond asize, if that is worth a block. */
static void shrink(char *bp, size_t asize) {
    size_t size = SIZE(bp);
    if (size - asize >= MINBLK) {
        set_block(bp, asize, 1);
        set_block(NEXT_BLK(bp), size - asize, 0);
        coalesce(NEXT_BLK(bp));
    }
}

void *mm_realloc(void *ptr, size_t size) {
    char *bp = ptr;
    char *next, *newp;
    size_t asize, have;

    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    if (size > SIZE_LIMIT)
        return NULL;
    asize = adjust(size);
    have = SIZE(bp);
    if (asize <= have) {
        shrink(bp, asize);
        return bp;
    }

    next = NEXT_BLK(bp);
    if (!USED(next) && have + SIZE(next) >= asize) {
        /* Take the free block after it. */
        list_remove(next);
        set_block(bp, have + SIZE(next), 1);
        shrink(bp, asize);
        return bp;
    }
    if (SIZE(next) == 0 || (!USED(next) && SIZE(NEXT_BLK(next)) == 0)) {
        /* Last block, or only a free block after it: grow the heap. */
        size_t more = asize - have - (SIZE(next) ? SIZE(next) : 0);
        if (SIZE(next) != 0)
            list_remove(next);
        else
            next = NULL;
        if (mem_sbrk((int)more) == (void *)-1) {
            if (next != NULL)
                list_push(next);
            return NULL;
        }
        set_block(bp, asize, 1);
        PUT(HDRP(NEXT_BLK(bp)), PACK(0, 1));
        return bp;
    }

    newp = mm_malloc(size);
    if (newp == NULL)
        return NULL;
    memcpy(newp, bp, have - DWORD);
    mm_free(bp);
    return newp;
}

/*
 * mm_check - the heap checker the write-up asks for: non-zero when the heap
 * is consistent. Left in for debugging; nothing calls it.
 */
static int __attribute__((unused)) mm_check(void) {
    char *bp;
    int heap_free = 0, list_free = 0, ok = 1;

    if (SIZE(prologue) != DWORD || !USED(prologue)) {
        fprintf(stderr, "mm_check: bad prologue\n");
        ok = 0;
    }
    for (bp = NEXT_BLK(prologue); SIZE(bp) != 0; bp = NEXT_BLK(bp)) {
        if ((uintptr_t)bp % DWORD != 0) {
            fprintf(stderr, "mm_check: %p misaligned\n", (void *)bp);
            ok = 0;
        }
        if (GET(HDRP(bp)) != GET(FTRP(bp))) {
            fprintf(stderr, "mm_check: %p header != footer\n", (void *)bp);
            ok = 0;
        }
        if (!USED(bp)) {
            heap_free++;
            if (!USED(NEXT_BLK(bp))) {
                fprintf(stderr, "mm_check: %p not coalesced\n", (void *)bp);
                ok = 0;
            }
        }
    }
    if ((char *)HDRP(bp) + WORD - 1 != (char *)mem_heap_hi()) {
        fprintf(stderr, "mm_check: epilogue not at the heap's end\n");
        ok = 0;
    }
    for (bp = free_head; bp != NULL; bp = NEXT_FREE(bp)) {
        list_free++;
        if (bp < (char *)mem_heap_lo() || bp > (char *)mem_heap_hi()) {
            fprintf(stderr, "mm_check: list block %p outside the heap\n", (void *)bp);
            return 0;
        }
        if (USED(bp)) {
            fprintf(stderr, "mm_check: list block %p is in use\n", (void *)bp);
            ok = 0;
        }
        if (NEXT_FREE(bp) != NULL && PREV_FREE(NEXT_FREE(bp)) != bp) {
            fprintf(stderr, "mm_check: %p's next does not point back\n", (void *)bp);
            ok = 0;
        }
        if (list_free > heap_free)
            break;
    }
    if (list_free != heap_free) {
        fprintf(stderr, "mm_check: %d free blocks in the heap, %d listed\n", heap_free, list_free);
        ok = 0;
    }
    return ok;
}
