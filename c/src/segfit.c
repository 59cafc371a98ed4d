/*
 * segfit.c - the default policy: segregated fit, footers only on free blocks, and small objects
 * without any header in runs.
 *
 * Guarantees: every payload is 16-byte aligned; all memory comes from mem_sbrk, and the heap
 * grows only by what a request lacks; mm_init starts from an empty heap; a failure (out of
 * memory, overflow) returns NULL and leaves the heap consistent; no operation walks the heap
 * (only mm_checkheap does); malloc and free touch a block only at its first and last words, so
 * a 30 GB block costs two pages (calloc must zero it all: the heap may hold an earlier run's
 * data past its break; a new run, at most RUN_SIZE bytes, has each of its slots' first word
 * written). mm_checkheap verifies every invariant listed above the checker, below.
 * The policy's state is one struct (sf); each internal function's preconditions are assert()s,
 * which the C tests and fuzzers check and release builds (NDEBUG) leave out.
 *
 * BLOCKS. The heap is block.h's frame (prologue word, blocks, epilogue word). A block starts
 * with an 8-byte header; an allocated block keeps nothing else, since the next block's
 * prev_alloc bit says whether a footer is there to find it by. A free block adds two list links
 * and a footer. Sizes are multiples of 16, at least MIN_BLOCK (32).
 *
 *   allocated block                             free block
 *   +--------------------------------+ <- b     +--------------------------------+ <- b
 *   | size | run | prev_alloc | a=1  | header   | size |  0  | prev_alloc | a=0  | header
 *   +--------------------------------+ <- p     +--------------------------------+
 *   | payload (16-aligned)           |          | next free block in its class   |
 *   |                                |          | prev free block in its class   |
 *   |                                |          | (unused)                       |
 *   |                                |          +--------------------------------+
 *   |                                |          | size |  0  | prev_alloc | a=0  | footer
 *   +--------------------------------+ <- next  +--------------------------------+ <- next
 *
 *   bit 0 alloc, bit 1 prev_alloc (the block before is allocated), bit 2 run (RUN_BIT: the
 *   block holds a run), bit 3 always 0.
 *
 * SIZE CLASSES. A free block is listed in one of NUM_CLASSES doubly linked lists: one class
 * per 16 bytes below 1 KiB (where the traces' sizes repeat exactly, so a list's first block
 * fits exactly), then 8 classes per power of two (sizes spread out; 1/8 keeps the waste of
 * "any block of the next class" under 12.5%). A bitmap of non-empty classes, and a word that
 * says which of its words are non-empty, find the next list with two ctz. A list's first block's
 * prev link is never read, nor kept up: taking that block (the usual exact fit) touches no other
 * block, and listing one writes no prev of its own.
 *
 * FIT. Best of the first FIT_SCAN blocks of the request's own class that fit, else of the next
 * non-empty class (below 1 KiB a class's blocks are one size: its first block is the fit); lists
 * are LIFO. The block found is split and the rest listed; free blocks coalesce at once. When
 * nothing fits the heap grows by what is missing: a free last block is extended, not left behind.
 *
 * SMALL OBJECTS IN RUNS. A request of at most SMALL_MAX bytes, once its 16-byte class has
 * RUN_PROMOTE live objects, gets a slot in a run: an ordinary allocated block (RUN_BIT set)
 * placed by the same best fit, holding a run_t header and slots of one size, with no per-object
 * header at all (a 16-byte object costs 16 bytes, not 32). A run is sized when it is made, to
 * about 1/RUN_LIVE_SHARE of its class's live objects, between a unit and RUN_SIZE bytes:
 *
 *   | header | run_t: partial-list links, free-slot list, slot size, counts | slot | slot | ...
 *            ^ r (the block's payload)                                       ^ r + RUN_HEADER
 *
 * A slot is told from a block's payload through the run map (a byte per UNIT_SIZE heap bytes,
 * itself an allocated block; the encoding is in segfit_layout.h): each entry says where in its
 * unit a run starts, or how many units back the run starts whose slots reach into the unit. So
 * free finds a slot's run with arithmetic on one or two entries, with no search and no branch on
 * the kind of entry; the slot must lie before the run's last slot's end (the run_t's span, kept
 * there so that no multiply is on a free's way, and not read from the block's header, which for
 * a quarter of the runs is on the cache line before). The map
 * covers every run's first unit; the run touching its last unit is the only one that can reach
 * past it. Each class keeps a list of its runs with a free slot, and mallocs take from its first
 * run until that run is full: a new run joins at the front, a full run that gets a slot back at
 * the end. So the first run drains, instead of the list's front flipping between full and not on
 * every other op. A run that empties goes back to the heap at once. A run lists every slot it
 * has free, linked when the run is made: freed slots are reused first (LIFO), then never-used
 * ones in address order, and taking one is a pop; a run is full exactly when that list is empty,
 * which malloc and free test instead of comparing its counts.
 *
 * FAST PATHS. mm_malloc inlines taking a slot from the class's first partial run (no stack frame,
 * about 20 instructions) and mm_free inlines finding and freeing a slot; blocks, new runs,
 * releasing runs and the first free into a full run are out of line, reached by tail calls, so
 * that mm_free has no stack frame either. The block path (alloc_payload_slow) has none in its
 * common case, a size below EXACT_LIMIT whose fit is an exact class's first block: a scan, the
 * growth room, the heap's growth and a new run each have a function of their own, reached by a
 * tail call with what is already known (the class found, the room), so that nothing is looked
 * up twice. The traces' small objects are mostly slots, and their
 * cost is in instructions and branches more than in cache misses.
 *
 * REALLOC. A size the block holds with no tail worth freeing changes nothing; shrink in place (the
 * tail becomes free). Grow in place into a free next block, or past the heap's end when the block
 * (or the free block after it) is last; else slide down into a free previous block (memmove) when
 * it and the free neighbours suffice; else move. The block realloc grew last keeps the free block
 * after it as room to grow: other allocations take that room's far end, or another fit, so a block
 * that keeps growing while small ones come and go (realloc2-bal) grows in place instead of leaving
 * holes behind; but never the far end of a room that ends the heap, its top (fit_room). Slots grow
 * by moving.
 *
 * TRIM. mm_trim, which the drop-in's arenas call and no lab does, cuts a free last block down to a
 * pad: the heap then shrinks, by a negative mem_sbrk (mm_free_top says how long that block is).
 *
 * ALIGNED BLOCKS. mm_memalign, which the drop-in's aligned allocations call and no lab does, takes
 * a block by the same best fit, big enough for an aligned payload after a lead of none or of
 * MIN_BLOCK at least: the lead goes back as a free block, the tail as realloc's shrink frees it,
 * and what is left is an ordinary block (no alias, no header of its own).
 *
 * TUNABLES are listed once, with their reasons, in segfit_layout.h. What was tried and lost (a
 * stack of free slots beside each run, per-size caches of unmerged blocks, address-ordered
 * lists...) is in docs/segfit.md, with its figures.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "arena_state.h"
#include "block.h"
#include "mm.h"
#include "segfit_layout.h"

/* ------------------------------------------------------------ size classes */

#define EXACT_LIMIT ((size_t)1024) /* below: one class per 16 bytes */
#define EXACT_CLASSES (EXACT_LIMIT / 16)
#define SUB_BITS 3 /* above: 8 classes per power of two */
#define NUM_CLASSES (EXACT_CLASSES + (64 - 10) * (1 << SUB_BITS))
#define MAP_WORDS ((NUM_CLASSES + 63) / 64)

