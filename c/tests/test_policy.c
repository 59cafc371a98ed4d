/*
 * test_policy.c - any built-in policy keeps the allocator contract, under every option it takes.
 *
 * Built once per policy with -DPOLICY_NAME="\"<name>\"" against that policy's source; it uses
 * only the mm.h interface and the heap, so it serves policies written by anyone. For each option:
 *   - random op sequences from a fixed-seed PRNG (malloc, calloc, mm_memalign where the policy
 *     has it, free, realloc bigger, smaller and to 0; half the mallocs and frees through
 *     mm_malloc_usable and mm_free_usable where it has them, whose sizes must be mm_usable_size's)
 *     with mm_checkheap after every op, every
 * payload filled with its own pattern and verified on realloc and free and, for every live block,
 * every few ops: a block written over by another is caught; the same sequence replayed after
 * mm_init lands at the same offsets, so mm_init really resets, also over a heap whose free blocks
 * are still listed;
 *   - the edge cases of the interface (zero sizes, NULL pointers, overflowing and huge requests);
 *   - running out of memory: NULL, a heap that still checks, and recovery once memory is freed.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "memlib.h"
#include "mm.h"
#include "policy_options.h"

#ifndef POLICY_NAME
#error "build with -DPOLICY_NAME='\"<policy>\"'"
#endif

/* mm.h's optional extensions: NULL for a policy without them (the random ops then make no aligned
   blocks, and malloc and free as mm_malloc and mm_free). */
#pragma weak mm_memalign
#pragma weak mm_malloc_usable
#pragma weak mm_free_usable

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n) { return (size_t)(rng_next() % n); }

/* Sizes as traces have them: mostly small, some medium, a few large. */
static size_t random_size(void) {
    size_t kind = rng_below(100);
    if (kind < 70)
        return 1 + rng_below(128);
    if (kind < 95)
        return 1 + rng_below(2048);
    return 1 + rng_below(40000);
}

static unsigned char pattern_byte(uint32_t tag, size_t i) {
    return (unsigned char)((tag * 2654435761u) >> 24 ^ (i * 7 + tag));
}

static void fill(void *p, size_t n, uint32_t tag) {
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = pattern_byte(tag, i);
}

/* Index of the first byte of p[0, n) that lost its pattern, or n. */
static size_t first_bad_byte(const void *p, size_t n, uint32_t tag) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != pattern_byte(tag, i))
            return i;
    return n;
}

static size_t count_nonzero(const void *p, size_t n) {
    const unsigned char *c = p;
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++)
        nonzero += c[i] != 0;
    return nonzero;
}

static bool heap_ok(int lineno, const char *what, size_t op) {
    if (mm_checkheap(lineno))
        return true;
    CHECK(false, "%s: mm_checkheap failed after op %zu (%s): %s", POLICY_NAME, op, what,
          mm_checkheap_message());
    return false;
}

/* A fresh heap under `option`. */
static bool start(const char *option) {
    const char *error = mm_configure(option);
    CHECK(error == NULL, "%s: mm_configure(\"%s\") refused: %s", POLICY_NAME, option,
          error ? error : "");
    mem_reset();
    bool ok = mm_init();
    CHECK(ok, "%s:%s: mm_init failed", POLICY_NAME, option);
    return ok && heap_ok(__LINE__, "mm_init", 0);
}

/* A pointer the allocator returned for `size` bytes: aligned, inside the heap, big enough. */
static bool good_block(void *p, size_t size, const char *what, size_t op) {
    char *c = p;
    bool aligned = (uintptr_t)c % 16 == 0;
    bool inside = c >= (char *)mem_heap_lo() && c + size - 1 <= (char *)mem_heap_hi();
    bool roomy = mm_usable_size(p) >= size;
    CHECK(aligned && inside && roomy,
          "%s: op %zu %s(%zu) = %p: aligned %d, inside the heap %d, usable size %zu", POLICY_NAME,
          op, what, size, p, aligned, inside, mm_usable_size(p));
    return aligned && inside && roomy;
}

/* ------------------------------------------------------------ random sequences */

enum { SLOTS = 200, OPS = 12000, VERIFY_ALL_EVERY = 50 };

