/*
 * test_corrupt_segfit.c - segfit's checker names each invariant broken on purpose.
 *
 * Every case builds the same small live heap (ordinary blocks A..F with B and D free, and a run
 * of 16-byte slots with two freed), breaks one invariant by hand, and asserts that mm_checkheap
 * fails with a message naming the invariant, the block, and the line it was called from. A
 * checker invariant no case here can break is one the checker cannot be trusted on.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "block.h"
#include "check.h"
#include "expect_broken.h"
#include "memlib.h"
#include "mm.h"
#include "segfit_layout.h"

/* Blocks in address order; B and D are free and share a size class (D -> B in their list). */
enum { A, B, C, D, E, F, NBLOCKS };
static const size_t block_sizes[NBLOCKS] = {200, 300, 250, 300, 200, 400};
static block_t *blocks[NBLOCKS];

/* Enough 16-byte objects that the class earns a run and the last ones are slots in it. */
enum { SMALLS = RUN_PROMOTE + 8 };
static char *smalls[SMALLS];
static run_t *run;

static free_links_t *links(block_t *b) { return (free_links_t *)block_payload(b); }

/* The run whose block holds p, found by walking the heap; NULL when p is in no run. */
static run_t *run_of(const void *p) {
    for (block_t *b = heap_first_block(); !block_is_epilogue(b); b = block_next(b))
        if ((b->header & RUN_BIT) && (const char *)p > (char *)b &&
            (const char *)p < (char *)block_next(b))
            return block_payload(b);
    return NULL;
}

static bool build_heap(void) {
    mem_reset();
    bool ok = mm_init();
    CHECK(ok, "mm_init failed");
    for (int i = 0; ok && i < NBLOCKS; i++) {
        void *p = mm_malloc(block_sizes[i]);
        CHECK(p != NULL, "mm_malloc(%zu) failed", block_sizes[i]);
        ok = p != NULL;
        if (ok)
            blocks[i] = payload_block(p);
    }
    for (int i = 0; ok && i < SMALLS; i++) {
        smalls[i] = mm_malloc(16);
        CHECK(smalls[i] != NULL, "mm_malloc(16) failed");
        ok = smalls[i] != NULL;
    }
    if (!ok)
        return false;
    mm_free(block_payload(blocks[B]));
    mm_free(block_payload(blocks[D]));
    /* The last small objects are slots of one run; free two of them. */
    run = run_of(smalls[SMALLS - 1]);
    mm_free(smalls[SMALLS - 2]);
    mm_free(smalls[SMALLS - 4]);
    ok = mm_checkheap(__LINE__);
    CHECK(ok, "the heap is broken before any corruption: %s", mm_checkheap_message());
    CHECK(!ok || strcmp(mm_checkheap_message(), "") == 0, "a passing check left a message");
    CHECK(links(blocks[D])->next == blocks[B], "B and D are not listed D -> B");
    CHECK(run != NULL && run->slot_size == 16 && run->used == SMALLS - RUN_PROMOTE - 2 &&
              run->free_slots != NULL,
          "the last small objects are not slots of one run with two freed");
    return ok && links(blocks[D])->next == blocks[B] && run != NULL && run->free_slots != NULL;
}

static void test_block_corruptions(void) {
    if (build_heap()) {
        *block_footer(blocks[B]) = blocks[B]->header + 16;
        expect_broken("free footer", "footer differs from its header", blocks[B]);
    }
    if (build_heap()) {
        blocks[C]->header |= PREV_ALLOC_BIT;
        expect_broken("prev_alloc bit", "prev_alloc bit disagrees", blocks[C]);
    }
    if (build_heap()) {
        block_write_tags(blocks[C], block_size(blocks[C]), false, false);
        expect_broken("two adjacent free blocks", "two adjacent free blocks", blocks[C]);
    }
    if (build_heap()) {
        blocks[E]->header |= 0x8;
        expect_broken("size off the alignment", "misaligned", blocks[E]);
    }
    if (build_heap()) {
        blocks[A]->header = pack(16, true, true);
        expect_broken("block below the minimum", "below the minimum", blocks[A]);
    }
    if (build_heap()) {
        blocks[F]->header = pack(block_size(blocks[F]) + mem_heapsize(), true, true);
        expect_broken("size past the heap", "do not add up to the heap", blocks[F]);
    }
    if (build_heap()) {
        *heap_prologue() = pack(0, false, false);
        expect_broken("prologue", "prologue", heap_prologue());
    }
    if (build_heap()) {
        heap_epilogue()->header = pack(32, true, true);
        expect_broken("epilogue sized", "epilogue", heap_epilogue());
    }
    if (build_heap()) {
        heap_epilogue()->header ^= PREV_ALLOC_BIT;
        expect_broken("epilogue prev_alloc", "epilogue's prev_alloc", heap_epilogue());
    }
    mem_reset(); /* no mm_init after it: no heap at all */
    expect_broken("heap frame missing", "heap frame missing", NULL);
    if (build_heap()) {
        mem_sbrk(64); /* the heap grew behind the allocator's back: its last word is no epilogue */
        expect_broken("heap grown under the allocator", "epilogue", NULL);
    }
}

