/*
 * labs/csapp/memlib.h - the CS:APP malloc lab's heap, for a student's unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handout) to declare what the classic handout's
 * memlib.h declares, over mallocsim's simulated heap (the project's memlib.h has the contract).
 *
 * The handout declares void *mem_sbrk(int incr). Our heap's mem_sbrk takes an intptr_t, and an
 * int cannot be passed where an intptr_t is expected: on x86-64 the upper half of the register
 * is unspecified. So the name is mapped, by an object-like macro (calls, a student's own
 * prototype "void *mem_sbrk(int incr);" and taking its address all follow), to mem_sbrk_int, an
 * exported function that really takes an int and, as the handout's memlib does, refuses a
 * negative incr ((void *)-1, errno ENOMEM).
 *
 * The handout's mem_deinit frees the heap its mem_init malloc'd, for a later mem_init to malloc
 * afresh, and some mm_init functions make themselves a new heap so (mem_deinit, mem_init,
 * mem_reset_brk: 11/11 under the driver). Here the heap is the driver's, mapped once (a
 * sandboxed allocator may map nothing), so mem_deinit is mapped to mem_deinit_lab, which leaves
 * it mapped: the mem_init that follows finds it, and mem_reset_brk empties it.
 */
#ifndef MALLOCSIM_LABS_CSAPP_MEMLIB_H
#define MALLOCSIM_LABS_CSAPP_MEMLIB_H

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

#endif /* MALLOCSIM_LABS_CSAPP_MEMLIB_H */