typedef struct {
    void *p;
    size_t size;
    uint32_t tag;
} slot_t;

static bool verify_slot(const slot_t *s, size_t op) {
    size_t bad = first_bad_byte(s->p, s->size, s->tag);
    CHECK(bad == s->size, "%s: op %zu: block %p (%zu bytes) corrupted at byte %zu", POLICY_NAME, op,
          s->p, s->size, bad);
    return bad == s->size;
}

/*
 * Run OPS random ops from `seed`; returns a digest of where blocks landed (offsets from the heap
 * start), or 0 after a failure.
 */
static uint64_t random_ops(uint64_t seed) {
    static slot_t slots[SLOTS];
    memset(slots, 0, sizeof slots);
    rng_state = seed;
    uint64_t digest = 1469598103934665603u;
    uint32_t next_tag = 1;
    for (size_t op = 1; op <= OPS; op++) {
        slot_t *s = &slots[rng_below(SLOTS)];
        size_t choice = rng_below(100);
        const char *what;
        if (s->p == NULL) {
            size_t size = random_size();
            if (choice < 75 && mm_malloc_usable != NULL && choice % 2 == 1) {
                what = "malloc_usable";
                size_t usable = 0;
                s->p = mm_malloc_usable(size, &usable);
                CHECK(s->p == NULL || usable == mm_usable_size(s->p),
                      "%s: op %zu: mm_malloc_usable(%zu) said %zu, mm_usable_size %zu", POLICY_NAME,
                      op, size, usable, s->p != NULL ? mm_usable_size(s->p) : 0);
            } else if (choice < 75) {
                what = "malloc";
                s->p = mm_malloc(size);
            } else if (choice >= 90 && mm_memalign != NULL) {
                what = "memalign";
                size_t alignment = (size_t)32 << rng_below(9); /* 32 .. 8 KiB */
                s->p = mm_memalign(alignment, size);
                CHECK(s->p == NULL || (uintptr_t)s->p % alignment == 0,
                      "%s: op %zu: memalign(%zu, %zu) = %p", POLICY_NAME, op, alignment, size,
                      s->p);
            } else {
                what = "calloc";
                size_t count = 1 + rng_below(8);
                size = (size + count - 1) / count * count;
                s->p = mm_calloc(count, size / count);
                CHECK(s->p == NULL || count_nonzero(s->p, size) == 0,
                      "%s: op %zu: calloc memory not zero", POLICY_NAME, op);
            }
            CHECK(s->p != NULL, "%s: op %zu: %s(%zu) failed", POLICY_NAME, op, what, size);
            if (s->p == NULL || !good_block(s->p, size, what, op))
                return 0;
            s->size = size;
            s->tag = next_tag++;
            fill(s->p, s->size, s->tag);
        } else if (!verify_slot(s, op)) {
            return 0;
        } else if (choice < 45 && mm_free_usable != NULL && choice % 2 == 1) {
            what = "free_usable";
            size_t usable = mm_usable_size(s->p), said = mm_free_usable(s->p);
            CHECK(said == usable, "%s: op %zu: mm_free_usable said %zu, mm_usable_size %zu",
                  POLICY_NAME, op, said, usable);
            s->p = NULL;
        } else if (choice < 45) {
            what = "free";
            mm_free(s->p);
            s->p = NULL;
        } else if (choice < 95) {
            size_t size =
                choice < 70 ? s->size + 1 + rng_below(2 * s->size + 64) : 1 + rng_below(s->size);
            what = choice < 70 ? "realloc bigger" : "realloc smaller";
            void *p = mm_realloc(s->p, size);
            CHECK(p != NULL, "%s: op %zu: realloc to %zu failed", POLICY_NAME, op, size);
            if (p == NULL || !good_block(p, size, what, op))
                return 0;
            size_t keep = size < s->size ? size : s->size;
            size_t bad = first_bad_byte(p, keep, s->tag);
            CHECK(bad == keep, "%s: op %zu: realloc lost byte %zu of %zu", POLICY_NAME, op, bad,
                  keep);
            s->p = p;
            s->size = size;
            s->tag = next_tag++;
            fill(s->p, s->size, s->tag);
        } else {
            what = "realloc to 0";
            void *p = mm_realloc(s->p, 0);
            CHECK(p == NULL, "%s: op %zu: realloc(p, 0) returned %p, not NULL", POLICY_NAME, op, p);
            s->p = NULL;
        }
        if (s->p != NULL)
            digest = (digest ^ (uint64_t)((char *)s->p - (char *)mem_heap_lo())) * 1099511628211u;
        if (!heap_ok(__LINE__, what, op))
            return 0;
        if (op % VERIFY_ALL_EVERY == 0)
            for (size_t i = 0; i < SLOTS; i++)
                if (slots[i].p != NULL && !verify_slot(&slots[i], op))
                    return 0;
    }
    for (size_t i = 0; i < SLOTS; i++) {
        if (slots[i].p != NULL && !verify_slot(&slots[i], OPS))
            return 0;
        mm_free(slots[i].p);
    }
    return heap_ok(__LINE__, "freeing everything", OPS) ? digest : 0;
}

