/*
 * arena.h - the drop-in's arenas: one policy with several copies of its state, each on a heap of
 * its own, so that threads get memory of their own.
 *
 * A policy is single-heap code: its state is static, and it asks memlib.h for one contiguous heap.
 * The drop-in (libmallocsim.so) links the policy's code once, with ARENAS copies of its state and
 * of memlib_sbrk.c's (arena_state.h): arena.c says which arena a call is for, and arena K's policy
 * grows its heap in part K of one address reservation.
 *
 *   reservation:  | arena 0's heap ...   | arena 1's heap ...   | arena 2's ...  | arena 3's ... |
 *                 ^ base                 ^ base + part          (part: a power of two)
 *
 * The main thread allocates from arena 0, every other thread from one of the others (in turn), so
 * two threads' small blocks never share a cache line (Hoard's passive and active false sharing:
 * cache-scratch ran 5 times slower at 2 threads than at 1 when every thread took its blocks from
 * one heap). A block is freed into the arena whose part holds it, whoever frees it: the thread
 * caches (thread_cache.c) send a block freed by another arena's thread back towards its own.
 * "Under k's lock" below means between arena_enter(k) and arena_leave(k); "under p's lock", under
 * the lock of the arena holding p. The lab-mode libraries (libmm-*.so) never link this.
 */
#ifndef MALLOCSIM_ARENA_H
#define MALLOCSIM_ARENA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm.h"

/* The arenas: 4, one for the main thread and three for the others. 8 ran no faster on `mallocsim
   programs` (2 cores: larson 1.50x glibc's speed at 2 threads against 1.54x, xmalloc 2.60x
   against 2.90x) and held more memory (peak RSS up to 1 MiB more); glibc allows 8 arenas per
   core. */
enum { ARENAS = 4 };

/* Bytes in a cache line. What threads of two arenas write at once lies on lines of its own (each
   arena's lock and counts, its policy's and its heap's state: arena_state.h's STATE_ALIGN), so
   that no write of one arena's waits on another core's (false sharing: two threads replacing
   blocks of 1,100-2,000 bytes, each in its arena, ran 0.55-1.08 s where glibc took 0.27-0.43,
   31% of the time in the lock's unlock and a counter's update on the line the other's lock
   shared; 0.44-0.66 s on lines of their own). */
enum { CACHE_LINE = 64 };

/* Address space reserved for the heaps or their maps, kept out of core files until it is made
   read-write (then MADV_DODUMP): see arena.c. */
void leave_out_of_dumps(void *at, size_t len);

/* Arena k's lock, skipped while the process has a single thread; arena_enter's answer goes to
   the matching arena_leave. At most one arena's lock is held at a time. */
bool arena_enter(unsigned k);
void arena_leave(unsigned k, bool locked);

/* fork's handlers (dropin.c's call them): every arena's lock held across fork, released in both
   (`locked`: prepare took them); in the child, only its one thread occupies an arena. */
void arena_fork_prepare(void);
void arena_fork_release(void);
void arena_fork_child(bool locked);

/* Under k's lock: arena k's policy initialised (mm_configure with MALLOCSIM_OPTIONS, then mm_init)
   on its first use; false when it cannot serve (no address range, or mm_init failed): the caller
   then maps the block. */
bool arena_usable(unsigned k);

/* Under k's lock: arena k's mm_malloc (k usable), and the block's usable size in *usable (its
   mm_usable_size, asked once for the arena's count and the caller's map). */
void *arena_malloc(unsigned k, size_t size, size_t *usable);

/* Under k's lock: arena k's mm_memalign (k usable), an ordinary block of its heap whose payload is
   a multiple of `alignment`; NULL when its policy has none, or its heap cannot hold the block. */
void *arena_memalign(unsigned k, size_t alignment, size_t size);

/* Under k's lock (k usable): an address from which every byte of arena k's range reads zero
   (memlib_sbrk.c's mem_clean_from, of that arena's heap). */
void *arena_clean_from(unsigned k);
void *mem_clean_from(void);

/* Under every arena's lock, for arena_fit_address_space: the served arena's reservation cut to
   its committed range, in whole chunks of the size map, the rest given back to the system and
   taken again, at its own address, as the heap grows and while nothing else was mapped there
   (memlib_sbrk.c). `map_ends_here`: the map is cut with it (tc_map_cut: the last arena that
   served); else the map over the range given back reads 0 (tc_map_given_back). Returns the
   reservation's end, NULL when the arena has none. */
char *mem_reserve_cut(bool map_ends_here);