/* The policy's whole state, emptied by mm_init (the checker's report aside); one per arena in the
   drop-in (arena_state.h). */
static struct segfit_state {
    STATE_ALIGN block_t *class_head[NUM_CLASSES];
    uint64_t class_map[MAP_WORDS]; /* bit set <=> class list non-empty */
    uint64_t class_words;          /* bit w set <=> class_map[w] != 0 */
    char *heap_lo;                 /* mem_heap_lo(), kept: the heap never moves */
    block_t *epilogue;             /* the heap's last word, moved as the heap grows */
    /* The block realloc grew last, whose free successor is its room to grow (growth_room). */
    block_t *last_grown;
    run_t *partial_runs[SMALL_CLASSES + 1]; /* per class, the first run with a free slot */
    size_t live_small[SMALL_CLASSES + 1];   /* per class, live small objects, slots or blocks */
    map_entry_t *run_map; /* per unit: the run starting in it, or the run reaching into it */
    size_t run_map_units; /* units run_map covers */
} sf_of[STATE_COPIES];
#define sf PER_ARENA(sf)
_Static_assert(offsetof(struct segfit_state, class_map) == sizeof sf.class_head,
               "mm_init clears class_head by its bits and memsets everything after it");
static char check_msg_of[STATE_COPIES][256];
#define check_msg PER_ARENA(check_msg)

/* 63 - clz written as a xor, which the compiler folds into bsr's own index (a subtraction it
   keeps as bsr, xor and sub). */
static inline unsigned floor_log2(size_t s) { return (unsigned)__builtin_clzll(s) ^ 63u; }

static inline unsigned size_class(size_t s) {
    if (s < EXACT_LIMIT)
        return (unsigned)(s >> 4);
    /* s's top SUB_BITS + 1 bits are 1 << SUB_BITS plus its sub-class, so the class is
       EXACT_CLASSES + (fl - 10) * (1 << SUB_BITS) + top - (1 << SUB_BITS): no mask. */
    unsigned fl = floor_log2(s);
    unsigned top = (unsigned)(s >> (fl - SUB_BITS));
    return (fl << SUB_BITS) + top + (unsigned)EXACT_CLASSES - (11u << SUB_BITS);
}

static inline free_links_t *links(block_t *b) { return (free_links_t *)(void *)b->payload; }

static inline void list_insert(block_t *b) {
    assert(!block_alloc(b) && block_size(b) >= MIN_BLOCK && block_size(b) % 16 == 0);
    unsigned c = size_class(block_size(b));
    free_links_t *l = links(b);
    block_t *first = sf.class_head[c];
    /* No prev: a list's first block's is never read (list_unlink). The head is written before
       the bits, so that b is not held while they are set: that spared the block path a
       saved register. */
    l->next = first;
    sf.class_head[c] = b;
    if (first != NULL) {
        links(first)->prev = b;
    } else { /* the class was empty: its bits were clear */
        uint64_t *word = &sf.class_map[c / 64];
        if (*word == 0)
            sf.class_words |= (uint64_t)1 << (c / 64);
        *word |= (uint64_t)1 << (c % 64);
    }
}

/*
 * A list's first block's prev is stale (the block that left the head before it) or was never
 * written, and is never read: the first block is the one most often taken, and taking it then
 * touches no other block.
 */
/* x rotated left by s bits, written so that GCC emits one rotate. */
static inline uint64_t rotl64(uint64_t x, unsigned s) { return (x << (s & 63)) | (x >> (-s & 63)); }

static inline void list_unlink_first(block_t *b, unsigned c) {
    assert(!block_alloc(b) && size_class(block_size(b)) == c && sf.class_head[c] == b);
    /* A bit cleared with ~1 rotated into place: no mask built and then inverted. */
    if ((sf.class_head[c] = links(b)->next) == NULL &&
        (sf.class_map[c / 64] &= rotl64(~(uint64_t)1, c % 64)) == 0)
        sf.class_words &= rotl64(~(uint64_t)1, c / 64);
}

static inline void list_unlink(block_t *b, unsigned c) {
    assert(!block_alloc(b) && size_class(block_size(b)) == c);
    free_links_t *l = links(b);
    assert(sf.class_head[c] == b || (l->prev != NULL && links(l->prev)->next == b));
    if (sf.class_head[c] == b) {
        list_unlink_first(b, c);
        return;
    }
    links(l->prev)->next = l->next;
    if (l->next != NULL)
        links(l->next)->prev = l->prev;
}

static inline void list_remove(block_t *b) { list_unlink(b, size_class(block_size(b))); }

/* The first non-empty class at or above c, or NUM_CLASSES when there is none. */
static unsigned next_nonempty_class(unsigned c) {
    unsigned w = c / 64;
    uint64_t bits = sf.class_map[w] & (~(uint64_t)0 << (c % 64));
    if (bits == 0) {
        uint64_t words = sf.class_words & (~(uint64_t)1 << w); /* the words after w */
        if (words == 0)
            return NUM_CLASSES;
        w = (unsigned)__builtin_ctzll(words);
        bits = sf.class_map[w];
    }
    return w * 64 + (unsigned)__builtin_ctzll(bits);
}

#define PRAGMA(text) _Pragma(#text)
#define UNROLL(n) PRAGMA(GCC unroll n) /* n expanded first: #pragma would take the macro's name */

/* The best fit for asize among the first FIT_SCAN blocks of class c's list, or NULL. */
static inline block_t *scan_class(unsigned c, size_t asize) {
    block_t *best = NULL;
    /* The bytes a block has over asize; a smaller block's wrap around past SIZE_MAX / 2, which
       no real one reaches. One comparison finds the best, and an exact fit ends the scan. */
    size_t best_slack = SIZE_MAX / 2 + 1;
    int seen = 0;
    /* Unrolled: no count of the blocks seen is kept at run time. */
    UNROLL(FIT_SCAN)
    for (block_t *b = sf.class_head[c]; b != NULL && seen < FIT_SCAN; b = links(b)->next, seen++) {
        size_t slack = block_size(b) - asize;
        if (slack < best_slack) {
            best = b;
            if ((best_slack = slack) == 0)
                break;
        }
    }
    return best;
}

/* The best fit for asize, or NULL; *cls is its class (the list to unlink it from). */
static inline block_t *find_fit(size_t asize, unsigned *cls) {
    unsigned c = size_class(asize);
    if (sf.class_head[c] != NULL) {
        /* Below EXACT_LIMIT a class holds one size: its first block is the fit. */
        block_t *b = asize < EXACT_LIMIT ? sf.class_head[c] : scan_class(c, asize);
        *cls = c;
        if (b != NULL)
            return b;
    }
    c = next_nonempty_class(c + 1);
    *cls = c;
    if (c < EXACT_CLASSES) /* one size, bigger than asize: the first block is as good as any */
        return sf.class_head[c];
    return c < NUM_CLASSES ? scan_class(c, asize) : NULL;
}

/* ------------------------------------------------------------ block surgery */

static inline void set_prev_alloc(block_t *b, bool prev_alloc) {
    if (prev_alloc)
        b->header |= PREV_ALLOC_BIT;
    else
        b->header &= ~PREV_ALLOC_BIT;
}

/*
 * Free the unlisted block b of `size` bytes, whose header's prev_alloc bit is current: merge it
 * with free neighbours (which leave their lists), write its tags once, and list it.
 */
