/*
 * replay.c - the replay engine: a trace's ops run against an allocator table.
 *
 * ms_replay_checked runs every op once and proves each answer right:
 *   - a returned pointer is aligned as the lab requires (options->alignment,
 *     16 by default; the system's malloc: as C17 asks, for any object that
 *     fits), lies wholly inside the heap
 *     [mem_heap_lo, mem_heap_hi] (our heap only) and overlaps no live block:
 *     on our heap, blocks up to 1 MiB are marked in a map of its 16-byte
 *     granules (granule_map.h: O(1) an op for small blocks), larger ones and
 *     every block of the system's malloc in a treap keyed by address
 *     (interval_tree.h: O(log n) an op);
 *   - a block's payload holds bytes derived from its id and offset, written
 *     when it is handed out and verified before it is freed or reallocated and
 *     for every live block at the end, which catches an allocator writing over
 *     live data; realloc must keep the first min(old, new) bytes, calloc
 *     memory must be zero; with realloc_zero_null, realloc(p, 0) of a live
 *     block must answer NULL; optionally mm_checkheap holds after every op;
 *   - utilization: peak live payload, the same rounded up to the alignment
 *     (the alignment bound), the heap's high-water mark and the highest byte
 *     used.
 * The first failure stops the pass. It is recorded twice: as data (an
 * ms_failure: kind, op, block, offset, address, mm_init's status), which is
 * what the driver reads, and as one line, "op <i> (<op>): <what>", addresses
 * given both as heap offsets and absolute, which is what people read. The
 * driver maps the op index to the trace file's line. With dirty_heap, the
 * pass runs with the heap's poisoning on (memlib.h), so that an allocator
 * reading memory it never wrote fails here, at its op, every run alike.
 *
 * Payloads get the pattern of payload_pattern.c: the public one, or with
 * options->secret_pattern one keyed by a secret this process draws, which an
 * allocator in another process cannot work out. Payloads larger than the
 * sampling threshold (options->sample_above, 1 MiB when 0, never below 64 KiB)
 * are written and verified only at their first and last 4 KiB and at 256
 * words spread between: the heap is reserved, not committed, so a trace with
 * tens of gigabytes live touches little memory.
 *
 * ms_replay_timed runs the same ops with only the calls, the pointer
 * bookkeeping and one store of the op's index (the progress word a parent
 * process reads after a crash) between two clock reads; heap resets, mm_init
 * and freeing what a pass left live are untimed. Each pass starts from
 * mm_init on an empty heap (the lab's protocol), or with carry_heap on the
 * heap the last pass left, its blocks freed, as the system's malloc always
 * runs: a steady state, which an allocator that does not reuse freed memory
 * never reaches (it is refused once its heap is 8 times its size after a
 * warm-up pass). Its failures are data and a line too (ms_timed_result).
 *
 * Memory: the engine's own bookkeeping uses the process's malloc (only
 * allocators are barred from it): 25 bytes per trace id for a checked pass
 * (address, size, live flag, tree node), 8 for a timed one, none per op;
 * the granule map, one bit per 8 bytes of heap actually used.
 */
#include "engine.h"
#include "granule_map.h"
#include "interval_tree.h"
#include "mallocsim.h"
#include "memlib.h"
#include "payload_pattern.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    DEFAULT_ALIGNMENT = 16,       /* our heap's, when the options say 0 */
    SYSTEM_ALIGNMENT = 16,        /* the system malloc's, for objects of 16 bytes and more */
    SAMPLE_DEFAULT = 1024 * 1024, /* the sampling threshold when the caller says 0 */
};

/* ------------------------------------------------------------ messages */

/* The op as written in a trace: "a 5 48", "r 3 100", "f 7", "f -1", "c 2 10 8". */
static void format_op(char *out, size_t n, const ms_op *op) {
    switch (op->kind) {
    case MS_OP_ALLOC:
        snprintf(out, n, "a %" PRIu32 " %" PRIu64, op->id, op->size);
        break;
    case MS_OP_REALLOC:
        snprintf(out, n, "r %" PRIu32 " %" PRIu64, op->id, op->size);
        break;
    case MS_OP_CALLOC:
        snprintf(out, n, "c %" PRIu32 " %" PRIu32 " %" PRIu64, op->id, op->count, op->size);
        break;
    case MS_OP_FREE:
        if (op->id == MS_ID_NULL)
            snprintf(out, n, "f -1");
        else
            snprintf(out, n, "f %" PRIu32, op->id);
        break;
    default:
        snprintf(out, n, "op kind %u", (unsigned)op->kind);
        break;
    }
}

/* out = "op <index> (<op>): <fmt...>", truncated to fit. */
static void vformat_failure(char *out, size_t n, uint64_t index, const ms_op *op, const char *fmt,
                            va_list args) {
    char op_text[80];
    format_op(op_text, sizeof op_text, op);
    int used = snprintf(out, n, "op %" PRIu64 " (%s): ", index, op_text);
    if (used >= 0 && (size_t)used < n)
        vsnprintf(out + used, n - (size_t)used, fmt, args);
}

ms_failure engine_failure(int kind, uint32_t block, uintptr_t address) {
    return (ms_failure){
        .kind = kind,
        .timed_pass = MS_PASS_NONE,
        .op = MS_NO_OP,
        .block = block,
        .other = MS_ID_NULL,
        .address = address,
    };
}

/* "1.5 MiB", "512 B": sizes in messages, for people. */
static void format_bytes(char *out, size_t n, uint64_t bytes) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(out, n, "%" PRIu64 " B", bytes);
        return;
    }
    double value = (double)bytes / 1024;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        unit++;
    }
    snprintf(out, n, "%.1f %s", value, units[unit]);
}

/* Why the allocator may have answered NULL: " (heap 1.2 MiB of 1.0 TiB limit)". */
static void format_heap_state(char *out, size_t n, bool own_heap) {
    if (!own_heap) {
        out[0] = '\0';
        return;
    }
    char used[32], limit[32];
    format_bytes(used, sizeof used, mem_heapsize());
    format_bytes(limit, sizeof limit, mem_limit());
    snprintf(out, n, " (heap %s of %s limit)", used, limit);
}

static const char *op_function(const ms_op *op) {
    switch (op->kind) {
    case MS_OP_ALLOC:
        return "malloc";
    case MS_OP_REALLOC:
        return "realloc";
    case MS_OP_CALLOC:
        return "calloc";
    default:
        return "free";
    }
}

