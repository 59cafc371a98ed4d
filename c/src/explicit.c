/*
 * explicit.c - boundary tags plus one doubly linked list of the free blocks.
 *
 * The block layout, splitting, immediate merging, heap growth and realloc in place are block.h's
 * boundary-tag heap, shared with implicit.c; this file keeps the free blocks on a list threaded
 * through their payloads (next, prev: block.h draws it), so a search visits free blocks only.
 * Options, given to mm_configure as a comma-separated list before mm_init:
 *
 *   lifo     a freed block goes to the front of the list (the default; O(1) free);
 *   address  the list is kept in address order (O(free blocks) per free, less fragmentation);
 *   first    take the first listed block that fits (the default);
 *   best     take the smallest block that fits (an exact fit ends the search).
 *
 * e.g. "address,best". Guarantees: those of the boundary-tag heap (16-byte aligned payloads,
 * memory only from mem_sbrk, mm_malloc(0) == NULL), and mm_checkheap also verifies the list: every
 * free block on it exactly once, no allocated block on it, links consistent both ways, pointers
 * inside the heap, and address order when asked for.
 */
#include <stdio.h>
#include <string.h>

#include "arena_state.h"
#include "block.h"
#include "mm.h"

typedef enum { ORDER_LIFO, ORDER_ADDRESS } order_t;
typedef enum { SEARCH_FIRST, SEARCH_BEST } search_t;

/* The links a free block keeps in its payload. */
typedef struct free_links {
    block_t *next; /* next free block on the list, NULL at the end */
    block_t *prev; /* previous free block, NULL at the head */
} free_links_t;

/* The policy's state; one per arena in the drop-in (arena_state.h). */
static struct explicit_state {
    STATE_ALIGN order_t
        order;          /* set by mm_configure, kept across mm_init; ORDER_LIFO (0) until then */
    search_t search;    /* likewise; SEARCH_FIRST (0) */
    block_t *free_head; /* the list of free blocks */
    char check_message[256];
} st_of[STATE_COPIES];
#define st PER_ARENA(st)
_Static_assert(ORDER_LIFO == 0 && SEARCH_FIRST == 0, "a policy never configured: LIFO, first fit");

static free_links_t *links(block_t *b) { return (free_links_t *)block_payload(b); }

/* ------------------------------------------------------------------ the free list */

static void list_insert(block_t *b) {
    block_t *prev = NULL;
    block_t *next = st.free_head;
    if (st.order == ORDER_ADDRESS) {
        while (next != NULL && next < b) {
            prev = next;
            next = links(next)->next;
        }
    }
    links(b)->prev = prev;
    links(b)->next = next;
    if (prev != NULL)
        links(prev)->next = b;
    else
        st.free_head = b;
    if (next != NULL)
        links(next)->prev = b;
}

static void list_remove(block_t *b) {
    block_t *prev = links(b)->prev;
    block_t *next = links(b)->next;
    if (prev != NULL)
        links(prev)->next = next;
    else
        st.free_head = next;
    if (next != NULL)
        links(next)->prev = prev;
}

static block_t *find_fit(size_t size) {
    block_t *best = NULL;
    for (block_t *b = st.free_head; b != NULL; b = links(b)->next) {
        if (block_size(b) < size)
            continue;
        if (st.search == SEARCH_FIRST || block_size(b) == size)
            return b;
        if (best == NULL || block_size(b) < block_size(best))
            best = b;
    }
    return best;
}

static const bt_policy_t explicit_policy = {
    .find_fit = find_fit,
    .insert = list_insert,
    .remove = list_remove,
};

/* ------------------------------------------------------------------ interface */

