/*
 * carried_crash.c - correct from a fresh heap, crashes on a heap carried over: once every block
 * it handed out has been freed, its next mm_malloc writes through NULL, as an allocator whose
 * state does not survive an emptied heap would. Its checked passes, each from mm_init, pass;
 * `bench --carry-heap` must catch the crash in its child process and go on.
 *
 * A fault switch for tests of where a crash is reported: built with CARRIED_CRASH_AT "N:K"
 * defined (the test prepends the #define: an allocator under test runs with no environment) it
 * also crashes in the call K (mm_malloc and mm_free counted together, from 0) after its N-th
 * mm_init (from 1), or in that mm_init itself when K is "init". A replay calls mm_init for its
 * checked pass (1), the second checked pass (2), then each fresh timed pass (3, 4...): "5:1"
 * crashes at op 1 of timed pass 3.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef CARRIED_CRASH_AT
#define CARRIED_CRASH_AT NULL
#endif

#include "memlib.h"
#include "mm.h"

team_t team = {"carried_crash", "Crash Test", "crash", "", ""};
static size_t live;
static bool emptied;
static long inits;      /* mm_init calls so far */
static long calls;      /* mm_malloc and mm_free calls since the last mm_init */
static long crash_init; /* CARRIED_CRASH_AT's N, 0 when unset */
static long crash_call; /* CARRIED_CRASH_AT's K, -1 for mm_init itself */

static void crash(void) {
    volatile int *nowhere = NULL;
    *nowhere = 1;
}

/* Read CARRIED_CRASH_AT once. */
static void read_switch(void) {
    const char *at = CARRIED_CRASH_AT;
    if (at == NULL)
        return;
    char *rest;
    crash_init = strtol(at, &rest, 10);
    crash_call = *rest == ':' && strcmp(rest + 1, "init") == 0 ? -1 : strtol(rest + 1, NULL, 10);
}

/* The fault switch: crash if this call is the one it names. */
static void count_call(void) {
    if (crash_init != 0 && inits == crash_init && calls == crash_call)
        crash();
    calls++;
}

int mm_init(void) {
    if (inits++ == 0)
        read_switch();
    calls = 0;
    if (crash_init != 0 && inits == crash_init && crash_call == -1)
        crash();
    live = 0;
    emptied = false;
    return 0;
}

void *mm_malloc(size_t size) {
    count_call();
    if (emptied)
        crash();
    size_t rounded = (size + 15) & ~(size_t)15;
    void *p = mem_sbrk((intptr_t)(rounded ? rounded : 16));
    if (p == (void *)-1)
        return NULL;
    live++;
    return p;
}

void mm_free(void *ptr) {
    count_call();
    if (ptr != NULL && --live == 0)
        emptied = true;
}

void *mm_realloc(void *ptr, size_t size) {
    (void)ptr;
    (void)size;
    return NULL;
}