static block_t *free_and_list(block_t *b, size_t size) {
    assert(size >= MIN_BLOCK && size % 16 == 0);
    block_t *next = (block_t *)(void *)((char *)b + size);
    /* The block before first, so that b's header is read before next's is written (the
       compiler cannot tell them apart); unlinking two blocks leaves the same lists either way. */
    if (!block_prev_alloc(b)) {
        block_t *prev = block_prev(b);
        list_remove(prev);
        size += block_size(prev);
        b = prev;
    }
    if (block_alloc(next)) {
        set_prev_alloc(next, false);
    } else {
        list_remove(next);
        size += block_size(next);
    }
    /* Free blocks never touch, so the block before the merged one is allocated. */
    block_write_tags(b, size, false, true);
    list_insert(b);
    return b;
}

/*
 * Allocate asize bytes at the front of the unlisted free block b (size >= asize). Its neighbours
 * are allocated (free blocks never touch), so a tail of at least MIN_BLOCK bytes is listed as it
 * is, with no merging to try. Returns the size b is given, so that no caller reads it back.
 */
static size_t take_free(block_t *b, size_t asize) {
    size_t size = block_size(b);
    assert(!block_alloc(b) && size >= asize && block_prev_alloc(b));
    if (size - asize >= MIN_BLOCK) {
        block_write_header(b, asize, true, true);
        block_t *rest = block_next(b);
        block_write_tags(rest, size - asize, false, true);
        list_insert(rest);
        return asize;
    }
    block_write_header(b, size, true, true);
    set_prev_alloc(block_next(b), true);
    return size;
}

/*
 * Keep asize bytes at the front of the unlisted allocated block b (size >= asize), as realloc
 * does: a tail of at least MIN_BLOCK bytes is freed, merged with a free block after it; a shorter
 * one stays in b, whose tags, and the next block's prev_alloc bit, are current already.
 */
static void carve(block_t *b, size_t asize) {
    size_t size = block_size(b);
    assert(block_alloc(b) && size >= asize && block_prev_alloc(block_next(b)));
    if (size - asize < MIN_BLOCK)
        return;
    block_write_header(b, asize, true, block_prev_alloc(b));
    block_t *rest = block_next(b);
    block_write_header(rest, size - asize, false, true);
    free_and_list(rest, size - asize);
}

/* The free block just before the epilogue, or NULL when the last block is allocated. */
static block_t *last_free_block(void) {
    return block_prev_alloc(sf.epilogue) ? NULL : block_prev(sf.epilogue);
}

/*
 * Grow the heap so that a block of asize bytes ends at the new epilogue, reusing a free last
 * block. Returns that block, unlisted, with only its header written (size asize, allocated or
 * free as `alloc` says, and the epilogue told): the pages past the old break stay untouched.
 */
static block_t *extend_heap(size_t asize, bool alloc) {
    block_t *last = last_free_block();
    size_t have = last != NULL ? block_size(last) : 0;
    block_t *b = heap_grow(asize - have);
    if (b == NULL)
        return NULL;
    if (last != NULL) {
        list_remove(last);
        b = last;
    }
    /* b's prev_alloc bit is set: it was the epilogue's, when no free block was last, else
       that free block's, and free blocks never touch. */
    block_write_header(b, asize, alloc, true);
    sf.epilogue = block_next(b);
    block_write_header(sf.epilogue, 0, true, alloc);
    return b;
}

/* ------------------------------------------------------------ placement */

/*
 * The room to grow of the block realloc grew last (sf.last_grown): the free block after it.
 * Allocations keep out of that room's front while they can, so the block grows in place next
 * time instead of moving and leaving a hole (realloc-bal, realloc2-bal: a block grows while small
 * ones come and go). NULL when there is none.
 */
static block_t *growth_room(void) {
    if (sf.last_grown == NULL)
        return NULL;
    block_t *next = block_next(sf.last_grown);
    return block_alloc(next) ? NULL : next;
}

/* Allocate asize bytes at the far end of the unlisted free block b, whose front stays free. */
static block_t *carve_back(block_t *b, size_t asize) {
    size_t size = block_size(b) - asize;
    block_write_tags(b, size, false, true); /* free blocks never touch: b's prev is allocated */
    list_insert(b);
    block_t *a = (block_t *)(void *)((char *)b + size);
    block_write_header(a, asize, true, false);
    set_prev_alloc(block_next(a), true);
    return a;
}

/*
 * The fit for asize bytes when the best one is the growth room (in class c): the room's far end
 * when it has room to spare, else any other fit, else NULL. A room that ends the heap is kept
 * from its far end, the heap's top: a block placed there is what the next growth of the block
 * before the room must pass, and the heap crept up by a room a loop (a buffer grown by realloc
 * past 1 KiB while a small block came and went, 1M loops: 17-68 MB where glibc holds 1.5, drop-in
 * pass 26). There any other fit comes first, else the room's front.
 */
static inline block_t *fit_room(size_t asize, block_t *room, unsigned c) {
    list_unlink(room, c);
    bool ends_heap = block_is_epilogue(block_next(room));
    if (!ends_heap && block_size(room) >= asize + MIN_BLOCK)
        return carve_back(room, asize);
    block_t *b = find_fit(asize, &c); /* any other fit */
    if (b == NULL && ends_heap) {
        take_free(room, asize);
        return room;
    }
    list_insert(room);
    if (b != NULL) {
        list_unlink(b, c);
        take_free(b, asize);
    }
    return b;
}

/*
 * The best fit for asize bytes, allocated, away from the growth room; NULL when no free block
 * fits. It makes no call, so that the block path that finds a fit saves no register.
 */
static inline block_t *fit_block(size_t asize) {
    /* The growth room is looked up where it is needed, not held across find_fit: that costs
       the block path two more saved registers. */
    unsigned c;
    block_t *b = find_fit(asize, &c);
    if (b != NULL && b == growth_room())
        return fit_room(asize, b, c);
    if (b != NULL) {
        list_unlink(b, c);
        take_free(b, asize);
    }
    return b;
}

/* A block of at least asize bytes, allocated: the best fit, else the heap grown by what is
   missing (the new last block reuses a free last block, the growth room too: not past it, as
   fit_room says why). */
static block_t *alloc_block(size_t asize) {
    block_t *b = fit_block(asize);
    return b != NULL ? b : extend_heap(asize, true);
}

static bool request_size(size_t size, size_t *asize) {
    return block_size_for(size, WORD_SIZE, MIN_BLOCK, asize);
}

/* ------------------------------------------------------------ small-block runs */

static inline size_t addr_unit(const void *p) {
    return (size_t)((const char *)p - sf.heap_lo) >> UNIT_SHIFT;
}

static inline char *unit_start(size_t k) { return sf.heap_lo + (k << UNIT_SHIFT); }

static inline bool map_starts(map_entry_t e) { return e != 0 && !(e & MAP_COVERED); }

/* The run starting in unit k, whose map entry starts one. */
static inline run_t *unit_run(size_t k) {
    return (run_t *)(void *)(unit_start(k) + (size_t)(sf.run_map[k] - 1) * 16);
}

/* The run that starts in unit k (the last to touch it), else the one reaching into it, or NULL. */
static inline run_t *unit_last_run(size_t k) {
    map_entry_t e = sf.run_map[k];
    if (e & MAP_COVERED)
        return unit_run(k - (e & ~MAP_COVERED));
    return e != 0 ? unit_run(k) : NULL;
}

