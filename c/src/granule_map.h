/*
 * granule_map.h - the replay engine's map of which 8-byte granules of our
 * heap hold live blocks, for overlap checks that cost O(1) per small block.
 *
 * A block goes in the map only when the lab's alignment is a multiple of
 * GM_GRANULE (every lab's is: 8 or 16), and the engine checks a block's
 * alignment first, so every mapped block starts on a granule: two blocks
 * overlap exactly when they share one. (With 16-byte granules, two 8-aligned
 * blocks of the CS:APP lab 8 bytes apart shared one without touching, and
 * were failed as overlapping.) One bit
 * per granule, plus a count of set bits per region of GM_REGION_BYTES, lets a
 * block claim its granules and a check find any set one in a few word
 * operations; a check over a huge range reads the counts, not the bits.
 * Both arrays are reserved as address space for the heap's whole limit and
 * committed only where touched, so a heap of tens of gigabytes costs little.
 *
 * Blocks larger than GM_MAX_BLOCK are not put in the map (the engine keeps
 * those few in its interval tree) but are checked against it. The map
 * answers "is anything here"; which block is there is the caller's to find.
 */
#ifndef MALLOCSIM_GRANULE_MAP_H
#define MALLOCSIM_GRANULE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_INTERNAL __attribute__((visibility("hidden")))

enum {
    GM_GRANULE = 8,                            /* bytes a bit stands for */
    GM_REGION_GRANULES = 4096,                 /* granules a count covers (32 KiB) */
    GM_REGION_WORDS = GM_REGION_GRANULES / 64, /* bit words a count covers */
    GM_MAX_BLOCK = 1 << 20                     /* larger blocks stay out of the map */
};

typedef struct {
    uintptr_t base;    /* the heap's first byte, GM_GRANULE-aligned */
    size_t granules;   /* granules the map covers */
    uint64_t *bits;    /* one bit per granule */
    uint16_t *counts;  /* set bits per region */
    size_t bits_bytes; /* reserved sizes, for gm_free */
    size_t counts_bytes;
} granule_map;

/* Reserve a map for the heap [base, base + bytes); false when out of address space. */
GM_INTERNAL bool gm_init(granule_map *map, uintptr_t base, size_t bytes);
GM_INTERNAL void gm_free(granule_map *map);
/* No granule of [p, p + size) is set; size > 0, the range inside the heap. */
GM_INTERNAL bool gm_is_clear(const granule_map *map, uintptr_t p, uint64_t size);
/* Set (claim) or clear (release) the granules of a block of at most GM_MAX_BLOCK bytes. */
GM_INTERNAL void gm_set(granule_map *map, uintptr_t p, uint64_t size);
GM_INTERNAL void gm_clear(granule_map *map, uintptr_t p, uint64_t size);

#endif /* MALLOCSIM_GRANULE_MAP_H */
