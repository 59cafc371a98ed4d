/*
 * granule_map.c - one bit per 8-byte granule of our heap, with per-region
 * counts: see granule_map.h for what it is for and what it guarantees.
 */
#include "granule_map.h"

#include <sys/mman.h>

static void *reserve(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

bool gm_init(granule_map *map, uintptr_t base, size_t bytes) {
    size_t granules = bytes / GM_GRANULE + 1;
    size_t regions = granules / GM_REGION_GRANULES + 1;
    *map = (granule_map){
        .base = base,
        .granules = granules,
        .bits_bytes = regions * GM_REGION_WORDS * sizeof(uint64_t),
        .counts_bytes = regions * sizeof(uint16_t),
    };
    map->bits = reserve(map->bits_bytes);
    map->counts = reserve(map->counts_bytes);
    if (map->bits == NULL || map->counts == NULL) {
        gm_free(map);
        return false;
    }
    return true;
}

void gm_free(granule_map *map) {
    if (map->bits != NULL)
        munmap(map->bits, map->bits_bytes);
    if (map->counts != NULL)
        munmap(map->counts, map->counts_bytes);
    map->bits = NULL;
    map->counts = NULL;
}

/* The granules [first, end) a byte range covers. */
static void granules_of(const granule_map *map, uintptr_t p, uint64_t size, size_t *first,
                        size_t *end) {
    uintptr_t offset = p - map->base;
    *first = offset / GM_GRANULE;
    *end = (offset + size + GM_GRANULE - 1) / GM_GRANULE;
}

/* The bits of word w that fall in [first, end). */
static uint64_t word_mask(size_t w, size_t first, size_t end) {
    size_t lo = w * 64 > first ? 0 : first - w * 64;
    size_t hi = (w + 1) * 64 < end ? 64 : end - w * 64;
    uint64_t below_hi = hi == 64 ? ~(uint64_t)0 : ((uint64_t)1 << hi) - 1;
    return below_hi & ~(((uint64_t)1 << lo) - 1);
}

/* No bit of [first, end) is set, reading the bit words. */
static bool bits_clear(const granule_map *map, size_t first, size_t end) {
    for (size_t w = first / 64; w * 64 < end; w++)
        if (map->bits[w] & word_mask(w, first, end))
            return false;
    return true;
}

bool gm_is_clear(const granule_map *map, uintptr_t p, uint64_t size) {
    size_t first, end;
    granules_of(map, p, size, &first, &end);
    /* Whole regions inside the range are read by their counts: a huge block
       is checked in one read per 32 KiB of heap, touching no bit pages. */
    size_t r_first = (first + GM_REGION_GRANULES - 1) / GM_REGION_GRANULES;
    size_t r_end = end / GM_REGION_GRANULES;
    if (r_first >= r_end)
        return bits_clear(map, first, end);
    for (size_t r = r_first; r < r_end; r++)
        if (map->counts[r] != 0)
            return false;
    return bits_clear(map, first, r_first * GM_REGION_GRANULES) &&
           bits_clear(map, r_end * GM_REGION_GRANULES, end);
}

/* Set or clear the bits of [first, end), keeping the regions' counts. */
static void apply(granule_map *map, uintptr_t p, uint64_t size, bool set) {
    size_t first, end;
    granules_of(map, p, size, &first, &end);
    for (size_t w = first / 64; w * 64 < end; w++) {
        uint64_t mask = word_mask(w, first, end);
        uint16_t n = (uint16_t)__builtin_popcountll(mask);
        uint16_t *count = &map->counts[w / GM_REGION_WORDS];
        if (set) {
            map->bits[w] |= mask;
            *count = (uint16_t)(*count + n);
        } else {
            map->bits[w] &= ~mask;
            *count = (uint16_t)(*count - n);
        }
    }
}

void gm_set(granule_map *map, uintptr_t p, uint64_t size) { apply(map, p, size, true); }

void gm_clear(granule_map *map, uintptr_t p, uint64_t size) { apply(map, p, size, false); }
