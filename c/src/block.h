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
 *
 * Three parts, in this order: the layout (words, blocks, the heap frame), for any policy; the
 * boundary-tag heap (bt_*), all the block-level work of the policies that keep a footer in every
 * block (implicit.c, explicit.c), which differ only in how they find free blocks; and checker
 * helpers (the one-line failure report, bounds tests, the boundary-tag heap walk).
 */
#ifndef MALLOCSIM_BLOCK_H
#define MALLOCSIM_BLOCK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

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

/* ----------------------------------------------- the boundary-tag heap (implicit, explicit) */

/*
 * Policies that keep a footer in every block (and leave prev_alloc at 0) share all their
 * block-level work: taking a block and splitting it, merging free neighbours at once, growing the
 * heap by just what is missing, realloc in place, calloc, and the checker's heap walk. What
 * differs between them is how free blocks are found, which a policy tells through a bt_policy_t.
 *
 * Invariants kept (and checked by bt_check_heap): every block's footer equals its header, every
 * size is a multiple of 16 and at least BT_MIN_BLOCK, no two free blocks are adjacent, the blocks
 * tile the heap exactly between prologue and epilogue.
 */
static const size_t BT_OVERHEAD = 2 * sizeof(word_t);  /* header + footer */
static const size_t BT_MIN_BLOCK = 4 * sizeof(word_t); /* header, two list links, footer */

typedef struct bt_policy {
    block_t *(*find_fit)(size_t size); /* a free block of >= size bytes, or NULL; must look at
                                          every free block before giving up */
    void (*insert)(block_t *b);        /* b just became a whole free block; may be NULL */
    void (*remove)(block_t *b); /* free block b is about to be taken or merged; may be NULL */
} bt_policy_t;

static inline void bt_insert(const bt_policy_t *policy, block_t *b) {
    if (policy->insert != NULL)
        policy->insert(b);
}

static inline void bt_remove(const bt_policy_t *policy, block_t *b) {
    if (policy->remove != NULL)
        policy->remove(b);
}

/*
 * Free the `size` bytes at b (not known to the policy yet), merged with a free block on either
 * side, and hand the result to the policy. Returns the merged block.
 */
static inline block_t *bt_coalesce(block_t *b, size_t size, const bt_policy_t *policy) {
    block_t *next = (block_t *)(void *)((char *)b + size);
    if (!block_alloc(next)) {
        bt_remove(policy, next);
        size += block_size(next);
    }
    if (!word_alloc(*block_prev_footer(b))) {
        block_t *prev = block_prev(b);
        bt_remove(policy, prev);
        size += block_size(prev);
        b = prev;
    }
    block_write_tags(b, size, false, false);
    bt_insert(policy, b);
    return b;
}

/*
 * Make the first `size` bytes of the `total` bytes at b (known to no one) an allocated block; the
 * rest becomes a free block when it is big enough to be one, else stays in b as padding.
 */
static inline void bt_allocate(block_t *b, size_t total, size_t size, const bt_policy_t *policy) {
    if (total - size >= BT_MIN_BLOCK) {
        block_write_tags(b, size, true, false);
        bt_coalesce(block_next(b), total - size, policy);
    } else {
        block_write_tags(b, total, true, false);
    }
}

/* An empty heap: prologue and epilogue. */
static inline bool bt_init(void) { return heap_frame_create(); }

/* Size of the free block just before the epilogue, 0 when the last block is allocated. */
static inline size_t bt_last_free_size(void) {
    word_t last = *block_prev_footer(heap_epilogue());
    return word_alloc(last) ? 0 : word_size(last);
}

/* Grow the heap by `size` bytes and free them (merged with a free last block). NULL on failure. */
static inline block_t *bt_extend(size_t size, const bt_policy_t *policy) {
    block_t *b = heap_grow(size);
    if (b == NULL)
        return NULL;
    block_write_header((block_t *)(void *)((char *)b + size), 0, true, false);
    return bt_coalesce(b, size, policy);
}

