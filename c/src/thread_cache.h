/*
 * thread_cache.h - the drop-in's per-thread caches of free small blocks, between the malloc API
 * (dropin.c) and the locked policy.
 *
 * thread_cache.c keeps, for each thread, a few free blocks of each small size, and a map that
 * tells any thread, without the lock, which cache bin a heap block belongs in; its banner says how
 * and what it guarantees. dropin.c decides which pointers may reach tc_free (not aligned aliases),
 * owns the lock, and tells the map about every block the policy hands out or resizes;
 * memlib_sbrk.c, the heap's memory, has the map reach every heap byte before the heap grows.
 *
 * "Under the lock" below means between heap_enter() and heap_leave(), which skip the mutex while
 * the process has a single thread; the heap is initialised (mm_init succeeded) whenever a function
 * below is called under it, but for tc_heap_start and tc_map_reach, which mm_init needs.
 */
#ifndef MALLOCSIM_THREAD_CACHE_H
#define MALLOCSIM_THREAD_CACHE_H

#include <stdbool.h>
#include <stddef.h>

/* ----------------------------------------------------- defined in thread_cache.c */

/* Once, from the library's constructor. */
void tc_setup(void);

/* Under the lock, before mm_init: the heap starts at lo, and never moves. */
void tc_heap_start(void *lo);

/* A cached free block of at least `size` (>= 1) bytes, or NULL. Takes no lock, and must be called
   without it (a thread's first miss registers its cache, which takes it). */
void *tc_alloc(size_t size);

/* Under the lock, after a miss: a block of at least `size` bytes from the policy (NULL when it
   has none). With `refill`, a few more of the same size go into this thread's bin, so that the
   next mallocs of that size need no lock. */
void *tc_alloc_locked(size_t size, bool refill);

/* Under the lock: the policy has just handed out p, or resized it in place (mm_realloc). */
void tc_note(void *p);

/* Under the lock: p, a heap block, has just been freed to the policy (by mm_free or by a
   mm_realloc that moved it), so that the map marks it freed. */
void tc_forget(void *p);

/* What the map knows of a pointer into the heap: the start of a live block (one the policy
   counts as allocated, cached ones included), of a block freed to the policy since, or neither
   (inside a block, or where no block of ours ever started). */
typedef enum { TC_LIVE, TC_FREED, TC_NOT_A_BLOCK } tc_block_state;

/* Under the lock: p's state, for p in the heap. */
tc_block_state tc_state(const void *p);

/* Without the lock: bytes surely usable at p, a live block (not an aligned alias) whose size is
   a cached one, or 0 for any other pointer. */
size_t tc_room(const void *p);

/* Take p, a pointer being freed that is not an aligned alias, into this thread's cache: true when
   done (without the lock, but once per few frees when a bin overflows), false when p is not the
   start of a live block of a cached size, or this thread has no cache (before the library's
   constructor ran, or once its exit began): then the caller frees p itself, or finds it is none
   of ours (tc_state). Aborts with a message when p is still in a thread's cache (a double free). */
bool tc_free(void *p);

/* Under the lock, called by memlib_sbrk.c before the heap's memory grows up to `end` (excluded):
   make the size map cover every heap byte below it. False when it cannot (past the map's reach,
   or the system refuses memory): the heap must not grow then. */
bool tc_map_reach(const void *end);

/* ------------------------------------------------------------ defined in dropin.c */

/* The lock around the policy; heap_enter's answer goes to the matching heap_leave. */
bool heap_enter(void);
void heap_leave(bool locked);

/* Write "libmallocsim: <what>" to stderr and abort, allocating nothing. */
_Noreturn void dropin_die(const char *what);

#endif /* MALLOCSIM_THREAD_CACHE_H */
