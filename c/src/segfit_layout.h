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
 * FIT_SCAN default: 8 - free blocks examined per class list for the best fit. Past a handful the
 * fit barely improves on the traces while the search grows linear.
 */
#ifndef FIT_SCAN
#define FIT_SCAN 8
#endif

/*
 * SMALL_MAX default: 192 - requests up to this many bytes may live in runs (header-free slots).
 * Up to 192 the saved header pays (syn-string 84.8% at 128, 85.6% at 192); at 256 the gaps that
 * 4 KiB-aligned runs of big slots leave between them, too small for the blocks that remain,
 * cost more than the headers saved (83.2%).
 */
#ifndef SMALL_MAX
#define SMALL_MAX ((size_t)192)
#endif

/*
 * RUN_SHIFT default: 12 - a run spans 4 KiB, aligned to that. Bigger runs waste less at their
 * tail (36 slots of 112 bytes in 4 KiB, but only 8 in 1 KiB) and are made less often; smaller
 * ones leave less idle in a class's last, partly filled run.
 */
#ifndef RUN_SHIFT
#define RUN_SHIFT 12
#endif

/*
 * RUN_PROMOTE default: 16 - live objects a class needs before it gets a run. Below it, a few
 * small objects stay ordinary blocks rather than pin a 4 KiB run each.
 */
#ifndef RUN_PROMOTE
#define RUN_PROMOTE 16
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

#define RUN_SIZE ((size_t)1 << RUN_SHIFT)
#define RUN_HEADER ((size_t)32)        /* sizeof(run_t), rounded to the slot alignment */
#define SMALL_CLASSES (SMALL_MAX / 16) /* class k holds slots of 16 * k bytes, k = 1.. */

/* In the header of an allocated block that holds a run (the size bits leave bit 2 free). */
#define RUN_BIT ((word_t)0x4)

/* A run's header, at a RUN_SIZE-aligned address; its slots follow at RUN_HEADER. */
typedef struct run {
    uint32_t next, prev; /* units of the neighbours in the class's partial list, 0 = none */
    void *free_slots;    /* freed slots, linked through their first word */
    uint16_t slot_size;  /* bytes, 16 * class */
    uint16_t capacity;   /* slots that fit: run_capacity(slot_size) */
    uint16_t used;       /* slots handed out and not freed; never 0 (empty runs are released) */
    uint16_t fresh;      /* slots [fresh, capacity) were never handed out */
    uint16_t front_pad;  /* 0 or 16: bytes between the run block's header and the run's word */
} run_t;

_Static_assert(sizeof(run_t) <= RUN_HEADER, "run header outgrew RUN_HEADER");

/* Slots of slot_size bytes that fit between the run's header and the block's end. */
static inline size_t run_capacity(size_t slot_size) {
    return (RUN_SIZE - WORD_SIZE - RUN_HEADER) / slot_size;
}

#endif /* MALLOCSIM_SEGFIT_LAYOUT_H */
