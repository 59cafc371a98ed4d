/*
 * segfit.c - the default policy: segregated free lists, footers only on free blocks.
 *
 * Guarantees: every payload is 16-byte aligned; all memory comes from mem_sbrk; mm_init
 * starts from an empty heap; failure (out of memory, overflow) returns NULL and leaves the
 * heap consistent; mm_checkheap verifies every invariant listed with the checker below.
 *
 * Blocks use block.h's layout: an 8-byte header (size | prev_alloc | alloc); free blocks also
 * carry two list links and a footer, allocated ones only the header. Free blocks sit in one of
 * NUM_CLASSES lists (exact 16-byte classes below 1 KiB, 8 per power of two above), found in
 * O(1) through a bitmap of non-empty classes; the fit is the best of the first FIT_SCAN blocks
 * of the first class that can hold the request. realloc grows in place (free next block, heap
 * end), then by sliding into a free previous block, and only then moves.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "block.h"
#include "mm.h"

/* ------------------------------------------------------------------ tunables */

/* MIN_BLOCK default: 32 - header + two links + footer of a free block. */
#define MIN_BLOCK ((size_t)32)
/* FIT_SCAN default: 8 - candidates examined in a list for the best fit. */
#define FIT_SCAN 8

/* ------------------------------------------------------------ size classes */

#define EXACT_LIMIT ((size_t)1024) /* below: one class per 16 bytes */
#define EXACT_CLASSES (EXACT_LIMIT / 16)
#define SUB_BITS 3 /* above: 8 classes per power of two */
#define NUM_CLASSES (EXACT_CLASSES + (64 - 10) * (1 << SUB_BITS))
#define MAP_WORDS ((NUM_CLASSES + 63) / 64)

typedef struct free_links {
    block_t *next;
    block_t *prev;
} free_links_t;

static block_t *class_head[NUM_CLASSES];
static uint64_t class_map[MAP_WORDS]; /* bit set <=> class list non-empty */
static char check_msg[160];

static inline unsigned floor_log2(size_t s) { return 63u - (unsigned)__builtin_clzll(s); }

static inline unsigned size_class(size_t s) {
    if (s < EXACT_LIMIT)
        return (unsigned)(s >> 4);
    unsigned fl = floor_log2(s);
    unsigned sl = (unsigned)(s >> (fl - SUB_BITS)) & ((1u << SUB_BITS) - 1);
    return (unsigned)EXACT_CLASSES + (fl - 10) * (1u << SUB_BITS) + sl;
}

static inline free_links_t *links(block_t *b) { return (free_links_t *)(void *)b->payload; }

static void list_insert(block_t *b) {
    unsigned c = size_class(block_size(b));
    free_links_t *l = links(b);
    l->prev = NULL;
    l->next = class_head[c];
    if (l->next != NULL)
        links(l->next)->prev = b;
    class_head[c] = b;
    class_map[c / 64] |= (uint64_t)1 << (c % 64);
}

static void list_remove(block_t *b) {
    unsigned c = size_class(block_size(b));
    free_links_t *l = links(b);
    if (l->prev != NULL)
        links(l->prev)->next = l->next;
    else
        class_head[c] = l->next;
    if (l->next != NULL)
        links(l->next)->prev = l->prev;
    if (class_head[c] == NULL)
        class_map[c / 64] &= ~((uint64_t)1 << (c % 64));
}

/* The first non-empty class at or above c, or NUM_CLASSES when there is none. */
static unsigned next_nonempty_class(unsigned c) {
    unsigned w = c / 64;
    uint64_t bits = class_map[w] & (~(uint64_t)0 << (c % 64));
    while (bits == 0) {
        if (++w == MAP_WORDS)
            return NUM_CLASSES;
        bits = class_map[w];
    }
    return w * 64 + (unsigned)__builtin_ctzll(bits);
}

