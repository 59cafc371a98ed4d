/*
 * test_replay.c - the replay engine's checks fire, with the right words.
 *
 * The allocator under test is a bump allocator over mem_sbrk, defined here
 * and wired into an ms_allocator table by hand. It is correct with no fault
 * set; each fault below changes one line of it into a classic student bug,
 * and each test asserts that the check meant for that bug stops the pass at
 * the right op and says what was wrong. Traces are built as op arrays.
 * Each failure is checked as data too (the ms_failure: kind, op, block,
 * other, offset, address, mm_init's status, pass), for every kind.
 * Also covered: utilization figures on tiny traces, the lab options (an
 * alignment of 8, the realloc(p, 0) rule, a dirty heap), the keyed payload
 * pattern, the sampling path
 * on an 8 GiB block, timed passes and the progress words they keep, the
 * treap against a brute-force oracle, and ms_allocator_open's errors on
 * libraries compiled at run time.
 */
#include "check.h"
#include "interval_tree.h"
#include "mallocsim.h"
#include "memlib.h"
#include "payload_pattern.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------ the allocator under test */

typedef enum {
    FAULT_NONE,
    FAULT_MISALIGN,         /* hands out the payload 8 bytes late */
    FAULT_MISALIGN_4,       /* hands out the payload 4 bytes late */
    FAULT_OVERLAP,          /* hands out the previous payload + 16 */
    FAULT_CONTAIN,          /* hands out the heap's start, around the previous block */
    FAULT_OUTSIDE,          /* hands out a pointer past the break */
    FAULT_SHORT,            /* grows the heap 16 bytes short of the block */
    FAULT_METADATA,         /* free writes a link into the previous block's last word */
    FAULT_REALLOC_DROP,     /* realloc moves without copying */
    FAULT_CALLOC_DIRTY,     /* calloc does not zero (a reused block is dirty) */
    FAULT_NULL,             /* malloc always answers NULL */
    FAULT_INIT,             /* mm_init fails */
    FAULT_CHECKHEAP,        /* mm_checkheap reports a broken heap */
    FAULT_CALLOC_OVERFLOW,  /* calloc multiplies without checking for overflow */
    FAULT_REALLOC_ZERO_PTR, /* realloc(p, 0) frees p but answers a new 0-byte block */
    FAULT_INIT_READS_HEAP,  /* mm_init reads a word of new heap as if it were zero */
} fault;

enum { HEADER = 16 }; /* each block: 16-byte header holding its capacity, then payload */

static fault bump_fault;
static unsigned char *spare; /* the last freed payload, reused when big enough */
static unsigned char *last;  /* the last payload handed out */
static bool reused;          /* whether the last malloc handed out the spare */
/* FAULT_INIT_READS_HEAP: the word mm_init read, never written; non-zero breaks malloc. */
static uint64_t init_word;
/* calloc zeroes new heap memory too, not only a reused block: what a correct allocator must do
   on a dirty heap (on a clean one new memory is zero already, and an 8 GiB test stays cheap). */
static bool calloc_zeroes_new;

/* While `watch` is set, every call records the progress words it finds there (the engine's
   promise: the op's index is stored before the op runs, the pass's before the pass). */
enum { WATCH_MAX = 64 };
typedef struct {
    char call;     /* 'i' mm_init, 'm' malloc, 'f' free */
    uint64_t op;   /* watch[0] */
    uint64_t pass; /* watch[1], or 0 when only one word is watched */
} watched;
static volatile uint64_t *watch;
static bool watch_pass; /* watch[1] is the pass (timed passes) */
static watched seen[WATCH_MAX];
static size_t seen_count;

static void record(char call) {
    if (watch != NULL && seen_count < WATCH_MAX)
        seen[seen_count++] = (watched){call, watch[0], watch_pass ? watch[1] : 0};
}

static size_t capacity_of(const unsigned char *payload) {
    size_t cap;
    memcpy(&cap, payload - HEADER, sizeof cap);
    return cap;
}

static int bump_init(void) {
    record('i');
    spare = last = NULL;
    init_word = 0;
    if (bump_fault == FAULT_INIT_READS_HEAP) {
        /* Takes the first word of a new heap as an empty list's count, never written. */
        unsigned char *h = mem_sbrk(HEADER);
        if (h == (void *)-1)
            return -1;
        memcpy(&init_word, h, sizeof init_word);
    }
    return bump_fault == FAULT_INIT ? -1 : 0;
}

static bool bump_init_cmu(void) { return bump_init() == 0; }

