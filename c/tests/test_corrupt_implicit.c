/*
 * test_corrupt_implicit.c - the implicit policy's checker catches each invariant broken on purpose.
 *
 * The boundary-tag cases (corrupt_boundary_tags.h) under every fit, plus the next-fit rover left
 * inside a block.
 */
#include "corrupt_boundary_tags.h"

/* Next fit leaves the rover at the block it took last; merge that block into the one before. */
static void test_rover_inside_a_block(void) {
    CHECK(mm_configure("next") == NULL, "next fit refused");
    mem_reset();
    CHECK(mm_init(), "mm_init failed");
    void *a = mm_malloc(40);
    void *b = mm_malloc(40);
    void *c = mm_malloc(40);
    CHECK(a != NULL && b != NULL && c != NULL, "mm_malloc failed");
    mm_free(b);
    CHECK(mm_malloc(40) == b, "next fit did not reuse the freed block");
    CHECK(mm_checkheap(__LINE__), "the heap is broken before any corruption: %s",
          mm_checkheap_message());
    block_t *first = payload_block(a);
    set_tags(first, pack(block_size(first) + block_size(payload_block(b)), true, false));
    expect_broken("rover inside a block", "rover", payload_block(b));
}

int main(void) {
    mem_init();
    static const char *const fits[] = {"first", "next", "best"};
    for (size_t i = 0; i < sizeof fits / sizeof fits[0]; i++)
        test_boundary_tag_corruptions(fits[i]);
    test_rover_inside_a_block();
    mem_deinit();
    return CHECK_DONE();
}