/* The best fit for asize among the first FIT_SCAN blocks of class c's list, or NULL. */
static block_t *scan_class(unsigned c, size_t asize) {
    block_t *best = NULL;
    size_t best_size = SIZE_MAX;
    int seen = 0;
    for (block_t *b = class_head[c]; b != NULL && seen < FIT_SCAN; b = links(b)->next, seen++) {
        size_t s = block_size(b);
        if (s == asize)
            return b;
        if (s > asize && s < best_size) {
            best = b;
            best_size = s;
        }
    }
    return best;
}

static block_t *find_fit(size_t asize) {
    unsigned c = size_class(asize);
    if (class_head[c] != NULL) {
        block_t *b = scan_class(c, asize);
        if (b != NULL)
            return b;
    }
    c = next_nonempty_class(c + 1);
    return c < NUM_CLASSES ? scan_class(c, asize) : NULL;
}

/* ------------------------------------------------------------ block surgery */

static inline void set_prev_alloc(block_t *b, bool prev_alloc) {
    if (prev_alloc)
        b->header |= PREV_ALLOC_BIT;
    else
        b->header &= ~PREV_ALLOC_BIT;
}

/* Make b a free block of `size` bytes (tags written, next block told), not yet listed. */
static void make_free(block_t *b, size_t size) {
    block_write_tags(b, size, false, block_prev_alloc(b));
    set_prev_alloc(block_next(b), false);
}

/* Make b an allocated block of `size` bytes and tell the next block. */
static void make_alloc(block_t *b, size_t size) {
    block_write_header(b, size, true, block_prev_alloc(b));
    set_prev_alloc(block_next(b), true);
}

/*
 * b is free (tags written) and unlisted: merge it with free neighbours (which leave their lists)
 * and list the result.
 */
static block_t *coalesce_and_list(block_t *b) {
    size_t size = block_size(b);
    block_t *next = block_next(b);
    if (!block_alloc(next)) {
        list_remove(next);
        size += block_size(next);
    }
    if (!block_prev_alloc(b)) {
        block_t *prev = block_prev(b);
        list_remove(prev);
        size += block_size(prev);
        b = prev;
    }
    make_free(b, size);
    list_insert(b);
    return b;
}

/*
 * Allocate asize bytes at the front of the unlisted block b (free or allocated, size >= asize);
 * a tail of at least MIN_BLOCK bytes becomes a free block of its own.
 */
static void carve(block_t *b, size_t asize) {
    size_t size = block_size(b);
    if (size - asize >= MIN_BLOCK) {
        make_alloc(b, asize);
        block_t *rest = block_next(b);
        make_free(rest, size - asize);
        coalesce_and_list(rest);
    } else {
        make_alloc(b, size);
    }
}

/* The free block just before the epilogue, or NULL when the last block is allocated. */
static block_t *last_free_block(void) {
    block_t *epi = heap_epilogue();
    return block_prev_alloc(epi) ? NULL : block_prev(epi);
}

/*
 * Grow the heap so that a block of asize bytes ends at the new epilogue, reusing a free last
 * block. Returns that block, unlisted, with only its header written (size asize, free), so that
 * its payload beyond the old break is untouched and still zero. *fresh is the old break.
 */
static block_t *extend_heap(size_t asize, char **fresh) {
    block_t *last = last_free_block();
    size_t have = last != NULL ? block_size(last) : 0;
    block_t *b = heap_grow(asize - have);
    if (b == NULL)
        return NULL;
    *fresh = (char *)b + WORD_SIZE;
    if (last != NULL) {
        list_remove(last);
        b = last;
    }
    block_write_header(b, asize, false, block_prev_alloc(b));
    block_write_header(block_next(b), 0, true, false);
    return b;
}

/* ------------------------------------------------------------ the interface */

/* A block of at least asize bytes, allocated. *fresh: its payload from there on is still zero. */
static block_t *alloc_block(size_t asize, char **fresh) {
    block_t *b = find_fit(asize);
    if (b != NULL) {
        list_remove(b);
        *fresh = (char *)SIZE_MAX;
    } else {
        b = extend_heap(asize, fresh);
        if (b == NULL)
            return NULL;
    }
    carve(b, asize);
    return b;
}