static void *bump_malloc(size_t size) {
    record('m');
    if (bump_fault == FAULT_NULL || init_word != 0)
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
    case FAULT_MISALIGN_4:
        return p + 4;
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
    record('f');
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
        return bump_fault == FAULT_REALLOC_ZERO_PTR ? bump_malloc(0) : NULL;
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
    if (bump_fault != FAULT_CALLOC_OVERFLOW && size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = bump_malloc(count * size);
    bool zero = bump_fault != FAULT_CALLOC_DIRTY && (reused || calloc_zeroes_new);
    if (p != NULL && zero)
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

/* The pass failed at op `op` (MS_NO_OP: before any op) with a failure of `kind`, and the message
   contains every fragment. */
static void expect_failure(const ms_check_result *r, uint64_t op, int kind, const char *what,
                           const char *fragment1, const char *fragment2) {
    CHECK(!r->valid, "%s: the check did not fire", what);
    CHECK(r->failure.op == op, "%s: failed at op %llu, expected %llu (%s)", what,
          (unsigned long long)r->failure.op, (unsigned long long)op, r->error);
    CHECK(r->failure.kind == kind, "%s: failure kind %d, expected %d (%s)", what, r->failure.kind,
          kind, r->error);
    CHECK(r->failure.timed_pass == MS_PASS_NONE, "%s: a checked pass's failure names pass %u", what,
          r->failure.timed_pass);
    CHECK(strstr(r->error, fragment1) != NULL, "%s: '%s' not in: %s", what, fragment1, r->error);
    CHECK(fragment2 == NULL || strstr(r->error, fragment2) != NULL, "%s: '%s' not in: %s", what,
          fragment2, r->error);
    CHECK(strchr(r->error, '\n') == NULL, "%s: message is not one line", what);
}

/* Timed passes with these bounds. */
static uint32_t timed(const ms_trace *t, const ms_allocator *a, uint32_t min_passes,
                      uint32_t max_passes, double min_seconds, bool carry_heap, double *seconds,
                      ms_timed_result *result) {
    ms_timed_options options = {
        .min_passes = min_passes,
        .max_passes = max_passes,
        .min_seconds = min_seconds,
        .carry_heap = carry_heap,
    };
    return ms_replay_timed(t, a, &options, seconds, result);
}

/* The failure names these blocks and payload offset. */
static void expect_block(const ms_check_result *r, const char *what, uint32_t block, uint32_t other,
                         uint64_t offset) {
    const ms_failure *f = &r->failure;
    CHECK(f->block == block, "%s: block %u, expected %u", what, f->block, block);
    CHECK(f->other == other, "%s: other block %u, expected %u", what, f->other, other);
    CHECK(f->offset == offset, "%s: offset %llu, expected %llu", what,
          (unsigned long long)f->offset, (unsigned long long)offset);
}

/* The address the failure names, as an offset into our heap. */
static uint64_t heap_offset(const ms_check_result *r) {
    return r->failure.address - (uintptr_t)mem_heap_lo();
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
    expect_failure(&r, 2, MS_FAIL_MISALIGNED, "system alignment", "op 2 (a 2 24): block 2 [0x",
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
    ms_timed_result tr;
    CHECK(timed(&t, &a, 1, 1, 0.0, false, seconds, &tr) == 1, "timed: %s", tr.error);
}

/* The progress word holds the op running (what each call finds there), MS_NO_OP during
   mm_init, the last op after the pass. */
static void test_progress(void) {
    volatile uint64_t progress = 99;
    ms_trace t = trace_of(OPS(A(0, 8), A(1, 8), F(0)), 2);
    ms_check_options options = {.progress = &progress};
    ms_allocator a = bump_table();
    ms_check_result r;
    watch = &progress;
    watch_pass = false;
    seen_count = 0;
    ms_replay_checked(&t, &a, &options, &r);
    watch = NULL;
    CHECK(progress == 2, "progress %llu after 3 ops", (unsigned long long)progress);
    static const watched expected[] = {{'i', MS_NO_OP, 0}, {'m', 0, 0}, {'m', 1, 0}, {'f', 2, 0}};
    CHECK(seen_count == 4, "%zu calls watched", seen_count);
    for (size_t i = 0; i < 4 && i < seen_count; i++)
        CHECK(seen[i].call == expected[i].call && seen[i].op == expected[i].op,
              "checked call %zu: '%c' saw op %llu, expected '%c' at %llu", i, seen[i].call,
              (unsigned long long)seen[i].op, expected[i].call, (unsigned long long)expected[i].op);
}

/* The timed passes' two words: the pass, stored before its mm_init, and the op, stored before
   each op (MS_NO_OP during mm_init, the op count while a carried pass's blocks are freed); passes
   timed in batches each still start from mm_init, with the batch's number. */
static void test_timed_progress(void) {
    volatile uint64_t words[2] = {99, 99};
    ms_trace t = trace_of(OPS(A(0, 8), A(1, 8), F(0)), 2);
    ms_allocator a = bump_table();
    double seconds[2];
    ms_timed_result tr;
    ms_timed_options fresh = {.min_passes = 2, .max_passes = 2, .progress = words};
    watch = words;
    watch_pass = true;
    /* Passes this short are timed in batches, after probes (pass word 1): each pass still starts
       from mm_init and runs the ops in order; a batch's mm_init calls are then timed alone. A
       probe that a page fault or the scheduler stretches past BATCH_SECONDS ends the sizing at a
       batch of one (1 run in 4 of `make c-test` once, on a busy machine): the run is made again,
       a few times at most, until its passes were batched. */
    uint32_t passes = 0;
    for (int attempt = 0; attempt < 20; attempt++) {
        seen_count = 0;
        passes = ms_replay_timed(&t, &a, &fresh, seconds, &tr);
        if (passes != 2 || tr.pass_repeats > 1)
            break;
    }
    CHECK(passes == 2, "fresh passes %u (%s)", passes, tr.error);
    CHECK(tr.pass_repeats > 1, "%u passes a batch", tr.pass_repeats);
    static const char kinds[] = {'m', 'm', 'f'};
    uint64_t next = MS_NO_OP, pass = 1;
    CHECK(seen_count > 8 && seen[0].call == 'i', "%zu calls watched in fresh passes", seen_count);
    for (size_t i = 0; i < seen_count; i++) {
        bool init = seen[i].call == 'i';
        bool in_order = init ? seen[i].op == MS_NO_OP
                             : seen[i].op == next && next < 3 && seen[i].call == kinds[next];
        CHECK(in_order && seen[i].pass >= pass && seen[i].pass <= 2,
              "fresh call %zu: '%c' saw op %llu in pass %llu, after op %llu in pass %llu", i,
              seen[i].call, (unsigned long long)seen[i].op, (unsigned long long)seen[i].pass,
              (unsigned long long)next - 1, (unsigned long long)pass);
        next = init ? 0 : seen[i].op + 1;
        pass = seen[i].pass;
    }
    CHECK(words[1] == 2 && (words[0] == 2 || words[0] == MS_NO_OP),
          "after fresh passes: op %llu, pass %llu", (unsigned long long)words[0],
          (unsigned long long)words[1]);

    /* Carried: the warm-up is pass 0, one mm_init only, and the blocks a pass left are freed at
       op 3 (the op count). Block 1 is live at the end of each pass. */
    ms_timed_options carried = {
        .min_passes = 1, .max_passes = 1, .carry_heap = true, .progress = words};
    seen_count = 0;
    passes = ms_replay_timed(&t, &a, &carried, seconds, &tr);
    CHECK(passes == 1, "carried passes %u (%s)", passes, tr.error);
    static const watched carried_calls[] = {
        {'i', MS_NO_OP, 0}, {'m', 0, 0}, {'m', 1, 0}, {'f', 2, 0}, {'f', 3, 0}, {'f', 3, 0},
        {'m', 0, 1},        {'m', 1, 1}, {'f', 2, 1}, {'f', 3, 1}, {'f', 3, 1},
    };
    enum { CARRIED_CALLS = sizeof carried_calls / sizeof carried_calls[0] };
    CHECK(seen_count == CARRIED_CALLS, "%zu calls watched in carried passes", seen_count);
    for (size_t i = 0; i < CARRIED_CALLS && i < seen_count; i++)
        CHECK(seen[i].call == carried_calls[i].call && seen[i].op == carried_calls[i].op &&
                  seen[i].pass == carried_calls[i].pass,
              "carried call %zu: '%c' saw op %llu in pass %llu, expected '%c' at %llu in %llu", i,
              seen[i].call, (unsigned long long)seen[i].op, (unsigned long long)seen[i].pass,
              carried_calls[i].call, (unsigned long long)carried_calls[i].op,
              (unsigned long long)carried_calls[i].pass);
    CHECK(words[0] == 3 && words[1] == 1, "after carried passes: op %llu, pass %llu",
          (unsigned long long)words[0], (unsigned long long)words[1]);
    watch = NULL;
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
    expect_failure(&r, 0, MS_FAIL_MISALIGNED, "misaligned", "op 0 (a 0 8): block 0 [heap+0x18 = 0x",
                   "is not 16-byte aligned");
    CHECK(r.ops_done == 0, "ops_done %llu", (unsigned long long)r.ops_done);
    expect_block(&r, "misaligned", 0, MS_ID_NULL, 0);
    CHECK(heap_offset(&r) == 0x18, "misaligned address heap+0x%llx",
          (unsigned long long)heap_offset(&r));
}

static void test_overlap(void) {
    ms_check_result r = check_bump(FAULT_OVERLAP, trace_of(OPS(A(0, 64), A(1, 16)), 2));
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "overlap", "op 1 (a 1 16): block 1 [heap+0x20 = 0x",
                   "overlaps block 0 [heap+0x10 = 0x");
    expect_block(&r, "overlap", 1, 0, 0);
    CHECK(heap_offset(&r) == 0x20, "overlap address heap+0x%llx",
          (unsigned long long)heap_offset(&r));

    /* The new block starts before the old one and contains it. */
    r = check_bump(FAULT_CONTAIN, trace_of(OPS(A(0, 16), A(1, 64)), 2));
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "containment", "block 1 [heap+0x0 = 0x",
                   "+64) overlaps block 0 [heap+0x10 = 0x");

    /* Blocks above 1 MiB live in the tree, smaller ones in the granule map:
       an overlap across the two is caught both ways. */
    r = check_bump(FAULT_OVERLAP, trace_of(OPS(A(0, 3 << 20), A(1, 16)), 2));
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "small in big", "op 1 (a 1 16): block 1 [heap+0x20 = 0x",
                   "overlaps block 0 [heap+0x10 = 0x");
    r = check_bump(FAULT_CONTAIN, trace_of(OPS(A(0, 16), A(1, 3 << 20)), 2));
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "big around small", "block 1 [heap+0x0 = 0x",
                   "+3145728) overlaps block 0 [heap+0x10 = 0x");
    r = check_bump(FAULT_OVERLAP, trace_of(OPS(A(0, 1 << 20), A(1, 40)), 2));
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "largest mapped block", "block 1 [heap+0x20 = 0x",
                   "overlaps block 0 [heap+0x10 = 0x");
    expect_block(&r, "largest mapped block", 1, 0, 0);
}

