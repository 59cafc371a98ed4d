/*
 * labs/cmu/mm.h - the CMU 15-213 malloc lab's allocator interface (the F20 handout), for a
 * student's unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handout) to declare what that handout's mm.h
 * declares, with the same types: bool mm_init(void) (true on success), and the student's
 * malloc, free, realloc and calloc. The driver compiles mm.c with -DDRIVER, under which the
 * handout's mm.c renames them mm_malloc, mm_free, mm_realloc and mm_calloc: those are the names
 * declared then; without DRIVER, the standard ones. <stdio.h> and <stdbool.h> come along, as in
 * the handout.
 *
 * The heap checker is declared as the handout declares it, bool mm_checkheap(int lineno): the
 * handout's own mm.c calls it (in dbg_ assertions) before defining it, so it must be, and a
 * different signature fails to build here as it does in the lab. The driver calls it through
 * labs/ms_lab_adapter.h.
 */
#ifndef MALLOCSIM_LABS_CMU_MM_H
#define MALLOCSIM_LABS_CMU_MM_H

#include <stdbool.h>
#include <stdio.h>

#ifdef DRIVER
void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);
void *mm_calloc(size_t nmemb, size_t size);
#else
void *malloc(size_t size);
void free(void *ptr);
void *realloc(void *ptr, size_t size);
void *calloc(size_t nmemb, size_t size);
#endif

bool mm_init(void);
bool mm_checkheap(int lineno);

#endif /* MALLOCSIM_LABS_CMU_MM_H */