static void test_list_corruptions(void) {
    if (build_heap()) {
        links(blocks[D])->next = NULL;
        expect_broken("free block dropped from its list", "free lists and heap disagree", NULL);
    }
    if (build_heap()) {
        /* A well-formed free block faked inside F's payload, linked consistently behind B. */
        block_t *fake = (block_t *)(void *)((char *)blocks[F] + 16);
        block_write_tags(fake, block_size(blocks[B]), false, true);
        links(fake)->next = NULL;
        links(fake)->prev = blocks[B];
        links(blocks[B])->next = fake;
        expect_broken("a listed block that is not one", "free lists and heap disagree", NULL);
    }
    if (build_heap()) {
        links(blocks[B])->next = blocks[D];
        expect_broken("list cycle", "prev link", blocks[D]);
    }
    if (build_heap()) {
        links(blocks[B])->next = (block_t *)(uintptr_t)0x1000;
        expect_broken("pointer outside the heap", "outside the heap", (void *)(uintptr_t)0x1000);
    }
    if (build_heap()) {
        block_t *inside = (block_t *)(void *)((char *)blocks[C] + 32);
        links(blocks[B])->next = inside;
        expect_broken("pointer into a block", "not at a block", inside);
    }
    if (build_heap()) {
        block_write_tags(blocks[B], block_size(blocks[B]), true, true);
        blocks[C]->header |= PREV_ALLOC_BIT;
        expect_broken("allocated block in a list", "allocated block in a free list", blocks[B]);
    }
    if (build_heap()) {
        links(blocks[B])->prev = blocks[A];
        expect_broken("broken prev link", "prev link", blocks[B]);
    }
    if (build_heap()) {
        /* A 64-byte free block faked inside F's payload, linked consistently behind B. */
        block_t *fake = (block_t *)(void *)((char *)blocks[F] + 16);
        block_write_tags(fake, 64, false, true);
        links(fake)->next = NULL;
        links(fake)->prev = blocks[B];
        links(blocks[B])->next = fake;
        expect_broken("block in another class's list", "wrong size-class list", fake);
    }
}

/*
 * Fill the run with 16-byte objects until a second run opens, then free one slot of the first:
 * the class's partial list is then second -> first (a new run joins at the front, a full one
 * that gets a slot back at the end). The second run, or NULL if that did not happen.
 */
static run_t *fill_second_run(void) {
    char *p;
    do {
        p = mm_malloc(16);
        CHECK(p != NULL, "mm_malloc(16) failed");
    } while (p != NULL && run_of(p) == run);
    if (p == NULL)
        return NULL;
    mm_free(smalls[SMALLS - 1]);
    run_t *second = run_of(p);
    bool listed = second->next == run && run->prev == second && second->prev == run;
    CHECK(listed, "the partial list is not second -> first, circular backwards");
    return listed && mm_checkheap(__LINE__) ? second : NULL;
}

/* The run map: the one allocated block that is neither a run nor one of build_heap's objects. */
static uint8_t *find_run_map(void) {
    for (block_t *b = heap_first_block(); !block_is_epilogue(b); b = block_next(b)) {
        bool known = !block_alloc(b) || (b->header & RUN_BIT);
        for (int i = 0; !known && i < NBLOCKS; i++)
            known = b == blocks[i];
        for (int i = 0; !known && i < SMALLS; i++)
            known = block_payload(b) == smalls[i];
        if (!known)
            return block_payload(b);
    }
    return NULL;
}

