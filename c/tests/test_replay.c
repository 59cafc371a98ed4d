/*
 * test_replay.c - the replay engine's checks fire, with the right words.
 *
 * The allocator under test is a bump allocator over mem_sbrk, defined here
 * and wired into an ms_allocator table by hand. It is correct with no fault
 * set; each fault below changes one line of it into a classic student bug,
 * and each test asserts that the check meant for that bug stops the pass at
 * the right op and says what was wrong. Traces are built as op arrays.
 * Also covered: utilization figures on tiny traces, the sampling path on an
 * 8 GiB block, timed passes, the treap against a brute-force oracle, and
 * ms_allocator_open's errors on libraries compiled at run time.
 */
#include "check.h"
#include "interval_tree.h"
#include "mallocsim.h"
#include "memlib.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------ the allocator under test */

typedef enum {
    FAULT_NONE,
    FAULT_MISALIGN,     /* hands out the payload 8 bytes late */
    FAULT_OVERLAP,      /* hands out the previous payload + 16 */
    FAULT_CONTAIN,      /* hands out the heap's start, around the previous block */
    FAULT_OUTSIDE,      /* hands out a pointer past the break */
    FAULT_SHORT,        /* grows the heap 16 bytes short of the block */
    FAULT_METADATA,     /* free writes a link into the previous block's last word */
    FAULT_REALLOC_DROP, /* realloc moves without copying */
    FAULT_CALLOC_DIRTY, /* calloc does not zero (a reused block is dirty) */
    FAULT_NULL,         /* malloc always answers NULL */
    FAULT_INIT,         /* mm_init fails */
    FAULT_CHECKHEAP,    /* mm_checkheap reports a broken heap */
} fault;

enum { HEADER = 16 }; /* each block: 16-byte header holding its capacity, then payload */

static fault bump_fault;
static unsigned char *spare; /* the last freed payload, reused when big enough */
static unsigned char *last;  /* the last payload handed out */
static bool reused;          /* whether the last malloc handed out the spare */

static size_t capacity_of(const unsigned char *payload) {
    size_t cap;
    memcpy(&cap, payload - HEADER, sizeof cap);
    return cap;
}

static int bump_init(void) {
    spare = last = NULL;
    return bump_fault == FAULT_INIT ? -1 : 0;
}

static bool bump_init_cmu(void) { return bump_init() == 0; }

static void *bump_malloc(size_t size) {
    if (bump_fault == FAULT_NULL)
        return NULL;
    reused = spare != NULL && capacity_of(spare) >= size;
    if (reused) {
        unsigned char *p = spare;
        spare = NULL;
        return p;
    }
    size_t cap = size == 0 ? 16 : (size + 15) / 16 * 16;
    size_t grow = HEADER + cap + (bump_fault == FAULT_MISALIGN ? 16 : 0);
    unsigned char *h = mem_sbrk((intptr_t)grow);
    if (h == (void *)-1)
        return NULL;
    memcpy(h, &cap, sizeof cap);
    unsigned char *p = h + HEADER;
    unsigned char *previous = last;
    last = p;
    switch (bump_fault) {
    case FAULT_MISALIGN:
        return p + 8;
    case FAULT_OVERLAP:
        return previous != NULL ? previous + 16 : p;
    case FAULT_CONTAIN:
        return previous != NULL ? (unsigned char *)mem_heap_lo() : p;
    case FAULT_OUTSIDE:
        return p + grow;
    case FAULT_SHORT:
        mem_sbrk(-16);
        return p;
    default:
        return p;
    }
}

static void bump_free(void *ptr) {
    if (ptr == NULL)
        return;
    unsigned char *p = ptr;
    if (bump_fault == FAULT_METADATA && p - HEADER > (unsigned char *)mem_heap_lo()) {
        uintptr_t link = (uintptr_t)spare;
        memcpy(p - HEADER - 8, &link, sizeof link);
    }
    spare = p;
}

static void *bump_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return bump_malloc(size);
    if (size == 0) {
        bump_free(ptr);
        return NULL;
    }
    void *q = bump_malloc(size);
    if (q == NULL)
        return NULL;
    size_t cap = capacity_of(ptr);
    if (bump_fault != FAULT_REALLOC_DROP)
        memcpy(q, ptr, cap < size ? cap : size);
    bump_free(ptr);
    return q;
}

static void *bump_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = bump_malloc(count * size);
    /* Fresh heap memory is zero already: only a reused block needs it. */
    if (p != NULL && reused && bump_fault != FAULT_CALLOC_DIRTY)
        memset(p, 0, count * size);
    return p;
}

static int bump_checkheap(int verbose) {
    (void)verbose;
    return bump_fault != FAULT_CHECKHEAP;
}