/* ----------------------------------------------------- calling allocators */

int64_t engine_init(const ms_allocator *alloc) {
    if (alloc->dialect == MS_DIALECT_CMU) {
        bool (*init)(void);
        *(void **)(&init) = alloc->init; /* the POSIX dlsym idiom, see allocator.c */
        return init() ? 1 : 0;
    }
    int (*init)(void);
    *(void **)(&init) = alloc->init;
    return init();
}

/* mm_init, called through its dialect's type; false with *failure (its status kept: what the
   driver tells a dialect mix-up by) and why filled when it reports failure. */
static bool call_init(const ms_allocator *alloc, ms_failure *failure, char *why, size_t n) {
    int64_t status = engine_init(alloc);
    if (alloc->dialect == MS_DIALECT_CMU) {
        if (status != 0)
            return true;
        snprintf(why, n, "mm_init failed (returned false)");
    } else {
        /* Every lab's driver tests mm_init() < 0: 0 or any positive value is success. */
        if (status >= 0)
            return true;
        snprintf(why, n, "mm_init failed (returned %" PRId64 ")", status);
    }
    *failure = engine_failure(MS_FAIL_INIT_FAILED, MS_ID_NULL, 0);
    failure->init_status = status;
    return false;
}

bool engine_checkheap(const ms_allocator *alloc, uint64_t index) {
    /* The cmu argument is a line number for the checker's messages; classic's is 0, not verbose. */
    int arg = alloc->dialect != MS_DIALECT_CMU ? 0 : index < INT32_MAX ? (int)index : INT32_MAX;
    if (alloc->dialect == MS_DIALECT_CMU && alloc->checkheap_kind == MS_CHECKHEAP_DIALECT) {
        /* Via void (*)(void), the generic function pointer type: converting
           back to the real type is defined, and says so to -Wcast-function-type. */
        bool (*check)(int) = (bool (*)(int))(void (*)(void))alloc->checkheap;
        return check(arg);
    }
    return alloc->checkheap(arg) != 0;
}

/* Whether calloc(count, size) asks for a representable number of bytes. */
static bool calloc_bytes(const ms_op *op, uint64_t *bytes) {
    if (op->size != 0 && op->count > UINT64_MAX / op->size)
        return false;
    *bytes = (uint64_t)op->count * op->size;
    return true;
}

/* What the trace asks of each id must make sense before anything is called:
   the timed loop trusts it. Returns the index of the first bad op, or
   num_ops, with the failure's kind and the reason in why. A parsed trace was
   proven valid by its parser, so only the allocator's part is left: whether
   it has the calloc the trace calls (this check runs before every replay, and
   an instruction count of a pass would otherwise count a scan of the ops). */
static const char NO_CALLOC[] = "the trace calls calloc but the allocator has no mm_calloc";

static uint64_t first_bad_op(const ms_trace *trace, const ms_allocator *alloc, int *kind, char *why,
                             size_t n) {
    if (trace->ops_valid) {
        *kind = MS_FAIL_NONE;
        if (trace->first_calloc >= trace->num_ops || alloc->calloc != NULL)
            return trace->num_ops;
        *kind = MS_FAIL_NO_CALLOC;
        snprintf(why, n, "%s", NO_CALLOC);
        return trace->first_calloc;
    }
    for (uint64_t i = 0; i < trace->num_ops; i++) {
        const ms_op *op = &trace->ops[i];
        *kind = MS_FAIL_TRACE_ERROR;
        if (op->kind > MS_OP_CALLOC) {
            snprintf(why, n, "unknown op kind %u", (unsigned)op->kind);
            return i;
        }
        if (op->kind == MS_OP_CALLOC && alloc->calloc == NULL) {
            *kind = MS_FAIL_NO_CALLOC;
            snprintf(why, n, "%s", NO_CALLOC);
            return i;
        }
        bool null_free = op->kind == MS_OP_FREE && op->id == MS_ID_NULL;
        if (op->id >= trace->num_ids && !null_free) {
            snprintf(why, n, "id %" PRIu32 " is out of range (the trace has %" PRIu32 " ids)",
                     op->id, trace->num_ids);
            return i;
        }
    }
    *kind = MS_FAIL_NONE;
    return trace->num_ops;
}

/* --------------------------------------------------------- checked pass */

typedef struct {
    const ms_trace *trace;
    const ms_allocator *alloc;
    ms_check_result *result;
    bool own_heap;          /* our simulated heap (false for the system's malloc) */
    uint64_t sample_above;  /* sampling threshold, >= SAMPLE_FLOOR */
    uint64_t alignment;     /* what our heap's pointers need, and live sizes are rounded to */
    bool realloc_zero_null; /* realloc(p, 0) of a live block must answer NULL */
    uint64_t fill_limit;    /* bytes of a payload filled and checked: UINT64_MAX for all */
    bool zero_block0;       /* block 0's bytes are zeros, not the pattern */
    pattern_key secret;     /* the keyed payload pattern's round keys, when it is keyed */
    const pattern_key *key; /* &secret for the keyed pattern, NULL for the public one */
    uint64_t index;         /* the op being run */
    uintptr_t *addr;        /* per id: block start, 0 for a NULL block */
    uint64_t *size;         /* per id: requested bytes */
    uint8_t *live;          /* per id: 1 while allocated (a NULL 0-byte block too) */
    it_tree tree;           /* live blocks of at least one byte not in the map, by address */
    granule_map map;        /* our heap: the granules of live blocks up to GM_MAX_BLOCK */
    uint64_t live_payload;  /* sum of live requested sizes */
    uint64_t live_aligned;  /* the same, each rounded up to the alignment */
    /* Checking a pass already run (ms_verify_pointers): the allocator's answers, one per op,
       and the heap they had to lie in; the allocator is not called, payloads not touched. */
    const uint64_t *log;
    uintptr_t heap_lo;
    uint64_t heap_bytes;
} checker;

/* Stop the pass at the current op with `failure` and its message. */
__attribute__((format(printf, 3, 4))) static bool fail(checker *c, ms_failure failure,
                                                       const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vformat_failure(c->result->error, sizeof c->result->error, c->index, &c->trace->ops[c->index],
                    fmt, args);
    va_end(args);
    failure.op = c->index;
    c->result->valid = false;
    c->result->failure = failure;
    return false;
}

