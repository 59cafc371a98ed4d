/*
 * payload_pattern.c - the checker's payload patterns (payload_pattern.h): the public one, one add
 * per word in loops the compiler vectorizes, and the keyed one, AES rounds per 16 bytes.
 *
 * Filling and checking payloads is most of what a checked pass costs, so each mode has a tight
 * word loop; bytes off the 8-byte grid, and the byte a differing word holds, go one by one.
 * Words are 8-byte aligned offsets from the block's start, accessed with memcpy (no aliasing
 * games).
 */
#include "payload_pattern.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AES_ROUNDS 1
#define AES_TARGET __attribute__((target("aes,sse2")))
#else
#define HAVE_AES_ROUNDS 0
#define AES_TARGET
#endif

/* The public pattern: word w of block id holds seed(id) + w * STEP, so every word of a block
   differs from its neighbours and from the same word of other blocks. */
static const uint64_t PATTERN_STEP = 0x9e3779b97f4a7c15u;

static uint64_t public_seed(uint32_t id) {
    uint64_t x = (uint64_t)id + 1;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* One block's pattern. */
typedef struct {
    const pattern_key *key; /* NULL: the public pattern */
    uint32_t id;
    uint64_t seed; /* the public pattern's */
} block_pattern;

bool pattern_key_draw(pattern_key *key, const uint8_t *seed, char *why, size_t why_size) {
#if HAVE_AES_ROUNDS
    if (!__builtin_cpu_supports("aes")) {
        snprintf(why, why_size,
                 "this CPU has no AES instructions, which the secret payload "
                 "pattern is made with");
        return false;
    }
    unsigned char *bytes = (unsigned char *)key->round_keys;
    if (seed != NULL) {
        memcpy(bytes, seed, sizeof key->round_keys);
        return true;
    }
    size_t got = 0;
    while (got < sizeof key->round_keys) {
        ssize_t n = getrandom(bytes + got, sizeof key->round_keys - got, 0);
        if (n < 0 && errno != EINTR) {
            snprintf(why, why_size, "no randomness for the secret payload pattern: %s",
                     strerror(errno));
            return false;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    return true;
#else
    (void)key;
    (void)seed;
    snprintf(why, why_size, "the secret payload pattern needs x86-64's AES instructions");
    return false;
#endif
}

#if HAVE_AES_ROUNDS
/* Words 2 * index and 2 * index + 1 of block id, keyed. */
AES_TARGET static inline void keyed_pair(const pattern_key *key, uint32_t id, uint64_t index,
                                         uint64_t pair[2]) {
    __m128i x = _mm_set_epi64x((long long)index, (long long)id);
    x = _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)key->round_keys[0]));
    for (int r = 1; r <= PATTERN_ROUNDS; r++)
        x = _mm_aesenc_si128(x, _mm_loadu_si128((const __m128i *)key->round_keys[r]));
    _mm_storeu_si128((__m128i *)pair, x);
}

/* KEYED_LANES pairs at once: word pairs first, first + 1, ... into words[2 * lane + 0/1]. Each
   pair is a chain of PATTERN_ROUNDS dependent AES rounds, so one chain at a time waits out each
   round's latency; independent lanes fill the pipeline (realloc-bal's megabytes of payload took
   a third of a sandboxed grade's checked passes one pair at a time). */
enum { KEYED_LANES = 8 };

AES_TARGET static inline void keyed_lanes(const pattern_key *key, uint32_t id, uint64_t first,
                                          uint64_t words[2 * KEYED_LANES]) {
    __m128i x[KEYED_LANES];
    __m128i k = _mm_loadu_si128((const __m128i *)key->round_keys[0]);
#pragma GCC unroll 8
    for (int l = 0; l < KEYED_LANES; l++)
        x[l] = _mm_xor_si128(_mm_set_epi64x((long long)(first + (uint64_t)l), (long long)id), k);
    for (int r = 1; r <= PATTERN_ROUNDS; r++) {
        k = _mm_loadu_si128((const __m128i *)key->round_keys[r]);
#pragma GCC unroll 8
        for (int l = 0; l < KEYED_LANES; l++)
            x[l] = _mm_aesenc_si128(x[l], k);
    }
#pragma GCC unroll 8
    for (int l = 0; l < KEYED_LANES; l++)
        _mm_storeu_si128((__m128i *)&words[2 * l], x[l]);
}

/* The keyed word loop: fill, or check up to the first word that differs (its offset returned,
   else `end` rounded down to a word). Whole runs of KEYED_LANES pairs go lanes at a time; the
   word before the first pair boundary and the words after the last run, one pair at a time. */
AES_TARGET static uint64_t keyed_words(pattern_mode mode, unsigned char *p, uint64_t off,
                                       uint64_t end, const block_pattern *b) {
    const uint64_t run = 16 * KEYED_LANES;
    uint64_t pair[2];
    uint64_t have = UINT64_MAX; /* the index of the pair in `pair` */
    for (; off + 8 <= end; off += 8) {
        if (off % 16 == 0 && off + run <= end) {
            uint64_t words[2 * KEYED_LANES];
            keyed_lanes(b->key, b->id, off / 16, words);
            if (mode == PATTERN_FILL) {
                memcpy(p + off, words, run);
            } else if (memcmp(p + off, words, run) != 0) {
                for (uint64_t w = 0;; w++, off += 8) /* the first word that differs */
                    if (memcmp(p + off, &words[w], 8) != 0)
                        return off;
            }
            off += run - 8;
            continue;
        }
        uint64_t w = off / 8;
        if (w / 2 != have) {
            keyed_pair(b->key, b->id, w / 2, pair);
            have = w / 2;
        }
        if (mode == PATTERN_FILL) {
            memcpy(p + off, &pair[w % 2], 8);
        } else {
            uint64_t found;
            memcpy(&found, p + off, 8);
            if (found != pair[w % 2])
                break;
        }
    }
    return off;
}
#endif