static void test_random(const char *option) {
    for (uint64_t seed = 1; seed <= 3; seed++) {
        if (!start(option))
            return;
        uint64_t first = random_ops(seed);
        if (first == 0 || !start(option))
            return;
        uint64_t again = random_ops(seed);
        CHECK(again == first, "%s:%s: seed %llu lands elsewhere after mm_init: stale state",
              POLICY_NAME, option, (unsigned long long)seed);
    }
}

/*
 * mm_init on a heap it did not see emptied: free blocks of many sizes still listed between live
 * ones (a trace that leaks, a pass cut short), which a policy may clear by what it has listed
 * rather than wholesale. The seeded sequence after it must land as it does after a clean start.
 */
static void test_init_over_listed_blocks(const char *option) {
    enum { SIZES = 300 };
    if (!start(option))
        return;
    uint64_t clean = random_ops(1);
    if (clean == 0 || !start(option))
        return;
    void *kept[SIZES], *freed[SIZES];
    for (size_t i = 0; i < SIZES; i++) { /* sizes 16 .. 9 KiB: every small class and many more */
        freed[i] = mm_malloc(16 + 32 * i);
        kept[i] = mm_malloc(16);
        CHECK(freed[i] != NULL && kept[i] != NULL, "%s:%s: malloc failed", POLICY_NAME, option);
    }
    for (size_t i = 0; i < SIZES; i++)
        mm_free(freed[i]);
    if (!heap_ok(__LINE__, "freeing every other block", 0) || !start(option))
        return;
    uint64_t again = random_ops(1);
    CHECK(again == clean, "%s:%s: mm_init over listed free blocks: the next run lands elsewhere",
          POLICY_NAME, option);
}

/* ------------------------------------------------------------ edge cases */

static void test_edges(const char *option) {
    if (!start(option))
        return;
    CHECK(mm_malloc(0) == NULL, "%s: malloc(0) is not NULL", POLICY_NAME);
    mm_free(NULL);
    heap_ok(__LINE__, "free(NULL)", 0);

    void *p = mm_realloc(NULL, 100);
    CHECK(p != NULL && good_block(p, 100, "realloc(NULL)", 0), "%s: realloc(NULL, 100) failed",
          POLICY_NAME);
    fill(p, 100, 7);
    CHECK(mm_realloc(p, 0) == NULL, "%s: realloc(p, 0) is not NULL", POLICY_NAME);
    heap_ok(__LINE__, "realloc(p, 0)", 0);

    CHECK(mm_calloc(SIZE_MAX / 2 + 1, 2) == NULL, "%s: calloc overflow not NULL", POLICY_NAME);
    CHECK(mm_calloc(2, SIZE_MAX / 2 + 1) == NULL, "%s: calloc overflow not NULL", POLICY_NAME);
    CHECK(mm_malloc(SIZE_MAX) == NULL, "%s: malloc(SIZE_MAX) not NULL", POLICY_NAME);
    CHECK(mm_malloc(SIZE_MAX - 15) == NULL, "%s: malloc(SIZE_MAX - 15) not NULL", POLICY_NAME);
    CHECK(mm_malloc((size_t)1 << 62) == NULL, "%s: malloc(2^62) not NULL", POLICY_NAME);
    heap_ok(__LINE__, "huge requests", 0);

    void *q = mm_malloc(40);
    fill(q, 40, 9);
    CHECK(mm_realloc(q, SIZE_MAX - 7) == NULL, "%s: huge realloc not NULL", POLICY_NAME);
    CHECK(mm_realloc(q, (size_t)1 << 62) == NULL, "%s: huge realloc not NULL", POLICY_NAME);
    CHECK(first_bad_byte(q, 40, 9) == 40, "%s: a failed realloc changed the block", POLICY_NAME);
    heap_ok(__LINE__, "huge realloc", 0);

    /* Reuse the freed block so calloc has to clear old data. */
    void *dirty = mm_malloc(3000);
    CHECK(dirty != NULL, "%s: malloc(3000) failed", POLICY_NAME);
    fill(dirty, 3000, 11);
    mm_free(dirty);
    void *z = mm_calloc(3, 1000);
    CHECK(z != NULL && count_nonzero(z, 3000) == 0, "%s: calloc(3, 1000) memory is not zero",
          POLICY_NAME);
    mm_free(z);
    mm_free(q);
    heap_ok(__LINE__, "frees", 0);
}

