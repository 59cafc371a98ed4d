/*
 * handout_cmu.c - an mm.c shaped like the CMU 15-213 64-bit handout's
 * (test fixture, CMU dialect).
 *
 * Nothing is wrong with it: a small implicit-list, first-fit allocator kept
 * in the CMU handout's own shape: the functions are named malloc, free,
 * realloc and calloc and renamed to mm_* by the handout's "#ifdef DRIVER"
 * aliases (memset and memcpy become mem_memset and mem_memcpy the same way),
 * the dbg_ contract macros are defined here as in the handout, and it has
 * bool mm_init and bool mm_checkheap(int lineno). It must compile unchanged
 * against our mm.h and memlib.h (built with -DDRIVER, as the lab's Makefile
 * does) and pass every check.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#ifdef DEBUG
#define dbg_printf(...) printf(__VA_ARGS__)
#define dbg_requires(expr) assert(expr)
#define dbg_assert(expr) assert(expr)
#define dbg_ensures(expr) assert(expr)
#else
/* Type-checked but never evaluated. */
#define dbg_discard_expr_(expr) ((void)((0) && (expr)))
#define dbg_printf(...) dbg_discard_expr_(printf(__VA_ARGS__))
#define dbg_requires(expr) dbg_discard_expr_(expr)
#define dbg_assert(expr) dbg_discard_expr_(expr)
#define dbg_ensures(expr) dbg_discard_expr_(expr)
#endif

/* Do not change the following! */
#ifdef DRIVER
/* create aliases for driver tests */
#define malloc mm_malloc
#define free mm_free
#define realloc mm_realloc
#define calloc mm_calloc
#define memset mem_memset
#define memcpy mem_memcpy
#endif /* def DRIVER */

typedef uint64_t word_t;
static const size_t wsize = sizeof(word_t);
static const size_t dsize = 2 * sizeof(word_t);
static const size_t min_block_size = 2 * sizeof(word_t);
static const size_t chunksize = (1 << 12);
static const word_t alloc_mask = 0x1;
static const word_t size_mask = ~(word_t)0xF;

typedef struct block {
    word_t header;    /* size | allocated bit */
    char payload[];   /* the payload; its last word holds the footer when free */
} block_t;

static block_t *heap_start = NULL;

static size_t round_up(size_t size, size_t n) { return n * ((size + (n - 1)) / n); }
static word_t pack(size_t size, bool alloc) { return size | (alloc ? alloc_mask : 0); }
static size_t get_size(block_t *block) { return block->header & size_mask; }
static bool get_alloc(block_t *block) { return (block->header & alloc_mask) != 0; }
static block_t *payload_to_header(void *bp) {
    return (block_t *)((char *)bp - offsetof(block_t, payload));
}
static block_t *find_next(block_t *block) { return (block_t *)((char *)block + get_size(block)); }

/* The epilogue is a zero-size allocated header at the end of the heap. */
static void write_epilogue(block_t *block) { block->header = pack(0, true); }

static block_t *extend_heap(size_t size) {
    size = round_up(size, dsize);
    char *bp = mem_sbrk((intptr_t)size);
    if (bp == (void *)-1)
        return NULL;
    block_t *block = payload_to_header(bp); /* the old epilogue becomes its header */
    block->header = pack(size, false);
    write_epilogue(find_next(block));
    return block;
}

static block_t *find_fit(size_t asize) {
    for (block_t *block = heap_start; get_size(block) > 0; block = find_next(block))
        if (!get_alloc(block) && asize <= get_size(block))
            return block;
    return NULL;
}

static void split_block(block_t *block, size_t asize) {
    size_t size = get_size(block);
    if (size - asize >= min_block_size) {
        block->header = pack(asize, true);
        find_next(block)->header = pack(size - asize, false);
    } else {
        block->header = pack(size, true);
    }
}

bool mm_init(void) {
    word_t *start = (word_t *)(mem_sbrk((intptr_t)dsize));
    if (start == (void *)-1)
        return false;
    start[0] = pack(0, true); /* padding, keeps payloads 16-byte aligned */
    start[1] = pack(0, true); /* epilogue */
    heap_start = (block_t *)&start[1];
    return extend_heap(chunksize) != NULL;
}

void *malloc(size_t size) {
    if (heap_start == NULL && !mm_init())
        return NULL;
    dbg_requires(mm_checkheap(__LINE__));
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t asize = round_up(size + wsize, dsize);
    block_t *block = find_fit(asize);
    if (block == NULL) {
        block = extend_heap(asize > chunksize ? asize : chunksize);
        if (block == NULL)
            return NULL;
    }
    split_block(block, asize);
    dbg_ensures(mm_checkheap(__LINE__));
    return block->payload;
}

void free(void *bp) {
    if (bp == NULL)
        return;
    block_t *block = payload_to_header(bp);
    block->header = pack(get_size(block), false);
    /* coalesce with the following free blocks */
    for (block_t *next = find_next(block); !get_alloc(next); next = find_next(block))
        block->header = pack(get_size(block) + get_size(next), false);
}

void *realloc(void *ptr, size_t size) {
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (ptr == NULL)
        return malloc(size);
    void *newptr = malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t copysize = get_size(payload_to_header(ptr)) - wsize;
    if (size < copysize)
        copysize = size;
    memcpy(newptr, ptr, copysize);
    free(ptr);
    return newptr;
}

void *calloc(size_t elements, size_t size) {
    if (elements == 0)
        return NULL;
    size_t asize = elements * size;
    if (asize / elements != size)
        return NULL;
    void *bp = malloc(asize);
    if (bp == NULL)
        return NULL;
    memset(bp, 0, asize);
    return bp;
}

bool mm_checkheap(int lineno) {
    for (block_t *block = heap_start; get_size(block) > 0; block = find_next(block)) {
        if (((uintptr_t)block->payload & (dsize - 1)) != 0) {
            dbg_printf("line %d: block %p misaligned\n", lineno, (void *)block);
            return false;
        }
    }
    return true;
}