static inline char *run_slots(run_t *r) { return (char *)r + RUN_HEADER; }

/* Bytes from a run's word to its last slot's end: kept in the run_t, so that a free's check that
   its slot lies in the run reads one field and multiplies nothing. */
static inline size_t run_span(const run_t *r) { return r->span; }

static inline block_t *run_block(run_t *r) { return payload_block(r); }

/*
 * The run holding slot p, or NULL when p is a block's payload: the run starting in p's unit at or
 * before p, else the run reaching into the unit from before, holds p when p lies before that
 * run's last slot's end. A read or two of the map and no search: this runs on every free. Past
 * the map's end (it covers every run's first unit, not always its last) the run that touches the
 * map's last unit is the only one that can reach.
 */
__attribute__((always_inline)) static inline run_t *slot_run(const void *p) {
    /* p is a payload of this heap (in the drop-in, of the arena being served: arena_state.h) */
    assert((const char *)p > sf.heap_lo && (const char *)p < (const char *)sf.epilogue);
    size_t k = addr_unit(p);
    uintptr_t at = (uintptr_t)p, r;
    if (k < sf.run_map_units) {
        size_t e = sf.run_map[k];
        if (e == 0) /* no run starts in p's unit or reaches into it: p is a block's */
            return NULL;
        /* No branch on the kind of entry (it is as good as random): a reached unit names the
           unit its run starts in. */
        size_t j = k - (e >> 7) * (e & ~(size_t)MAP_COVERED);
        r = (uintptr_t)unit_start(j) + ((size_t)sf.run_map[j] - 1) * 16;
        /* The run starting in p's unit starts after p: one reaching in, if any. Rare, and said
           so, so that the common case runs straight on instead of jumping back. */
        if (__builtin_expect(r > at, 0)) {
            run_t *before = k > 0 ? unit_last_run(k - 1) : NULL;
            if (before == NULL)
                return NULL;
            r = (uintptr_t)before;
        }
    } else {
        run_t *last = sf.run_map_units > 0 ? unit_last_run(sf.run_map_units - 1) : NULL;
        if (last == NULL)
            return NULL;
        r = (uintptr_t)last;
    }
    run_t *run = (run_t *)r;
    return at < r + run_span(run) ? run : NULL;
}

/*
 * A class's partial list is doubly linked and circular backwards: its first run's prev is its
 * last run, so that a run joins at either end in constant time with no pointer besides the
 * first. The last run's next is NULL.
 */
static void partial_add(run_t *r, bool at_front) {
    run_t **head = &sf.partial_runs[r->slot_size / 16u];
    run_t *first = *head;
    if (first == NULL) {
        r->next = NULL;
        r->prev = r;
        *head = r;
    } else if (at_front) {
        r->next = first;
        r->prev = first->prev;
        first->prev = r;
        *head = r;
    } else {
        r->next = NULL;
        r->prev = first->prev;
        first->prev->next = r;
        first->prev = r;
    }
}

static void partial_remove(run_t *r) {
    run_t **head = &sf.partial_runs[r->slot_size / 16u];
    run_t *first = *head;
    if (r == first)
        *head = r->next;
    else
        r->prev->next = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    else if (r != first)
        first->prev = r->prev; /* r was the last run */
}

/*
 * Enter run r in the map: its first unit, and the later units its slots reach into that the map
 * covers and no run starts in. Or take it out: its first unit then tells of the run before, if
 * that one reaches into it.
 */
static void map_mark(run_t *r, bool present) {
    size_t k = addr_unit(r), last = addr_unit((char *)r + run_span(r) - 1);
    map_entry_t first = present ? (map_entry_t)(1 + (((char *)r - unit_start(k)) >> 4)) : 0;
    run_t *before = !present && k > 0 ? unit_last_run(k - 1) : NULL;
    if (before != NULL && (char *)before + run_span(before) > unit_start(k))
        first = (map_entry_t)(MAP_COVERED | (k - addr_unit(before)));
    sf.run_map[k] = first;
    for (size_t u = k + 1; u <= last && u < sf.run_map_units && !map_starts(sf.run_map[u]); u++)
        sf.run_map[u] = present ? (map_entry_t)(MAP_COVERED | (u - k)) : 0;
}

/* Make the map cover unit k. False when the heap cannot hold the bigger map. */
static bool map_cover(size_t k) {
    if (k < sf.run_map_units)
        return true;
    size_t units = 2 * sf.run_map_units > k ? 2 * sf.run_map_units : k + 1, asize;
    block_t *mb = request_size(units, &asize) ? alloc_block(asize) : NULL;
    if (mb == NULL)
        return false;
    map_entry_t *map = block_payload(mb);
    if (sf.run_map_units > 0)
        memcpy(map, sf.run_map, sf.run_map_units);
    memset(map + sf.run_map_units, 0, units - sf.run_map_units);
    if (sf.run_map != NULL) {
        block_t *ob = payload_block(sf.run_map);
        free_and_list(ob, block_size(ob));
    }
    size_t old_units = sf.run_map_units;
    sf.run_map = map;
    sf.run_map_units = units;
    /* The run touching the old map's last unit may reach into the units just added. */
    run_t *r = old_units > 0 ? unit_last_run(old_units - 1) : NULL;
    if (r != NULL)
        map_mark(r, true);
    return true;
}

/*
 * A new run for class cls in a block placed like any other, listed as partial, with room for
 * about 1/RUN_LIVE_SHARE of the class's live objects. NULL when the heap cannot grow. Out of
 * line: it is rare, and inlined into the block path it costs that path register spills.
 */
__attribute__((noinline)) static run_t *run_create(unsigned cls) {
    size_t slot_size = cls * 16;
    size_t capacity = (sf.live_small[cls] + 1) / RUN_LIVE_SHARE;
    if (capacity < run_capacity_min(slot_size))
        capacity = run_capacity_min(slot_size);
    if (capacity > run_capacity_max(slot_size))
        capacity = run_capacity_max(slot_size);
    block_t *b = alloc_block(run_block_size(slot_size, capacity));
    if (b == NULL)
        return NULL;
    run_t *r = block_payload(b);
    /* The map first, nothing written yet: the block given back when the map cannot grow (the
       heap full) is then as fresh as it came, for the fallback block the same request carves
       from it (with the run written first, the drop-in's calloc, which trusts memory past the
       heap's highest break to read zero, handed out a run header). */
    if (!map_cover(addr_unit(r))) {
        free_and_list(b, block_size(b));
        return NULL;
    }
    /* Every slot listed now, in address order, so that taking one never asks whether a freed slot
       is there or the next never-used one must be cut: where classes mix, that branch went
       either way as good as at random, and listing every slot made syn-string 5-6% and
       syn-struct 3-9% faster (docs/segfit.md). */
    char *slot = run_slots(r);
    r->free_slots = slot;
    for (size_t i = 1; i < capacity; i++, slot += slot_size) {
        char *next = slot + slot_size;
        memcpy(slot, &next, sizeof next);
    }
    void *end = NULL;
    memcpy(slot, &end, sizeof end);
    r->slot_size = (uint16_t)slot_size;
    r->capacity = (uint16_t)capacity;
    r->span = (uint16_t)(RUN_HEADER + capacity * slot_size);
    r->used = 0;
    b->header |= RUN_BIT;
    map_mark(r, true);
    partial_add(r, true); /* the first run, which the caller takes a slot from */
    return r;
}