static bool bump_checkheap_cmu(int lineno) { return bump_checkheap(lineno) != 0; }

static const char *bump_checkheap_message(void) {
    return bump_fault == FAULT_CHECKHEAP ? "block 0x10: header size 48 != footer size 32" : "";
}

static ms_allocator bump_table(void) {
    int (*init)(void) = bump_init;
    ms_allocator a = {
        .dialect = MS_DIALECT_CLASSIC,
        .init = *(void **)(&init), /* the POSIX function/object pointer idiom */
        .malloc = bump_malloc,
        .free = bump_free,
        .realloc = bump_realloc,
        .calloc = bump_calloc,
        .checkheap = bump_checkheap,
        .checkheap_message = bump_checkheap_message,
    };
    return a;
}

/* The same allocator in the cmu dialect: bool mm_init and mm_checkheap. */
static ms_allocator bump_table_cmu(void) {
    ms_allocator a = bump_table();
    bool (*init)(void) = bump_init_cmu;
    a.dialect = MS_DIALECT_CMU;
    a.init = *(void **)(&init);
    a.checkheap = (int (*)(int))(void (*)(void))bump_checkheap_cmu;
    return a;
}

/* ------------------------------------------------------------- traces */

#define A(i, s)                                                                                    \
    { .kind = MS_OP_ALLOC, .id = (i), .size = (s) }
#define R(i, s)                                                                                    \
    { .kind = MS_OP_REALLOC, .id = (i), .size = (s) }
#define C(i, n, s)                                                                                 \
    { .kind = MS_OP_CALLOC, .id = (i), .count = (n), .size = (s) }
#define F(i)                                                                                       \
    { .kind = MS_OP_FREE, .id = (i) }
#define OPS(...) (ms_op[]){__VA_ARGS__}, sizeof((ms_op[]){__VA_ARGS__}) / sizeof(ms_op)

static ms_trace trace_of(ms_op *ops, size_t num_ops, uint32_t num_ids) {
    return (ms_trace){.ops = ops, .num_ops = num_ops, .num_ids = num_ids};
}

static ms_check_result check_with(const ms_allocator *a, fault f, ms_trace t,
                                  ms_check_options options) {
    bump_fault = f;
    ms_check_result r;
    ms_replay_checked(&t, a, &options, &r);
    bump_fault = FAULT_NONE;
    return r;
}

static ms_check_result check_bump(fault f, ms_trace t) {
    ms_allocator a = bump_table();
    return check_with(&a, f, t, (ms_check_options){0});
}

/* Payloads above 64 KiB (the floor) are sampled. */
static ms_check_result check_bump_sampled(fault f, ms_trace t) {
    ms_allocator a = bump_table();
    return check_with(&a, f, t, (ms_check_options){.sample_above = 64 * 1024});
}

static const ms_check_options CHECK_HEAP = {.check_heap = true};

static void expect_valid(const ms_check_result *r, const char *what) {
    CHECK(r->valid, "%s: %s", what, r->error);
    CHECK(r->error[0] == '\0', "%s: error set on a valid run: %s", what, r->error);
}

/* The pass failed at op `op`, and the message contains every fragment. */
static void expect_failure(const ms_check_result *r, uint64_t op, const char *what,
                           const char *fragment1, const char *fragment2) {
    CHECK(!r->valid, "%s: the check did not fire", what);
    CHECK(r->fail_op == op, "%s: failed at op %llu, expected %llu (%s)", what,
          (unsigned long long)r->fail_op, (unsigned long long)op, r->error);
    CHECK(strstr(r->error, fragment1) != NULL, "%s: '%s' not in: %s", what, fragment1, r->error);
    CHECK(fragment2 == NULL || strstr(r->error, fragment2) != NULL, "%s: '%s' not in: %s", what,
          fragment2, r->error);
    CHECK(strchr(r->error, '\n') == NULL, "%s: message is not one line", what);
}

/* ---------------------------------------------------------- valid runs */

static void test_utilization_by_hand(void) {
    /* 5 and 20 live together: payload 25, rounded 16 + 32; the bump heap is
       two 16-byte headers plus capacities 16 and 32; block 1 ends at
       16 + 16 + 16 + 20 = 68 bytes past the heap's start. */
    ms_check_result r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 5), A(1, 20), F(0), F(1)), 2));
    expect_valid(&r, "bump");
    CHECK(r.ops_done == 4, "ops_done %llu", (unsigned long long)r.ops_done);
    CHECK(r.peak_payload == 25, "peak_payload %llu", (unsigned long long)r.peak_payload);
    CHECK(r.peak_aligned == 48, "peak_aligned %llu", (unsigned long long)r.peak_aligned);
    CHECK(r.heap_size == 80, "heap_size %llu", (unsigned long long)r.heap_size);
    CHECK(r.highest_used == 68, "highest_used %llu", (unsigned long long)r.highest_used);

    /* A realloc changes the live sum by the difference; the peak is kept. */
    r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 100), R(0, 10), A(1, 1)), 2));
    expect_valid(&r, "realloc shrink");
    CHECK(r.peak_payload == 100, "peak_payload %llu", (unsigned long long)r.peak_payload);
    CHECK(r.peak_aligned == 112, "peak_aligned %llu", (unsigned long long)r.peak_aligned);
}

