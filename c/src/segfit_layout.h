/*
 * segfit_layout.h - segfit's tunables and the layout of its free blocks and runs.
 *
 * Shared by segfit.c and its corruption test, which breaks these structures on purpose. The
 * design they serve is described at the top of segfit.c. Every tunable is listed once here, as
 * NAME default: value - why; each may be overridden with -DNAME=value for experiments.
 */
#ifndef MALLOCSIM_SEGFIT_LAYOUT_H
#define MALLOCSIM_SEGFIT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"

/* ------------------------------------------------------------------ tunables */

/*
 * FIT_SCAN default: 4 - free blocks examined per class list for the best fit. Each one is a
 * cache miss on a big heap, and past a few the traces' utilization moves only by noise: the
 * classic average is 97.9% from 3 up to an exhaustive scan, while syn-mix wanders between
 * 92.9% and 93.4%; 1 loses 1-2 points on syn-array and random.
 */
#ifndef FIT_SCAN
#define FIT_SCAN 4
#endif

/*
 * SMALL_MAX default: 192 - requests up to this many bytes may live in runs (header-free slots).
 * Up to 192 the saved header pays (syn-string 84.8% at 128). Past it utilization falls where the
 * syn-* targets do not allow it, for speed (more of the ops are slots): at 256 syn-string 85.8% ->
 * 84.9% (12% faster), syn-struct 87.9% -> 87.0%, syn-mix 93.4% -> 92.9%, gcc-compile 97.3% ->
 * 97.0%; 320, 384 and 512 no better (`mallocsim compare --dialect cmu` of builds with
 * -DSMALL_MAX=N over the classic, CMU and bundled traces, 2026-12-07).
 */
#ifndef SMALL_MAX
#define SMALL_MAX ((size_t)192)
#endif

/*
 * RUN_SIZE default: 4096 - the most bytes a run's block takes, and UNIT_SIZE default: 1024 -
 * a little less than the fewest. A class's runs grow with it: each new run takes about a
 * RUN_LIVE_SHARE of the class's live objects, within those bounds. Big runs suit big classes
 * (binary2: 95.7% with runs up to 4 KiB, 88.0% up to 2 KiB, 93.7% up to 8 KiB); small ones suit
 * small heaps, where a class's last, partly filled run is a large share of the heap (a
 * generated 20000-op string trace: 79% with every run 4 KiB, 89% with runs sized by share).
 */
#ifndef RUN_SIZE
#define RUN_SIZE ((size_t)4096)
#endif
#ifndef UNIT_SIZE
#define UNIT_SIZE ((size_t)1024)
#endif

/*
 * RUN_LIVE_SHARE default: 8 - a new run holds about 1/8 of its class's live objects: small
 * enough that a class's last run is a small share of it, big enough that runs soon reach
 * RUN_SIZE in big classes (2 and 4 do as well on the reference traces, worse on small heaps).
 */
#ifndef RUN_LIVE_SHARE
#define RUN_LIVE_SHARE 8
#endif

/*
 * RUN_PROMOTE default: 8 - live objects a class needs before it gets a run. Below it, a few
 * small objects stay ordinary blocks rather than pin a 4 KiB run each (realloc2's one or two
 * 16-byte objects); 8 rather than 16 or 32 moves hot classes into runs sooner (syn-struct +0.5).
 */
#ifndef RUN_PROMOTE
#define RUN_PROMOTE 8
#endif

/* ------------------------------------------------------------------ free blocks */

/* MIN_BLOCK: a free block holds its header, two list links and its footer. */
#define MIN_BLOCK ((size_t)32)

/* The links of a free block, in its payload. */
typedef struct free_links {
    struct block *next;
    struct block *prev;
} free_links_t;

/* ------------------------------------------------------------------ runs */

#define RUN_HEADER ((size_t)32)        /* sizeof(run_t), rounded to the slot alignment */
#define SMALL_CLASSES (SMALL_MAX / 16) /* class k holds slots of 16 * k bytes, k = 1.. */

/*
 * The run map has one byte per unit of UNIT_SIZE heap bytes, enough to find the run holding a
 * slot with a read or two and no search:
 *   0                   no run starts in the unit or reaches into it;
 *   1 .. UNIT_SIZE/16   1 + (offset in the unit of the run starting in it) / 16; a run from an
 *                       earlier unit may reach into it too, and the entry of the unit before
 *                       names that run;
 *   MAP_COVERED | n     no run starts in the unit; the run starting n units back reaches into it.
 * Runs are longer than a unit, so at most one starts in each, and at most RUN_SIZE bytes long, so
 * n is at most RUN_SIZE / UNIT_SIZE.
 */
typedef uint8_t map_entry_t;
#define MAP_COVERED 0x80u
#define UNIT_SHIFT (__builtin_ctzll(UNIT_SIZE))
_Static_assert((UNIT_SIZE & (UNIT_SIZE - 1)) == 0 && UNIT_SIZE / 16 < MAP_COVERED &&
                   RUN_SIZE / UNIT_SIZE < MAP_COVERED,
               "a unit must be a power of two, its offsets / 16 and a run's units below the flag");
_Static_assert(SMALL_MAX % 16 == 0 && UNIT_SIZE + SMALL_MAX <= RUN_SIZE,
               "the shortest run must be longer than a unit and no longer than RUN_SIZE");

/* In the header of an allocated block that holds a run (the size bits leave bit 2 free). */
#define RUN_BIT ((word_t)0x4)

/* A run's header, the payload of its block; its slots follow at RUN_HEADER. */
typedef struct run {
    struct run *next;   /* the next run in the class's partial list, or NULL */
    struct run *prev;   /* the one before; meaningless in the list's first run */
    void *free_slots;   /* every slot not handed out, linked through its first word: the freed
                           ones (last freed first), then the never-used ones in address order */
    uint16_t slot_size; /* bytes, 16 * class */
    uint16_t capacity;  /* slots, within run_capacity_min/max(slot_size) */
    uint16_t used;      /* slots handed out and not freed; never 0 (empty runs are released) */
    uint16_t span;      /* RUN_HEADER + capacity * slot_size: where the last slot ends */
} run_t;

_Static_assert(sizeof(run_t) <= RUN_HEADER, "run header outgrew RUN_HEADER");

/* A run block: its header word, the run_t, the slots, and the word before the next header. */
static inline size_t run_block_size(size_t slot_size, size_t capacity) {
    return 2 * WORD_SIZE + RUN_HEADER + capacity * slot_size;
}

/* The most slots of slot_size bytes a run holds: its block stays within RUN_SIZE. */
static inline size_t run_capacity_max(size_t slot_size) {
    return (RUN_SIZE - run_block_size(slot_size, 0)) / slot_size;
}

/* The fewest: its block is longer than a unit. */
static inline size_t run_capacity_min(size_t slot_size) {
    return (UNIT_SIZE + 16 - run_block_size(slot_size, 0) + slot_size - 1) / slot_size;
}

#endif /* MALLOCSIM_SEGFIT_LAYOUT_H */