/* Give an empty run's block back to the heap. */
__attribute__((noinline)) static void run_release(run_t *r) {
    assert(r->used == 0);
    partial_remove(r);
    map_mark(r, false);
    block_t *b = run_block(r);
    free_and_list(b, block_size(b));
}

/* A slot of run r, which has one free: the last one freed, else the first never used. */
static inline void *run_take(run_t *r) {
    assert(r->used < r->capacity && r->free_slots != NULL);
    void *p = r->free_slots;
    memcpy(&r->free_slots, p, sizeof(void *));
    r->used++;
    if (r->free_slots == NULL) /* the run is full: its list held the last slot not handed out */
        partial_remove(r);
    return p;
}

/* Push slot p on r's free-slot list. */
static inline void run_push(run_t *r, void *p) {
    assert(r->used > 0 && (char *)p >= run_slots(r) &&
           (size_t)((char *)p - run_slots(r)) % r->slot_size == 0 &&
           (char *)p < run_slots(r) + (size_t)r->capacity * r->slot_size);
    memcpy(p, &r->free_slots, sizeof(void *));
    r->free_slots = p;
    r->used--;
}

/* Free slot p of the full run r, which joins its class's partial list (at the end). */
__attribute__((noinline)) static void run_free_full(run_t *r, void *p) {
    assert(r->used == r->capacity && r->capacity > 1); /* so r keeps a live slot */
    partial_add(r, false);
    run_push(r, p);
}

/* Free slot p of run r. The rare cases (r was full, r is now empty) are out of line, so that
   this makes no call but tail calls and mm_free keeps no register of its own. */
static inline void run_free(run_t *r, void *p) {
    if (r->free_slots == NULL) { /* full: used == capacity, told without reading either */
        run_free_full(r, p);
        return;
    }
    run_push(r, p);
    if (r->used == 0)
        run_release(r);
}

/* ------------------------------------------------------------ the interface */

/*
 * Payload for `size` (> 0) bytes: a slot if its class has a run with a free slot (the fast path,
 * kept small enough to inline into mm_malloc), else alloc_payload_slow.
 */
static void *alloc_payload_slow(size_t size);

static inline void *alloc_payload(size_t size) {
    if (size <= SMALL_MAX) {
        unsigned cls = (unsigned)((size + 15) / 16);
        run_t *r = sf.partial_runs[cls];
        if (r != NULL) {
            sf.live_small[cls]++;
            return run_take(r);
        }
    }
    return alloc_payload_slow(size);
}

/* Live small objects per class, the signal that a class is worth a run. */
static inline void count_block(size_t bsize, int delta) {
    if (bsize <= SMALL_MAX + 2 * WORD_SIZE)
        sf.live_small[(bsize - 2 * WORD_SIZE) / 16] += (size_t)(ptrdiff_t)delta;
}

/* The payload of a new block of asize bytes where the heap grows: out of line, since it calls
   mem_sbrk, so that the path that finds a fit saves no register. */
__attribute__((noinline, flatten)) static void *alloc_payload_grow(size_t asize) {
    block_t *b = extend_heap(asize, true);
    if (b == NULL)
        return NULL;
    count_block(asize, 1);
    return block_payload(b);
}

/* The payload of the free block b of class c, not the growth room, allocated for asize bytes. */
static inline void *alloc_payload_take(size_t asize, block_t *b, unsigned c) {
    list_unlink(b, c);
    count_block(take_free(b, asize), 1);
    return block_payload(b);
}

static void *alloc_payload_room(size_t asize, block_t *b, unsigned c);

/* A block's payload for asize bytes: the best fit, else where the heap grows. */
__attribute__((noinline, flatten)) static void *alloc_payload_fit(size_t asize) {
    unsigned c;
    block_t *b = find_fit(asize, &c);
    if (b == NULL)
        return alloc_payload_grow(asize);
    if (b == growth_room())
        return alloc_payload_room(asize, b, c);
    return alloc_payload_take(asize, b, c);
}

/* A block's payload for asize bytes when the best fit is the growth room, b, in class c. */
__attribute__((noinline, flatten)) static void *alloc_payload_room(size_t asize, block_t *b,
                                                                   unsigned c) {
    if ((b = fit_room(asize, b, c)) == NULL)
        return alloc_payload_grow(asize);
    count_block(block_size(b), 1);
    return block_payload(b);
}

/*
 * A block's payload for asize bytes (below EXACT_LIMIT) from class c, the first non-empty class
 * above asize's own, which is not exact: its blocks are all bigger, so its scan finds the fit.
 */
__attribute__((noinline, flatten)) static void *alloc_payload_scan(size_t asize, unsigned c) {
    block_t *b = scan_class(c, asize);
    if (b == growth_room())
        return alloc_payload_room(asize, b, c);
    return alloc_payload_take(asize, b, c);
}

/*
 * A block's payload for `size` bytes. Inline, and making only tail calls, the common case: a
 * size below EXACT_LIMIT whose fit is the first block of an exact class (its own, or the next
 * non-empty one), not the growth room. The rest (a scan, the growth room, the heap's growth) is
 * out of line, so that the common case saves no register. It places every block where
 * fit_block would.
 */
static inline void *alloc_payload_block(size_t size) {
    size_t asize;
    if (!request_size(size, &asize))
        return NULL;
    if (asize >= EXACT_LIMIT)
        return alloc_payload_fit(asize);
    unsigned c = size_class(asize);
    block_t *b = sf.class_head[c];
    if (b == NULL) {
        c = next_nonempty_class(c + 1);
        if (c >= EXACT_CLASSES) /* a scan, or nothing fits */
            return c < NUM_CLASSES ? alloc_payload_scan(asize, c) : alloc_payload_grow(asize);
        b = sf.class_head[c];
    }
    if (b == growth_room())
        return alloc_payload_room(asize, b, c);
    list_unlink_first(b, c);
    count_block(take_free(b, asize), 1);
    return block_payload(b);
}

/* A slot in a new run of class cls, else (no room for the run) a block. */
__attribute__((noinline)) static void *alloc_payload_run(size_t size, unsigned cls) {
    run_t *r = run_create(cls);
    if (r == NULL) {
        size_t asize;
        return request_size(size, &asize) ? alloc_payload_fit(asize) : NULL;
    }
    sf.live_small[cls]++;
    return run_take(r);
}

/*
 * A slot in a new run if the class has earned one, else a block. The block path that finds a fit
 * is inline and makes no call; new runs and the heap's growth are out of line, reached by tail
 * calls, so that it saves no register.
 */
__attribute__((noinline, flatten)) static void *alloc_payload_slow(size_t size) {
    if (size <= SMALL_MAX) {
        unsigned cls = (unsigned)((size + 15) / 16);
        if (sf.live_small[cls] >= RUN_PROMOTE)
            return alloc_payload_run(size, cls);
    }
    return alloc_payload_block(size);
}

bool mm_init(void) {
    /* Only the listed classes' heads are cleared, not all NUM_CLASSES of them: a class whose bit
       is clear has a NULL head already (mm_checkheap holds every list to its bit). A trace's
       heap is mostly merged back by its end, so few are set, and the 4 KiB memset this spares
       was a fifth of the instructions of a 20-op pass (syn-string-short). */
    for (unsigned w = 0; w < MAP_WORDS; w++)
        for (uint64_t bits = sf.class_map[w]; bits != 0; bits &= bits - 1)
            sf.class_head[w * 64 + (unsigned)__builtin_ctzll(bits)] = NULL;
    memset(&sf.class_map, 0, sizeof sf - offsetof(struct segfit_state, class_map));
#ifndef NDEBUG
    for (unsigned c = 0; c < NUM_CLASSES; c++)
        assert(sf.class_head[c] == NULL);
#endif
    check_msg[0] = '\0';
    if (!heap_frame_create())
        return false;
    sf.heap_lo = mem_heap_lo();
    sf.epilogue = heap_epilogue();
    return true;
}