static void test_valid_edge_cases(void) {
    /* realloc of a never-allocated id is realloc(NULL, n); r to 0 frees (the
       id may be allocated again); f -1 is free(NULL); tail bytes of odd sizes
       are checked and kept. */
    ms_check_result r = check_bump(
        FAULT_NONE, trace_of(OPS(R(0, 13), R(0, 77), R(0, 3), F(MS_ID_NULL), R(0, 0), A(0, 5),
                                 A(1, 0), C(2, 3, 7), R(2, 100), F(1), F(2), C(3, 0, 8)),
                             4));
    expect_valid(&r, "edge cases");
    CHECK(r.ops_done == 12, "ops_done %llu", (unsigned long long)r.ops_done);

    /* An allocator may answer NULL for 0 bytes; the id then frees NULL. */
    r = check_bump(FAULT_NULL, trace_of(OPS(A(0, 0), F(0)), 1));
    expect_valid(&r, "malloc(0) = NULL");

    /* calloc(n, size) overflowing 64 bits must answer NULL. */
    r = check_bump(FAULT_NONE, trace_of(OPS(C(0, 3, UINT64_MAX / 2), F(0)), 1));
    expect_valid(&r, "calloc overflow");

    /* The cmu dialect, with the heap checker on after every op. */
    ms_allocator cmu = bump_table_cmu();
    r = check_with(&cmu, FAULT_NONE, trace_of(OPS(A(0, 24), R(0, 48), F(0)), 1), CHECK_HEAP);
    expect_valid(&r, "cmu dialect");

    /* The same trace run twice from a fresh heap gives the same figures. */
    ms_trace t = trace_of(OPS(A(0, 40), A(1, 8), F(0), A(2, 16)), 3);
    ms_check_result first = check_bump(FAULT_NONE, t), second = check_bump(FAULT_NONE, t);
    CHECK(first.heap_size == second.heap_size && first.highest_used == second.highest_used,
          "second run differs: %llu/%llu vs %llu/%llu", (unsigned long long)first.heap_size,
          (unsigned long long)first.highest_used, (unsigned long long)second.heap_size,
          (unsigned long long)second.highest_used);
}

static void test_system_allocator(void) {
    ms_allocator sys;
    ms_allocator_system(&sys);
    CHECK(sys.dialect == MS_DIALECT_SYSTEM && sys.calloc != NULL, "system table");
    ms_trace t = trace_of(OPS(A(0, 100), C(1, 10, 10), R(0, 5000), A(2, 1 << 20), F(1)), 3);
    ms_check_result r = check_with(&sys, FAULT_NONE, t, (ms_check_options){0});
    expect_valid(&r, "system");
    CHECK(r.heap_size == 0 && r.highest_used == 0, "system has no heap of ours");
    CHECK(r.peak_payload == 5000 + 100 + (1 << 20), "peak_payload %llu",
          (unsigned long long)r.peak_payload);
}

/* The system's malloc needs C17 alignment only: 8 bytes may sit at 8 mod 16
   (jemalloc, tcmalloc and mimalloc do that), 24 bytes may not. */
static void test_system_alignment(void) {
    ms_allocator a = bump_table();
    a.dialect = MS_DIALECT_SYSTEM; /* no heap reset, no mm_init: do both here */
    mem_reset();
    bump_init();
    ms_check_result r = check_with(&a, FAULT_MISALIGN, trace_of(OPS(A(0, 8), A(1, 4), A(2, 24)), 3),
                                   (ms_check_options){0});
    expect_failure(&r, 2, "system alignment", "op 2 (a 2 24): block 2 [0x",
                   "is not 16-byte aligned");
    CHECK(strstr(r.error, "heap") == NULL, "no heap offsets for the system: %s", r.error);
}

/* "r id 0" ends the id's life: the id may be allocated again, whether the
   allocator's realloc(p, 0) returned NULL or a pointer (given back). */