/* ------------------------------------------------------------ out of memory */

/* A realloc to a size its block already holds, with no tail worth freeing (within 8 bytes of its
   usable size: one 16-byte step), changes nothing: the same block, its bytes, the heap's size. */
static void test_realloc_that_fits_changes_nothing(const char *option) {
    if (!start(option))
        return;
    for (size_t asked = 24; asked <= 2000; asked = asked * 3 / 2) {
        void *p = mm_malloc(asked);
        void *after = mm_malloc(asked); /* p is not the heap's last block: no growth past it */
        CHECK(p != NULL && after != NULL, "%s:%s: malloc(%zu) failed", POLICY_NAME, option, asked);
        if (p == NULL || after == NULL)
            return;
        fill(p, asked, 5);
        size_t usable = mm_usable_size(p), heap = mem_heapsize();
        for (size_t size = usable - 7; size <= usable; size++) {
            void *q = mm_realloc(p, size);
            size_t kept = size < asked ? size : asked;
            CHECK(q == p && mm_usable_size(p) == usable && mem_heapsize() == heap &&
                      first_bad_byte(p, kept, 5) == kept,
                  "%s:%s: realloc of a %zu-byte block (usable %zu) to %zu: %p, was %p, usable %zu",
                  POLICY_NAME, option, asked, usable, size, q, p, mm_usable_size(p));
            heap_ok(__LINE__, "realloc within the block", 0);
        }
        mm_free(after);
        mm_free(p);
    }
    heap_ok(__LINE__, "every block freed", 0);
}