/* A trace error about `id`: the trace, not the allocator, is wrong. */
static ms_failure trace_error(uint32_t id) { return engine_failure(MS_FAIL_TRACE_ERROR, id, 0); }

/* "block 5 [heap+0x10 = 0x7f3a00000010, +48)" */
static void format_block(char *out, size_t n, const checker *c, uint32_t id, uintptr_t p,
                         uint64_t size) {
    if (!c->own_heap) {
        snprintf(out, n, "block %" PRIu32 " [0x%" PRIxPTR ", +%" PRIu64 ")", id, p, size);
        return;
    }
    uintptr_t lo = (uintptr_t)mem_heap_lo();
    char sign = p >= lo ? '+' : '-';
    uintptr_t distance = p >= lo ? p - lo : lo - p;
    snprintf(out, n, "block %" PRIu32 " [heap%c0x%" PRIxPTR " = 0x%" PRIxPTR ", +%" PRIu64 ")", id,
             sign, distance, p, size);
}

/* A live size as the alignment bound counts it: rounded up to the lab's alignment (also for the
   system's malloc, so that every allocator of a run has the same bound). */
static uint64_t round_up(const checker *c, uint64_t size) {
    return (size + c->alignment - 1) / c->alignment * c->alignment;
}

/* The alignment a pointer for `size` bytes needs. Ours: the lab's, always.
   The system's malloc: C17's rule (DR 445), what jemalloc, tcmalloc and
   mimalloc follow: any object that fits, so 8 for 8 bytes, 4 for 4. */
static uintptr_t required_alignment(const checker *c, uint64_t size) {
    if (c->own_heap)
        return c->alignment;
    if (size >= SYSTEM_ALIGNMENT)
        return SYSTEM_ALIGNMENT;
    uintptr_t align = 1;
    while (align * 2 <= size)
        align *= 2;
    return align;
}

/* Whether a live block of `size` bytes is kept in the granule map (else in
   the tree, if it has a byte). */
static bool in_map(const checker *c, uint64_t size) {
    /* A logged pass is checked hundreds of times a trace: its blocks all go in the tree, whose
       cost does not grow with a block's size nor needs a map built for each pass. An alignment
       finer than a granule would let blocks share one without touching: the tree then. */
    return c->own_heap && c->log == NULL && size > 0 && size <= GM_MAX_BLOCK &&
           c->alignment % GM_GRANULE == 0;
}

/* The live mapped block that shares a granule with [p, p + size): a linear
   search, run only to name the culprit once an overlap is certain. */
static uint32_t mapped_owner(const checker *c, uintptr_t p, uint64_t size) {
    for (uint32_t id = 0; id < c->trace->num_ids; id++) {
        if (!c->live[id] || !in_map(c, c->size[id]))
            continue;
        uintptr_t start = c->addr[id] / GM_GRANULE * GM_GRANULE;
        uintptr_t end = (c->addr[id] + c->size[id] + GM_GRANULE - 1) / GM_GRANULE * GM_GRANULE;
        if (start < p + size && p < end)
            return id;
    }
    return IT_NONE;
}

/* One past the last byte a block may reach: the break, or the end of a logged pass's heap. */
static uintptr_t heap_end(const checker *c) {
    return c->log != NULL ? c->heap_lo + c->heap_bytes : (uintptr_t)mem_heap_hi() + 1;
}

/* The answer a pass already run gave to the op being checked. */
static void *logged(const checker *c) { return (void *)(uintptr_t)c->log[c->index]; }

/* Check a pointer the allocator returned for `size` bytes of `id` and, if
   right, record it as live. Its payload is not touched here. */
static bool take_block(checker *c, uint32_t id, void *ptr, uint64_t size) {
    const ms_op *op = &c->trace->ops[c->index];
    uintptr_t p = (uintptr_t)ptr;
    char block[128], other[128];
    if (ptr == NULL && size > 0) {
        char heap[96];
        format_heap_state(heap, sizeof heap, c->own_heap);
        ms_failure null = engine_failure(MS_FAIL_NULL_RETURN, id, 0);
        if (op->kind == MS_OP_CALLOC)
            return fail(c, null, "calloc returned NULL for %" PRIu32 " x %" PRIu64 " bytes%s",
                        op->count, op->size, heap);
        return fail(c, null, "%s returned NULL for %" PRIu64 " bytes%s", op_function(op), size,
                    heap);
    }
    /* Messages are formatted only on failure: this runs once an op. */
    uintptr_t align = required_alignment(c, size);
    if (p % align != 0) {
        format_block(block, sizeof block, c, id, p, size);
        return fail(c, engine_failure(MS_FAIL_MISALIGNED, id, p),
                    "%s is not %" PRIuPTR "-byte aligned", block, align);
    }
    if (ptr != NULL && c->own_heap) {
        uintptr_t lo = c->heap_lo, end = heap_end(c);
        if (p < lo || p > end || size > end - p) {
            format_block(block, sizeof block, c, id, p, size);
            return fail(c, engine_failure(MS_FAIL_OUTSIDE_HEAP, id, p),
                        "%s is not inside the heap [heap+0x0 = 0x%" PRIxPTR ", +%" PRIuPTR ")",
                        block, lo, end - lo);
        }
    }
    if (size > 0) {
        uint32_t before, after;
        it_neighbours(&c->tree, p, &before, &after);
        uint32_t hit = IT_NONE;
        if (before != IT_NONE && c->size[before] > p - c->addr[before])
            hit = before;
        else if (after != IT_NONE && c->addr[after] - p < size)
            hit = after;
        else if (c->own_heap && c->log == NULL && !gm_is_clear(&c->map, p, size))
            hit = mapped_owner(c, p, size);
        if (hit != IT_NONE) {
            format_block(block, sizeof block, c, id, p, size);
            format_block(other, sizeof other, c, hit, c->addr[hit], c->size[hit]);
            ms_failure overlap = engine_failure(MS_FAIL_OVERLAP, id, p);
            overlap.other = hit;
            return fail(c, overlap, "%s overlaps %s", block, other);
        }
    }

    c->addr[id] = p;
    c->size[id] = size;
    c->live[id] = 1;
    if (in_map(c, size))
        gm_set(&c->map, p, size);
    else if (size > 0)
        it_insert(&c->tree, id);
    ms_check_result *r = c->result;
    c->live_payload += size;
    c->live_aligned += round_up(c, size);
    if (c->live_payload > r->peak_payload)
        r->peak_payload = c->live_payload;
    if (c->live_aligned > r->peak_aligned)
        r->peak_aligned = c->live_aligned;
    if (ptr != NULL && c->own_heap) {
        uint64_t used = p + size - c->heap_lo;
        if (used > r->highest_used)
            r->highest_used = used;
    }
    return true;
}