static void test_realloc_to_zero_frees(void) {
    ms_trace t = trace_of(OPS(A(0, 8), R(0, 0), A(0, 16), F(0)), 1);
    ms_allocator a = bump_table();
    ms_check_result r;
    CHECK(ms_replay_checked(&t, &a, &(ms_check_options){0}, &r), "r 0 0 then a 0: %s", r.error);
    CHECK(r.peak_payload == 16, "peak payload %llu", (unsigned long long)r.peak_payload);
    double seconds[1];
    ms_error err;
    CHECK(ms_replay_timed(&t, &a, 1, 1, 0.0, false, seconds, &err) == 1, "timed: %s", err.message);
}

static void test_progress(void) {
    volatile uint64_t progress = 99;
    ms_trace t = trace_of(OPS(A(0, 8), A(1, 8), F(0)), 2);
    ms_check_options options = {.progress = &progress};
    ms_allocator a = bump_table();
    ms_check_result r;
    ms_replay_checked(&t, &a, &options, &r);
    CHECK(progress == 2, "progress %llu after 3 ops", (unsigned long long)progress);
}

/* The observer sees every op, in order, with the live payload after it. */
typedef struct {
    uint64_t calls;
    uint64_t last_op;
    uint64_t live[8];
} observed;

static void observe_op(void *context, uint64_t op_index, uint64_t live_payload) {
    observed *o = context;
    if (o->calls < 8)
        o->live[o->calls] = live_payload;
    o->calls++;
    o->last_op = op_index;
}

static void test_observer(void) {
    observed o = {0};
    ms_trace t = trace_of(OPS(A(0, 8), A(1, 24), R(0, 40), F(1), F(0)), 2);
    ms_check_options options = {.observe = observe_op, .observe_context = &o};
    ms_allocator a = bump_table();
    ms_check_result r;
    CHECK(ms_replay_checked(&t, &a, &options, &r), "observed replay failed: %s", r.error);
    CHECK(o.calls == 5 && o.last_op == 4, "observer called %llu times, last op %llu",
          (unsigned long long)o.calls, (unsigned long long)o.last_op);
    uint64_t expected[5] = {8, 32, 64, 40, 0};
    for (int i = 0; i < 5; i++)
        CHECK(o.live[i] == expected[i], "live payload after op %d: %llu, expected %llu", i,
              (unsigned long long)o.live[i], (unsigned long long)expected[i]);
}

/* A trace with 100k blocks live at once: the overlap check is O(log n). */
static void test_many_blocks(void) {
    enum { N = 100000 };
    ms_op *ops = malloc(2 * N * sizeof *ops);
    for (uint32_t i = 0; i < N; i++)
        ops[i] = (ms_op){.kind = MS_OP_ALLOC, .id = i, .size = 1 + i % 50};
    for (uint32_t i = 0; i < N; i++) /* free in a scrambled order */
        ops[N + i] = (ms_op){.kind = MS_OP_FREE, .id = (uint32_t)((i * 7919ULL) % N)};
    ms_check_result r = check_bump(FAULT_NONE, trace_of(ops, 2 * N, N));
    expect_valid(&r, "100k blocks");
    free(ops);
}

/* ------------------------------------------------------- broken allocators */

static void test_misaligned(void) {
    ms_check_result r = check_bump(FAULT_MISALIGN, trace_of(OPS(A(0, 8)), 1));
    expect_failure(&r, 0, "misaligned", "op 0 (a 0 8): block 0 [heap+0x18 = 0x",
                   "is not 16-byte aligned");
    CHECK(r.ops_done == 0, "ops_done %llu", (unsigned long long)r.ops_done);
}

static void test_overlap(void) {
    ms_check_result r = check_bump(FAULT_OVERLAP, trace_of(OPS(A(0, 64), A(1, 16)), 2));
    expect_failure(&r, 1, "overlap", "op 1 (a 1 16): block 1 [heap+0x20 = 0x",
                   "overlaps block 0 [heap+0x10 = 0x");

    /* The new block starts before the old one and contains it. */
    r = check_bump(FAULT_CONTAIN, trace_of(OPS(A(0, 16), A(1, 64)), 2));
    expect_failure(&r, 1, "containment", "block 1 [heap+0x0 = 0x",
                   "+64) overlaps block 0 [heap+0x10 = 0x");

    /* Blocks above 1 MiB live in the tree, smaller ones in the granule map:
       an overlap across the two is caught both ways. */
    r = check_bump(FAULT_OVERLAP, trace_of(OPS(A(0, 3 << 20), A(1, 16)), 2));
    expect_failure(&r, 1, "small in big", "op 1 (a 1 16): block 1 [heap+0x20 = 0x",
                   "overlaps block 0 [heap+0x10 = 0x");
    r = check_bump(FAULT_CONTAIN, trace_of(OPS(A(0, 16), A(1, 3 << 20)), 2));
    expect_failure(&r, 1, "big around small", "block 1 [heap+0x0 = 0x",
                   "+3145728) overlaps block 0 [heap+0x10 = 0x");
    r = check_bump(FAULT_OVERLAP, trace_of(OPS(A(0, 1 << 20), A(1, 40)), 2));
    expect_failure(&r, 1, "largest mapped block", "block 1 [heap+0x20 = 0x",
                   "overlaps block 0 [heap+0x10 = 0x");
}