static bool request_size(size_t size, size_t *asize) {
    return block_size_for(size, WORD_SIZE, MIN_BLOCK, asize);
}

bool mm_init(void) {
    memset(class_head, 0, sizeof class_head);
    memset(class_map, 0, sizeof class_map);
    check_msg[0] = '\0';
    return heap_frame_create();
}

void *mm_malloc(size_t size) {
    size_t asize;
    char *fresh;
    if (size == 0 || !request_size(size, &asize))
        return NULL;
    block_t *b = alloc_block(asize, &fresh);
    return b != NULL ? block_payload(b) : NULL;
}

void mm_free(void *ptr) {
    if (ptr == NULL)
        return;
    block_t *b = payload_block(ptr);
    make_free(b, block_size(b));
    coalesce_and_list(b);
}

void *mm_calloc(size_t nmemb, size_t size) {
    if (nmemb == 0 || size == 0)
        return NULL;
    if (nmemb > SIZE_MAX / size)
        return NULL;
    size_t n = nmemb * size, asize;
    char *fresh;
    if (!request_size(n, &asize))
        return NULL;
    block_t *b = alloc_block(asize, &fresh);
    if (b == NULL)
        return NULL;
    char *p = block_payload(b);
    /* Memory past the old break was never written: a huge calloc touches no page it need not. */
    if (fresh > p)
        memset(p, 0, (size_t)(fresh - p) < n ? (size_t)(fresh - p) : n);
    return p;
}

/*
 * Grow b (allocated, size < asize) where it is: into a free next block, and past the heap's end
 * when b or that free block is the last one. False when it must move.
 */
static bool grow_in_place(block_t *b, size_t asize) {
    size_t size = block_size(b);
    block_t *next = block_next(b);
    if (!block_alloc(next)) {
        size += block_size(next);
        if (size < asize && !block_is_epilogue(block_next(next)))
            return false;
        list_remove(next);
        block_write_header(b, size, true, block_prev_alloc(b));
        next = block_next(b);
        set_prev_alloc(next, true);
    }
    if (size < asize) {
        if (!block_is_epilogue(next))
            return false;
        if (heap_grow(asize - size) == NULL)
            return false;
        block_write_header(b, asize, true, block_prev_alloc(b));
        block_write_header(block_next(b), 0, true, true);
    }
    carve(b, asize);
    return true;
}

/*
 * Grow b by sliding it down into a free previous block (plus a free next one), which beats a move
 * to fresh memory: the hole a moved block leaves behind is what fragments a realloc-heavy heap.
 * `keep` payload bytes are preserved. NULL when the neighbours are too small.
 */
static block_t *grow_into_prev(block_t *b, size_t asize, size_t keep) {
    if (block_prev_alloc(b))
        return NULL;
    block_t *prev = block_prev(b);
    block_t *next = block_next(b);
    size_t total = block_size(prev) + block_size(b);
    bool next_free = !block_alloc(next);
    if (next_free)
        total += block_size(next);
    if (total < asize)
        return NULL;
    list_remove(prev);
    if (next_free)
        list_remove(next);
    memmove(block_payload(prev), block_payload(b), keep);
    block_write_header(prev, total, true, block_prev_alloc(prev));
    set_prev_alloc(block_next(prev), true);
    carve(prev, asize);
    return prev;
}

void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    size_t asize;
    if (!request_size(size, &asize))
        return NULL;
    block_t *b = payload_block(ptr);
    size_t old = block_size(b);
    if (asize <= old) {
        carve(b, asize);
        return ptr;
    }
    if (grow_in_place(b, asize))
        return ptr;
    size_t keep = old - WORD_SIZE;
    block_t *moved = grow_into_prev(b, asize, keep);
    if (moved != NULL)
        return block_payload(moved);
    void *fresh = mm_malloc(size);
    if (fresh == NULL)
        return NULL;
    memcpy(fresh, ptr, keep);
    mm_free(ptr);
    return fresh;
}