static void test_outside_heap(void) {
    ms_check_result r = check_bump(FAULT_OUTSIDE, trace_of(OPS(A(0, 16)), 1));
    expect_failure(&r, 0, MS_FAIL_OUTSIDE_HEAP, "outside", "block 0 [heap+0x30 = 0x",
                   "is not inside the heap [heap+0x0");
    expect_block(&r, "outside", 0, MS_ID_NULL, 0);
    CHECK(heap_offset(&r) == 0x30, "outside address heap+0x%llx",
          (unsigned long long)heap_offset(&r));

    /* Starts inside, ends past the break. */
    r = check_bump(FAULT_SHORT, trace_of(OPS(A(0, 32)), 1));
    expect_failure(&r, 0, MS_FAIL_OUTSIDE_HEAP, "straddles the break",
                   "+32) is not inside the heap", ", +32)");
}

static void test_metadata_overwrite(void) {
    /* Freeing block 1 writes a link over block 0's last word. */
    ms_check_result r =
        check_bump(FAULT_METADATA, trace_of(OPS(A(0, 32), A(1, 32), F(1), F(0)), 2));
    expect_failure(&r, 3, MS_FAIL_OVERWRITTEN, "metadata", "op 3 (f 0): before free, block 0",
                   "payload byte 24 was overwritten while the block was live");
    expect_block(&r, "metadata", 0, MS_ID_NULL, 24);
    CHECK(heap_offset(&r) == 0x10, "metadata address heap+0x%llx",
          (unsigned long long)heap_offset(&r));

    /* The same caught at the end when block 0 is never freed; its size
       is not a multiple of 8, so the word hits its tail bytes. */
    r = check_bump(FAULT_METADATA, trace_of(OPS(A(0, 29), A(1, 32), F(1)), 2));
    expect_failure(&r, 2, MS_FAIL_OVERWRITTEN, "metadata at end",
                   "at the end of the trace, block 0", "payload byte 24 was overwritten");
    CHECK(r.ops_done == 3, "all ops ran before the final check");
    expect_block(&r, "metadata at end", 0, MS_ID_NULL, 24);
}

static void test_realloc_drops_data(void) {
    ms_check_result r = check_bump(FAULT_REALLOC_DROP, trace_of(OPS(A(0, 32), R(0, 64)), 1));
    expect_failure(&r, 1, MS_FAIL_REALLOC_LOST_DATA, "realloc",
                   "op 1 (r 0 64): realloc did not keep the data: block 0", "byte 0 is 0x00");
    expect_block(&r, "realloc", 0, MS_ID_NULL, 0);
    CHECK(heap_offset(&r) == 0x40, "realloc address heap+0x%llx (the new block)",
          (unsigned long long)heap_offset(&r));
}

/* A lab driver's fill (fill_limit, zero_block0), which quirks.py replays a failed trace with: only
   a payload's first fill_limit bytes are filled and checked, the rest left as the heap has them,
   and block 0 holds zeros. Faults the drivers cannot see then pass, and the others still fail. */