static void test_outside_heap(void) {
    ms_check_result r = check_bump(FAULT_OUTSIDE, trace_of(OPS(A(0, 16)), 1));
    expect_failure(&r, 0, "outside", "block 0 [heap+0x30 = 0x", "is not inside the heap [heap+0x0");

    /* Starts inside, ends past the break. */
    r = check_bump(FAULT_SHORT, trace_of(OPS(A(0, 32)), 1));
    expect_failure(&r, 0, "straddles the break", "+32) is not inside the heap", ", +32)");
}

static void test_metadata_overwrite(void) {
    /* Freeing block 1 writes a link over block 0's last word. */
    ms_check_result r =
        check_bump(FAULT_METADATA, trace_of(OPS(A(0, 32), A(1, 32), F(1), F(0)), 2));
    expect_failure(&r, 3, "metadata", "op 3 (f 0): before free, block 0",
                   "payload byte 24 was overwritten while the block was live");

    /* The same caught at the end when block 0 is never freed; its size
       is not a multiple of 8, so the word hits its tail bytes. */
    r = check_bump(FAULT_METADATA, trace_of(OPS(A(0, 29), A(1, 32), F(1)), 2));
    expect_failure(&r, 2, "metadata at end", "at the end of the trace, block 0",
                   "payload byte 24 was overwritten");
    CHECK(r.ops_done == 3, "all ops ran before the final check");
}

static void test_realloc_drops_data(void) {
    ms_check_result r = check_bump(FAULT_REALLOC_DROP, trace_of(OPS(A(0, 32), R(0, 64)), 1));
    expect_failure(&r, 1, "realloc", "op 1 (r 0 64): realloc did not keep the data: block 0",
                   "byte 0 is 0x00");
}

static void test_calloc_not_zero(void) {
    ms_check_result r =
        check_bump(FAULT_CALLOC_DIRTY, trace_of(OPS(A(0, 32), F(0), C(1, 4, 8)), 2));
    expect_failure(&r, 2, "calloc", "op 2 (c 1 4 8): calloc memory is not zero: block 1",
                   "byte 0 is 0x");
}

static void test_malloc_null(void) {
    ms_check_result r = check_bump(FAULT_NULL, trace_of(OPS(A(0, 48)), 1));
    expect_failure(&r, 0, "NULL", "op 0 (a 0 48): malloc returned NULL for 48 bytes (heap 0 B of ",
                   " limit)");
    r = check_bump(FAULT_NULL, trace_of(OPS(C(0, 10, 8)), 1));
    expect_failure(&r, 0, "calloc NULL", "calloc returned NULL for 10 x 8 bytes", NULL);
}

static void test_init_failure(void) {
    ms_check_result r = check_bump(FAULT_INIT, trace_of(OPS(A(0, 8)), 1));
    expect_failure(&r, 0, "init", "mm_init failed (returned -1)", NULL);
    ms_allocator cmu = bump_table_cmu();
    r = check_with(&cmu, FAULT_INIT, trace_of(OPS(A(0, 8)), 1), (ms_check_options){0});
    expect_failure(&r, 0, "cmu init", "mm_init failed (returned false)", NULL);
}

static void test_checkheap(void) {
    ms_allocator a = bump_table();
    ms_check_result r = check_with(&a, FAULT_CHECKHEAP, trace_of(OPS(A(0, 8)), 1), CHECK_HEAP);
    expect_failure(&r, 0, "checkheap", "op 0 (a 0 8): mm_checkheap failed: ",
                   "block 0x10: header size 48 != footer size 32");

    a.checkheap_message = NULL;
    r = check_with(&a, FAULT_CHECKHEAP, trace_of(OPS(A(0, 8)), 1), CHECK_HEAP);
    expect_failure(&r, 0, "checkheap without message", "op 0 (a 0 8): mm_checkheap failed", NULL);

    /* The checker is off unless asked for. */
    r = check_with(&a, FAULT_CHECKHEAP, trace_of(OPS(A(0, 8)), 1), (ms_check_options){0});
    expect_valid(&r, "checkheap off");

    a.checkheap = NULL;
    r = check_with(&a, FAULT_NONE, trace_of(OPS(A(0, 8)), 1), CHECK_HEAP);
    expect_failure(&r, 0, "no checkheap", "has no mm_checkheap", NULL);
}

