/*
 * labs/cmu-2015/mm.h - the older 64-bit CMU 15-213 malloc lab's allocator interface (the
 * handouts of about F13 to S15), for a student's unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handouts) to declare what their mm.h declares, with
 * the same types: int mm_init(void) (0 on success, -1 on failure), and the student's malloc,
 * free, realloc and calloc, which the handout's mm.c renames mm_malloc, mm_free, mm_realloc and
 * mm_calloc under -DDRIVER (as the driver compiles it): those are the names declared then;
 * without DRIVER, the standard ones. <stdio.h> comes along, as in the handouts; <stdbool.h> does
 * not, since those handouts did not include it and students' files may define their own bool.
 *
 * The heap checker is declared as the handouts declare it, so that an mm.c may call it before
 * defining it. They disagree: F15's mm.h says void mm_checkheap(int lineno), S14's and F14's
 * int mm_checkheap(int verbose). The build declares the one the student's file defines
 * (build.py defines MS_CHECKER_RETURNS_INT for an int checker), so that a file builds here as it
 * did in its own semester. The driver calls it through labs/ms_lab_adapter.h.
 */
#ifndef MALLOCSIM_LABS_CMU_2015_MM_H
#define MALLOCSIM_LABS_CMU_2015_MM_H

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

int mm_init(void);
#ifdef MS_CHECKER_RETURNS_INT
int mm_checkheap(int verbose);
#else
void mm_checkheap(int lineno);
#endif

#endif /* MALLOCSIM_LABS_CMU_2015_MM_H */
