/*
 * labs/cmu-2015/memlib.h - the older 64-bit CMU 15-213 malloc lab's heap (the handouts of about
 * F13 to S15), for a student's unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handouts) to declare what their memlib.h declares
 * for the student, with the same types, over mallocsim's simulated heap (the project's memlib.h
 * has the contract). Unlike the CS:APP handout's, their mem_sbrk takes an intptr_t.
 */
#ifndef MALLOCSIM_LABS_CMU_2015_MEMLIB_H
#define MALLOCSIM_LABS_CMU_2015_MEMLIB_H

#include <stdint.h>
#include <unistd.h>

void *mem_sbrk(intptr_t incr);
void mem_reset_brk(void);
void *mem_heap_lo(void); /* the heap's first byte */
void *mem_heap_hi(void); /* the heap's last byte */
size_t mem_heapsize(void);
size_t mem_pagesize(void);

#endif /* MALLOCSIM_LABS_CMU_2015_MEMLIB_H */
