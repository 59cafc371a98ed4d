/*
 * test_corrupt_explicit.c - the explicit policy's checker catches each invariant broken on purpose.
 *
 * The boundary-tag cases (corrupt_boundary_tags.h) under both list orders, plus the free list's
 * own: a broken link, a free block dropped from the list, an allocated block on it, a pointer
 * outside the heap or not at a block, a block that is not one listed, and address order.
 */
#include <stdint.h>

#include "corrupt_boundary_tags.h"

/* The links a free block keeps in its payload: explicit.c's layout, seen from outside. */
typedef struct {
    block_t *next;
    block_t *prev;
} list_links_t;

static list_links_t *links(block_t *b) { return (list_links_t *)block_payload(b); }

/* In build_heap's heap under "lifo", B then D were freed: the list is D -> B. */
static void test_list_corruptions(void) {
    if (build_heap("lifo")) {
        CHECK(links(blocks[D])->next == blocks[B] && links(blocks[B])->prev == blocks[D],
              "the LIFO list is not D -> B");
        links(blocks[B])->prev = blocks[A];
        expect_broken("broken prev link", "next->prev != self", blocks[B]);
    }
    if (build_heap("lifo")) {
        links(blocks[D])->next = NULL;
        expect_broken("free block dropped from the list", "not on the free list", blocks[B]);
    }
    if (build_heap("lifo")) {
        set_tags(blocks[D], pack(block_size(blocks[D]), true, false));
        expect_broken("allocated block on the list", "allocated block", blocks[D]);
    }
    if (build_heap("lifo")) {
        links(blocks[B])->next = (block_t *)(uintptr_t)0x1000;
        expect_broken("pointer outside the heap", "outside the heap", (void *)(uintptr_t)0x1000);
    }
    if (build_heap("lifo")) {
        block_t *inside = (block_t *)(void *)((char *)blocks[C] + 16);
        links(blocks[B])->next = inside;
        expect_broken("pointer into a block", "not at a block", inside);
    }
    if (build_heap("lifo")) {
        /* A well-formed free block faked inside F's payload, linked consistently. */
        block_t *fake = (block_t *)(void *)((char *)blocks[F] + 16);
        set_tags(fake, pack(32, false, false));
        links(fake)->next = NULL;
        links(fake)->prev = blocks[B];
        links(blocks[B])->next = fake;
        expect_broken("a block that is not one listed", "free list count", fake);
    }
    if (build_heap("address")) {
        mm_free(block_payload(blocks[F]));
        CHECK(mm_checkheap(__LINE__), "freeing F broke the heap: %s", mm_checkheap_message());
        /* B -> D -> F becomes B -> F -> D, links consistent both ways. */
        links(blocks[B])->next = blocks[F];
        links(blocks[F])->prev = blocks[B];
        links(blocks[F])->next = blocks[D];
        links(blocks[D])->prev = blocks[F];
        links(blocks[D])->next = NULL;
        expect_broken("address order", "address order", blocks[D]);
    }
}

int main(void) {
    mem_init();
    test_boundary_tag_corruptions("lifo");
    test_boundary_tag_corruptions("address,best");
    test_list_corruptions();
    mem_deinit();
    return CHECK_DONE();
}
