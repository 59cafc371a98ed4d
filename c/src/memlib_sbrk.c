/*
 * memlib_sbrk.c - memlib.h over the process's real program break.
 *
 * The drop-in build (libmallocsim.so) links a policy with this file instead of
 * the simulated heap, so mem_sbrk really moves the break with sbrk(2).
 *
 * Guarantees, beyond memlib.h's:
 *   - the heap starts at the first page boundary at or after the break found
 *     at the first call, and stays one contiguous range [lo, hi];
 *   - contiguity is what every policy relies on, so when something else in
 *     the process moved the break since our last call (a foreign sbrk or
 *     brk), mem_sbrk refuses with ENOMEM instead of handing out a disjoint
 *     range; the shim then falls back to mmap;
 *   - the heap never shrinks below its start, and mem_reset only moves the
 *     break back (pages past the break are given back by the kernel).
 * Not thread-safe by itself: the drop-in shim calls it under its one lock.
 */
#include "memlib.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static char *heap_start; /* first byte of our heap; NULL before mem_init */
static char *heap_brk;   /* our idea of the current break */
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
    heap_start = heap_brk = brk_now + pad;
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

void *mem_sbrk(intptr_t incr) {
    mem_init();
    if (heap_start == NULL || fail_after == 0)
        return refuse(ENOMEM);
    if ((char *)sbrk(0) != heap_brk)
        return refuse(ENOMEM); /* someone else moved the break */
    size_t used = (size_t)(heap_brk - heap_start);
    if (incr >= 0) {
        if (limit_bytes != 0 && (size_t)incr > limit_bytes - used)
            return refuse(ENOMEM);
    } else if ((size_t)0 - (size_t)incr > used) {
        return refuse(EINVAL);
    }
    char *old = sbrk(incr);
    if ((void *)old == SBRK_FAILED)
        return refuse(ENOMEM);
    heap_brk = old + incr;
    if (fail_after > 0)
        fail_after--;
    sbrk_calls++;
    if ((size_t)(heap_brk - heap_start) > high_water)
        high_water = (size_t)(heap_brk - heap_start);
    return old;
}

void mem_reset(void) {
    if (heap_start != NULL && heap_brk != heap_start && (char *)sbrk(0) == heap_brk &&
        sbrk(heap_start - heap_brk) != SBRK_FAILED)
        heap_brk = heap_start;
    high_water = (size_t)(heap_brk - heap_start);
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

size_t mem_pagesize(void) { return (size_t)sysconf(_SC_PAGESIZE); }

void *mem_memset(void *ptr, int value, size_t n) { return memset(ptr, value, n); }

void *mem_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }

size_t mem_high_water(void) { return high_water; }

void mem_set_limit(size_t bytes) { limit_bytes = bytes; }

size_t mem_limit(void) { return limit_bytes == 0 ? SIZE_MAX : limit_bytes; }

void mem_fail_after(int64_t calls) { fail_after = calls < 0 ? -1 : calls; }

uint64_t mem_sbrk_calls(void) { return sbrk_calls; }
