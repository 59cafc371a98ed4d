/*
 * memlib.c - the simulated heap: an sbrk-style break inside one region.
 *
 * The region is reserved once, as address space only (MAP_NORESERVE): a page
 * costs real memory only when something first touches it. That is what lets a
 * trace with tens of gigabytes of live payload replay on a smaller machine, as
 * long as the allocator and the checker touch little of it.
 *
 * See memlib.h for the contract. Not thread-safe: one replay at a time.
 */
#include "memlib.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Address space asked for up front; halved until the system grants it. */
static const size_t MEM_RESERVE_WANTED = (size_t)1 << 40; /* 1 TiB */
static const size_t MEM_RESERVE_LEAST = (size_t)1 << 26;  /* 64 MiB */

static char *heap_start;   /* first byte of the region, NULL before mem_init */
static size_t reserved;    /* bytes of address space reserved */
static size_t brk_offset;  /* current break, as an offset from heap_start */
static size_t high_water;  /* largest brk_offset since the last reset or rewind */
static size_t touched;     /* largest brk_offset before the last rewind, for mem_reset */
static size_t limit_bytes; /* largest heap allowed; 0 = the whole reservation */
static size_t cap;         /* the break's effective bound: limit within the reservation */
static int64_t fail_after = -1;
static uint64_t sbrk_calls;

static size_t effective_limit(void) {
    return (limit_bytes == 0 || limit_bytes > reserved) ? reserved : limit_bytes;
}

void mem_init(void) {
    if (heap_start != NULL)
        return;
    for (size_t size = MEM_RESERVE_WANTED; size >= MEM_RESERVE_LEAST; size /= 2) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            heap_start = p;
            reserved = size;
            cap = effective_limit();
            break;
        }
    }
    brk_offset = high_water = touched = 0;
    sbrk_calls = 0;
}

void mem_deinit(void) {
    if (heap_start == NULL)
        return;
    munmap(heap_start, reserved);
    heap_start = NULL;
    reserved = brk_offset = high_water = touched = cap = 0;
}

/* Every other case of mem_sbrk: before mem_init, shrinking, failing, injected failures. */
static void *sbrk_slow(intptr_t incr) {
    mem_init();
    if (heap_start == NULL || fail_after == 0) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = heap_start + brk_offset;
    if (incr >= 0) {
        if (brk_offset + (size_t)incr > cap) { /* brk_offset may exceed a lowered cap */
            errno = ENOMEM;
            return (void *)-1;
        }
        brk_offset += (size_t)incr;
    } else {
        size_t shrink = (size_t)0 - (size_t)incr;
        if (shrink > brk_offset) {
            errno = EINVAL;
            return (void *)-1;
        }
        brk_offset -= shrink;
    }
    if (fail_after > 0)
        fail_after--;
    sbrk_calls++;
    if (brk_offset > high_water)
        high_water = brk_offset;
    return old;
}

/*
 * The usual call, growth within the limit with no failure injected, is a few instructions: a
 * policy may call this on every malloc of a growing heap, and the timed passes count it. (cap is
 * 0 before mem_init, which sends the first call down the slow path.)
 */
void *mem_sbrk(intptr_t incr) {
    if (incr <= 0 || brk_offset + (size_t)incr > cap || fail_after >= 0)
        return sbrk_slow(incr);
    char *old = heap_start + brk_offset;
    brk_offset += (size_t)incr;
    sbrk_calls++;
    if (brk_offset > high_water)
        high_water = brk_offset;
    return old;
}

void mem_reset(void) {
    mem_init();
    if (high_water > touched)
        touched = high_water;
    if (heap_start != NULL && touched > 0) {
        /* Give the pages back: the next run starts on zeroed, uncommitted memory. */
        size_t page = mem_pagesize();
        size_t len = (touched + page - 1) / page * page;
        madvise(heap_start, len, MADV_DONTNEED);
    }
    brk_offset = high_water = touched = 0;
    sbrk_calls = 0;
}

void mem_rewind(void) {
    mem_init();
    if (high_water > touched) /* mem_reset must release what this run touched */
        touched = high_water;
    brk_offset = high_water = 0;
    sbrk_calls = 0;
}

void mem_reset_brk(void) { mem_reset(); }

void *mem_heap_lo(void) {
    mem_init();
    return heap_start;
}

void *mem_heap_hi(void) {
    mem_init();
    /* One before the break; the lab's definition, lo - 1 for an empty heap. */
    return (void *)((uintptr_t)heap_start + brk_offset - 1);
}

size_t mem_heapsize(void) { return brk_offset; }

size_t mem_pagesize(void) { return (size_t)sysconf(_SC_PAGESIZE); }

void *mem_memset(void *ptr, int value, size_t n) { return memset(ptr, value, n); }

void *mem_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }

size_t mem_high_water(void) { return high_water; }

void mem_set_limit(size_t bytes) {
    limit_bytes = bytes;
    cap = heap_start != NULL ? effective_limit() : 0;
}

size_t mem_limit(void) {
    mem_init();
    return cap;
}

void mem_fail_after(int64_t calls) { fail_after = calls < 0 ? -1 : calls; }

uint64_t mem_sbrk_calls(void) { return sbrk_calls; }