static void test_driver_fill(void) {
    ms_allocator a = bump_table();
    const ms_check_options maxfill = {.fill_limit = 2048};
    /* Freeing block 1 writes a link over block 0's last word: byte 4088, past the limit. */
    ms_trace past = trace_of(OPS(A(0, 4096), A(1, 32), F(1), F(0)), 2);
    ms_check_result r = check_with(&a, FAULT_METADATA, past, maxfill);
    expect_valid(&r, "a link past the fill limit");
    r = check_bump(FAULT_METADATA, past);
    expect_failure(&r, 3, MS_FAIL_OVERWRITTEN, "the same link, every byte filled", "block 0",
                   "payload byte 4088 was overwritten");
    /* Within the limit it is seen as ever. */
    r = check_with(&a, FAULT_METADATA, trace_of(OPS(A(0, 64), A(1, 32), F(1), F(0)), 2), maxfill);
    expect_failure(&r, 3, MS_FAIL_OVERWRITTEN, "a link within the fill limit", "block 0",
                   "payload byte 56 was overwritten");
    /* The bytes past the limit are not written: a new heap's zeros stay. */
    r = check_with(&a, FAULT_NONE, trace_of(OPS(A(0, 4096)), 1), maxfill);
    expect_valid(&r, "one big block");
    size_t filled = 0, zeros = 0;
    for (size_t i = 0; i < 2048; i++)
        filled += last[i] != 0;
    for (size_t i = 2048; i < 4096; i++)
        zeros += last[i] == 0;
    CHECK(zeros == 2048 && filled > 1900,
          "past the limit %zu of 2048 bytes zero, before it %zu set", zeros, filled);

    /* A realloc that does not copy leaves a new heap's zeros: block 0's fill, not another's. */
    const ms_check_options block0 = {.zero_block0 = true};
    r = check_with(&a, FAULT_REALLOC_DROP, trace_of(OPS(A(0, 32), R(0, 64)), 1), block0);
    expect_valid(&r, "block 0's zeros lost to zeros");
    r = check_with(&a, FAULT_REALLOC_DROP, trace_of(OPS(A(1, 32), R(1, 64)), 2), block0);
    expect_failure(&r, 1, MS_FAIL_REALLOC_LOST_DATA, "block 1's data lost",
                   "realloc did not keep the data: block 1", NULL);
}

/* The keyed pattern: an honest pass is valid, its faults are caught as with the public pattern,
   and no word follows from another (the public one is seed + w * STEP) or from the id alone (a
   second key gives other bytes), in full and in sampled payloads. */
static void test_secret_pattern(void) {
    ms_allocator a = bump_table();
    const ms_check_options keyed = {.secret_pattern = true, .sample_above = 64 * 1024};
    ms_trace t = trace_of(OPS(A(0, 29), A(1, 200000), R(0, 70), R(1, 300000), F(1), F(0)), 2);
    ms_check_result r = check_with(&a, FAULT_NONE, t, keyed);
    expect_valid(&r, "keyed");
    /* A fresh key each run: a byte the fault wrote may equal the key's byte there (1 in 256), so
       the miss is somewhere in what the fault wrote, not at a fixed offset. */
    r = check_with(&a, FAULT_REALLOC_DROP, trace_of(OPS(A(0, 32), R(0, 64)), 1), keyed);
    expect_failure(&r, 1, MS_FAIL_REALLOC_LOST_DATA, "keyed realloc",
                   "op 1 (r 0 64): realloc did not keep the data: block 0", " is 0x00");
    CHECK(r.failure.offset < 32, "keyed realloc: offset %llu is past the data",
          (unsigned long long)r.failure.offset);
    CHECK(strstr(r.error, "expected") == NULL, "a keyed byte named in: %s", r.error);
    r = check_with(&a, FAULT_METADATA, trace_of(OPS(A(0, 32), A(1, 32), F(1), F(0)), 2), keyed);
    expect_failure(&r, 3, MS_FAIL_OVERWRITTEN, "keyed metadata", "op 3 (f 0): before free",
                   "was overwritten while the block was live");
    CHECK(r.failure.offset >= 24 && r.failure.offset < 32,
          "keyed metadata: offset %llu is outside the link's word",
          (unsigned long long)r.failure.offset);

    pattern_key one, two, seeded;
    char why[160];
    CHECK(pattern_key_draw(&one, NULL, why, sizeof why) &&
              pattern_key_draw(&two, NULL, why, sizeof why),
          "no key: %s", why);
    /* A seed is the key: one grader's pattern is the same run after run. */
    CHECK(pattern_key_draw(&seeded, (const uint8_t *)one.round_keys, why, sizeof why) &&
              memcmp(&seeded, &one, sizeof one) == 0,
          "a seeded key is not its seed: %s", why);
    enum { BYTES = 160 * 1024 };
    static uint64_t block[BYTES / 8], public_block[BYTES / 8];
    pattern_miss miss;
    for (int sampled = 0; sampled < 2; sampled++) { /* in full, then sampled */
        uint64_t sample = sampled ? SAMPLE_FLOOR : BYTES;
        pattern_apply(PATTERN_FILL, &one, block, 7, BYTES, sample, 0, BYTES, NULL);
        CHECK(pattern_apply(PATTERN_CHECK, &one, block, 7, BYTES, sample, 0, BYTES, &miss),
              "keyed fill then check: byte %llu", (unsigned long long)miss.offset);
        CHECK(!pattern_apply(PATTERN_CHECK, &two, block, 7, BYTES, sample, 0, BYTES, &miss),
              "another key passed the check");
        CHECK(!pattern_apply(PATTERN_CHECK, &one, block, 8, BYTES, sample, 0, BYTES, &miss),
              "another id passed the check");
        pattern_apply(PATTERN_FILL, NULL, public_block, 7, BYTES, sample, 0, BYTES, NULL);
        CHECK(public_block[2] - public_block[1] == public_block[1] - public_block[0],
              "the public pattern's steps");
        CHECK(block[2] - block[1] != block[1] - block[0] && block[0] != public_block[0],
              "the keyed pattern follows the public one's rule");
    }

    /* Any range, filled or checked, sees the same words (runs of pairs go lanes at a time, the
       rest a pair at a time), and a changed byte anywhere is named at its own offset. */
    unsigned char *bytes = (unsigned char *)block;
    pattern_apply(PATTERN_FILL, &one, block, 9, BYTES, BYTES, 0, BYTES, NULL);
    for (int i = 0; i < 400; i++) {
        uint64_t from = check_random() % BYTES, to = from + check_random() % (BYTES - from + 1);
        CHECK(pattern_apply(PATTERN_CHECK, &one, block, 9, BYTES, BYTES, from, to, &miss),
              "keyed check of [%llu, %llu): byte %llu", (unsigned long long)from,
              (unsigned long long)to, (unsigned long long)miss.offset);
        pattern_apply(PATTERN_FILL, &one, block, 9, BYTES, BYTES, from, to, NULL); /* the same */
        uint64_t changed = check_random() % BYTES;
        bytes[changed] ^= 0x10;
        CHECK(!pattern_apply(PATTERN_CHECK, &one, block, 9, BYTES, BYTES, 0, BYTES, &miss) &&
                  miss.offset == changed,
              "byte %llu changed, byte %llu named", (unsigned long long)changed,
              (unsigned long long)miss.offset);
        bytes[changed] ^= 0x10;
    }
    CHECK(pattern_apply(PATTERN_CHECK, &one, block, 9, BYTES, BYTES, 0, BYTES, &miss),
          "keyed refills of ranges changed byte %llu", (unsigned long long)miss.offset);
}