size_t mm_usable_size(void *ptr) {
    return ptr == NULL ? 0 : block_size(payload_block(ptr)) - WORD_SIZE;
}

const char *mm_configure(const char *options) {
    if (options == NULL || options[0] == '\0')
        return NULL;
    return "segfit takes no options";
}

const char *mm_checkheap_message(void) { return check_msg; }

/* ------------------------------------------------------------ the checker */

static bool fail(const void *where, const char *what) {
    snprintf(check_msg, sizeof check_msg, "block %p: %s", where, what);
    return false;
}

static bool in_heap(const void *p) {
    return (const char *)p >= (const char *)mem_heap_lo() && (const char *)p <= (const char *)mem_heap_hi();
}

/* Walk every block in address order; count the free ones. */
static bool check_blocks(size_t *free_blocks) {
    if (*heap_prologue() != pack(0, true, false))
        return fail(heap_prologue(), "prologue word damaged");
    block_t *epi = heap_epilogue();
    bool prev_alloc = true;
    block_t *b = heap_first_block();
    for (; b != epi; b = block_next(b)) {
        size_t size = block_size(b);
        if (!is_aligned(block_payload(b)))
            return fail(b, "payload not 16-byte aligned");
        if (size < MIN_BLOCK || size % ALIGNMENT != 0)
            return fail(b, "size below the minimum or not a multiple of 16");
        if (size > (size_t)((char *)epi - (char *)b))
            return fail(b, "block runs past the epilogue (sizes do not add up to the heap)");
        if (block_prev_alloc(b) != prev_alloc)
            return fail(b, "prev_alloc bit disagrees with the previous block");
        if (!block_alloc(b)) {
            if (*block_footer(b) != b->header)
                return fail(b, "free block's footer differs from its header");
            if (!prev_alloc)
                return fail(b, "two adjacent free blocks (missed coalesce)");
            ++*free_blocks;
        }
        prev_alloc = block_alloc(b);
    }
    if (block_size(epi) != 0 || !block_alloc(epi))
        return fail(epi, "epilogue header damaged");
    if (block_prev_alloc(epi) != prev_alloc)
        return fail(epi, "epilogue's prev_alloc bit disagrees with the last block");
    return true;
}

/* Every list holds free blocks of its own class, doubly linked, and together each free block once. */
static bool check_lists(size_t free_blocks) {
    size_t listed = 0;
    for (unsigned c = 0; c < NUM_CLASSES; c++) {
        bool marked = (class_map[c / 64] >> (c % 64)) & 1;
        if (marked != (class_head[c] != NULL))
            return fail(class_head[c], "class bitmap disagrees with the class list");
        block_t *prev = NULL;
        for (block_t *b = class_head[c]; b != NULL; prev = b, b = links(b)->next) {
            if (++listed > free_blocks)
                return fail(b, "free lists hold more blocks than the heap (listed twice or a cycle)");
            if (!in_heap(b) || !is_aligned(block_payload(b)))
                return fail(b, "free-list pointer outside the heap or misaligned");
            if (block_alloc(b))
                return fail(b, "allocated block in a free list");
            if (*block_footer(b) != b->header)
                return fail(b, "listed block's footer differs from its header");
            if (size_class(block_size(b)) != c)
                return fail(b, "free block in the wrong size-class list");
            if (links(b)->prev != prev)
                return fail(b, "free-list prev link does not point at the previous entry");
        }
    }
    if (listed != free_blocks)
        return fail(heap_first_block(), "a free block is missing from the free lists");
    return true;
}

bool mm_checkheap(int lineno) {
    (void)lineno;
    size_t free_blocks = 0;
    if (!check_blocks(&free_blocks) || !check_lists(free_blocks))
        return false;
    check_msg[0] = '\0';
    return true;
}
