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
static size_t high_water;  /* largest brk_offset since the last reset */
static size_t touched;     /* largest brk_offset ever, for mem_reset's release */
static size_t limit_bytes; /* largest heap allowed; 0 = the whole reservation */
static int64_t fail_after = -1;
static uint64_t sbrk_calls;

void mem_init(void) {
    if (heap_start != NULL)
        return;
    for (size_t size = MEM_RESERVE_WANTED; size >= MEM_RESERVE_LEAST; size /= 2) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            heap_start = p;
            reserved = size;
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
    reserved = brk_offset = high_water = touched = 0;
}

static size_t effective_limit(void) {
    return (limit_bytes == 0 || limit_bytes > reserved) ? reserved : limit_bytes;
}

void *mem_sbrk(intptr_t incr) {
    mem_init();
    if (heap_start == NULL) {
        errno = ENOMEM;
        return (void *)-1;
    }
    if (fail_after == 0) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = heap_start + brk_offset;
    if (incr >= 0) {
        if ((size_t)incr > effective_limit() - brk_offset) {
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
    if (brk_offset > touched)
        touched = brk_offset;
    return old;
}

void mem_reset(void) {
    mem_init();
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

void mem_set_limit(size_t bytes) { limit_bytes = bytes; }

size_t mem_limit(void) {
    mem_init();
    return effective_limit();
}

void mem_fail_after(int64_t calls) { fail_after = calls < 0 ? -1 : calls; }

uint64_t mem_sbrk_calls(void) { return sbrk_calls; }