static void test_calloc_not_zero(void) {
    ms_check_result r =
        check_bump(FAULT_CALLOC_DIRTY, trace_of(OPS(A(0, 32), F(0), C(1, 4, 8)), 2));
    expect_failure(&r, 2, MS_FAIL_CALLOC_NOT_ZERO, "calloc",
                   "op 2 (c 1 4 8): calloc memory is not zero: block 1", "byte 0 is 0x");
    expect_block(&r, "calloc", 1, MS_ID_NULL, 0);
    CHECK(heap_offset(&r) == 0x10, "calloc address heap+0x%llx (block 0's, reused)",
          (unsigned long long)heap_offset(&r));

    /* A pointer for a size that overflows, where NULL was due. */
    r = check_bump(FAULT_CALLOC_OVERFLOW, trace_of(OPS(A(0, 8), C(1, 2, (uint64_t)1 << 63)), 2));
    expect_failure(&r, 1, MS_FAIL_CALLOC_OVERFLOW, "calloc overflow",
                   "calloc returned a pointer for 2 x 9223372036854775808 bytes, which overflows",
                   NULL);
    expect_block(&r, "calloc overflow", 1, MS_ID_NULL, 0);
    CHECK(r.failure.address != 0, "calloc overflow: no address");
}

static void test_malloc_null(void) {
    ms_check_result r = check_bump(FAULT_NULL, trace_of(OPS(A(0, 48)), 1));
    expect_failure(&r, 0, MS_FAIL_NULL_RETURN, "NULL",
                   "op 0 (a 0 48): malloc returned NULL for 48 bytes (heap 0 B of ", " limit)");
    r = check_bump(FAULT_NULL, trace_of(OPS(C(0, 10, 8)), 1));
    expect_failure(&r, 0, MS_FAIL_NULL_RETURN, "calloc NULL",
                   "calloc returned NULL for 10 x 8 bytes", NULL);
    expect_block(&r, "calloc NULL", 0, MS_ID_NULL, 0);
    CHECK(r.failure.address == 0, "NULL has address 0x%llx", (unsigned long long)r.failure.address);
}

static void test_init_failure(void) {
    ms_check_result r = check_bump(FAULT_INIT, trace_of(OPS(A(0, 8)), 1));
    expect_failure(&r, MS_NO_OP, MS_FAIL_INIT_FAILED, "init", "mm_init failed (returned -1)", NULL);
    CHECK(r.failure.init_status == -1, "classic init status %lld",
          (long long)r.failure.init_status);
    expect_block(&r, "init", MS_ID_NULL, MS_ID_NULL, 0);
    ms_allocator cmu = bump_table_cmu();
    r = check_with(&cmu, FAULT_INIT, trace_of(OPS(A(0, 8)), 1), (ms_check_options){0});
    expect_failure(&r, MS_NO_OP, MS_FAIL_INIT_FAILED, "cmu init", "mm_init failed (returned false)",
                   NULL);
    CHECK(r.failure.init_status == 0, "cmu init status %lld", (long long)r.failure.init_status);
}

static void test_checkheap(void) {
    ms_allocator a = bump_table();
    ms_check_result r = check_with(&a, FAULT_CHECKHEAP, trace_of(OPS(A(0, 8)), 1), CHECK_HEAP);
    expect_failure(&r, 0, MS_FAIL_CHECKHEAP, "checkheap", "op 0 (a 0 8): mm_checkheap failed: ",
                   "block 0x10: header size 48 != footer size 32");

    a.checkheap_message = NULL;
    r = check_with(&a, FAULT_CHECKHEAP, trace_of(OPS(A(0, 8)), 1), CHECK_HEAP);
    expect_failure(&r, 0, MS_FAIL_CHECKHEAP, "checkheap without message",
                   "op 0 (a 0 8): mm_checkheap failed", NULL);

    /* The checker is off unless asked for. */
    r = check_with(&a, FAULT_CHECKHEAP, trace_of(OPS(A(0, 8)), 1), (ms_check_options){0});
    expect_valid(&r, "checkheap off");

    a.checkheap = NULL;
    r = check_with(&a, FAULT_NONE, trace_of(OPS(A(0, 8)), 1), CHECK_HEAP);
    expect_failure(&r, MS_NO_OP, MS_FAIL_NO_CHECKHEAP, "no checkheap", "has no mm_checkheap", NULL);
}

static void test_calloc_missing(void) {
    ms_allocator a = bump_table();
    a.calloc = NULL;
    ms_check_result r =
        check_with(&a, FAULT_NONE, trace_of(OPS(A(0, 8), C(1, 2, 8)), 2), (ms_check_options){0});
    expect_failure(&r, 1, MS_FAIL_NO_CALLOC, "no calloc",
                   "op 1 (c 1 2 8): the trace calls calloc but the allocator has no mm_calloc",
                   NULL);
    CHECK(r.ops_done == 1, "ops_done %llu", (unsigned long long)r.ops_done);
}

