/*
 * implicit.c - the teaching baseline: one implicit list of all blocks, boundary tags.
 *
 * Every block, free or allocated, has a header and a footer (block.h draws them); the heap is
 * one run of blocks between a prologue and an epilogue, and finding a free block means walking
 * all of them. Freed blocks merge with free neighbours at once, so no two free blocks are ever
 * adjacent. The block-level work (split, merge, grow, realloc in place) is block.h's boundary-tag
 * heap; this file only decides which free block serves a request:
 *
 *   first  the first free block that fits, from the heap's start (the default);
 *   next   the same, but from where the previous search stopped (the rover), wrapping around;
 *   best   the smallest free block that fits (an exact fit ends the search).
 *
 * Chosen with mm_configure("first" | "next" | "best") before mm_init. Guarantees: 16-byte aligned
 * payloads, memory only from mem_sbrk, mm_malloc(0) == NULL, and mm_checkheap verifies every
 * invariant of block.h's boundary-tag heap plus "the rover points at a block".
 */
#include <stdio.h>
#include <string.h>

#include "arena_state.h"
#include "block.h"
#include "mm.h"

typedef enum { FIT_FIRST, FIT_NEXT, FIT_BEST } fit_t;

/* The policy's state; one per arena in the drop-in (arena_state.h). */
static struct implicit_state {
    STATE_ALIGN fit_t fit; /* set by mm_configure, kept across mm_init; FIT_FIRST (0) until then */
    block_t *rover;        /* next fit: where the next search starts; always at a block */
    char check_message[256];
} st_of[STATE_COPIES];
#define st PER_ARENA(st)
_Static_assert(FIT_FIRST == 0, "a policy never configured takes the first fit");

/* ------------------------------------------------------------------ fits */

/* The first free block of >= size bytes in [from, to), or NULL. */
static block_t *first_fit_between(block_t *from, block_t *to, size_t size) {
    for (block_t *b = from; b != to; b = block_next(b))
        if (!block_alloc(b) && block_size(b) >= size)
            return b;
    return NULL;
}

static block_t *best_fit(size_t size) {
    block_t *best = NULL;
    for (block_t *b = heap_first_block(); !block_is_epilogue(b); b = block_next(b)) {
        if (block_alloc(b) || block_size(b) < size)
            continue;
        if (best == NULL || block_size(b) < block_size(best))
            best = b;
        if (block_size(b) == size)
            break;
    }
    return best;
}

static block_t *next_fit(size_t size) {
    block_t *b = first_fit_between(st.rover, heap_epilogue(), size);
    if (b == NULL)
        b = first_fit_between(heap_first_block(), st.rover, size);
    if (b != NULL)
        st.rover = b;
    return b;
}

static block_t *find_fit(size_t size) {
    switch (st.fit) {
    case FIT_NEXT:
        return next_fit(size);
    case FIT_BEST:
        return best_fit(size);
    case FIT_FIRST:
        break;
    }
    return first_fit_between(heap_first_block(), heap_epilogue(), size);
}

/*
 * A merge can swallow the block the rover points at; b is the block that grew: if the rover now
 * points inside it, point it at b. Called for every new free block, and after realloc in place.
 */
static void keep_rover_at_block(block_t *b) {
    if (st.rover > b && st.rover < block_next(b))
        st.rover = b;
}

/* No free list to keep: a new free block only matters to the rover. */
static const bt_policy_t implicit_policy = {
    .find_fit = find_fit,
    .insert = keep_rover_at_block,
    .remove = NULL,
};

/* ------------------------------------------------------------------ interface */

const char *mm_configure(const char *options) {
    static const struct {
        const char *name;
        fit_t fit;
    } fits[] = {{"", FIT_FIRST}, {"first", FIT_FIRST}, {"next", FIT_NEXT}, {"best", FIT_BEST}};
    const char *wanted = options == NULL ? "" : options;
    for (size_t i = 0; i < sizeof fits / sizeof fits[0]; i++) {
        if (strcmp(wanted, fits[i].name) == 0) {
            st.fit = fits[i].fit;
            return NULL;
        }
    }
    static char message[128];
    snprintf(message, sizeof message,
             "implicit: unknown option '%.40s'; accepted: first (the default), next, best", wanted);
    return message;
}

bool mm_init(void) {
    st.rover = NULL;
    st.check_message[0] = '\0';
    if (!bt_init())
        return false;
    st.rover = heap_first_block();
    return true;
}

void *mm_malloc(size_t size) { return bt_malloc(size, &implicit_policy); }

void mm_free(void *ptr) { bt_free(ptr, &implicit_policy); }

void *mm_calloc(size_t nmemb, size_t size) { return bt_calloc(nmemb, size, &implicit_policy); }

void *mm_realloc(void *ptr, size_t size) {
    void *p = bt_realloc(ptr, size, &implicit_policy);
    if (p != NULL && p == ptr)
        keep_rover_at_block(payload_block(p)); /* growing in place may swallow the rover's block */
    return p;
}

size_t mm_usable_size(void *ptr) { return bt_usable_size(ptr); }

mm_free_space_t mm_free_space(void) { return bt_free_space(); }

void mm_free_spans(size_t least, mm_span_fn *each, void *ctx) { bt_free_spans(least, each, ctx); }

bool mm_checkheap(int lineno) {
    check_report_t report = {st.check_message, sizeof st.check_message, lineno};
    size_t free_blocks = 0;
    if (!bt_check_heap(&report, &free_blocks))
        return false;
    if (!bt_is_block(st.rover))
        return check_fail(&report, "next-fit rover %p does not point at a block", (void *)st.rover);
    return check_pass(&report);
}

const char *mm_checkheap_message(void) { return st.check_message; }