static void test_calloc_missing(void) {
    ms_allocator a = bump_table();
    a.calloc = NULL;
    ms_check_result r =
        check_with(&a, FAULT_NONE, trace_of(OPS(A(0, 8), C(1, 2, 8)), 2), (ms_check_options){0});
    expect_failure(&r, 1, "no calloc",
                   "op 1 (c 1 2 8): the trace calls calloc but the allocator has no mm_calloc",
                   NULL);
    CHECK(r.ops_done == 1, "ops_done %llu", (unsigned long long)r.ops_done);
}

static void test_trace_errors(void) {
    ms_check_result r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 8), F(1)), 2));
    expect_failure(&r, 1, "free of a dead id", "op 1 (f 1): block 1 is not live", NULL);
    r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 8), A(0, 8)), 1));
    expect_failure(&r, 1, "alloc of a live id", "block 0 is already live", NULL);
    r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 8), A(5, 8)), 2));
    expect_failure(&r, 1, "id out of range", "id 5 is out of range (the trace has 2 ids)", NULL);
}

/* ----------------------------------------------------------- sampling */

static long resident_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_sampling(void) {
    /* 8 GiB live: written and checked by sampling only, so the run commits
       a few hundred pages, not 8 GiB. */
    uint64_t huge = (uint64_t)8 << 30;
    long before = resident_kib();
    ms_check_result r =
        check_bump(FAULT_NONE, trace_of(OPS(A(0, huge), A(1, 100), C(2, 1000, 1 << 20), F(0)), 3));
    long grown = resident_kib() - before;
    expect_valid(&r, "8 GiB block");
    CHECK(r.peak_payload == huge + 100 + 1000ULL * (1 << 20), "peak_payload %llu",
          (unsigned long long)r.peak_payload);
    CHECK(grown < 64 * 1024, "resident memory grew by %ld KiB", grown);

    /* Sampled blocks through realloc (grow, shrink, down to unsampled). */
    r = check_bump_sampled(
        FAULT_NONE, trace_of(OPS(A(0, 200001), R(0, 300007), R(0, 100003), R(0, 1001), F(0)), 1));
    expect_valid(&r, "sampled realloc");

    /* The checks still fire on sampled blocks. */
    r = check_bump_sampled(FAULT_REALLOC_DROP, trace_of(OPS(A(0, 200001), R(0, 300007)), 1));
    expect_failure(&r, 1, "sampled realloc drop", "realloc did not keep the data", NULL);
    r = check_bump_sampled(FAULT_METADATA, trace_of(OPS(A(0, 200000), A(1, 8), F(1)), 2));
    expect_failure(&r, 2, "sampled metadata", "block 0", "payload byte 199992 was overwritten");
}

/* -------------------------------------------------------------- timing */

static void test_timed(void) {
    enum { N = 1000 };
    ms_op ops[2 * N];
    for (uint32_t i = 0; i < N; i++) {
        ops[2 * i] = (ms_op){.kind = MS_OP_ALLOC, .id = i, .size = 8 + i % 100};
        ops[2 * i + 1] = (ms_op){.kind = i % 3 ? MS_OP_FREE : MS_OP_REALLOC, .id = i, .size = 300};
    }
    ms_trace t = trace_of(ops, 2 * N, N);
    double seconds[16];
    ms_error err;

    ms_allocator a = bump_table();
    uint32_t passes = ms_replay_timed(&t, &a, 3, 16, 0.0, false, seconds, &err);
    CHECK(passes == 3, "passes %u (%s)", passes, err.message);
    for (uint32_t i = 0; i < passes; i++)
        CHECK(seconds[i] > 0, "pass %u took %g s", i, seconds[i]);

    /* Keeps going until min_seconds, but never past max_passes. */
    passes = ms_replay_timed(&t, &a, 1, 16, 1e9, false, seconds, &err);
    CHECK(passes == 16, "passes %u with a long min_seconds", passes);

    ms_allocator sys;
    ms_allocator_system(&sys);
    passes = ms_replay_timed(&t, &sys, 2, 4, 0.0, false, seconds, &err);
    CHECK(passes == 2, "system passes %u (%s)", passes, err.message);

    bump_fault = FAULT_NULL;
    passes = ms_replay_timed(&t, &a, 1, 4, 0.0, false, seconds, &err);
    CHECK(passes == 0, "passes %u with a NULL-returning malloc", passes);
    CHECK(strstr(err.message, "op 0 (a 0 8): malloc returned NULL for 8 bytes") != NULL,
          "timed NULL: %s", err.message);
    bump_fault = FAULT_INIT;
    passes = ms_replay_timed(&t, &a, 1, 4, 0.0, false, seconds, &err);
    CHECK(passes == 0 && strstr(err.message, "mm_init failed") != NULL, "timed init: %s",
          err.message);
    bump_fault = FAULT_NONE;

    a.calloc = NULL;
    ms_trace with_calloc = trace_of(OPS(A(0, 8), C(1, 2, 8)), 2);
    passes = ms_replay_timed(&with_calloc, &a, 1, 4, 0.0, false, seconds, &err);
    CHECK(passes == 0 && strstr(err.message, "op 1 (c 1 2 8): the trace calls calloc") != NULL,
          "timed calloc: %s", err.message);
}