static void test_trace_errors(void) {
    ms_check_result r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 8), F(1)), 2));
    expect_failure(&r, 1, MS_FAIL_TRACE_ERROR, "free of a dead id",
                   "op 1 (f 1): block 1 is not live", NULL);
    expect_block(&r, "free of a dead id", 1, MS_ID_NULL, 0);
    r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 8), A(0, 8)), 1));
    expect_failure(&r, 1, MS_FAIL_TRACE_ERROR, "alloc of a live id", "block 0 is already live",
                   NULL);
    r = check_bump(FAULT_NONE, trace_of(OPS(A(0, 8), A(5, 8)), 2));
    expect_failure(&r, 1, MS_FAIL_TRACE_ERROR, "id out of range",
                   "id 5 is out of range (the trace has 2 ids)", NULL);
    expect_block(&r, "id out of range", 5, MS_ID_NULL, 0);
}

/* ------------------------------------------------------------ lab options */

/* An alignment of 8 (the CS:APP lab's) takes payloads at 8 mod 16 and refuses 4 mod 8; the
   alignment bound rounds live sizes to it. An alignment that is no power of two is refused. */
static void test_alignment_option(void) {
    ms_allocator a = bump_table();
    ms_check_options eight = {.alignment = 8};
    ms_trace t = trace_of(OPS(A(0, 5), A(1, 20), F(0), F(1)), 2);
    ms_check_result r = check_with(&a, FAULT_MISALIGN, t, eight);
    expect_valid(&r, "8 mod 16 under alignment 8");
    CHECK(r.peak_aligned == 8 + 24, "peak_aligned %llu with alignment 8",
          (unsigned long long)r.peak_aligned);
    r = check_with(&a, FAULT_NONE, t, eight);
    CHECK(r.peak_aligned == 32, "peak_aligned %llu", (unsigned long long)r.peak_aligned);

    r = check_with(&a, FAULT_MISALIGN_4, t, eight);
    expect_failure(&r, 0, MS_FAIL_MISALIGNED, "4 mod 8 under alignment 8",
                   "block 0 [heap+0x14 = 0x", "is not 8-byte aligned");

    r = check_with(&a, FAULT_MISALIGN, t, (ms_check_options){.alignment = 16});
    expect_failure(&r, 0, MS_FAIL_MISALIGNED, "8 mod 16 under alignment 16",
                   "is not 16-byte aligned", NULL);

    r = check_with(&a, FAULT_NONE, t, (ms_check_options){.alignment = 12});
    expect_failure(&r, MS_NO_OP, MS_FAIL_ENGINE, "alignment 12",
                   "alignment 12 is not a power of two", NULL);
}

/* realloc(p, 0) of a live block: NULL is always right; a pointer is right unless the lab says
   otherwise (the engine gives it back); realloc(NULL, 0) is malloc(0) either way. */
static void test_realloc_zero_rule(void) {
    ms_allocator a = bump_table();
    ms_check_options rule = {.realloc_zero_null = true};
    ms_trace t = trace_of(OPS(A(0, 24), R(0, 0), A(0, 8), F(0)), 1);
    ms_check_result r = check_with(&a, FAULT_NONE, t, rule);
    expect_valid(&r, "realloc(p, 0) = NULL under the rule");
    r = check_with(&a, FAULT_REALLOC_ZERO_PTR, t, (ms_check_options){0});
    expect_valid(&r, "realloc(p, 0) = a pointer without the rule");

    r = check_with(&a, FAULT_REALLOC_ZERO_PTR, t, rule);
    expect_failure(&r, 1, MS_FAIL_REALLOC_ZERO_NOT_NULL, "realloc(p, 0) = a pointer under the rule",
                   "op 1 (r 0 0): realloc with size 0 returned 0x",
                   "instead of NULL: the lab requires realloc(p, 0) to free the block and return "
                   "NULL");
    expect_block(&r, "realloc zero", 0, MS_ID_NULL, 0);
    CHECK(heap_offset(&r) == 0x10, "realloc zero address heap+0x%llx (the spare, reused)",
          (unsigned long long)heap_offset(&r));

    r = check_with(&a, FAULT_REALLOC_ZERO_PTR, trace_of(OPS(R(0, 0), A(0, 8)), 1), rule);
    expect_valid(&r, "realloc(NULL, 0) under the rule");
}

/* With a dirty heap, new heap memory holds the poison: an mm_init that reads a word it never wrote
   sees it, the same twice, and its allocator fails at its first op; a clean pass after it sees
   zeros again. A calloc that zeroes is still zero; one that trusts new memory to be zero is
   caught on the first calloc. */