/* Forget a live block after the allocator took it back. */
static void drop_block(checker *c, uint32_t id) {
    if (in_map(c, c->size[id]))
        gm_clear(&c->map, c->addr[id], c->size[id]);
    else if (c->size[id] > 0)
        it_remove(&c->tree, id);
    c->live_payload -= c->size[id];
    c->live_aligned -= round_up(c, c->size[id]);
    c->live[id] = 0;
    c->addr[id] = 0;
    c->size[id] = 0;
}

static void *block_ptr(const checker *c, uint32_t id) { return (void *)c->addr[id]; }

/* A differing payload byte, for a message: found and expected with the public pattern; found
   alone with the keyed one, whose bytes change every run and would only make the same fault's
   message differ from run to run. */
static void format_miss(char *out, size_t size, const checker *c, const pattern_miss *miss) {
    if (c->key != NULL)
        snprintf(out, size, "0x%02x", miss->found);
    else
        snprintf(out, size, "0x%02x, expected 0x%02x", miss->found, miss->expected);
}

/* What block id's bytes are filled with, and checked against (the options' driver fill). */
static pattern_mode fill_mode(const checker *c, uint32_t id) {
    return c->zero_block0 && id == 0 ? PATTERN_CLEAR : PATTERN_FILL;
}

static pattern_mode check_mode(const checker *c, uint32_t id) {
    return c->zero_block0 && id == 0 ? PATTERN_ZERO : PATTERN_CHECK;
}

/* The end of the bytes filled and checked in a payload of `size` bytes. */
static uint64_t filled_end(const checker *c, uint64_t size) {
    return size < c->fill_limit ? size : c->fill_limit;
}

/* Write the pattern into a live block's bytes from offset `from` on. */
static void fill(checker *c, uint32_t id, uint64_t from) {
    if (c->addr[id] != 0 && c->log == NULL)
        pattern_apply(fill_mode(c, id), c->key, block_ptr(c, id), id, c->size[id], c->sample_above,
                      from, filled_end(c, c->size[id]), NULL);
}

/* Verify a live block's payload; `when` starts the message's tail. */
static bool verify(checker *c, uint32_t id, const char *when) {
    pattern_miss miss;
    if (c->addr[id] == 0 || c->log != NULL ||
        pattern_apply(check_mode(c, id), c->key, block_ptr(c, id), id, c->size[id], c->sample_above,
                      0, filled_end(c, c->size[id]), &miss))
        return true;
    char block[128];
    format_block(block, sizeof block, c, id, c->addr[id], c->size[id]);
    ms_failure overwritten = engine_failure(MS_FAIL_OVERWRITTEN, id, c->addr[id]);
    overwritten.offset = miss.offset;
    overwritten.found = miss.found;
    char byte[40];
    format_miss(byte, sizeof byte, c, &miss);
    return fail(c, overwritten,
                "%s%s: payload byte %" PRIu64 " was overwritten while the block was live (%s)",
                when, block, miss.offset, byte);
}

static bool run_alloc(checker *c, const ms_op *op) {
    if (c->live[op->id])
        return fail(c, trace_error(op->id), "block %" PRIu32 " is already live (trace error)",
                    op->id);
    void *p = c->log != NULL ? logged(c) : c->alloc->malloc(engine_request_bytes(op->size));
    if (!take_block(c, op->id, p, op->size))
        return false;
    fill(c, op->id, 0);
    return true;
}

static bool run_calloc(checker *c, const ms_op *op) {
    if (c->live[op->id])
        return fail(c, trace_error(op->id), "block %" PRIu32 " is already live (trace error)",
                    op->id);
    uint64_t bytes;
    bool representable = calloc_bytes(op, &bytes);
    void *p =
        c->log != NULL ? logged(c) : c->alloc->calloc(op->count, engine_request_bytes(op->size));
    if (!representable) {
        if (p != NULL)
            return fail(c, engine_failure(MS_FAIL_CALLOC_OVERFLOW, op->id, (uintptr_t)p),
                        "calloc returned a pointer for %" PRIu32 " x %" PRIu64
                        " bytes, which overflows; NULL was due",
                        op->count, op->size);
        return take_block(c, op->id, NULL, 0); /* p[id] = NULL, like realloc(p, 0) */
    }
    if (!take_block(c, op->id, p, bytes))
        return false;
    pattern_miss miss;
    if (p != NULL && c->log == NULL &&
        !pattern_apply(PATTERN_ZERO, NULL, p, op->id, bytes, c->sample_above, 0, bytes, &miss)) {
        char block[128];
        format_block(block, sizeof block, c, op->id, c->addr[op->id], bytes);
        ms_failure dirty = engine_failure(MS_FAIL_CALLOC_NOT_ZERO, op->id, (uintptr_t)p);
        dirty.offset = miss.offset;
        dirty.found = miss.found;
        return fail(c, dirty, "calloc memory is not zero: %s byte %" PRIu64 " is 0x%02x", block,
                    miss.offset, miss.found);
    }
    fill(c, op->id, 0);
    return true;
}