static void test_run_corruptions(void) {
    if (build_heap()) {
        run->used = 0;
        expect_broken("run counters", "run counters inconsistent", run);
    }
    if (build_heap()) {
        run->slot_size = 24;
        expect_broken("run slot size", "slot size is not a small class", run);
    }
    if (build_heap()) {
        run->capacity = (uint16_t)(run_capacity_max(16) + 1);
        expect_broken("run capacity", "capacity out of bounds", run);
    }
    if (build_heap()) {
        run->capacity++;
        expect_broken("run capacity", "run block size does not fit its slots", payload_block(run));
    }
    if (build_heap()) {
        run->span = (uint16_t)(run->span + run->slot_size); /* a free would take a slot past it */
        expect_broken("run span", "run span does not end at its last slot's end", run);
    }
    if (build_heap()) {
        /* Consistent counters for 80-byte slots, in a block sized for 16-byte ones. */
        run->slot_size = 80;
        run->capacity = (uint16_t)run_capacity_max(80);
        expect_broken("run block sized for another class", "run block size does not fit its slots",
                      payload_block(run));
    }
    if (build_heap()) {
        memcpy(run->free_slots, &run->free_slots, sizeof(void *));
        expect_broken("free-slot cycle", "free-slot list longer", run);
    }
    if (build_heap()) {
        char *odd = (char *)run->free_slots + 8;
        run->free_slots = odd;
        expect_broken("free slot off a slot boundary", "not at a slot", odd);
    }
    if (build_heap()) {
        run->free_slots = NULL;
        expect_broken("leaked free slots", "free-slot list shorter", run);
    }
    if (build_heap()) {
        payload_block(run)->header &= ~RUN_BIT;
        expect_broken("run block unmarked", "run map marks a unit where no run starts", run);
    }
    if (build_heap()) {
        /* The run's block split: a 32-byte block, then the run block, 32 bytes up from where
           the map says the run starts. */
        block_t *b = payload_block(run);
        block_t *moved = (block_t *)(void *)((char *)b + 32);
        moved->header = (b->header - 32) | PREV_ALLOC_BIT;
        b->header = pack(32, true, block_prev_alloc(b));
        expect_broken("run block moved", "run missing from the run map", block_payload(moved));
    }
    uint8_t *map;
    if (build_heap() && fill_second_run() != NULL && (map = find_run_map()) != NULL) {
        /* A run is longer than a unit: its slots reach into the unit after its first, which the
           map grown for the second run covers. */
        uint8_t *reach = &map[((size_t)((char *)run - (char *)mem_heap_lo()) >> UNIT_SHIFT) + 1];
        CHECK(*reach == (MAP_COVERED | 1), "the run's second unit is marked %#x", *reach);
        *reach = MAP_COVERED | 2;
        expect_broken("run's reach mismarked", "run map does not mark the units the run reaches",
                      run);
    }
    if (build_heap() && (map = find_run_map()) != NULL) {
        /* The heap's first unit holds blocks A.. and no run. */
        CHECK(map[0] == 0, "the heap's first unit is marked %#x", map[0]);
        map[0] = MAP_COVERED | 1;
        expect_broken("unit marked as reached by no run", "marks a unit as reached where no run",
                      NULL);
    }
    if (build_heap()) {
        blocks[B]->header |= RUN_BIT;
        expect_broken("free block marked as a run", "free block marked as a run", blocks[B]);
    }
    if (build_heap()) {
        run_t *nowhere = (run_t *)(void *)((char *)run + 16);
        run->next = nowhere;
        expect_broken("partial-run link to no run", "partial-run list entry is not a run", nowhere);
    }
    run_t *second;
    if (build_heap() && fill_second_run() != NULL) {
        run->prev = run;
        expect_broken("partial-run prev link", "partial-run prev link", run);
    }
    if (build_heap() && (second = fill_second_run()) != NULL) {
        second->prev = second; /* the list's first run must point back at its last */
        expect_broken("partial list's first run", "first run does not point back at its last",
                      second);
    }
    if (build_heap() && (second = fill_second_run()) != NULL) {
        second->next = NULL; /* drops the first run from the list, which stays consistent */
        second->prev = second;
        expect_broken("partial run dropped from its list", "partial-run lists and heap disagree",
                      NULL);
    }
    if (build_heap()) {
        run->used = run->capacity;
        run->free_slots = NULL;
        expect_broken("full run left in its partial list", "full run in a partial list", run);
    }
}

int main(void) {
    CHECK(mm_configure("") == NULL, "mm_configure(\"\") refused");
    CHECK(mm_configure("best") != NULL, "mm_configure accepted an unknown option");
    test_block_corruptions();
    test_list_corruptions();
    test_run_corruptions();
    return CHECK_DONE();
}