static inline void *bt_malloc(size_t request, const bt_policy_t *policy) {
    size_t size;
    if (request == 0 || !block_size_for(request, BT_OVERHEAD, BT_MIN_BLOCK, &size))
        return NULL;
    block_t *b = policy->find_fit(size);
    if (b == NULL) {
        /* find_fit saw every free block, so a free last block is smaller than size: extend the
           heap by only what it lacks. */
        b = bt_extend(size - bt_last_free_size(), policy);
        if (b == NULL)
            return NULL;
    }
    bt_remove(policy, b);
    bt_allocate(b, block_size(b), size, policy);
    return block_payload(b);
}

static inline void bt_free(void *ptr, const bt_policy_t *policy) {
    if (ptr == NULL)
        return;
    block_t *b = payload_block(ptr);
    bt_coalesce(b, block_size(b), policy);
}

static inline void *bt_calloc(size_t count, size_t size, const bt_policy_t *policy) {
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = bt_malloc(count * size, policy);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

/*
 * Resize allocated block b to `size` bytes where it lies: shrink it (splitting off the rest),
 * grow it into a free next block, or, when it (with that free block) ends the heap, grow the heap
 * by just what is missing. False when none applies; b is unchanged then.
 */
static inline bool bt_resize_in_place(block_t *b, size_t size, const bt_policy_t *policy) {
    size_t have = block_size(b);
    if (size <= have) {
        bt_allocate(b, have, size, policy);
        return true;
    }
    block_t *next = block_next(b);
    bool next_free = !block_alloc(next);
    size_t avail = have + (next_free ? block_size(next) : 0);
    if (avail >= size) {
        bt_remove(policy, next);
        bt_allocate(b, avail, size, policy);
        return true;
    }
    if (!block_is_epilogue(next_free ? block_next(next) : next))
        return false;
    if (heap_grow(size - avail) == NULL)
        return false;
    if (next_free)
        bt_remove(policy, next);
    block_write_tags(b, size, true, false);
    block_write_header(block_next(b), 0, true, false);
    return true;
}

/*
 * realloc: NULL ptr mallocs, size 0 frees and returns NULL, otherwise in place when possible,
 * else malloc, copy, free. On failure NULL, and ptr is untouched.
 */
static inline void *bt_realloc(void *ptr, size_t request, const bt_policy_t *policy) {
    if (ptr == NULL)
        return bt_malloc(request, policy);
    if (request == 0) {
        bt_free(ptr, policy);
        return NULL;
    }
    size_t size;
    if (!block_size_for(request, BT_OVERHEAD, BT_MIN_BLOCK, &size))
        return NULL;
    block_t *b = payload_block(ptr);
    if (bt_resize_in_place(b, size, policy))
        return ptr;
    void *fresh = bt_malloc(request, policy);
    if (fresh == NULL)
        return NULL;
    size_t keep = block_payload_size(b, BT_OVERHEAD);
    memcpy(fresh, ptr, keep < request ? keep : request);
    bt_free(ptr, policy);
    return fresh;
}

/* Bytes usable at ptr; 0 for NULL, as malloc_usable_size(NULL) is. */
static inline size_t bt_usable_size(void *ptr) {
    return ptr == NULL ? 0 : block_payload_size(payload_block(ptr), BT_OVERHEAD);
}

/* The free blocks, by a walk of the whole heap (mm_free_space: these policies have no runs). */
static inline mm_free_space_t bt_free_space(void) {
    mm_free_space_t space = {0, 0, 0, 0};
    for (block_t *b = heap_first_block(); !block_is_epilogue(b); b = block_next(b))
        if (!block_alloc(b)) {
            space.block_bytes += block_size(b);
            space.blocks++;
        }
    return space;
}

/* Free block b's bytes that no policy reads while it stays free (mm_free_spans): past its header
   and two list links (BT_MIN_BLOCK's), before its footer. */
static inline void bt_free_span(block_t *b, mm_span_fn *each, void *ctx) {
    char *lo = (char *)block_payload(b) + 2 * sizeof(word_t);
    char *hi = (char *)block_footer(b);
    if (hi > lo)
        each(lo, (size_t)(hi - lo), ctx);
}

static inline void bt_free_spans(size_t least, mm_span_fn *each, void *ctx) {
    for (block_t *b = heap_first_block(); !block_is_epilogue(b); b = block_next(b))
        if (!block_alloc(b) && block_size(b) >= least)
            bt_free_span(b, each, ctx);
}

/* ---------------------------------------------------------------- checking */

/* Where a checker writes its one-line verdict, and the caller's line to name in it. */
typedef struct check_report {
    char *message;
    size_t capacity;
    int lineno;
} check_report_t;

/* Record a broken invariant as "line N: ..." and return false. */
__attribute__((format(printf, 2, 3))) static inline bool check_fail(check_report_t *report,
                                                                    const char *format, ...) {
    int used = snprintf(report->message, report->capacity, "line %d: ", report->lineno);
    if (used < 0 || (size_t)used >= report->capacity)
        return false;
    va_list args;
    va_start(args, format);
    vsnprintf(report->message + used, report->capacity - (size_t)used, format, args);
    va_end(args);
    return false;
}

static inline bool check_pass(check_report_t *report) {
    report->message[0] = '\0';
    return true;
}

/* Whether p could be a block inside the heap: between prologue and epilogue, header-aligned. */
static inline bool heap_holds_block(const void *p) {
    const char *c = p;
    return c >= (const char *)heap_first_block() && c < (const char *)heap_epilogue() &&
           (uintptr_t)(c + WORD_SIZE) % ALIGNMENT == 0;
}

/* Whether x starts a block (or is the epilogue), by walking a heap bt_check_heap accepted. */
static inline bool bt_is_block(const block_t *x) {
    block_t *b = heap_first_block();
    while (b != x && !block_is_epilogue(b))
        b = block_next(b);
    return b == x;
}

/*
 * Walk the whole heap and check the boundary-tag invariants; the walk never reads outside the
 * heap, however broken it is. On success *free_blocks is the number of free blocks met.
 */
static inline bool bt_check_heap(check_report_t *report, size_t *free_blocks) {
    if (mem_heapsize() < 2 * WORD_SIZE)
        return check_fail(report, "heap frame missing: the heap holds %zu bytes", mem_heapsize());
    word_t prologue = *heap_prologue();
    if (prologue != pack(0, true, false))
        return check_fail(report, "prologue broken at %p: word %#llx", (void *)heap_prologue(),
                          (unsigned long long)prologue);
    block_t *epilogue = heap_epilogue();
    if (block_size(epilogue) != 0 || !block_alloc(epilogue))
        return check_fail(report, "epilogue broken at %p: size %zu, alloc %d", (void *)epilogue,
                          block_size(epilogue), block_alloc(epilogue));
    size_t free_seen = 0;
    bool prev_free = false;
    for (block_t *b = heap_first_block(); b != epilogue; b = block_next(b)) {
        size_t size = block_size(b);
        size_t room = (size_t)((char *)epilogue - (char *)b);
        if ((b->header & (ALIGNMENT - 1) & ~ALLOC_BIT) != 0)
            return check_fail(report,
                              "block %p: header %#llx: size not a multiple of %zu (misaligned)",
                              (void *)b, (unsigned long long)b->header, ALIGNMENT);
        if (size < BT_MIN_BLOCK)
            return check_fail(report, "block %p: size %zu below the minimum block size %zu",
                              (void *)b, size, BT_MIN_BLOCK);
        if (size > room)
            return check_fail(report,
                              "block %p: size %zu runs past the epilogue (%zu bytes left): block "
                              "sizes do not add up to the heap size %zu",
                              (void *)b, size, room, mem_heapsize());
        if (*block_footer(b) != b->header)
            return check_fail(report, "block %p: header %#llx != footer %#llx (footer mismatch)",
                              (void *)b, (unsigned long long)b->header,
                              (unsigned long long)*block_footer(b));
        if (!block_alloc(b)) {
            if (prev_free)
                return check_fail(report,
                                  "block %p: adjacent free blocks: it and the block before it "
                                  "are both free (not coalesced)",
                                  (void *)b);
            free_seen++;
        }
        prev_free = !block_alloc(b);
    }
    *free_blocks = free_seen;
    return true;
}

#endif /* MALLOCSIM_BLOCK_H */
