/*
 * fuzz_policy.c - libFuzzer harness: arbitrary op sequences against one policy.
 *
 * Built once per policy (-DPOLICY_NAME) with clang -fsanitize=fuzzer,address,
 * undefined, linked with the policy, the heap and the replay engine. The input
 * bytes choose the policy's option and a sequence of malloc, calloc, realloc
 * (bigger, smaller, to 0) and free over a few ids; the sequence is replayed by
 * the engine's checked pass with mm_checkheap after every op, so every check
 * the driver makes (alignment, bounds, overlap, payload bytes, realloc copies,
 * calloc zeroes, the policy's own invariants) is what the fuzzer hunts with.
 * Any failure aborts with the engine's one-line diagnosis.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mallocsim.h"
#include "memlib.h"
#include "mm.h"
#include "policy_options.h"

#ifndef POLICY_NAME
#error "build with -DPOLICY_NAME='\"<policy>\"'"
#endif

enum { FUZZ_IDS = 32, FUZZ_MAX_OPS = 4096, FUZZ_HEAP_LIMIT = 64 << 20 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The policy's functions as the engine calls them, the way allocator.c
   stores a CMU-dialect library's: mm_init as an object pointer (the POSIX
   dlsym idiom) and mm_checkheap through the generic function pointer type. */
static ms_allocator policy_table(void) {
    ms_allocator a = {0};
    a.dialect = MS_DIALECT_CMU;
    bool (*init)(void) = mm_init;
    memcpy(&a.init, &init, sizeof a.init);
    a.malloc = mm_malloc;
    a.free = mm_free;
    a.realloc = mm_realloc;
    a.calloc = mm_calloc;
    a.checkheap = (int (*)(int))(void (*)(void))mm_checkheap;
    a.checkheap_message = mm_checkheap_message;
    return a;
}

/* Sizes from two input bytes: mostly small, sometimes up to ~64 KiB. */
static uint64_t size_from(uint8_t kind, uint8_t bits) {
    switch (kind & 3) {
    case 0:
        return bits & 31;
    case 1:
        return bits;
    case 2:
        return (uint64_t)bits << 4;
    default:
        return (uint64_t)bits << 8;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ms_op ops[FUZZ_MAX_OPS];
    if (size < 1)
        return 0;
    const char *const *options = options_of(POLICY_NAME);
    size_t count = 0;
    while (options[count] != NULL)
        count++;
    const char *option = options[data[0] % count];

    /* Three bytes an op; keep the sequence legal (free only live ids). */
    bool live[FUZZ_IDS] = {false};
    uint64_t n = 0;
    for (size_t i = 1; i + 2 < size && n < FUZZ_MAX_OPS; i += 3) {
        uint32_t id = data[i] % FUZZ_IDS;
        uint8_t what = data[i] / FUZZ_IDS; /* 0..7 */
        ms_op op = {.size = size_from(what, data[i + 1] ^ data[i + 2]), .id = id};
        if (!live[id]) {
            op.kind = (what & 4) ? MS_OP_CALLOC : MS_OP_ALLOC;
            if (op.kind == MS_OP_CALLOC) {
                op.count = 1 + data[i + 2] % 8;
                op.size = data[i + 1] % 64;
            }
            live[id] = true;
        } else if (what < 3) {
            op.kind = MS_OP_FREE;
            live[id] = false;
        } else {
            op.kind = MS_OP_REALLOC;
            if (what == 3)
                op.size = 0; /* realloc(p, 0) frees */
            live[id] = op.size != 0;
        }
        ops[n++] = op;
    }

    const char *refused = mm_configure(option);
    if (refused != NULL) {
        fprintf(stderr, "%s: option \"%s\" refused: %s\n", POLICY_NAME, option, refused);
        abort();
    }
    mem_set_limit(FUZZ_HEAP_LIMIT);
    ms_allocator alloc = policy_table();

    ms_trace trace = {.ops = ops, .num_ops = n, .num_ids = FUZZ_IDS};
    ms_check_options check_options = {.check_heap = true};
    ms_check_result result;
    if (!ms_replay_checked(&trace, &alloc, &check_options, &result)) {
        fprintf(stderr, "%s:%s: %s\n", POLICY_NAME, option, result.error);
        abort();
    }
    return 0;
}
