/*
 * labs/csapp/mm.h - the CS:APP malloc lab's allocator interface, for a student's unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handout) to declare what the classic handout's mm.h
 * declares, with the same types, so that an mm.c written against it compiles here as it is:
 * int mm_init(void) (0 on success, -1 on failure), mm_malloc, mm_free, mm_realloc, and the team
 * record the driver checks. <stdio.h> comes along, as in the handout, since mm.c files rely on it.
 *
 * No heap checker is declared: the write-up asks for int mm_check(void), the textbook's code has
 * void mm_checkheap(int verbose), students make it static or compile it only under DEBUG. Any of
 * them compiles against this header; the driver finds the one the student wrote and calls it
 * through labs/ms_lab_adapter.h.
 */
#ifndef MALLOCSIM_LABS_CSAPP_MM_H
#define MALLOCSIM_LABS_CSAPP_MM_H

#include <stdio.h>

int mm_init(void);
void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);

/* Who wrote the allocator: the driver refuses an empty team name, member-1 name or member-1 id. */
typedef struct {
    char *teamname; /* the team's name (ID1+ID2 or ID1) */
    char *name1;    /* first member's full name */
    char *id1;      /* first member's login id */
    char *name2;    /* second member's full name, "" when none */
    char *id2;      /* second member's login id, "" when none */
} team_t;

extern team_t team;

#endif /* MALLOCSIM_LABS_CSAPP_MM_H */