static bool run_realloc(checker *c, const ms_op *op) {
    uint32_t id = op->id;
    bool was_live = c->live[id];
    uintptr_t old_addr = c->addr[id];
    uint64_t old_size = c->size[id];
    if (was_live && !verify(c, id, "before realloc, "))
        return false;
    void *p = c->log != NULL ? logged(c)
                             : c->alloc->realloc(was_live ? block_ptr(c, id) : NULL,
                                                 engine_request_bytes(op->size));
    if (p == NULL && op->size > 0)
        return take_block(c, id, p, op->size); /* reports the NULL */
    if (was_live)
        drop_block(c, id);
    if (op->size == 0 && was_live && p != NULL && c->realloc_zero_null && c->log == NULL) {
        if (!c->own_heap)
            c->alloc->free(p); /* the system heap is not reset after the pass */
        return fail(c, engine_failure(MS_FAIL_REALLOC_ZERO_NOT_NULL, id, (uintptr_t)p),
                    "realloc with size 0 returned 0x%" PRIxPTR
                    " instead of NULL: the lab requires realloc(p, 0) to free the block and "
                    "return NULL",
                    (uintptr_t)p);
    }
    if (!take_block(c, id, p, op->size))
        return false;
    if (op->size == 0) {
        /* "r id 0" ends the block's life, as the parser reads it (the lab's
           realloc(p, 0) is free). C lets realloc(p, 0) return a pointer
           instead of NULL: give that back, so the id is free either way. */
        if (p != NULL && c->log == NULL)
            c->alloc->free(p);
        drop_block(c, id);
        return true;
    }
    if (p == NULL || c->log != NULL)
        return true;
    /* The first min(old, new) bytes must have come along... */
    uint64_t kept = old_size < op->size ? old_size : op->size;
    pattern_miss miss;
    if (!pattern_apply(check_mode(c, id), c->key, p, id, old_size, c->sample_above, 0,
                       filled_end(c, kept), &miss)) {
        char from[128], to[128];
        format_block(from, sizeof from, c, id, old_addr, old_size);
        format_block(to, sizeof to, c, id, (uintptr_t)p, op->size);
        ms_failure lost = engine_failure(MS_FAIL_REALLOC_LOST_DATA, id, (uintptr_t)p);
        lost.offset = miss.offset;
        lost.found = miss.found;
        char byte[40];
        format_miss(byte, sizeof byte, c, &miss);
        return fail(c, lost, "realloc did not keep the data: %s became %s, byte %" PRIu64 " is %s",
                    from, to, miss.offset, byte);
    }
    /* ...and the rest gets the pattern. A sampled old block left holes in
       the kept bytes that the new size's sample set may visit: refill it. */
    fill(c, id, old_size > c->sample_above ? 0 : kept);
    return true;
}

static bool run_free(checker *c, const ms_op *op) {
    if (op->id == MS_ID_NULL) {
        if (c->log == NULL)
            c->alloc->free(NULL);
        return true;
    }
    if (!c->live[op->id])
        return fail(c, trace_error(op->id), "block %" PRIu32 " is not live (trace error)", op->id);
    if (!verify(c, op->id, "before free, "))
        return false;
    if (c->log == NULL)
        c->alloc->free(block_ptr(c, op->id));
    drop_block(c, op->id);
    return true;
}

static bool run_checked_op(checker *c) {
    const ms_op *op = &c->trace->ops[c->index];
    switch (op->kind) {
    case MS_OP_ALLOC:
        return run_alloc(c, op);
    case MS_OP_CALLOC:
        return run_calloc(c, op);
    case MS_OP_REALLOC:
        return run_realloc(c, op);
    default:
        return run_free(c, op);
    }
}

static bool run_checked(checker *c, const ms_check_options *options) {
    const ms_trace *trace = c->trace;
    const ms_allocator *alloc = c->alloc;
    bool check_heap = options != NULL && options->check_heap;
    volatile uint64_t *progress = options != NULL ? options->progress : NULL;
    void (*observe)(void *, uint64_t, uint64_t) = options != NULL ? options->observe : NULL;
    char why[256];
    int bad_kind;

    uint64_t bad = first_bad_op(trace, alloc, &bad_kind, why, sizeof why);
    for (c->index = 0; c->index < trace->num_ops; c->index++) {
        if (progress != NULL)
            *progress = c->index;
        if (c->index == bad) {
            const ms_op *op = &trace->ops[bad];
            return fail(c, engine_failure(bad_kind, op->id, 0), "%s", why);
        }
        if (!run_checked_op(c))
            return false;
        if (check_heap && progress != NULL)
            *progress = c->index | MS_OP_IN_CHECKER;
        if (check_heap && !engine_checkheap(alloc, c->index)) {
            const char *message =
                alloc->checkheap_message != NULL ? alloc->checkheap_message() : NULL;
            ms_failure broken = engine_failure(MS_FAIL_CHECKHEAP, MS_ID_NULL, 0);
            if (message != NULL && message[0] != '\0')
                return fail(c, broken, "mm_checkheap failed: %s", message);
            return fail(c, broken, "mm_checkheap failed");
        }
        c->result->ops_done = c->index + 1;
        if (observe != NULL)
            observe(options->observe_context, c->index, c->live_payload);
    }
    if (trace->num_ops == 0)
        return true;
    c->index = trace->num_ops - 1; /* failures below are reported after the last op */
    for (uint32_t id = 0; id < trace->num_ids; id++)
        if (c->live[id] && !verify(c, id, "at the end of the trace, "))
            return false;
    return true;
}

/* A failure before any op (options, bookkeeping, mm_init): no op named. */
__attribute__((format(printf, 3, 4))) static void fail_before(ms_check_result *result, int kind,
                                                              const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, args);
    va_end(args);
    result->failure = engine_failure(kind, MS_ID_NULL, 0);
    result->valid = false;
}

/* The alignment the options ask for (0: the default), or 0 when it is no power of two. */
static uint64_t alignment_of(const ms_check_options *options) {
    uint64_t align =
        options != NULL && options->alignment > 0 ? options->alignment : DEFAULT_ALIGNMENT;
    return (align & (align - 1)) == 0 ? align : 0;
}

/* Reset our heap, its poisoning on for a dirty heap, and call mm_init; false with result filled
   when something failed. */
static bool start_checked_heap(checker *c, const ms_check_options *options) {
    ms_check_result *result = c->result;
    if (options != NULL && options->progress != NULL)
        *options->progress = MS_RESETTING; /* not the last pass's op, hung in the reset */
    mem_reset();
    mem_count_growth(true);
    if (!gm_init(&c->map, (uintptr_t)mem_heap_lo(), mem_limit())) {
        fail_before(result, MS_FAIL_ENGINE, "out of address space for the heap's granule map");
        return false;
    }
    if (options != NULL && options->dirty_heap)
        mem_set_poison(true);
    if (options != NULL && options->progress != NULL)
        *options->progress = MS_NO_OP;
    if (!call_init(c->alloc, &result->failure, result->error, sizeof result->error)) {
        result->valid = false;
        return false;
    }
    return true;
}

/* A checker for the trace, its bookkeeping allocated; false with result filled when the options
   or the memory are wrong. checker_close frees it either way. */