static uint64_t pattern_word(const block_pattern *b, uint64_t w) {
#if HAVE_AES_ROUNDS
    if (b->key != NULL) {
        uint64_t pair[2];
        keyed_pair(b->key, b->id, w / 2, pair);
        return pair[w % 2];
    }
#endif
    return b->seed + w * PATTERN_STEP;
}

static bool byte_apply(pattern_mode mode, unsigned char *p, const block_pattern *b, uint64_t offset,
                       pattern_miss *miss) {
    unsigned char want = 0;
    if (mode == PATTERN_FILL || mode == PATTERN_CHECK) {
        uint64_t word = pattern_word(b, offset / 8);
        unsigned char bytes[8];
        memcpy(bytes, &word, 8);
        want = bytes[offset % 8];
    }
    if (mode == PATTERN_FILL || mode == PATTERN_CLEAR) {
        p[offset] = want;
        return true;
    }
    if (p[offset] == want)
        return true;
    *miss = (pattern_miss){offset, p[offset], want};
    return false;
}

/* The public pattern's word loops, one per mode so that each is a tight loop the compiler can
   vectorize. Each returns the offset of the first word that differs, or `end` rounded down to a
   word. */
static uint64_t words_fill(unsigned char *p, uint64_t off, uint64_t end, uint64_t word,
                           uint64_t step) {
    for (; off + 8 <= end; off += 8, word += step)
        memcpy(p + off, &word, 8);
    return off;
}

static uint64_t words_check(const unsigned char *p, uint64_t off, uint64_t end, uint64_t word,
                            uint64_t step) {
    for (; off + 8 <= end; off += 8, word += step) {
        uint64_t have;
        memcpy(&have, p + off, 8);
        if (have != word)
            break;
    }
    return off;
}

/* The word loop of `mode` over [off, end): the offset it stopped at. */
static uint64_t words_apply(pattern_mode mode, unsigned char *p, uint64_t off, uint64_t end,
                            const block_pattern *b) {
    if (mode == PATTERN_ZERO)
        return words_check(p, off, end, 0, 0);
    if (mode == PATTERN_CLEAR)
        return words_fill(p, off, end, 0, 0);
#if HAVE_AES_ROUNDS
    if (b->key != NULL)
        return keyed_words(mode, p, off, end, b);
#endif
    uint64_t word = b->seed + (off / 8) * PATTERN_STEP;
    return mode == PATTERN_FILL ? words_fill(p, off, end, word, PATTERN_STEP)
                                : words_check(p, off, end, word, PATTERN_STEP);
}

/* Apply mode to bytes [from, to) of the block at p. */
static bool range_apply(pattern_mode mode, unsigned char *p, const block_pattern *b, uint64_t from,
                        uint64_t to, pattern_miss *miss) {
    uint64_t off = from;
    for (; off < to && off % 8 != 0; off++)
        if (!byte_apply(mode, p, b, off, miss))
            return false;
    off = words_apply(mode, p, off, to, b);
    bool writes = mode == PATTERN_FILL || mode == PATTERN_CLEAR;
    if (!writes && off + 8 <= to) /* a word differs: find the byte, for the message */
        for (uint64_t at = off; at < off + 8; at++)
            if (!byte_apply(mode, p, b, at, miss))
                return false;
    for (; off < to; off++)
        if (!byte_apply(mode, p, b, off, miss))
            return false;
    return true;
}

/* range_apply on [lo, hi) clipped to [from, to). */
static bool clipped_apply(pattern_mode mode, unsigned char *p, const block_pattern *b, uint64_t lo,
                          uint64_t hi, uint64_t from, uint64_t to, pattern_miss *miss) {
    uint64_t a = lo > from ? lo : from, z = hi < to ? hi : to;
    return a >= z || range_apply(mode, p, b, a, z, miss);
}

/* The sample set depends on size only, so a fill and a later check of the same size visit the
   same bytes. */
bool pattern_apply(pattern_mode mode, const pattern_key *key, void *block, uint32_t id,
                   uint64_t size, uint64_t sample_above, uint64_t from, uint64_t to,
                   pattern_miss *miss) {
    unsigned char *p = block;
    block_pattern b = {key, id, key == NULL ? public_seed(id) : 0};
    if (size <= sample_above)
        return clipped_apply(mode, p, &b, 0, size, from, to, miss);
    if (!clipped_apply(mode, p, &b, 0, SAMPLE_EDGE, from, to, miss))
        return false;
    /* sample_above >= SAMPLE_FLOOR keeps the stride positive and the spread words clear of the
       last edge. */
    uint64_t stride = (size - 2 * SAMPLE_EDGE) / SAMPLE_WORDS / 8 * 8;
    for (uint64_t k = 0; k < SAMPLE_WORDS; k++) {
        uint64_t at = SAMPLE_EDGE + k * stride;
        if (!clipped_apply(mode, p, &b, at, at + 8, from, to, miss))
            return false;
    }
    return clipped_apply(mode, p, &b, size - SAMPLE_EDGE, size, from, to, miss);
}
