/*
 * thread_cache.h - the drop-in's per-thread caches of free small blocks, between the malloc API
 * (dropin.c) and the locked policies of the arenas (arena.h).
 *
 * thread_cache.c keeps, for each thread, a few free blocks of each small size, and a map that
 * tells any thread, without a lock, which cache bin a heap block belongs in; its banner says how
 * and what it guarantees. dropin.c takes the arenas' locks, and tells the map about every block the
 * policy hands out or resizes; memlib_sbrk.c, the heap's memory, has the map reach every heap byte
 * before the heap grows.
 *
 * depot.c, between the caches and the policies, holds batches of free blocks, per arena, that one
 * thread's bin gave up and another's of the same arena may take whole, so that blocks crossing
 * threads cross no global lock.
 *
 * "Under p's lock" below means under the lock of the arena holding p (arena.h: arena_enter,
 * arena_leave, which skip the mutex while the process has a single thread); that arena is
 * initialised (mm_init succeeded) whenever a function below is called under it, but for
 * tc_heap_start and tc_map_reach, which mm_init needs.
 */
#ifndef MALLOCSIM_THREAD_CACHE_H
#define MALLOCSIM_THREAD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * TC_MAX default: 1024 - the largest request a cache serves. Small objects are where programs
 * call malloc most (glibc's tcache stops at 1032); larger blocks are rarer and are what the policy
 * is best at keeping compact.
 */
#ifndef TC_MAX
#define TC_MAX 1024
#endif

/* The size map covers the heaps in chunks of 1 << TC_MAP_CHUNK_SHIFT bytes (16 MiB), each made
   writable by the first growth of a heap into it; arena.c cuts the reservation so that no chunk
   covers two arenas' heaps, whose growths take different locks. */
enum { TC_MAP_CHUNK_SHIFT = 24 };

/* The bins' geometry, which the caches and the depot share. */
enum {
    TC_GRAIN = 8,                    /* bytes per bin */
    TC_BINS = TC_MAX / TC_GRAIN + 2, /* the last: usable sizes just over TC_MAX (TC_MAX + 8 is
                                        segfit's for a request of TC_MAX) */
};

/* The first two words of a free block's payload while a cache or the depot holds it. */
typedef struct tc_block {
    struct tc_block *next; /* the next block in the same bin, or batch */
    uintptr_t key;         /* the caches' and the depot's one key while held, 0 once it leaves */
} tc_block;

/* Is b on the list that starts at `list` (linked through `next`)? A scan, for a suspected double
   free only. */
static inline bool tc_list_holds(const tc_block *list, const tc_block *b) {
    for (const tc_block *e = list; e != NULL; e = e->next)
        if (e == b)
            return true;
    return false;
}

/* Put the whole list that starts at `list` (linked through `next`, not empty) before *onto: a
   walk to its last block, for batches on their way to the policy (rare: a refused or swept batch
   of at most TC_BIN_BLOCKS / 2 + 1 blocks). */
static inline void tc_list_prepend(tc_block *list, tc_block **onto) {
    tc_block *last = list;
    while (last->next != NULL)
        last = last->next;
    last->next = *onto;
    *onto = list;
}

/* ----------------------------------------------------- defined in thread_cache.c */

/* Once, from the library's constructor. */
void tc_setup(void);

/* The bytes of the size map (and its big map) for `span` bytes of heaps. */
size_t tc_map_size(size_t span);

/* Once, before any arena's mm_init (arena.c reserves their heaps): the heaps lie in [lo, lo +
   span), a whole number of map chunks, and never move. With `map_at` NULL, reserves the size map
   for them, covering the span; false when the system refuses (arena.c then tries a smaller
   reservation). Else the map is to lie at `map_at`, tc_map_size(span) bytes where nothing is
   mapped: it covers nothing yet, and is mapped as the heaps grow (tc_map_regrow); true. */
bool tc_heap_start(void *lo, size_t span, void *map_at);

/* A free block of at least `size` (>= 1) bytes from this thread's bins, or NULL. Takes no lock:
   inlined into malloc (the drop-in is built with LTO), it is the whole of malloc's fast path. */
void *tc_alloc(size_t size);

/* After tc_alloc found nothing: a block from a batch of the depot, which refills the bin, or NULL.
   Takes no lock, and must be called without it (a thread's first miss registers its cache, which
   may call malloc). */
void *tc_alloc_miss(size_t size);

/* Under k's lock, after a miss: a block of at least `size` bytes from the policy of arena k, the
   calling thread's (arena_mine; NULL when it has none), and, for a bin that keeps missing, a few
   more of the same size into it, so that the next mallocs of that size take neither the lock nor
   the way here. */
void *tc_alloc_locked(unsigned k, size_t size);

/* Under p's lock: the policy has just resized a block into p (mm_realloc), of `usable` bytes
   (arena_realloc's). */
void tc_note(void *p, size_t usable);

/* tc_note of a block the policy has just handed out (not resized), whose usable size the caller
   has (arena_malloc's). */
void tc_note_usable(void *p, size_t usable);

/* Under p's lock: the policy has just handed out p, an aligned block (mm_memalign), which no
   cache is to keep once freed: a free gives it back to the policy, where it merges. */
void tc_note_aligned(void *p);

/* Under p's lock: p, a heap block, has just been freed to the policy (by mm_free or by a
   mm_realloc that moved it), so that the map marks it freed. */
void tc_forget(void *p);

/* What the map knows of a pointer into the heap: the start of a live block (one the policy
   counts as allocated, cached ones included), of a block freed to the policy since, or neither
   (inside a block, or where no block of ours ever started). */
typedef enum { TC_LIVE, TC_FREED, TC_NOT_A_BLOCK } tc_block_state;

/* The bytes of free blocks the calling thread's bins and remote lists hold (8i a block of bin
   i), and in *arena the thread's arena, whose blocks they mostly are; 0 for a thread whose cache
   is not in use. Without a lock. */
size_t tc_cached_bytes(unsigned *arena);

/* Under p's lock: p's state, for p in an arena's heap. */
tc_block_state tc_state(const void *p);

/* Without a lock, for p a pointer being freed: does the big map say a live block too big to cache
   starts at p? A yes is settled (only a double or invalid free races with its byte's write, and
   the look under the lock, tc_forget_big's, decides those), and such a p is no aligned alias: an
   alias lies inside its block. */
bool tc_big_live(const void *p);

/* Under p's lock, for p that tc_big_live said starts a live block too big to cache: tc_forget of
   it, with only the big map's byte read, and true; false, nothing changed, when that byte no
   longer says so (a double or invalid free raced with its write): the caller then takes the
   general way, which tells what p is (tc_state). */
bool tc_forget_big(void *p);

/* Without a lock: bytes surely usable at p, a live block whose size is a cached one, or 0 for any
   other pointer (an aligned alias among them: no block starts inside a live one). */
size_t tc_room(const void *p);

/* Take p, any pointer being freed, into this thread's cache: true when done (without a lock, but
   once per few frees when a bin overflows), false when p is not the start of a live block of a
   cached size (an aligned alias never is), or this thread has no cache (before the library's
   constructor ran, or once its exit began): then the caller frees p itself, or finds it is none
   of ours (tc_state). Aborts with a message when p is still in a thread's cache (a double free). */
bool tc_free(void *p);

/* Without a lock: abort with a message naming `call` ("realloc()") when p, a pointer passed to
   it, is still in a thread's cache or the depot (freed, and not handed out since): a realloc or
   malloc_usable_size of it went on as if it were live, and realloc grew it in place while a later
   malloc got it too. Returns for any other pointer. */
void tc_check_live(const void *p, const char *call);

/* Under the growing arena's lock, called by memlib_sbrk.c before its heap's memory grows over
   [from, end): make the size map writable over every byte of it (no two arenas share a map chunk:
   a part of the reservation is a multiple of a chunk's 16 MiB, so each chunk is made writable
   under one lock). False when it cannot (past the map's reach, or the system refuses memory): the
   heap must not grow then. */
bool tc_map_reach(const void *from, const void *end);

/* [from, end), a part of the reservation given back to the system (arena.c), where other mappings
   may now land: its map bytes made readable, reading 0, so that a free of a block mapped there
   finds it none of the heaps' rather than faulting. The map is otherwise unreadable where no heap
   has grown (tc_heap_start). */
void tc_map_given_back(const void *from, const void *end);

/* A finite RLIMIT_AS set while the program runs (arena.c's arena_fit_address_space): the map cut
   to cover the reservation up to `end` only (a chunk boundary, or nothing is cut): lookups past
   it say "none of ours", its bytes past it are given back to the system, address space other
   mappings may take. Under every arena's lock: no heap grows meanwhile. */
void tc_map_cut(const void *end);

/* The map, once cut, made to cover the reservation up to `end` again (a chunk boundary), its bytes
   there mapped anew at their own addresses: unreadable, as where no heap has grown, but below
   `readable_to` readable (a range of the reservation given back, as tc_map_given_back). True when
   it covers `end` already; false when the system refuses or another mapping took the bytes'
   addresses: the range must then hold no heap. Under the lock of the arena whose part it grows
   into. */
bool tc_map_regrow(const void *end, const void *readable_to);

/* The map pages of [lo, hi), whole chunks of one arena's part of the reservation, that name no
   live block given back to the system (malloc_trim): they read 0 again, as where no block ever
   started. A block freed before then is no longer told from a pointer never handed out, and its
   second free is found by the policy's own checks, if at all. Under that arena's lock, which
   every write of these bytes takes. Returns the bytes given back. */
size_t tc_map_trim(const void *lo, const void *hi);

/* The same for a span of one arena's heap whose pages have just been given back (a purge): only
   the map pages that lie wholly within that span's map bytes are looked at, so that the work is
   what the purge gave back. Under that arena's lock. Returns the bytes given back. */
size_t tc_map_trim_span(const void *lo, const void *hi);

/* The calling thread's bins and remote lists, and every arena's depot, given to the policies
   (malloc_trim), each block under its arena's lock. Without a lock held. */
void tc_give_back_all(void);

/* ------------------------------------------------------------ defined in depot.c */

/* Offer arena k's depot bin i a batch: `count` free blocks of the caches' bin i, for arena k's
   threads (arena k's own, or, from a bin that overflows, of an arena without an occupant), a
   list linked through `next`, each keyed as every cached block is. True when taken; false when
   the depot is full (the caller then gives the blocks to the policy). Without a lock. */
bool depot_put(unsigned k, unsigned i, tc_block *head, unsigned count);

/* Take the batch that arena k's depot bin i received last: its count (0: none), its list in
 *head. Without a lock. */
unsigned depot_take(unsigned k, unsigned i, tc_block **head);

/* After a batch was offered to arena k's depot, taken or not: every DEPOT_SWEEP_EVERY offers, the
   next of its bins in turn gives back half of the batches it held unused since its last sweep (the
   oldest), put before *onto, for the caller to give to the policy. Without a lock. */
void depot_sweep(unsigned k, tc_block **onto);

/* The bytes arena k's depot holds (8i a block of bin i, a little under their usable sizes).
   Without a lock. */
size_t depot_bytes(unsigned k);

/* Is b in arena k's depot bin i? A scan, for a suspected double free only. Without a lock. */
bool depot_holds(unsigned k, unsigned i, const tc_block *b);

/* fork's handlers (dropin.c's call them): every bin's lock held across fork, released in both. */
void depot_fork_prepare(void);
void depot_fork_release(void);

/* ------------------------------------------------------------ defined in dropin.c */

/* Write "libmallocsim: <what>" to stderr and abort, allocating nothing. */
_Noreturn void dropin_die(const char *what);

#endif /* MALLOCSIM_THREAD_CACHE_H */