/*
 * Carried over, a pass starts on the heap the last one left with its blocks freed: bump reuses
 * its one spare block, so a trace of one block settles after the warm-up, and a trace of two
 * grows a block a pass until the heap is 8 times its size after the warm-up and the passes are
 * refused.
 */
static void test_timed_carried_heap(void) {
    double seconds[16];
    ms_error err;
    ms_allocator a = bump_table();

    ms_trace one = trace_of(OPS(A(0, 100), F(0)), 1);
    uint32_t passes = ms_replay_timed(&one, &a, 16, 16, 0.0, true, seconds, &err);
    CHECK(passes == 16, "carried passes %u (%s)", passes, err.message);
    CHECK(mem_heapsize() == HEADER + 112, "carried heap %zu after 16 passes, not one block",
          mem_heapsize());

    ms_trace two = trace_of(OPS(A(0, 100), A(1, 100), F(0), F(1)), 2);
    passes = ms_replay_timed(&two, &a, 16, 16, 0.0, true, seconds, &err);
    CHECK(passes == 0, "passes %u on a heap that keeps growing", passes);
    CHECK(strstr(err.message, "the heap grew from 256 B to 2.1 KiB in 15 passes") != NULL,
          "growth: %s", err.message);
    passes = ms_replay_timed(&two, &a, 16, 16, 0.0, false, seconds, &err);
    CHECK(passes == 16, "fresh passes %u (%s)", passes, err.message);

    bump_fault = FAULT_NULL; /* the warm-up pass fails like a timed one */
    passes = ms_replay_timed(&one, &a, 1, 4, 0.0, true, seconds, &err);
    CHECK(passes == 0 && strstr(err.message, "malloc returned NULL") != NULL, "warm-up: %s",
          err.message);
    bump_fault = FAULT_INIT;
    passes = ms_replay_timed(&one, &a, 1, 4, 0.0, true, seconds, &err);
    CHECK(passes == 0 && strstr(err.message, "mm_init failed") != NULL, "carried init: %s",
          err.message);
    bump_fault = FAULT_NONE;
}

/* --------------------------------------------------------------- treap */

/* Random inserts and removes; the neighbours agree with a linear scan. */
static void test_tree_against_oracle(void) {
    enum { N = 2000, STEPS = 20000 };
    static uintptr_t keys[N];
    static bool in[N];
    it_tree tree;
    CHECK(it_init(&tree, N, keys), "it_init");
    uint64_t rng = 12345;
    for (uint32_t i = 0; i < N; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        keys[i] = (uintptr_t)(rng >> 40) * N + i; /* distinct */
    }
    int mismatches = 0;
    for (int step = 0; step < STEPS; step++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        uint32_t id = (uint32_t)(rng >> 33) % N;
        if (in[id])
            it_remove(&tree, id);
        else
            it_insert(&tree, id);
        in[id] = !in[id];
        uintptr_t probe = keys[(rng >> 13) % N] + (rng & 1);
        uint32_t floor = IT_NONE, above = IT_NONE;
        for (uint32_t i = 0; i < N; i++) {
            if (!in[i])
                continue;
            if (keys[i] <= probe && (floor == IT_NONE || keys[i] > keys[floor]))
                floor = i;
            if (keys[i] > probe && (above == IT_NONE || keys[i] < keys[above]))
                above = i;
        }
        uint32_t got_floor, got_above;
        it_neighbours(&tree, probe, &got_floor, &got_above);
        mismatches += (got_floor != floor) + (got_above != above);
    }
    CHECK(mismatches == 0, "%d lookups disagree with the oracle", mismatches);
    it_free(&tree);
}

/* ------------------------------------------------------- loading libraries */

