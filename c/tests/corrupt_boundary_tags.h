/*
 * corrupt_boundary_tags.h - corruption cases every boundary-tag policy's checker must catch.
 *
 * Shared by test_corrupt_implicit.c and test_corrupt_explicit.c, which add their policy's own
 * cases. Each case builds the same small live heap, breaks one invariant of block.h's
 * boundary-tag heap by hand, and asserts that mm_checkheap returns false with a message that
 * names the invariant, the block, and the line number it was called with. A checker that cannot
 * fail is a defect, so every invariant it claims is tried here.
 */
#ifndef MALLOCSIM_TESTS_CORRUPT_BOUNDARY_TAGS_H
#define MALLOCSIM_TESTS_CORRUPT_BOUNDARY_TAGS_H

#include <stdio.h>
#include <string.h>

#include "block.h"
#include "check.h"
#include "expect_broken.h"
#include "memlib.h"
#include "mm.h"

/* The test heap, in address order: blocks A..F, with B and D free and the others allocated. */
enum { A, B, C, D, E, F, NBLOCKS };
static block_t *blocks[NBLOCKS];

static bool build_heap(const char *option) {
    static const size_t sizes[NBLOCKS] = {40, 100, 60, 200, 30, 80};
    const char *error = mm_configure(option);
    CHECK(error == NULL, "mm_configure(\"%s\") refused: %s", option, error ? error : "");
    mem_reset();
    bool initialised = mm_init();
    CHECK(initialised, "mm_init failed");
    if (!initialised)
        return false;
    void *payloads[NBLOCKS];
    for (int i = 0; i < NBLOCKS; i++) {
        payloads[i] = mm_malloc(sizes[i]);
        CHECK(payloads[i] != NULL, "mm_malloc(%zu) failed", sizes[i]);
        if (payloads[i] == NULL)
            return false;
        blocks[i] = payload_block(payloads[i]);
    }
    mm_free(payloads[B]);
    mm_free(payloads[D]);
    bool ok = mm_checkheap(__LINE__);
    CHECK(ok, "the heap is broken before any corruption: %s", mm_checkheap_message());
    CHECK(!ok || strcmp(mm_checkheap_message(), "") == 0, "a passing check left a message");
    return ok;
}

static void set_tags(block_t *b, word_t word) {
    b->header = word;
    *block_footer(b) = word;
}

static void test_boundary_tag_corruptions(const char *option) {
    if (build_heap(option)) {
        *block_footer(blocks[C]) = pack(block_size(blocks[C]) + 16, true, false);
        expect_broken("footer", "footer mismatch", blocks[C]);
    }
    if (build_heap(option)) {
        *block_footer(blocks[B]) = pack(block_size(blocks[B]), true, false);
        expect_broken("footer alloc bit", "footer mismatch", blocks[B]);
    }
    if (build_heap(option)) {
        set_tags(blocks[C], pack(block_size(blocks[C]), false, false));
        expect_broken("two adjacent free blocks", "adjacent free blocks", blocks[C]);
    }
    if (build_heap(option)) {
        set_tags(blocks[E], blocks[E]->header | 0x8);
        expect_broken("size off the alignment", "misaligned", blocks[E]);
    }
    if (build_heap(option)) {
        blocks[A]->header = pack(16, true, false);
        expect_broken("block below the minimum", "below the minimum", blocks[A]);
    }
    if (build_heap(option)) {
        blocks[F]->header = pack(block_size(blocks[F]) + 64, true, false);
        expect_broken("size past the heap", "do not add up to the heap", blocks[F]);
    }
    if (build_heap(option)) {
        heap_epilogue()->header = pack(0, false, false);
        expect_broken("epilogue freed", "epilogue", heap_epilogue());
    }
    if (build_heap(option)) {
        heap_epilogue()->header = pack(32, true, false);
        expect_broken("epilogue sized", "epilogue", heap_epilogue());
    }
    if (build_heap(option)) {
        *heap_prologue() = pack(0, false, false);
        expect_broken("prologue", "prologue", heap_prologue());
    }
    if (build_heap(option)) {
        /* The heap grew behind the allocator's back: its last word is no epilogue. */
        mem_sbrk(64);
        expect_broken("heap grown under the allocator", "epilogue", NULL);
    }
}

#endif /* MALLOCSIM_TESTS_CORRUPT_BOUNDARY_TAGS_H */
