/*
 * memlib_sbrk.c - memlib.h over the process's real program break.
 *
 * The drop-in build (libmallocsim.so) links a policy with this file instead of
 * the simulated heap, so the heap is really the process's break, grown with
 * sbrk(2).
 *
 * Two breaks: the heap's (what mem_sbrk reports to the policy, moved by
 * exactly what it asks) and the process's, which we move in steps of at
 * least GROW_STEP. Policies often grow the heap by just what is missing; one
 * system call per step instead of one per call is what makes that cheap.
 * Pages between the two breaks cost nothing until they are touched.
 *
 * Guarantees, beyond memlib.h's:
 *   - the heap starts at the first page boundary at or after the break found
 *     at the first call, and stays one contiguous range [lo, hi];
 *   - contiguity is what every policy relies on, so when the process's break
 *     must move and something else moved it since we last did (a foreign
 *     sbrk or brk), mem_sbrk refuses with ENOMEM instead of handing out a
 *     disjoint range; the shim then falls back to mmap;
 *   - the heap never shrinks below its start; shrinking moves only the
 *     heap's break (the memory stays ours, and is not zero when regrown);
 *     mem_reset moves the process's break back too, when it is still ours.
 * Not thread-safe by itself: the drop-in shim calls it under its one lock.
 */
#include "memlib.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* The process's break moves by at least this much at a time. */
static const size_t GROW_STEP = 256 * 1024;

static char *heap_start; /* first byte of our heap; NULL before mem_init */
static char *heap_brk;   /* the heap's break, as the policy sees it */
static char *real_brk;   /* the process's break, as we last left it */
static size_t high_water;
static size_t limit_bytes; /* largest heap allowed; 0 = whatever sbrk grants */
static int64_t fail_after = -1;
static uint64_t sbrk_calls;

/* sbrk's failure value, named once. */
static void *const SBRK_FAILED = (void *)-1;

void mem_init(void) {
    if (heap_start != NULL)
        return;
    char *brk_now = sbrk(0);
    if ((void *)brk_now == SBRK_FAILED)
        return;
    /* Start on a page boundary, as the simulated heap does. */
    size_t page = mem_pagesize();
    size_t pad = (page - (uintptr_t)brk_now % page) % page;
    if (pad > 0 && sbrk((intptr_t)pad) == SBRK_FAILED)
        return;
    heap_start = heap_brk = real_brk = brk_now + pad;
    high_water = 0;
    sbrk_calls = 0;
}

void mem_deinit(void) {
    /* The break belongs to the process; there is nothing to release but
       what we grew, and mem_reset gives that back. */
    mem_reset();
}

static void *refuse(int error) {
    errno = error;
    return SBRK_FAILED;
}

/* Move the process's break so that `need` more bytes lie past the heap's;
   false when it cannot (or is no longer ours to move). */
static bool grow_real_break(size_t need) {
    if ((char *)sbrk(0) != real_brk)
        return false; /* someone else moved the break */
    size_t page = mem_pagesize();
    size_t exact = (need + page - 1) / page * page;
    size_t step = exact > GROW_STEP ? exact : GROW_STEP;
    if (exact < need || step > (size_t)INTPTR_MAX)
        return false;
    if (sbrk((intptr_t)step) == SBRK_FAILED) {
        if (step == exact || sbrk((intptr_t)exact) == SBRK_FAILED)
            return false;
        step = exact;
    }
    real_brk += step;
    return true;
}

void *mem_sbrk(intptr_t incr) {
    mem_init();
    if (heap_start == NULL || fail_after == 0)
        return refuse(ENOMEM);
    size_t used = (size_t)(heap_brk - heap_start);
    if (incr >= 0) {
        size_t slack = (size_t)(real_brk - heap_brk);
        if (limit_bytes != 0 && (size_t)incr > limit_bytes - used)
            return refuse(ENOMEM);
        if ((size_t)incr > slack && !grow_real_break((size_t)incr - slack))
            return refuse(ENOMEM);
    } else if ((size_t)0 - (size_t)incr > used) {
        return refuse(EINVAL);
    }
    char *old = heap_brk;
    heap_brk += incr;
    if (fail_after > 0)
        fail_after--;
    sbrk_calls++;
    if ((size_t)(heap_brk - heap_start) > high_water)
        high_water = (size_t)(heap_brk - heap_start);
    return old;
}

void mem_reset(void) {
    if (heap_start != NULL && real_brk != heap_start && (char *)sbrk(0) == real_brk &&
        sbrk(heap_start - real_brk) != SBRK_FAILED)
        real_brk = heap_start;
    heap_brk = heap_start;
    high_water = 0;
    sbrk_calls = 0;
}

void mem_reset_brk(void) { mem_reset(); }

void *mem_heap_lo(void) {
    mem_init();
    return heap_start;
}

void *mem_heap_hi(void) {
    mem_init();
    return (void *)((uintptr_t)heap_brk - 1);
}

size_t mem_heapsize(void) { return (size_t)(heap_brk - heap_start); }

size_t mem_pagesize(void) {
    /* Asked on every heap growth: sysconf is not free. Relaxed is enough,
       every thread computes the same value. */
    static _Atomic size_t page;
    size_t known = atomic_load_explicit(&page, memory_order_relaxed);
    if (known == 0) {
        known = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&page, known, memory_order_relaxed);
    }
    return known;
}

void *mem_memset(void *ptr, int value, size_t n) { return memset(ptr, value, n); }

void *mem_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }

size_t mem_high_water(void) { return high_water; }

void mem_set_limit(size_t bytes) { limit_bytes = bytes; }

size_t mem_limit(void) { return limit_bytes == 0 ? SIZE_MAX : limit_bytes; }

void mem_fail_after(int64_t calls) { fail_after = calls < 0 ? -1 : calls; }

uint64_t mem_sbrk_calls(void) { return sbrk_calls; }