static bool checker_open(checker *c, const ms_trace *trace, const ms_allocator *alloc,
                         const ms_check_options *options, ms_check_result *result) {
    memset(result, 0, sizeof *result);
    result->valid = true;
    result->failure = engine_failure(MS_FAIL_NONE, MS_ID_NULL, 0);
    uint64_t sample_above =
        options != NULL && options->sample_above > 0 ? options->sample_above : SAMPLE_DEFAULT;
    *c = (checker){
        .trace = trace,
        .alloc = alloc,
        .result = result,
        .own_heap = alloc->dialect != MS_DIALECT_SYSTEM,
        .sample_above = sample_above > SAMPLE_FLOOR ? sample_above : SAMPLE_FLOOR,
        .alignment = alignment_of(options),
        .realloc_zero_null = options != NULL && options->realloc_zero_null,
        .fill_limit = options != NULL && options->fill_limit > 0 ? options->fill_limit : UINT64_MAX,
        .zero_block0 = options != NULL && options->zero_block0,
        .heap_lo = alloc->dialect != MS_DIALECT_SYSTEM ? (uintptr_t)mem_heap_lo() : 0,
    };
    if (c->alignment == 0) {
        fail_before(result, MS_FAIL_ENGINE, "alignment %" PRIu32 " is not a power of two",
                    options->alignment);
        return false;
    }
    if (options != NULL && options->secret_pattern) {
        char why[160];
        _Static_assert(sizeof options->pattern_seed == sizeof(pattern_key) &&
                           MS_PATTERN_SEED_BYTES == sizeof(pattern_key),
                       "a seed is a key's bytes");
        const uint8_t *seed = options->pattern_seeded ? options->pattern_seed : NULL;
        if (!pattern_key_draw(&c->secret, seed, why, sizeof why)) {
            fail_before(result, MS_FAIL_ENGINE, "%s", why);
            return false;
        }
        c->key = &c->secret;
    }
    size_t ids = trace->num_ids > 0 ? trace->num_ids : 1;
    c->addr = calloc(ids, sizeof *c->addr);
    c->size = calloc(ids, sizeof *c->size);
    c->live = calloc(ids, sizeof *c->live);
    if (c->addr == NULL || c->size == NULL || c->live == NULL ||
        !it_init(&c->tree, trace->num_ids, c->addr)) {
        fail_before(result, MS_FAIL_ENGINE, "out of memory for the bookkeeping of %" PRIu32 " ids",
                    trace->num_ids);
        return false;
    }
    return true;
}

static void checker_close(checker *c) {
    it_free(&c->tree);
    gm_free(&c->map);
    free(c->addr);
    free(c->size);
    free(c->live);
}

bool ms_replay_checked(const ms_trace *trace, const ms_allocator *alloc,
                       const ms_check_options *options, ms_check_result *result) {
    checker c;
    if (checker_open(&c, trace, alloc, options, result)) {
        if (options != NULL && options->check_heap && alloc->checkheap == NULL)
            fail_before(result, MS_FAIL_NO_CHECKHEAP,
                        "heap checking was asked for but the allocator has no mm_checkheap");
        else if (c.own_heap)
            start_checked_heap(&c, options);
        if (result->valid)
            run_checked(&c, options);
    }
    if (c.own_heap) {
        /* Only this pass runs on a dirty heap: timed passes keep the warm one, unpoisoned. */
        mem_set_poison(false);
        mem_growth_count growth = mem_growth();
        mem_count_growth(false);
        result->growth_calls = growth.calls;
        result->growth_new_pages = growth.new_pages;
        result->heap_size = mem_high_water();
        /* Memory written past the break (beyond the page after it) is heap too: the labs'
           drivers have it, and a heap shared with an agent reaches the lab's limit to give it. */
        uint64_t past = mem_share_used_past(result->heap_size);
        if (past > result->highest_used)
            result->highest_used = past;
    } else if (c.live != NULL) {
        /* The system heap is not reset between runs: give everything back. */
        for (uint32_t id = 0; id < trace->num_ids; id++)
            if (c.live[id])
                alloc->free(block_ptr(&c, id));
    }
    checker_close(&c);
    return result->valid;
}

bool ms_verify_pointers(const ms_trace *trace, const uint64_t *log, const ms_check_options *options,
                        uintptr_t heap_lo, uint64_t heap_bytes, ms_check_result *result) {
    /* Our heap's rules, with no allocator to call: calloc is allowed, as the pass ran. */
    static const ms_allocator logged_heap = {.dialect = MS_DIALECT_CLASSIC, .calloc = calloc};
    ms_check_options plain = options != NULL ? *options : (ms_check_options){0};
    plain.check_heap = false;
    plain.progress = NULL;
    plain.observe = NULL;
    checker c;
    if (checker_open(&c, trace, &logged_heap, &plain, result)) {
        c.log = log;
        c.heap_lo = heap_lo;
        c.heap_bytes = heap_bytes;
        run_checked(&c, &plain);
    }
    checker_close(&c);
    return result->valid;
}

/* ----------------------------------------------------------- timed passes */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/*
 * The timed loop: the calls, the pointer bookkeeping and one store an op, of its index into
 * *op_word, so that a parent process can name the op a crash happened in. That store goes to a
 * word nothing else writes and that stays in L1 (volatile only so that it is not dropped or moved
 * past the call): a cycle or so against the 5 to 100 ns of an allocator op. Returns num_ops, or
 * the index of the op that got NULL where a block was due.
 */
static uint64_t run_timed_ops(const ms_trace *trace, const ms_allocator *alloc, void **ptr,
                              volatile uint64_t *op_word, uint64_t *log) {
    const ms_op *ops = trace->ops;
    for (uint64_t i = 0; i < trace->num_ops; i++) {
        const ms_op *op = &ops[i];
        uint64_t bytes;
        void *p;
        *op_word = i;
        switch (op->kind) {
        case MS_OP_ALLOC:
            p = alloc->malloc(engine_request_bytes(op->size));
            if (p == NULL && op->size > 0)
                return i;
            ptr[op->id] = p;
            break;
        case MS_OP_REALLOC:
            p = alloc->realloc(ptr[op->id], engine_request_bytes(op->size));
            if (p == NULL && op->size > 0)
                return i;
            if (op->size == 0 && p != NULL) { /* the id's life ends, as in the checked pass */
                alloc->free(p);
                p = NULL;
            }
            ptr[op->id] = p;
            break;
        case MS_OP_CALLOC:
            p = alloc->calloc(op->count, engine_request_bytes(op->size));
            if (p == NULL && calloc_bytes(op, &bytes) && bytes > 0)
                return i;
            ptr[op->id] = p;
            break;
        default:
            p = NULL;
            if (op->id == MS_ID_NULL) {
                alloc->free(NULL);
            } else {
                alloc->free(ptr[op->id]);
                ptr[op->id] = NULL;
            }
            break;
        }
        if (log != NULL) /* a grader elsewhere checks the pass (remote.c) */
            log[i] = (uintptr_t)p;
    }
    return trace->num_ops;
}

