/*
 * labs/cmu-2015/memlib.h - the older 64-bit CMU 15-213 malloc lab's heap (the handouts of about
 * F13 to F15), for a student's unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handouts) to declare what their memlib.h declares
 * for the student, with the same types, over mallocsim's simulated heap (the project's memlib.h
 * has the contract). As in the CS:APP handout (the Fall 2015 copy read for this), mem_sbrk takes
 * an int: the name is mapped to mem_sbrk_int, which really takes one (see labs/csapp/memlib.h for
 * why an int cannot be passed where an intptr_t is expected) and refuses a negative incr. And
 * mem_deinit is mapped to mem_deinit_lab, which leaves the driver's heap mapped (see there).
 */
#ifndef MALLOCSIM_LABS_CMU_2015_MEMLIB_H
#define MALLOCSIM_LABS_CMU_2015_MEMLIB_H

#include <unistd.h>

#define mem_sbrk mem_sbrk_int
#define mem_deinit mem_deinit_lab

void mem_init(void);
void mem_deinit(void);
void *mem_sbrk(int incr);
void mem_reset_brk(void);
void *mem_heap_lo(void); /* the heap's first byte */
void *mem_heap_hi(void); /* the heap's last byte */
size_t mem_heapsize(void);
size_t mem_pagesize(void);

#endif /* MALLOCSIM_LABS_CMU_2015_MEMLIB_H */