/* A finite RLIMIT_AS set while the program runs (address_limit.c), which counts the whole
   reservation: each arena's reservation fitted to what its heap uses (mem_reserve_cut). The map
   is cut past the last arena that ever served; the parts of the arenas past it are given back and
   taken again as their heaps grow, if there is room, as under a limit set before the start;
   the map over the ranges given back before it stays, reading 0: a sixteenth of them. Takes every
   arena's lock. */
void arena_fit_address_space(void);

/* Under p's lock (arena_index(p), when that is an arena): is p inside a usable arena's heap (not
   necessarily a block's start)? */
bool arena_holds(const void *p);

/* Under p's lock: mm_free, mm_realloc and mm_usable_size of the arena holding p (arena_holds);
   arena_realloc's block's usable size in *usable (asked once, for the arena's count and the
   caller's map). */
void arena_free(void *p);
void *arena_realloc(void *p, size_t size, size_t *usable);
size_t arena_usable_size(void *p);

/* arena_free in two halves, for a caller that frees many blocks under one lock: the free alone,
   then, once after the last of them, the look at the heap's free top and at what has fallen
   since the last purge that each arena_free makes (a trim or a purge then, if due). Frees only
   grow free memory, so one look after n frees finds what the last of n looks would have. */
void arena_free_unsettled(void *p);
void arena_settle(unsigned k);

/* Takes each arena's lock in turn: every arena's free heap top cut down to `pad` bytes, and the
   whole pages inside its other free blocks, given back (malloc_trim, as glibc's gives back its
   free chunks' pages); true when any memory went back. */
bool arena_trim_all(size_t pad);

/* Takes each arena's lock in turn: the part of the reservation of the last arena other than 0
   that never served given back to the system, for a mapping it refused (ENOMEM under a low
   RLIMIT_AS); that arena serves nothing from then on. false when none is left to give. */
bool arena_give_back_unused(void);

/* What arena k's heap holds, for mallinfo and malloc_stats (dropin.c). */
typedef struct {
    size_t heap_bytes;    /* the heap's length: what the arena has taken from the system */
    mm_free_space_t free; /* its policy's free blocks and slots (mm_free_space; all 0 when the
                             policy cannot say: its whole heap counts as in use) */
    size_t free_top;      /* the free block that ends the heap, 0 when none or unknown */
} arena_usage_t;

/* Takes k's lock: arena k's usage; false when it has no heap (never used, or it failed). Blocks
   in the thread caches and the depot are in use for the policy, and counted so, as glibc counts
   its thread caches' chunks. */
bool arena_usage(unsigned k, arena_usage_t *usage);

/* The reservation: written once (arena.c's reserve, under pthread_once, before any heap block
   exists), read by arena_index without a lock. */
typedef struct {
    _Atomic uintptr_t base;      /* 0: not reserved (yet, or ever) */
    _Atomic unsigned part_shift; /* log2 of each arena's part */
} arena_reservation_t;
extern arena_reservation_t arena_reservation;

/* Without a lock: the arena whose part of the reservation holds p, or ARENAS when none does (or
   nothing is reserved yet). Inline: every free of a cached size asks. */
static inline unsigned arena_index(const void *p) {
    uintptr_t base = atomic_load_explicit(&arena_reservation.base, memory_order_relaxed);
    if (base == 0 || (uintptr_t)p < base)
        return ARENAS;
    uintptr_t k = ((uintptr_t)p - base) >>
                  atomic_load_explicit(&arena_reservation.part_shift, memory_order_relaxed);
    return k < ARENAS ? (unsigned)k : ARENAS;
}

/* Without a lock: the calling thread's arena: 0 for the process's main thread; for another, at
   its first call, one of 1 to ARENAS - 1 with the fewest occupants (arena.c says which). The
   thread is an occupant of its arena from then on, until arena_exit_thread. */
unsigned arena_mine(void);

/* Without a lock: the thread that occupied arena k exits (the thread caches' exit destructor). */
void arena_exit_thread(unsigned k);

/* Without a lock: has arena k an occupant (a live thread that allocates from it)? A block of an
   arena without one is nobody's to keep: any thread may reuse it (larson hands every thread's
   blocks to a new thread, whose arena is another, at each generation). */
bool arena_occupied(unsigned k);

/* Arena k's part of the reservation, [*start, *end), made on the first call of any (memlib_sbrk.c's
   copy of arena k's heap lies there; a thread cache keeps its own arena's); false when the system
   granted no reservation. Without a lock: the reservation is made once (pthread_once), and never
   moves. */
bool arena_range(unsigned k, char **start, char **end);

/* Under k's lock, once the reservation is made (arena_range): is arena k's part reserved whole?
   Else, under a finite RLIMIT_AS, its heap reserves it a chunk at a time as it grows. */
bool arena_part_reserved(unsigned k);

#endif /* MALLOCSIM_ARENA_H */