void *mm_malloc(size_t size) { return size == 0 ? NULL : alloc_payload(size); }

void *mm_malloc_usable(size_t size, size_t *usable) {
    if (size == 0)
        return NULL;
    if (size <= SMALL_MAX) { /* alloc_payload's way through a partial run, which knows the size */
        unsigned cls = (unsigned)((size + 15) / 16);
        run_t *r = sf.partial_runs[cls];
        if (r != NULL) {
            sf.live_small[cls]++;
            *usable = r->slot_size;
            return run_take(r);
        }
    }
    void *p = alloc_payload_slow(size);
    if (p != NULL) /* past SMALL_MAX always a block: its header says, with no look in the run map */
        *usable = size > SMALL_MAX ? block_size(payload_block(p)) - WORD_SIZE : mm_usable_size(p);
    return p;
}

/* Free an ordinary block; out of line, so that mm_free's slot path stays small, and flattened,
   so that the merging and listing it does make no calls. */
__attribute__((noinline, flatten)) static void free_block(block_t *b) {
    if (b == sf.last_grown)
        sf.last_grown = NULL;
    count_block(block_size(b), -1);
    free_and_list(b, block_size(b));
}

/* A slot of run r freed; its size. */
__attribute__((always_inline)) static inline size_t free_slot(run_t *r, void *ptr) {
    size_t slot = r->slot_size;
    sf.live_small[slot / 16u]--;
    run_free(r, ptr);
    return slot;
}

void mm_free(void *ptr) {
    if (ptr == NULL)
        return;
    run_t *r = slot_run(ptr);
    if (r != NULL) {
        (void)free_slot(r, ptr);
        return;
    }
    free_block(payload_block(ptr)); /* a tail call: mm_free_usable's way costs it a register */
}

size_t mm_free_usable(void *ptr) {
    assert(ptr != NULL);
    run_t *r = slot_run(ptr);
    if (r != NULL)
        return free_slot(r, ptr);
    block_t *b = payload_block(ptr);
    size_t held = block_size(b) - WORD_SIZE;
    free_block(b);
    return held;
}

/* An ordinary block placed by the best fit, big enough to hold an aligned payload after a lead of
   none or of MIN_BLOCK bytes at least: the lead goes back as a free block (merged with a free one
   before it), and the tail past asize as carve frees it. */