static void test_out_of_memory(const char *option) {
    enum { LIMIT = 64 * 1024, BLOCK = 1000, MAX_BLOCKS = LIMIT / BLOCK + 1 };
    mem_set_limit(LIMIT);
    if (!start(option)) {
        mem_set_limit(0);
        return;
    }
    void *blocks[MAX_BLOCKS + 1];
    size_t n = 0;
    while (n <= MAX_BLOCKS && (blocks[n] = mm_malloc(BLOCK)) != NULL)
        fill(blocks[n], BLOCK, (uint32_t)n), n++;
    CHECK(n > 0 && n <= MAX_BLOCKS, "%s: %zu blocks of %d fit in a %d-byte heap", POLICY_NAME, n,
          BLOCK, LIMIT);
    CHECK(mem_heapsize() <= LIMIT, "%s: heap grew to %zu past the limit", POLICY_NAME,
          mem_heapsize());
    heap_ok(__LINE__, "malloc returning NULL", n);
    CHECK(mm_malloc(LIMIT) == NULL, "%s: a limit-sized block fit a full heap", POLICY_NAME);
    CHECK(n == 0 || mm_realloc(blocks[0], 4 * BLOCK) == NULL, "%s: realloc grew a full heap",
          POLICY_NAME);
    heap_ok(__LINE__, "realloc returning NULL", n);

    for (size_t i = 0; i < n; i += 2)
        mm_free(blocks[i]);
    heap_ok(__LINE__, "freeing half", n);
    void *again = mm_malloc(BLOCK / 2);
    CHECK(again != NULL, "%s: no malloc succeeds after freeing half the heap", POLICY_NAME);
    for (size_t i = 1; i < n; i += 2)
        CHECK(first_bad_byte(blocks[i], BLOCK, (uint32_t)i) == BLOCK,
              "%s: block %zu lost data around running out of memory", POLICY_NAME, i);
    for (size_t i = 1; i < n; i += 2)
        mm_free(blocks[i]);
    mm_free(again);
    heap_ok(__LINE__, "freeing all", n);
    void *big = mm_malloc(LIMIT / 2);
    CHECK(big != NULL, "%s: half the heap cannot be allocated once all is free", POLICY_NAME);
    mm_free(big);
    mem_set_limit(0);

    /* Injected failure: the heap refuses to grow at all. */
    if (!start(option))
        return;
    mem_fail_after(0);
    CHECK(mm_malloc(100) == NULL, "%s: malloc succeeded on a heap that cannot grow", POLICY_NAME);
    heap_ok(__LINE__, "malloc on a heap that cannot grow", 0);
    mem_fail_after(-1);
    void *p = mm_malloc(100);
    CHECK(p != NULL, "%s: malloc fails once the heap can grow again", POLICY_NAME);
    mm_free(p);
    heap_ok(__LINE__, "recovery", 0);
}

/* ------------------------------------------------------------ trimming the top */

/* The drop-in's arenas give a free top back through mm_trim, which a policy may define (and
   mm_free_top with it). */
__attribute__((weak)) size_t mm_free_top(void);
__attribute__((weak)) size_t mm_trim(size_t pad);

static void test_trim(const char *option) {
    if (mm_trim == NULL || mm_free_top == NULL || !start(option))
        return;
    mem_set_shrink(true);
    enum { BIG = 8, BIG_BYTES = 1 << 20 };
    void *first = mm_malloc(100), *big[BIG];
    for (int i = 0; i < BIG; i++)
        big[i] = mm_malloc(BIG_BYTES);
    fill(first, 100, 3);
    size_t grown = mem_heapsize();
    CHECK(mm_free_top() == 0 && mm_trim(0) == 0, "%s: trimmed a heap whose top is allocated",
          POLICY_NAME);
    for (int i = 0; i < BIG; i++)
        mm_free(big[i]);
    size_t top = mm_free_top();
    CHECK(top > (size_t)(BIG - 1) * BIG_BYTES && top < grown, "%s: a free top of %zu bytes",
          POLICY_NAME, top);
    size_t given = mm_trim(4096);
    CHECK(given > (size_t)(BIG - 1) * BIG_BYTES && mem_heapsize() == grown - given,
          "%s: trim gave back %zu of a heap of %zu, now %zu", POLICY_NAME, given, grown,
          mem_heapsize());
    heap_ok(__LINE__, "trim with a pad", 0);
    given = mm_trim(0); /* the pad itself, whole */
    CHECK(given >= 4096 && given < 4096 + 64, "%s: the pad's trim gave back %zu", POLICY_NAME,
          given);
    heap_ok(__LINE__, "trim to nothing", 0);
    void *again = mm_malloc(BIG_BYTES);
    CHECK(again != NULL && good_block(again, BIG_BYTES, "malloc after trim", 0) &&
              first_bad_byte(first, 100, 3) == 100,
          "%s: the heap does not grow back after a trim", POLICY_NAME);
    mm_free(again);
    mm_free(first);
    heap_ok(__LINE__, "after trims", 0);
    mem_set_shrink(false);
}

/* The spans mm_free_spans passed, in order. */
typedef struct {
    size_t count;
    char *lo[64];
    size_t len[64];
} spans_seen;

static void note_span(void *lo, size_t len, void *ctx) {
    spans_seen *seen = ctx;
    if (seen->count < 64) {
        seen->lo[seen->count] = lo;
        seen->len[seen->count] = len;
    }
    seen->count++;
}