static void test_dirty_heap(void) {
    ms_allocator a = bump_table();
    ms_check_options dirty = {.dirty_heap = true};
    ms_trace t = trace_of(OPS(A(0, 24), F(0)), 1);
    ms_check_result r = check_with(&a, FAULT_INIT_READS_HEAP, t, (ms_check_options){0});
    expect_valid(&r, "reads in mm_init, clean heap");
    CHECK(init_word == 0, "clean heap: mm_init read 0x%llx", (unsigned long long)init_word);

    r = check_with(&a, FAULT_INIT_READS_HEAP, t, dirty);
    expect_failure(&r, 0, MS_FAIL_NULL_RETURN, "reads in mm_init, dirty heap",
                   "malloc returned NULL for 24 bytes", NULL);
    uint64_t first = init_word;
    CHECK(first == 0xA5A5A5A5A5A5A5A5u, "dirty heap: mm_init read 0x%llx",
          (unsigned long long)first);
    r = check_with(&a, FAULT_INIT_READS_HEAP, t, dirty);
    CHECK(init_word == first, "the poison differs between runs: 0x%llx, then 0x%llx",
          (unsigned long long)first, (unsigned long long)init_word);
    CHECK(!r.valid && r.failure.op == 0, "the second dirty run failed elsewhere: %s", r.error);

    r = check_with(&a, FAULT_INIT_READS_HEAP, t, (ms_check_options){0});
    expect_valid(&r, "a clean pass after a dirty one");
    CHECK(init_word == 0, "the poison outlived its pass: 0x%llx", (unsigned long long)init_word);

    ms_trace calls = trace_of(OPS(C(0, 4, 8), A(1, 100), F(0), C(2, 3, 8), F(1), F(2)), 3);
    calloc_zeroes_new = true;
    r = check_with(&a, FAULT_NONE, calls, dirty);
    calloc_zeroes_new = false;
    expect_valid(&r, "calloc that zeroes, dirty heap");
    r = check_with(&a, FAULT_NONE, calls, (ms_check_options){0});
    expect_valid(&r, "calloc that trusts new memory, clean heap");
    r = check_with(&a, FAULT_NONE, calls, dirty);
    expect_failure(&r, 0, MS_FAIL_CALLOC_NOT_ZERO, "calloc that trusts new memory, dirty heap",
                   "calloc memory is not zero: block 0", "byte 0 is 0xa5");
    expect_block(&r, "dirty calloc", 0, MS_ID_NULL, 0);

    /* The system's malloc has no heap of ours to poison. */
    ms_allocator sys;
    ms_allocator_system(&sys);
    r = check_with(&sys, FAULT_NONE, calls, dirty);
    expect_valid(&r, "system, dirty heap asked for");
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
    expect_failure(&r, 1, MS_FAIL_REALLOC_LOST_DATA, "sampled realloc drop",
                   "realloc did not keep the data", NULL);
    r = check_bump_sampled(FAULT_METADATA, trace_of(OPS(A(0, 200000), A(1, 8), F(1)), 2));
    expect_failure(&r, 2, MS_FAIL_OVERWRITTEN, "sampled metadata", "block 0",
                   "payload byte 199992 was overwritten");
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
    ms_timed_result tr;

    ms_allocator a = bump_table();
    uint32_t passes = timed(&t, &a, 3, 16, 0.0, false, seconds, &tr);
    CHECK(passes == 3, "passes %u (%s)", passes, tr.error);
    for (uint32_t i = 0; i < passes; i++)
        CHECK(seconds[i] > 0, "pass %u took %g s", i, seconds[i]);

    /* Keeps going until min_seconds, but never past max_passes. */
    passes = timed(&t, &a, 1, 16, 1e9, false, seconds, &tr);
    CHECK(passes == 16, "passes %u with a long min_seconds", passes);

    ms_allocator sys;
    ms_allocator_system(&sys);
    passes = timed(&t, &sys, 2, 4, 0.0, false, seconds, &tr);
    CHECK(passes == 2, "system passes %u (%s)", passes, tr.error);

    bump_fault = FAULT_NULL;
    passes = timed(&t, &a, 1, 4, 0.0, false, seconds, &tr);
    CHECK(passes == 0, "passes %u with a NULL-returning malloc", passes);
    CHECK(strstr(tr.error, "op 0 (a 0 8): malloc returned NULL for 8 bytes") != NULL,
          "timed NULL: %s", tr.error);
    CHECK(tr.passes == 0 && tr.failure.kind == MS_FAIL_NULL_RETURN && tr.failure.op == 0 &&
              tr.failure.timed_pass == 1 && tr.failure.block == 0,
          "timed NULL as data: kind %d op %llu pass %u block %u", tr.failure.kind,
          (unsigned long long)tr.failure.op, tr.failure.timed_pass, tr.failure.block);
    bump_fault = FAULT_INIT;
    passes = timed(&t, &a, 1, 4, 0.0, false, seconds, &tr);
    CHECK(passes == 0 && strstr(tr.error, "mm_init failed") != NULL, "timed init: %s", tr.error);
    CHECK(tr.failure.kind == MS_FAIL_INIT_FAILED && tr.failure.op == MS_NO_OP &&
              tr.failure.timed_pass == 1 && tr.failure.init_status == -1,
          "timed init as data: kind %d op %llu pass %u status %lld", tr.failure.kind,
          (unsigned long long)tr.failure.op, tr.failure.timed_pass,
          (long long)tr.failure.init_status);
    bump_fault = FAULT_NONE;

    passes = timed(&t, &a, 1, 0, 0.0, false, seconds, &tr);
    CHECK(passes == 0 && tr.failure.kind == MS_FAIL_ENGINE && strstr(tr.error, "max_passes is 0"),
          "max_passes 0: %s", tr.error);
    CHECK(ms_replay_timed(&t, &a, NULL, seconds, &tr) == 1, "no options: one pass (%s)", tr.error);

    a.calloc = NULL;
    ms_trace with_calloc = trace_of(OPS(A(0, 8), C(1, 2, 8)), 2);
    passes = timed(&with_calloc, &a, 1, 4, 0.0, false, seconds, &tr);
    CHECK(passes == 0 && strstr(tr.error, "op 1 (c 1 2 8): the trace calls calloc") != NULL,
          "timed calloc: %s", tr.error);
    CHECK(tr.failure.kind == MS_FAIL_NO_CALLOC && tr.failure.op == 1 &&
              tr.failure.timed_pass == MS_PASS_NONE && tr.failure.block == 1,
          "timed calloc as data: kind %d op %llu pass %u", tr.failure.kind,
          (unsigned long long)tr.failure.op, tr.failure.timed_pass);
}

/*
 * Carried over, a pass starts on the heap the last one left with its blocks freed: bump reuses
 * its one spare block, so a trace of one block settles after the warm-up, and a trace of two
 * grows a block a pass until the heap is 8 times its size after the warm-up and the passes are
 * refused.
 */