/* The timed passes of one trace, and where they are. */
typedef struct {
    const ms_trace *trace;
    const ms_allocator *alloc;
    ms_timed_result *result;
    const ms_timed_options *options;
    void **ptr;                   /* per id: the block's pointer */
    volatile uint64_t *op_word;   /* the progress words: the caller's, or the timer's own */
    volatile uint64_t *pass_word; /* ... */
    uint32_t pass;                /* the pass running: 0 the warm-up, then 1, 2... */
    double start_cost;            /* timed_batch: the least seconds a heap start took, 0 if none */
} timer;

/* Record a failure of the running pass (or none, with pass MS_PASS_NONE), with its message. */
__attribute__((format(printf, 3, 4))) static bool timed_fail(timer *t, ms_failure failure,
                                                             const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    if (failure.op < t->trace->num_ops)
        vformat_failure(t->result->error, sizeof t->result->error, failure.op,
                        &t->trace->ops[failure.op], fmt, args);
    else
        vsnprintf(t->result->error, sizeof t->result->error, fmt, args);
    va_end(args);
    t->result->failure = failure;
    return false;
}

/* A fresh heap for the allocator: pages kept warm (mem_rewind), zeroed where the lab's driver
   maps its heap afresh (zero_each_pass), mm_init called. */
static bool start_heap(timer *t) {
    if (t->options->zero_each_pass)
        mem_rewind_zeroed();
    else
        mem_rewind();
    *t->op_word = MS_NO_OP;
    ms_failure failure;
    char why[128];
    if (call_init(t->alloc, &failure, why, sizeof why))
        return true;
    failure.timed_pass = t->pass;
    return timed_fail(t, failure, "%s", why);
}

/* The failure of a pass that got NULL at op `stop` where a block was due; false. */
static bool null_failure(timer *t, uint64_t stop) {
    const ms_trace *trace = t->trace;
    const ms_op *op = &trace->ops[stop];
    char heap[96];
    format_heap_state(heap, sizeof heap, t->alloc->dialect != MS_DIALECT_SYSTEM);
    ms_failure null = engine_failure(MS_FAIL_NULL_RETURN, op->id, 0);
    null.op = stop;
    null.timed_pass = t->pass;
    if (op->kind == MS_OP_CALLOC)
        return timed_fail(t, null, "calloc returned NULL for %" PRIu32 " x %" PRIu64 " bytes%s",
                          op->count, op->size, heap);
    return timed_fail(t, null, "%s returned NULL for %" PRIu64 " bytes%s", op_function(op),
                      op->size, heap);
}

/* One pass over the ops, its blocks left live in ptr; false with the failure recorded on a NULL. */
static bool run_pass(timer *t, double *seconds) {
    const ms_trace *trace = t->trace;
    const ms_timed_options *options = t->options;
    memset(t->ptr, 0, trace->num_ids * sizeof *t->ptr);
    if (options->boundary != NULL)
        options->boundary(options->context, t->pass, false, 0);
    double start = now_seconds();
    uint64_t stop = run_timed_ops(trace, t->alloc, t->ptr, t->op_word, options->log);
    *seconds = now_seconds() - start;
    if (options->boundary != NULL && stop == trace->num_ops)
        options->boundary(options->context, t->pass, true, *seconds);
    return stop == trace->num_ops || null_failure(t, stop);
}

/*
 * A timed pass: fresh, from mm_init on a rewound heap; else on the heap the last pass left, whose
 * blocks it frees after it (untimed, after a failed pass too: the system heap keeps what leaks),
 * unless a counter frees them itself (leave_live).
 */
static bool timed_pass(timer *t, bool fresh, double *seconds) {
    *t->pass_word = t->pass;
    if (fresh && !start_heap(t))
        return false;
    bool ok = run_pass(t, seconds);
    if (!fresh && !t->options->leave_live) {
        *t->op_word = t->trace->num_ops; /* past the last op: freeing what the pass left */
        for (uint32_t id = 0; id < t->trace->num_ids; id++)
            t->alloc->free(t->ptr[id]);
    }
    return ok;
}

/*
 * A pass shorter than BATCH_SECONDS is timed with others, in batches that long: the clock costs
 * about 20 ns a read and, on a virtual machine, moves in steps of 10 ns, so a 12-op trace's pass
 * of 80 ns, timed alone, was a quarter the clock's own cost and an eighth its step (short1-bal
 * came out at 150,000 Kops/s for segfit and mimalloc alike, 240,000 for tcmalloc). In a batch the
 * clock is read twice for the whole of it. Only where nothing looks at a pass between two (no log
 * and no boundary: a grader in another process checks every pass), nor counts one pass whole
 * (leave_live), nor holds the agent to the kernel's count of it (kernel_clock), nor asks for
 * every pass alone (pass_alone: what is compared with such an agent's passes), nor watches our
 * own heap carried from pass to pass grow (heap_bounded), and never when a carried pass on the
 * system's heap leaves blocks live.
 */
#define BATCH_SECONDS 50e-6
enum { BATCH_MAX = 1 << 16 };

/* Whether these options let passes be timed together: nothing looks at one between two. */
static bool batches_allowed(const ms_timed_options *options) {
    return options->log == NULL && options->boundary == NULL && !options->leave_live &&
           !options->kernel_clock && !options->pass_alone;
}

/* Whether the last pass left blocks live on a carried heap: their frees, between two passes,
   would be timed with a batch. */
static bool carried_leftovers(const timer *t, bool fresh) {
    for (uint32_t id = 0; !fresh && id < t->trace->num_ids; id++)
        if (t->ptr[id] != NULL)
            return true;
    return false;
}

/*
 * n passes in one span of the clock (*span its seconds); *seconds their mean. Fresh passes each
 * start from mm_init, as timed_pass's do, inside the span: n such starts are then timed alone, and
 * the least mean a start has taken so far in these passes is taken off each (an interrupt in the
 * starts' span would otherwise take a pass's time off with it).
 */