/* Compile `source` into dir/name.so; false when there is no compiler. */
static bool compile_library(const char *dir, const char *name, const char *source) {
    char path[256], command[768];
    snprintf(path, sizeof path, "%s/%s.c", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fputs(source, f);
    fclose(f);
    snprintf(command, sizeof command, "cc -shared -fPIC -o %s/%s.so %s 2>/dev/null", dir, name,
             path);
    bool ok = system(command) == 0;
    unlink(path);
    return ok;
}

static const char LIB_COMMON[] =
    "#include <stddef.h>\n"
    "static char heap[4096];\n"
    "static size_t used;\n"
    "void *mm_malloc(size_t n) { void *p = heap + used; used += (n + 15) / 16 * 16; return p; }\n"
    "void mm_free(void *p) { (void)p; }\n";

static void test_allocator_open(void) {
    ms_allocator a;
    ms_error err;
    CHECK(!ms_allocator_open("/nonexistent/mm.so", MS_DIALECT_CLASSIC, NULL, &a, &err),
          "opened a missing file");
    CHECK(strcmp(err.message, "/nonexistent/mm.so: cannot load: cannot open shared object file: "
                              "No such file or directory") == 0,
          "message: %s", err.message);
    CHECK(ms_abi_version() == MS_ABI_VERSION, "abi version");

    char dir[] = "/tmp/ms-test-replay-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        CHECK(false, "mkdtemp failed");
        return;
    }
    char full[2048], plain[2048], norealloc[2048];
    snprintf(full, sizeof full,
             "%s#include <stdbool.h>\n#include <string.h>\n"
             "bool mm_init(void) { used = 0; return true; }\n"
             "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n"
             "const char *mm_configure(const char *o) {\n"
             "  return strcmp(o, \"fast\") == 0 ? NULL : \"unknown option; accepted: fast\"; }\n",
             LIB_COMMON);
    snprintf(norealloc, sizeof norealloc, "%sint mm_init(void) { return 0; }\n", LIB_COMMON);
    snprintf(plain, sizeof plain,
             "%sint mm_init(void) { return 0; }\n"
             "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n",
             LIB_COMMON);
    if (!compile_library(dir, "full", full) || !compile_library(dir, "plain", plain) ||
        !compile_library(dir, "norealloc", norealloc)) {
        printf("test_allocator_open: no working cc, library loading left to the Python tests\n");
        rmdir(dir);
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/norealloc.so", dir);
    CHECK(!ms_allocator_open(path, MS_DIALECT_CLASSIC, NULL, &a, &err), "opened without realloc");
    CHECK(strstr(err.message, "norealloc.so: does not export mm_realloc") != NULL, "message: %s",
          err.message);
    unlink(path);

    snprintf(path, sizeof path, "%s/plain.so", dir);
    CHECK(!ms_allocator_open(path, MS_DIALECT_CLASSIC, "best", &a, &err), "options accepted");
    CHECK(strstr(err.message, "plain.so: takes no options (no mm_configure)") != NULL,
          "message: %s", err.message);
    if (ms_allocator_open(path, MS_DIALECT_CLASSIC, "", &a, &err))
        ms_allocator_close(&a);
    else
        CHECK(false, "empty options refused: %s", err.message);
    unlink(path);

    snprintf(path, sizeof path, "%s/full.so", dir);
    CHECK(!ms_allocator_open(path, MS_DIALECT_CMU, "slow", &a, &err), "bad option accepted");
    CHECK(strstr(err.message, "full.so: unknown option; accepted: fast") != NULL, "message: %s",
          err.message);
    if (ms_allocator_open(path, MS_DIALECT_CMU, "fast", &a, &err)) {
        CHECK(a.handle != NULL && a.dialect == MS_DIALECT_CMU, "table");
        CHECK(a.calloc == NULL && a.checkheap == NULL && a.configure != NULL, "optional symbols");
        void *p = a.malloc(10);
        CHECK(p != NULL && a.realloc(p, 20) != NULL, "calls through the table");
        ms_allocator_close(&a);
        CHECK(a.handle == NULL, "closed");
    } else {
        CHECK(false, "open failed: %s", err.message);
    }
    CHECK(!ms_allocator_open(path, 7, NULL, &a, &err), "unknown dialect accepted");
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_utilization_by_hand();
    test_valid_edge_cases();
    test_system_allocator();
    test_system_alignment();
    test_progress();
    test_realloc_to_zero_frees();
    test_observer();
    test_many_blocks();
    test_misaligned();
    test_overlap();
    test_outside_heap();
    test_metadata_overwrite();
    test_realloc_drops_data();
    test_calloc_not_zero();
    test_malloc_null();
    test_init_failure();
    test_checkheap();
    test_calloc_missing();
    test_trace_errors();
    test_sampling();
    test_timed();
    test_timed_carried_heap();
    test_tree_against_oracle();
    test_allocator_open();
    return CHECK_DONE();
}