/* Whether seen holds the span [lo, lo + len). */
static bool saw_span(const spans_seen *seen, const char *lo, size_t len) {
    for (size_t i = 0; i < seen->count && i < 64; i++)
        if (seen->lo[i] == lo && seen->len[i] == len)
            return true;
    return false;
}

/*
 * mm_free_spans(least, ...) passes every free span of `least` bytes or more (the drop-in's purge
 * gives back only those, and a policy may skip the shorter ones unread), each inside the heap and
 * clear of every live block; a `least` no block reaches (no overflow) passes only spans that
 * mm_free_spans(0) passes.
 */
static void test_free_spans(const char *option) {
    if (!start(option))
        return;
    enum { FREED = 4, KEPT_BYTES = 300, LEAST = 64 << 10 };
    static const size_t sizes[FREED] = {5 << 10, 20 << 10, 100 << 10, 200 << 10};
    void *freed[FREED], *kept[FREED];
    for (int i = 0; i < FREED; i++) { /* a live block after each: the freed ones stay apart */
        freed[i] = mm_malloc(sizes[i]);
        kept[i] = mm_malloc(KEPT_BYTES);
        fill(kept[i], KEPT_BYTES, (uint32_t)i);
    }
    for (int i = 0; i < FREED; i++)
        mm_free(freed[i]);
    spans_seen all = {0}, long_ones = {0}, none = {0};
    mm_free_spans(0, note_span, &all);
    mm_free_spans(LEAST, note_span, &long_ones);
    mm_free_spans(SIZE_MAX, note_span, &none);
    CHECK(all.count <= 64 && long_ones.count <= 64 && none.count <= 64,
          "%s: %zu, %zu, %zu free spans of a heap with %d free blocks", POLICY_NAME, all.count,
          long_ones.count, none.count, FREED);
    size_t reaching = 0;
    for (size_t i = 0; i < all.count && i < 64; i++) {
        char *lo = all.lo[i], *hi = lo + all.len[i];
        CHECK(lo >= (char *)mem_heap_lo() && hi <= (char *)mem_heap_hi() + 1,
              "%s: a free span [%p, %p) outside the heap", POLICY_NAME, (void *)lo, (void *)hi);
        for (int k = 0; k < FREED; k++)
            CHECK(hi <= (char *)kept[k] || lo >= (char *)kept[k] + KEPT_BYTES,
                  "%s: the free span [%p, %p) holds the live block %p", POLICY_NAME, (void *)lo,
                  (void *)hi, kept[k]);
        if (all.len[i] >= LEAST) {
            reaching++;
            CHECK(saw_span(&long_ones, lo, all.len[i]),
                  "%s: mm_free_spans(%d) left out the free span [%p, %p)", POLICY_NAME, LEAST,
                  (void *)lo, (void *)hi);
        }
    }
    CHECK(reaching >= 2, "%s: %zu free spans of 64 KiB where 100 and 200 KiB were freed",
          POLICY_NAME, reaching);
    for (size_t i = 0; i < none.count && i < 64; i++)
        CHECK(saw_span(&all, none.lo[i], none.len[i]),
              "%s: mm_free_spans(SIZE_MAX) passed a span mm_free_spans(0) did not", POLICY_NAME);
    for (int i = 0; i < FREED; i++) {
        CHECK(first_bad_byte(kept[i], KEPT_BYTES, (uint32_t)i) == KEPT_BYTES,
              "%s: a live block changed while free spans were listed", POLICY_NAME);
        mm_free(kept[i]);
    }
    heap_ok(__LINE__, "after listing free spans", 0);
}

static void test_options_rejected(void) {
    const char *error = mm_configure("no-such-option");
    CHECK(error != NULL && strlen(error) > 0 && strchr(error, '\n') == NULL,
          "%s: an unknown option is not refused with one line", POLICY_NAME);
}

int main(void) {
    mem_init();
    test_options_rejected();
    for (const char *const *option = options_of(POLICY_NAME); *option != NULL; option++) {
        test_edges(*option);
        test_realloc_that_fits_changes_nothing(*option);
        test_out_of_memory(*option);
        test_trim(*option);
        test_free_spans(*option);
        test_random(*option);
        test_init_over_listed_blocks(*option);
    }
    mem_deinit();
    return CHECK_DONE();
}