const char *mm_configure(const char *options) {
    static char message[160];
    order_t new_order = ORDER_LIFO;
    search_t new_search = SEARCH_FIRST;
    const char *word = options == NULL ? "" : options;
    while (*word != '\0') {
        size_t length = strcspn(word, ",");
        if (length == 4 && strncmp(word, "lifo", length) == 0)
            new_order = ORDER_LIFO;
        else if (length == 7 && strncmp(word, "address", length) == 0)
            new_order = ORDER_ADDRESS;
        else if (length == 5 && strncmp(word, "first", length) == 0)
            new_search = SEARCH_FIRST;
        else if (length == 4 && strncmp(word, "best", length) == 0)
            new_search = SEARCH_BEST;
        else {
            snprintf(message, sizeof message,
                     "explicit: unknown option '%.*s'; accepted, comma-separated: lifo (the "
                     "default) or address, first (the default) or best",
                     (int)(length < 40 ? length : 40), word);
            return message;
        }
        word += length + (word[length] == ',');
    }
    st.order = new_order;
    st.search = new_search;
    return NULL;
}

bool mm_init(void) {
    st.free_head = NULL;
    st.check_message[0] = '\0';
    return bt_init();
}

void *mm_malloc(size_t size) { return bt_malloc(size, &explicit_policy); }

void mm_free(void *ptr) { bt_free(ptr, &explicit_policy); }

void *mm_calloc(size_t nmemb, size_t size) { return bt_calloc(nmemb, size, &explicit_policy); }

void *mm_realloc(void *ptr, size_t size) { return bt_realloc(ptr, size, &explicit_policy); }

size_t mm_usable_size(void *ptr) { return bt_usable_size(ptr); }

mm_free_space_t mm_free_space(void) { return bt_free_space(); }

void mm_free_spans(size_t least, mm_span_fn *each, void *ctx) { bt_free_spans(least, each, ctx); }

/* Whether x is on the free list, whose walk check_free_list has found to end. */
static bool listed(const block_t *x) {
    for (block_t *b = st.free_head; b != NULL; b = links(b)->next)
        if (b == x)
            return true;
    return false;
}

/* The first free block of the heap missing from a sound list (the checker's failure path). */
static block_t *first_unlisted(void) {
    block_t *b = heap_first_block();
    while (!block_is_epilogue(b) && (block_alloc(b) || listed(b)))
        b = block_next(b);
    return b;
}

/* The list against the heap walk, which found `free_blocks` free blocks in a sound heap. */
static bool check_free_list(check_report_t *report, size_t free_blocks) {
    size_t count = 0;
    block_t *prev = NULL;
    for (block_t *b = st.free_head; b != NULL; prev = b, b = links(b)->next) {
        if (!heap_holds_block(b))
            return check_fail(report, "free list pointer %p (after %p) outside the heap", (void *)b,
                              (void *)prev);
        size_t room = (size_t)((char *)heap_epilogue() - (char *)b);
        if (block_size(b) < BT_MIN_BLOCK || block_size(b) > room || *block_footer(b) != b->header)
            return check_fail(report, "free list pointer %p (after %p) is not at a block",
                              (void *)b, (void *)prev);
        if (block_alloc(b))
            return check_fail(report, "allocated block %p on the free list", (void *)b);
        if (links(b)->prev != prev)
            return check_fail(report,
                              "free list link broken at %p: its prev is %p, not %p "
                              "(next->prev != self)",
                              (void *)b, (void *)links(b)->prev, (void *)prev);
        if (st.order == ORDER_ADDRESS && prev != NULL && b < prev)
            return check_fail(report, "free list out of address order: %p after %p", (void *)b,
                              (void *)prev);
        if (++count > free_blocks)
            return check_fail(report,
                              "free list count: %p is one block more than the heap's %zu free "
                              "blocks (a block that is not one, or listed twice)",
                              (void *)b, free_blocks);
    }
    if (count != free_blocks)
        return check_fail(report,
                          "free list count: %zu blocks listed but the heap has %zu free blocks: "
                          "block %p is not on the free list",
                          count, free_blocks, (void *)first_unlisted());
    return true;
}

bool mm_checkheap(int lineno) {
    check_report_t report = {st.check_message, sizeof st.check_message, lineno};
    size_t free_blocks = 0;
    if (!bt_check_heap(&report, &free_blocks) || !check_free_list(&report, free_blocks))
        return false;
    return check_pass(&report);
}

const char *mm_checkheap_message(void) { return st.check_message; }
