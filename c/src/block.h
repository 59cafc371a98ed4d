/*
 * block.h - the block layout the built-in policies share, as small inline functions.
 *
 * Every block starts with one 8-byte header word: the block's size (a multiple of 16, header
 * included) with two flags in its low bits. The payload follows the header and is 16-byte
 * aligned, so headers sit at addresses that are 8 mod 16. A policy with boundary tags repeats
 * the header in a footer, the block's last word, so that the block before any block can be
 * found and merged in constant time.
 *
 *   allocated block                          free block (explicit list shown)
 *
 *   +-----------------------------+ <- b      +-----------------------------+ <- b
 *   | size | prev_alloc | alloc=1 |  header   | size | prev_alloc | alloc=0 |  header
 *   +-----------------------------+ <- payload (16-aligned) ----------------+
 *   |                             |           | next free block             |
 *   | payload                     |           | prev free block             |
 *   | (and padding)               |           | (unused)                    |
 *   +-----------------------------+           +-----------------------------+
 *   | size | prev_alloc | alloc=1 |  footer   | size | prev_alloc | alloc=0 |  footer
 *   +-----------------------------+ <- next   +-----------------------------+ <- next
 *
 *   bit 0  alloc       the block is allocated
 *   bit 1  prev_alloc  the previous block is allocated; only for policies that drop footers of
 *                      allocated blocks (a policy that keeps footers may leave it 0)
 *
 * The heap frame: the heap opens with one word, the prologue, that looks like the footer of an
 * allocated zero-size block, and ends with one word, the epilogue, that looks like the header of an
 * allocated zero-size block. So the first block's payload lands at heap start + 16 (the heap start
 * is page aligned), no block has a free neighbour beyond the heap, and a walk stops at size 0.
 *
 *   heap_lo                                                                         heap_hi
 *   | prologue (0|alloc) | block | block | ... | block | epilogue (0|alloc) |
 *
 * Sizes are 64-bit; a size always fits a header since it is bounded by the heap.
 */
#ifndef MALLOCSIM_BLOCK_H
#define MALLOCSIM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlib.h"

typedef uint64_t word_t;

typedef struct block {
    word_t header;           /* size | prev_alloc | alloc */
    unsigned char payload[]; /* 16-byte aligned; free-list links live here when free */
} block_t;

static const size_t WORD_SIZE = sizeof(word_t); /* header, footer, prologue, epilogue */
static const size_t ALIGNMENT = 16;             /* of every payload and every block size */
static const word_t ALLOC_BIT = 0x1;
static const word_t PREV_ALLOC_BIT = 0x2;
static const word_t SIZE_MASK = ~(word_t)0xF;

/* n rounded up to a multiple of ALIGNMENT; the caller makes sure it cannot overflow. */
static inline size_t align_up(size_t n) { return (n + ALIGNMENT - 1) & ~(ALIGNMENT - 1); }

static inline bool is_aligned(const void *p) { return (uintptr_t)p % ALIGNMENT == 0; }

static inline word_t pack(size_t size, bool alloc, bool prev_alloc) {
    return (word_t)size | (alloc ? ALLOC_BIT : 0) | (prev_alloc ? PREV_ALLOC_BIT : 0);
}

static inline size_t word_size(word_t w) { return (size_t)(w & SIZE_MASK); }
static inline bool word_alloc(word_t w) { return (w & ALLOC_BIT) != 0; }
static inline bool word_prev_alloc(word_t w) { return (w & PREV_ALLOC_BIT) != 0; }

static inline size_t block_size(const block_t *b) { return word_size(b->header); }
static inline bool block_alloc(const block_t *b) { return word_alloc(b->header); }
static inline bool block_prev_alloc(const block_t *b) { return word_prev_alloc(b->header); }

static inline void *block_payload(block_t *b) { return b->payload; }

static inline block_t *payload_block(void *payload) {
    return (block_t *)(void *)((char *)payload - offsetof(block_t, payload));
}

/* The block's last word: its footer, when the policy keeps one. */
static inline word_t *block_footer(block_t *b) {
    return (word_t *)(void *)((char *)b + block_size(b) - WORD_SIZE);
}

static inline block_t *block_next(block_t *b) {
    return (block_t *)(void *)((char *)b + block_size(b));
}

/* The word just before b's header: the previous block's footer, or the prologue. */
static inline word_t *block_prev_footer(block_t *b) { return (word_t *)(void *)b - 1; }

/* The previous block, found through its footer: valid only when that block has one. */
static inline block_t *block_prev(block_t *b) {
    return (block_t *)(void *)((char *)b - word_size(*block_prev_footer(b)));
}

static inline void block_write_header(block_t *b, size_t size, bool alloc, bool prev_alloc) {
    b->header = pack(size, alloc, prev_alloc);
}

/* Header and footer at once (boundary tags): size must already be the block's new size. */
static inline void block_write_tags(block_t *b, size_t size, bool alloc, bool prev_alloc) {
    block_write_header(b, size, alloc, prev_alloc);
    *block_footer(b) = b->header;
}

/* Bytes a caller may use in a block whose overhead (header, and footer if any) is `overhead`. */
static inline size_t block_payload_size(const block_t *b, size_t overhead) {
    return block_size(b) - overhead;
}

/*
 * The block size that serves a request of `request` payload bytes in a block with `overhead`
 * bytes of tags, never below `min_size`. False when the request is too large to represent.
 */
static inline bool block_size_for(size_t request, size_t overhead, size_t min_size, size_t *size) {
    if (request > SIZE_MAX - overhead - ALIGNMENT)
        return false;
    size_t s = align_up(request + overhead);
    *size = s < min_size ? min_size : s;
    return true;
}

/* ---------------------------------------------------------------- the heap frame */

/* The prologue word, at the heap's first byte. */
static inline word_t *heap_prologue(void) { return (word_t *)mem_heap_lo(); }

/* The first block (the epilogue when the heap holds no block yet). */
static inline block_t *heap_first_block(void) {
    return (block_t *)(void *)((char *)mem_heap_lo() + WORD_SIZE);
}

/* The epilogue header, the heap's last word. */
static inline block_t *heap_epilogue(void) {
    return (block_t *)(void *)((char *)mem_heap_hi() + 1 - WORD_SIZE);
}

static inline bool block_is_epilogue(const block_t *b) { return block_size(b) == 0; }

/*
 * Lay out an empty heap: prologue and epilogue only. Any memory the heap already holds is given
 * back first, so that calling it from mm_init always starts from a clean heap. False when the
 * heap cannot grow.
 */
static inline bool heap_frame_create(void) {
    size_t held = mem_heapsize();
    if (held > 0 && mem_sbrk(-(intptr_t)held) == (void *)-1)
        return false;
    if (mem_sbrk((intptr_t)(2 * WORD_SIZE)) == (void *)-1)
        return false;
    *heap_prologue() = pack(0, true, false);
    block_write_header(heap_epilogue(), 0, true, true);
    return true;
}

/*
 * Grow the heap by `size` bytes (a multiple of ALIGNMENT). Returns the block that now starts at
 * the old epilogue, whose header still holds the old epilogue word (so its prev_alloc bit is
 * still readable); the caller writes that block's tags and the new epilogue. NULL when the heap
 * cannot grow.
 */
static inline block_t *heap_grow(size_t size) {
    if (size > (size_t)INTPTR_MAX)
        return NULL;
    void *old_brk = mem_sbrk((intptr_t)size);
    if (old_brk == (void *)-1)
        return NULL;
    return (block_t *)(void *)((char *)old_brk - WORD_SIZE);
}

#endif /* MALLOCSIM_BLOCK_H */
