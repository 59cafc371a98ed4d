/*
 * payload_pattern.h - what the checker writes into every live payload and later verifies.
 *
 * A block's payload gets bytes that depend on its trace id and the byte's offset, so that an
 * allocator writing into a live block (its metadata, another block's data) is caught when the
 * block is read back at its free or realloc. Two patterns:
 *   - public (a NULL key): word w of block id is seed(id) + w * STEP, one add per word. It is the
 *     same on every run, so failure messages are too; fine for allocators we trust;
 *   - keyed (pattern_key_draw): each 16 bytes are PATTERN_ROUNDS rounds of AES over (id, index)
 *     with round keys this process draws from the kernel, each its own. An allocator in another
 *     process (the sandboxed agent) cannot work bytes it has not seen out from those it has, so
 *     it cannot keep data in a live payload and write the pattern back before the grader reads
 *     it, as the public pattern allows (it follows from a block's first word). Four rounds with
 *     independent keys are far from the known-plaintext attacks on reduced AES; filling and
 *     checking costs twice the public pattern's (0.54-0.61 against 0.28-0.29 ns a byte over
 *     64 MiB, 3 runs; six rounds took 0.67, AES instructions being the bound).
 * Payloads above a sampling threshold are written and verified only at their first and last
 * SAMPLE_EDGE bytes and at SAMPLE_WORDS words spread between (which depend on the size only).
 */
#ifndef MALLOCSIM_PAYLOAD_PATTERN_H
#define MALLOCSIM_PAYLOAD_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SAMPLE_EDGE = 4096,       /* bytes checked at each end of a sampled payload */
    SAMPLE_WORDS = 256,       /* words checked between the two ends */
    SAMPLE_FLOOR = 64 * 1024, /* the lowest sampling threshold: sampling below would save nothing */
    PATTERN_ROUNDS = 4,       /* AES rounds of the keyed pattern (see the banner) */
};

typedef enum {
    PATTERN_FILL,  /* write the pattern */
    PATTERN_CHECK, /* compare with the pattern */
    PATTERN_ZERO,  /* compare with zero */
    PATTERN_CLEAR  /* write zeros */
} pattern_mode;

typedef struct {
    uint64_t offset;        /* first byte that differs */
    unsigned char found;    /* its value */
    unsigned char expected; /* what it should have been */
} pattern_miss;

/* The keyed pattern's round keys. */
typedef struct {
    uint64_t round_keys[PATTERN_ROUNDS + 1][2];
} pattern_key;

/* Draw fresh round keys from the kernel, or, with seed not NULL, take its sizeof(pattern_key)
   bytes; false with why[] filled when it cannot (no AES instructions on this CPU, no
   randomness). */
bool pattern_key_draw(pattern_key *key, const uint8_t *seed, char *why, size_t why_size);

/* Apply mode to the bytes of a `size`-byte block of `id` at block that the pattern covers (all
   of them, or the sample set when size > sample_above, which must be at least SAMPLE_FLOOR),
   limited to offsets [from, to); `key` NULL for the public pattern (PATTERN_ZERO and PATTERN_CLEAR
   ignore it). False with *miss filled at the first byte that differs (PATTERN_CHECK,
   PATTERN_ZERO). */
bool pattern_apply(pattern_mode mode, const pattern_key *key, void *block, uint32_t id,
                   uint64_t size, uint64_t sample_above, uint64_t from, uint64_t to,
                   pattern_miss *miss);

#endif /* MALLOCSIM_PAYLOAD_PATTERN_H */