void *mm_memalign(size_t alignment, size_t size) {
    assert(alignment > ALIGNMENT && (alignment & (alignment - 1)) == 0);
    size_t asize;
    if (!request_size(size > 0 ? size : 1, &asize) || asize > SIZE_MAX / 2 - alignment)
        return NULL;
    block_t *b = alloc_block(asize + alignment + MIN_BLOCK);
    if (b == NULL)
        return NULL;
    uintptr_t p = (uintptr_t)block_payload(b);
    uintptr_t q = (p + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (q - p > 0 && q - p < MIN_BLOCK) /* too short a lead to be a free block */
        q += alignment;
    size_t lead = (size_t)(q - p), bsize = block_size(b);
    block_t *a = payload_block((void *)q);
    if (lead > 0) {
        block_write_header(a, bsize - lead, true, false);
        block_write_header(b, lead, false, block_prev_alloc(b));
        free_and_list(b, lead);
    }
    carve(a, asize);
    count_block(block_size(a), 1);
    return (void *)q;
}

void *mm_calloc(size_t nmemb, size_t size) {
    if (nmemb == 0 || size == 0 || nmemb > SIZE_MAX / size)
        return NULL;
    size_t n = nmemb * size;
    /* All of it: after mem_rewind even memory past the break holds an earlier run's data. */
    void *p = alloc_payload(n);
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

/*
 * Grow b (allocated, size < asize) into a free next block. With `extend`, also past the heap's
 * end when b or that free block is the last one. False when that is not enough.
 */
static bool grow_forward(block_t *b, size_t asize, bool extend) {
    /* All read before mem_sbrk, so that nothing is read again after it. */
    word_t header = b->header;
    block_t *next = block_next(b);
    bool next_free = !block_alloc(next);
    size_t avail = word_size(header);
    block_t *after = next;
    if (next_free) {
        avail += block_size(next);
        after = block_next(next);
    }
    if (avail >= asize) {
        if (next_free)
            list_remove(next);
        block_write_header(b, avail, true, word_prev_alloc(header));
        set_prev_alloc(block_next(b), true);
        carve(b, asize);
        return true;
    }
    if (!extend || !block_is_epilogue(after) || heap_grow(asize - avail) == NULL)
        return false;
    if (next_free)
        list_remove(next);
    /* b ends the heap, grown to exactly asize: nothing to carve */
    block_write_header(b, asize, true, word_prev_alloc(header));
    sf.epilogue = (block_t *)(void *)((char *)b + asize);
    block_write_header(sf.epilogue, 0, true, true);
    return true;
}

/*
 * Grow b, which cannot grow where it is, by sliding it down into a free previous block (plus a
 * free next one): better than a move, which leaves a hole behind. `keep` payload bytes are
 * preserved. NULL when the neighbours are too small.
 */
static block_t *grow_backward(block_t *b, size_t asize, size_t keep) {
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

/* Move a live payload of `keep` bytes to a new home for `size` bytes. */
static void *realloc_move(void *ptr, size_t size, size_t keep) {
    void *p = mm_malloc(size);
    if (p == NULL)
        return NULL;
    memcpy(p, ptr, keep < size ? keep : size);
    mm_free(ptr);
    if (slot_run(p) == NULL)
        sf.last_grown = payload_block(p);
    return p;
}

void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    run_t *r = slot_run(ptr);
    if (r != NULL)
        return size <= r->slot_size ? ptr : realloc_move(ptr, size, r->slot_size);
    size_t asize;
    if (!request_size(size, &asize))
        return NULL;
    block_t *b = payload_block(ptr);
    size_t old = block_size(b);
    /* It fits, with no tail worth freeing: carve would leave the block as it is, and count_block
       undo its own count (a block grown a few bytes at a time lands here two times in three). */
    if (asize <= old && old - asize < MIN_BLOCK) {
        if (asize == old)
            sf.last_grown = b;
        return ptr;
    }
    count_block(old, -1);
    block_t *moved;
    if (asize <= old) {
        carve(b, asize);
    } else if (!grow_forward(b, asize, true)) {
        if ((moved = grow_backward(b, asize, old - WORD_SIZE)) == NULL) {
            count_block(old, 1);
            return realloc_move(ptr, size, old - WORD_SIZE);
        }
        b = moved;
    }
    if (asize >= old) /* a realloc that does not shrink the block is taken as growth */
        sf.last_grown = b;
    count_block(block_size(b), 1);
    return block_payload(b);
}

size_t mm_free_top(void) {
    block_t *last = last_free_block();
    return last != NULL ? block_size(last) : 0;
}

size_t mm_trim(size_t pad) {
    block_t *last = last_free_block();
    size_t size = last != NULL ? block_size(last) : 0;
    /* Kept: pad bytes of the block, a block's worth at least, or none of it. */
    size_t keep = (pad + 15) & ~(size_t)15;
    if (keep < MIN_BLOCK)
        keep = 0;
    if (keep >= size)
        return 0;
    list_remove(last);
    if (keep > 0) {
        block_write_tags(last, keep, false, true); /* free blocks never touch: prev allocated */
        list_insert(last);
    }
    block_t *epilogue = (block_t *)(void *)((char *)last + keep);
    block_write_header(epilogue, 0, true, keep == 0);
    sf.epilogue = epilogue;
    mem_sbrk(-(intptr_t)(size - keep));
    assert(heap_epilogue() == sf.epilogue);
    return size - keep;
}

/* From the lists alone, not a heap walk: what the free lists and the partial runs hold is all
   that is free (a full run has no free slot; an empty one is released). */
mm_free_space_t mm_free_space(void) {
    mm_free_space_t space = {0, 0, 0, 0};
    for (unsigned c = 0; c < NUM_CLASSES; c++)
        for (block_t *b = sf.class_head[c]; b != NULL; b = links(b)->next) {
            space.block_bytes += block_size(b);
            space.blocks++;
        }
    for (unsigned c = 1; c <= SMALL_CLASSES; c++)
        for (const run_t *r = sf.partial_runs[c]; r != NULL; r = r->next) {
            space.slots += (size_t)(r->capacity - r->used);
            space.slot_bytes += (size_t)(r->capacity - r->used) * r->slot_size;
        }
    return space;
}

/* From the lists: a free block's links are its first payload words, as block.h's policies'. Only
   the classes whose blocks can hold a whole page past their links and before their footer: a
   walk of every small free block made each malloc_trim dear (drop-in pass 17). */
_Static_assert(sizeof(free_links_t) == 2 * sizeof(word_t), "bt_free_span skips the links");
/* Only the classes that can hold a whole page, and a span of `least`, are read: a purge of a big
   heap freed in random order has hundreds of thousands of free blocks of a few KiB, and walking
   them all, for spans too short to give back, took 15-50 ms under the arena's lock. */
void mm_free_spans(size_t least, mm_span_fn *each, void *ctx) {
    size_t page = mem_pagesize();
    size_t from = (least > page ? least : page) + MIN_BLOCK;
    if (from < least) /* no block is that long */
        return;
    for (unsigned c = next_nonempty_class(size_class(from)); c < NUM_CLASSES;
         c = next_nonempty_class(c + 1))
        for (block_t *b = sf.class_head[c]; b != NULL; b = links(b)->next)
            bt_free_span(b, each, ctx);
}

size_t mm_usable_size(void *ptr) {
    if (ptr == NULL)
        return 0;
    run_t *r = slot_run(ptr);
    return r != NULL ? r->slot_size : block_size(payload_block(ptr)) - WORD_SIZE;
}

/* segfit's tunables are compile-time (segfit_layout.h): the only option string is "". */
const char *mm_configure(const char *options) {
    if (options == NULL || options[0] == '\0')
        return NULL;
    static char message[96];
    snprintf(message, sizeof message, "segfit: unknown option '%.40s'; it takes none", options);
    return message;
}

const char *mm_checkheap_message(void) { return check_msg; }

/* ------------------------------------------------------------ the checker */

/*
 * The invariants, each named in the message when broken:
 *   heap frame  prologue and epilogue words intact; block sizes add up to the heap exactly;
 *   every block payload 16-aligned, size a multiple of 16 and >= MIN_BLOCK, prev_alloc bit equal
 *               to the previous block's alloc bit;
 *   free block  footer equal to header; never next to another free block; in the list of its
 *               own size class exactly once, links consistent both ways (but the first block's
 *               prev); class bitmap and its word summary exact;
 *   run block   allocated, marked in the run map at its payload and in the units its slots
 *               reach into; slot size a small class, capacity within bounds and the block sized
 *               to it, used in [1, capacity], free-slot list exactly capacity - used distinct
 *               slots inside the run; in its class's partial list exactly when it has a free slot,
 *               links consistent both ways, the first run's prev at the last run;
 *   run map     an allocated block marking exactly the runs and the units they reach into.
 * The walk never reads outside the heap, however broken the heap is.
 */

static check_report_t report_of[STATE_COPIES];
#define report PER_ARENA(report)

static bool fail(const void *where, const char *what) {
    return check_fail(&report, "block %p: %s", where, what);
}

/* A free block b that the heap walk has not vouched for: in the heap and within it. */
static bool plausible_free_block(block_t *b) {
    return heap_holds_block(b) && block_size(b) <= (size_t)((char *)heap_epilogue() - (char *)b) &&
           block_size(b) >= MIN_BLOCK;
}

/* heap-walk tallies the list checks compare against */
typedef struct tally {
    size_t free_blocks;                   /* free blocks in the heap */
    size_t runs;                          /* blocks holding a run */
    size_t partial_runs;                  /* runs with a free slot */
    size_t covered;                       /* units a run's slots reach into from an earlier unit */
    size_t live_small[SMALL_CLASSES + 1]; /* small objects per class: run slots, small blocks */
} tally_t;

/* A run block: aligned, mapped, its counters and its free-slot list consistent. */
static bool check_run(block_t *b, tally_t *t) {
    size_t size = block_size(b);
    if (size < 2 * WORD_SIZE + RUN_HEADER + 16)
        return fail(b, "run block too small to hold a run");
    run_t *r = block_payload(b);
    size_t k = addr_unit(r);
    if (k >= sf.run_map_units || !map_starts(sf.run_map[k]) || unit_run(k) != r)
        return fail(r, "run missing from the run map");
    if (r->slot_size == 0 || r->slot_size % 16 != 0 || r->slot_size > SMALL_MAX)
        return fail(r, "run slot size is not a small class");
    if (r->capacity < run_capacity_min(r->slot_size) ||
        r->capacity > run_capacity_max(r->slot_size))
        return fail(r, "run capacity out of bounds for its slot size");
    size_t want = run_block_size(r->slot_size, r->capacity);
    if (size != want && size != want + 16)
        return fail(b, "run block size does not fit its slots (plus up to 16 bytes of tail)");
    if (r->span != RUN_HEADER + (size_t)r->capacity * r->slot_size)
        return fail(r, "run span does not end at its last slot's end");
    size_t last = addr_unit((char *)r + run_span(r) - 1);
    for (size_t u = k + 1; u <= last && u < sf.run_map_units && !map_starts(sf.run_map[u]); u++) {
        if (sf.run_map[u] != (MAP_COVERED | (u - k)))
            return fail(r, "run map does not mark the units the run reaches into");
        t->covered++;
    }
    if (r->used == 0 || r->used > r->capacity)
        return fail(r, "run counters inconsistent (need 0 < used <= capacity)");
    size_t idle = (size_t)(r->capacity - r->used), listed = 0;
    char *slots = run_slots(r);
    for (char *f = r->free_slots; f != NULL; memcpy(&f, f, sizeof(void *))) {
        if (++listed > idle)
            return fail(
                r, "run free-slot list longer than capacity - used (a cycle or a double free)");
        if (f < slots || f >= slots + (size_t)r->capacity * r->slot_size ||
            (size_t)(f - slots) % r->slot_size != 0)
            return fail(f, "free slot outside its run's slots or not at a slot");
    }
    if (listed != idle)
        return fail(r, "run free-slot list shorter than capacity - used (a slot leaked)");
    t->runs++;
    t->live_small[r->slot_size / 16u] += r->used;
    if (r->used < r->capacity)
        t->partial_runs++;
    return true;
}

/* Walk every block in address order, tallying free blocks and runs. */
static bool check_blocks(tally_t *t) {
    if (mem_heapsize() < 2 * WORD_SIZE)
        return fail(mem_heap_lo(), "heap frame missing (no prologue and epilogue)");
    if (*heap_prologue() != pack(0, true, false))
        return fail(heap_prologue(), "prologue word damaged");
    block_t *epi = heap_epilogue();
    if (block_size(epi) != 0 || !block_alloc(epi))
        return fail(epi, "epilogue header damaged (or the heap grew behind the allocator)");
    bool prev_alloc = true;
    for (block_t *b = heap_first_block(); b != epi; b = block_next(b)) {
        size_t size = block_size(b);
        if ((b->header & 0x8) != 0)
            return fail(b, "size not a multiple of 16 (misaligned)");
        if (size < MIN_BLOCK)
            return fail(b, "size below the minimum block");
        if (size > (size_t)((char *)epi - (char *)b))
            return fail(b, "block runs past the epilogue: sizes do not add up to the heap");
        if (block_prev_alloc(b) != prev_alloc)
            return fail(b, "prev_alloc bit disagrees with the previous block");
        if (b->header & RUN_BIT) {
            if (!block_alloc(b))
                return fail(b, "free block marked as a run");
            if (!check_run(b, t))
                return false;
        } else if (!block_alloc(b)) {
            if (*block_footer(b) != b->header)
                return fail(b, "free block's footer differs from its header");
            if (!prev_alloc)
                return fail(b, "two adjacent free blocks (not coalesced)");
            t->free_blocks++;
        } else if (size <= SMALL_MAX + 2 * WORD_SIZE && block_payload(b) != sf.run_map) {
            t->live_small[(size - 2 * WORD_SIZE) / 16]++; /* as count_block counts it */
        }
        prev_alloc = block_alloc(b);
    }
    if (block_prev_alloc(epi) != prev_alloc)
        return fail(epi, "epilogue's prev_alloc bit disagrees with the last block");
    return true;
}

/*
 * Every list holds free blocks of its own class, doubly linked, and all of them together hold
 * as many blocks as the walk met free: so each free block exactly once.
 */
static bool check_lists(size_t free_blocks) {
    for (unsigned w = 0; w < MAP_WORDS; w++)
        if (((sf.class_words >> w) & 1) != (sf.class_map[w] != 0))
            return check_fail(&report, "class bitmap's word summary disagrees at word %u", w);
    size_t listed = 0;
    for (unsigned c = 0; c < NUM_CLASSES; c++) {
        bool marked = (sf.class_map[c / 64] >> (c % 64)) & 1;
        if (marked != (sf.class_head[c] != NULL))
            return fail(sf.class_head[c], "class bitmap disagrees with the class list");
        block_t *prev = NULL;
        for (block_t *b = sf.class_head[c]; b != NULL; prev = b, b = links(b)->next) {
            if (!plausible_free_block(b))
                return fail(b, "free-list pointer outside the heap or not at a block");
            if (block_alloc(b))
                return fail(b, "allocated block in a free list");
            if (*block_footer(b) != b->header)
                return fail(b, "listed block's footer differs from its header (not a block)");
            if (size_class(block_size(b)) != c)
                return fail(b, "free block in the wrong size-class list");
            if (prev != NULL && links(b)->prev != prev)
                return fail(b, "free-list prev link does not point at the previous entry");
            if (++listed > free_blocks) /* also ends any cycle */
                break;
        }
    }
    if (listed != free_blocks)
        return check_fail(&report,
                          "free lists and heap disagree: %zu listed, %zu free blocks in the heap "
                          "(one missing, or one listed that is not a block)",
                          listed, free_blocks);
    return true;
}

/* Whether r is where the map says a run starts, without reading r: r may be any pointer. */
static bool is_run(const run_t *r) {
    uintptr_t at = (uintptr_t)r, lo = (uintptr_t)sf.heap_lo;
    if (at < lo || at % 16 != 0)
        return false;
    size_t k = (at - lo) >> UNIT_SHIFT;
    return k < sf.run_map_units && map_starts(sf.run_map[k]) && unit_run(k) == r;
}

/* The run map marks exactly the runs; each partial list holds its class's runs with a free slot. */
static bool check_runs(const tally_t *t) {
    if (sf.run_map_units > 0) {
        block_t *mb = payload_block(sf.run_map);
        if (!heap_holds_block(mb) || !block_alloc(mb) || (mb->header & RUN_BIT) ||
            block_size(mb) - WORD_SIZE < sf.run_map_units)
            return fail(sf.run_map, "run map is not an allocated block of its size");
    }
    size_t mapped = 0, covered = 0;
    for (size_t k = 0; k < sf.run_map_units; k++) {
        covered += (sf.run_map[k] & MAP_COVERED) != 0;
        if (!map_starts(sf.run_map[k]))
            continue;
        run_t *r = unit_run(k);
        if (sf.run_map[k] > UNIT_SIZE / 16 || !heap_holds_block(run_block(r)) ||
            (char *)r + RUN_HEADER > (char *)heap_epilogue() || !(run_block(r)->header & RUN_BIT))
            return fail(r, "run map marks a unit where no run starts");
        mapped++;
    }
    if (mapped != t->runs)
        return fail(sf.run_map, "run map marks a unit where no run starts");
    if (covered != t->covered)
        return fail(sf.run_map, "run map marks a unit as reached where no run reaches");
    size_t listed = 0;
    for (unsigned c = 1; c <= SMALL_CLASSES; c++) {
        run_t *prev = NULL;
        for (run_t *r = sf.partial_runs[c]; r != NULL; prev = r, r = r->next) {
            if (!is_run(r))
                return fail(r, "partial-run list entry is not a run");
            if (r->slot_size != c * 16)
                return fail(r, "run in the wrong class's partial list");
            if (r->used >= r->capacity)
                return fail(r, "full run in a partial list");
            if (prev != NULL && r->prev != prev)
                return fail(r, "partial-run prev link does not point at the previous entry");
            if (++listed > t->partial_runs) /* also ends any cycle */
                break;
        }
        if (prev != NULL && sf.partial_runs[c]->prev != prev)
            return fail(sf.partial_runs[c], "partial-run list's first run does not point back at "
                                            "its last");
    }
    if (listed != t->partial_runs)
        return check_fail(&report,
                          "partial-run lists and heap disagree: %zu listed, %zu runs with a free "
                          "slot",
                          listed, t->partial_runs);
    return true;
}

bool mm_checkheap(int lineno) {
    report = (check_report_t){check_msg, sizeof check_msg, lineno};
    tally_t t = {0};
    if (!check_blocks(&t) || !check_lists(t.free_blocks) || !check_runs(&t))
        return false;
    /* What decides when a class gets a run: a count that drifted (an allocation path that did
       not count its block) would promote a class too soon or never. */
    for (unsigned c = 1; c <= SMALL_CLASSES; c++)
        if (t.live_small[c] != sf.live_small[c])
            return check_fail(&report, "class of %u bytes: %zu small objects live, counted %zu",
                              16 * c, t.live_small[c], sf.live_small[c]);
    return check_pass(&report);
}