static bool timed_batch(timer *t, bool fresh, uint32_t n, double *seconds, double *span) {
    const ms_trace *trace = t->trace;
    size_t ptr_bytes = trace->num_ids * sizeof *t->ptr;
    *t->pass_word = t->pass;
    double start = now_seconds();
    for (uint32_t i = 0; i < n; i++) {
        if (fresh && !start_heap(t))
            return false;
        memset(t->ptr, 0, ptr_bytes);
        uint64_t stop = run_timed_ops(trace, t->alloc, t->ptr, t->op_word, NULL);
        if (stop < trace->num_ops)
            return null_failure(t, stop);
    }
    double spent = now_seconds() - start;
    *span = spent;
    double start_cost = 0; /* a heap start's seconds: the least seen, what is not interrupted */
    if (fresh) {
        start = now_seconds();
        for (uint32_t i = 0; i < n; i++) {
            if (!start_heap(t))
                return false;
            memset(t->ptr, 0, ptr_bytes);
        }
        double mean = (now_seconds() - start) / n;
        if (t->start_cost == 0 || mean < t->start_cost)
            t->start_cost = mean;
        start_cost = t->start_cost;
    }
    *seconds = spent / n > start_cost ? spent / n - start_cost : 0;
    return true;
}

/*
 * With the heap carried over, a pass starts with every block of the last one freed. An allocator
 * that reuses freed memory levels off, though not always at once: the explicit policy's heap on
 * realloc-bal grows for 16 passes, to 3 times its size after the first. One that never reuses
 * memory grows by the same amount every pass, without end; CARRIED_GROWTH_MAX times the size after
 * the warm-up pass is where the engine stops it, before it takes the machine's memory.
 */
enum { CARRIED_GROWTH_MAX = 8 };

static bool heap_bounded(timer *t, size_t warm_heap) {
    size_t heap = mem_heapsize();
    if (heap <= CARRIED_GROWTH_MAX * warm_heap)
        return true;
    char was[32], now[32];
    format_bytes(was, sizeof was, warm_heap);
    format_bytes(now, sizeof now, heap);
    ms_failure growth = engine_failure(MS_FAIL_HEAP_GROWTH, MS_ID_NULL, 0);
    growth.timed_pass = t->pass;
    return timed_fail(t, growth,
                      "the heap grew from %s to %s in %" PRIu32
                      " passes carried over, every block freed between them: it does not level "
                      "off, so there is no steady state to time (does the allocator reuse freed "
                      "memory?)",
                      was, now, t->pass);
}

uint32_t ms_replay_timed(const ms_trace *trace, const ms_allocator *alloc,
                         const ms_timed_options *options, double *pass_seconds,
                         ms_timed_result *result) {
    static const ms_timed_options one_pass = {.min_passes = 1, .max_passes = 1};
    if (options == NULL)
        options = &one_pass;
    assert(!options->leave_live || (options->scratch != NULL && options->max_passes == 1));
    memset(result, 0, sizeof *result);
    result->failure = engine_failure(MS_FAIL_NONE, MS_ID_NULL, 0);
    volatile uint64_t own_words[2] = {0, 0};
    volatile uint64_t *words = options->progress != NULL ? options->progress : own_words;
    timer t = {
        .trace = trace,
        .alloc = alloc,
        .result = result,
        .options = options,
        .op_word = &words[0],
        .pass_word = &words[1],
    };
    if (options->max_passes == 0)
        return timed_fail(&t, engine_failure(MS_FAIL_ENGINE, MS_ID_NULL, 0),
                          "max_passes is 0: no pass can run");
    char why[256];
    int bad_kind;
    uint64_t bad = first_bad_op(trace, alloc, &bad_kind, why, sizeof why);
    if (bad < trace->num_ops) {
        ms_failure failure = engine_failure(bad_kind, trace->ops[bad].id, 0);
        failure.op = bad;
        return timed_fail(&t, failure, "%s", why);
    }
    t.ptr = options->scratch != NULL
                ? options->scratch
                : calloc(trace->num_ids > 0 ? trace->num_ids : 1, sizeof *t.ptr);
    if (t.ptr == NULL)
        return timed_fail(&t, engine_failure(MS_FAIL_ENGINE, MS_ID_NULL, 0),
                          "out of memory for the bookkeeping of %" PRIu32 " ids", trace->num_ids);
    /* The system heap cannot be reset: its passes always run on the heap the last one left. */
    bool own_heap = alloc->dialect != MS_DIALECT_SYSTEM;
    bool fresh = own_heap && !options->carry_heap, carried = own_heap && options->carry_heap;
    bool ok = true;
    size_t warm_heap = 0;
    if (carried) { /* an untimed warm-up pass from mm_init: pass 0 */
        double seconds;
        *t.pass_word = 0;
        ok = start_heap(&t) && timed_pass(&t, false, &seconds);
        warm_heap = mem_heapsize();
    }
    uint32_t passes = 0, batch = 1;
    /* Until a pass, or a batch, lasts BATCH_SECONDS: those before are probes. Decided before any
       clock is read where batches are not allowed, so that a count (leave_live) is the same
       whatever the pass's time. */
    bool sizing = batches_allowed(options) && !carried;
    double total = 0;
    /* At least one pass, whatever the bounds say: 0 means failure. */
    while (ok && passes < options->max_passes &&
           (passes == 0 || passes < options->min_passes || total < options->min_seconds)) {
        double seconds = 0, span = 0;
        t.pass = passes + 1;
        ok = batch > 1 ? timed_batch(&t, fresh, batch, &seconds, &span)
                       : timed_pass(&t, fresh, &seconds);
        if (!ok)
            break;
        double elapsed = batch > 1 ? span : seconds; /* what the clock spanned */
        total += elapsed;
        if (sizing && elapsed < BATCH_SECONDS && batch < BATCH_MAX &&
            !carried_leftovers(&t, fresh)) {
            batch *= 2; /* a probe: its figure was as much the clock's as the passes' */
            continue;
        }
        sizing = false;
        pass_seconds[passes++] = seconds;
        ok = !carried || heap_bounded(&t, warm_heap);
    }
    result->pass_repeats = batch;
    if (t.ptr != options->scratch)
        free(t.ptr);
    result->passes = ok ? passes : 0;
    return result->passes;
}
