/*
 * memlib.h - the heap an allocator grows: an sbrk-style program break.
 *
 * Allocators get memory only through mem_sbrk; they may not call the system
 * malloc family, sbrk, brk or mmap. Two backends implement this header:
 *   memlib.c       the simulated heap: one region reserved up front (address
 *                  space only; pages are committed when first touched), with a
 *                  configurable limit, failure injection and a reset between runs;
 *   memlib_sbrk.c  the process's real program break, for the drop-in build.
 *
 * Guarantees of the simulated heap:
 *   - the heap is [mem_heap_lo(), mem_heap_hi()], contiguous, its start aligned
 *     to 4096 bytes; memory it hands out was zero when first handed out;
 *   - mem_sbrk(incr) returns the old break, or (void *)-1 with errno = ENOMEM
 *     when the break would pass the limit or an injected failure is due; a
 *     negative incr gives memory back (never below the heap's start);
 *   - mem_reset() puts the break back to the start, returns the pages to the
 *     system (so the next run sees zeroed memory) and clears the high-water
 *     mark; limits and failure injection are kept;
 *   - mem_rewind() does the same but keeps the pages: the next run finds them
 *     already mapped, holding whatever the last run left. Timed passes use it,
 *     so that they measure the allocator, not the kernel's page faults (a
 *     production allocator in a running process reuses warm pages too).
 */
#ifndef MALLOCSIM_MEMLIB_H
#define MALLOCSIM_MEMLIB_H

#include <stddef.h>
#include <stdint.h>

/* The CS:APP names. */
void mem_init(void);   /* reserve the region; idempotent */
void mem_deinit(void); /* release the region */
void *mem_sbrk(intptr_t incr);
void mem_reset_brk(void); /* the lab's name for mem_reset() */
void *mem_heap_lo(void);  /* first byte of the heap */
void *mem_heap_hi(void);  /* last byte of the heap (lo - 1 when empty) */
size_t mem_heapsize(void);
size_t mem_pagesize(void);

/* CMU handout helpers: plain memset/memcpy that a checker may rely on. */
void *mem_memset(void *ptr, int value, size_t n);
void *mem_memcpy(void *dst, const void *src, size_t n);

/* mallocsim extensions. */
void mem_reset(void);
void mem_rewind(void);
size_t mem_high_water(void);      /* largest heap size since the last reset */
void mem_set_limit(size_t bytes); /* largest heap size allowed (ENOMEM past it) */
size_t mem_limit(void);
void mem_fail_after(int64_t calls); /* after `calls` more successful calls every
                                       mem_sbrk fails; -1 = never (the default) */
uint64_t mem_sbrk_calls(void);      /* calls since the last reset */

#endif /* MALLOCSIM_MEMLIB_H */