static void test_timed_carried_heap(void) {
    double seconds[16];
    ms_timed_result tr;
    ms_allocator a = bump_table();

    ms_trace one = trace_of(OPS(A(0, 100), F(0)), 1);
    uint32_t passes = timed(&one, &a, 16, 16, 0.0, true, seconds, &tr);
    CHECK(passes == 16, "carried passes %u (%s)", passes, tr.error);
    CHECK(mem_heapsize() == HEADER + 112, "carried heap %zu after 16 passes, not one block",
          mem_heapsize());

    ms_trace two = trace_of(OPS(A(0, 100), A(1, 100), F(0), F(1)), 2);
    passes = timed(&two, &a, 16, 16, 0.0, true, seconds, &tr);
    CHECK(passes == 0, "passes %u on a heap that keeps growing", passes);
    CHECK(strstr(tr.error, "the heap grew from 256 B to 2.1 KiB in 15 passes") != NULL,
          "growth: %s", tr.error);
    CHECK(tr.failure.kind == MS_FAIL_HEAP_GROWTH && tr.failure.timed_pass == 15 &&
              tr.failure.op == MS_NO_OP,
          "growth as data: kind %d pass %u op %llu", tr.failure.kind, tr.failure.timed_pass,
          (unsigned long long)tr.failure.op);
    passes = timed(&two, &a, 16, 16, 0.0, false, seconds, &tr);
    CHECK(passes == 16, "fresh passes %u (%s)", passes, tr.error);

    bump_fault = FAULT_NULL; /* the warm-up pass fails like a timed one */
    passes = timed(&one, &a, 1, 4, 0.0, true, seconds, &tr);
    CHECK(passes == 0 && strstr(tr.error, "malloc returned NULL") != NULL, "warm-up: %s", tr.error);
    CHECK(tr.failure.kind == MS_FAIL_NULL_RETURN && tr.failure.timed_pass == 0,
          "a warm-up failure is in pass %u", tr.failure.timed_pass);
    bump_fault = FAULT_INIT;
    passes = timed(&one, &a, 1, 4, 0.0, true, seconds, &tr);
    CHECK(passes == 0 && strstr(tr.error, "mm_init failed") != NULL, "carried init: %s", tr.error);
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

/* ------------------------------------------------- checks from outside */

/* A timed pass's log, checked as a grader in another process does (ms_verify_pointers). */
static ms_check_result verify_log(ms_trace t, const uintptr_t *log, uint64_t heap_bytes) {
    ms_check_result r;
    ms_check_options options = {.alignment = 16};
    ms_verify_pointers(&t, log, &options, (uintptr_t)mem_heap_lo(), heap_bytes, &r);
    return r;
}

static void test_verify_pointers(void) {
    uintptr_t lo = (uintptr_t)mem_heap_lo();
    ms_op ops[] = {A(0, 16), A(1, 100), R(0, 40), F(1), F(0)};
    ms_trace t = trace_of(ops, 5, 2);
    uintptr_t good[] = {lo + 16, lo + 48, lo + 160, 0, 0};
    ms_check_result r = verify_log(t, good, 4096);
    expect_valid(&r, "a right log");
    CHECK(r.peak_payload == 140, "peak_payload %llu", (unsigned long long)r.peak_payload);

    uintptr_t one_block[] = {lo + 16, lo + 16, lo + 16, 0, 0};
    r = verify_log(t, one_block, 4096);
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "one block for all", "overlaps block 0", NULL);

    uintptr_t misaligned[] = {lo + 16, lo + 40, lo + 160, 0, 0};
    r = verify_log(t, misaligned, 4096);
    expect_failure(&r, 1, MS_FAIL_MISALIGNED, "misaligned", "16-byte aligned", NULL);

    uintptr_t past_grant[] = {lo + 16, lo + 48, lo + 4096, 0, 0};
    r = verify_log(t, past_grant, 4096);
    expect_failure(&r, 2, MS_FAIL_OUTSIDE_HEAP, "past the granted heap", "not inside the heap",
                   NULL);

    uintptr_t null[] = {lo + 16, 0, lo + 160, 0, 0};
    r = verify_log(t, null, 4096);
    expect_failure(&r, 1, MS_FAIL_NULL_RETURN, "a NULL", "malloc returned NULL", NULL);

    /* Blocks above the granule map's limit are checked by the tree alone, as every logged one is.
     */
    ms_op big_ops[] = {A(0, 3 << 20), A(1, 3 << 20), F(0), F(1)};
    uintptr_t big_overlap[] = {lo + 16, lo + (2 << 20), 0, 0};
    r = verify_log(trace_of(big_ops, 4, 2), big_overlap, 16 << 20);
    expect_failure(&r, 1, MS_FAIL_OVERLAP, "big blocks", "overlaps block 0", NULL);
}

typedef struct {
    uint32_t starts, ends;
    double seconds;
} boundary_count;

static void count_boundary(void *context, uint32_t pass, bool ended, double seconds) {
    boundary_count *count = context;
    (void)pass;
    if (ended) {
        count->ends++;
        count->seconds += seconds;
    } else {
        count->starts++;
    }
}

/* The timed passes' hooks: every pointer in the log, a stop before and after every pass. */
static void test_timed_log_and_boundaries(void) {
    ms_allocator a = bump_table();
    ms_op ops[] = {A(0, 16), A(1, 32), F(0), R(1, 64), F(1)};
    ms_trace t = trace_of(ops, 5, 2);
    uintptr_t log[5];
    void *scratch[2];
    boundary_count count = {0};
    ms_timed_options options = {.min_passes = 3,
                                .max_passes = 3,
                                .log = log,
                                .boundary = count_boundary,
                                .context = &count,
                                .scratch = scratch};
    double seconds[3];
    ms_timed_result result;
    uint32_t passes = ms_replay_timed(&t, &a, &options, seconds, &result);
    CHECK(passes == 3, "passes %u: %s", passes, result.error);
    CHECK(count.starts == 3 && count.ends == 3, "stops: %u starts, %u ends", count.starts,
          count.ends);
    CHECK(count.seconds == seconds[0] + seconds[1] + seconds[2], "the ends' seconds differ");
    CHECK(log[0] != 0 && log[1] != 0 && log[3] != 0, "a block's pointer is not in the log");
    CHECK(log[2] == 0 && log[4] == 0, "a free's entry is not NULL");
    ms_check_result r = verify_log(t, log, mem_limit());
    expect_valid(&r, "the bump allocator's own log");
}

int main(void) {
    test_utilization_by_hand();
    test_valid_edge_cases();
    test_system_allocator();
    test_system_alignment();
    test_progress();
    test_timed_progress();
    test_realloc_to_zero_frees();
    test_observer();
    test_many_blocks();
    test_misaligned();
    test_overlap();
    test_outside_heap();
    test_metadata_overwrite();
    test_realloc_drops_data();
    test_driver_fill();
    test_secret_pattern();
    test_calloc_not_zero();
    test_malloc_null();
    test_init_failure();
    test_checkheap();
    test_calloc_missing();
    test_trace_errors();
    test_alignment_option();
    test_realloc_zero_rule();
    test_dirty_heap();
    test_sampling();
    test_timed();
    test_timed_carried_heap();
    test_tree_against_oracle();
    test_allocator_open();
    test_verify_pointers();
    test_timed_log_and_boundaries();
    return CHECK_DONE();
}
