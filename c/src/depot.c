/*
 * depot.c - the drop-in's depot: batches of free small blocks passed from one thread's cache to
 * another's, so that blocks that cross threads cross no global lock.
 *
 * Without it, a thread that frees blocks another thread allocated (xmalloc's consumers) filled
 * its own bins and, at each overflow, freed the surplus block by block into the policy under the
 * one global lock; the allocating thread's misses then took blocks back from the policy under that
 * lock again, block by block: every block crossed the lock twice, and the policy's work was done
 * under it while the other thread waited. Now an overflowing bin hands its older half, one linked
 * list, to the depot's bin of the same size, and a bin that misses takes a whole batch: one short
 * lock of that size per batch, and no policy call (after tcmalloc's transfer cache).
 *
 *   bin[k][i]   lock | batches | batch[0]: {head, count} ... batch[DEPOT_BATCHES - 1]
 *            each batch a list of free blocks of the caches' bin i (thread_cache.c), for the
 *            threads of arena k (arena.h): its own, or of an arena without an occupant, linked
 *            through their first word, each keyed as a cached block is (its second word: one
 *            key for the caches and the depot, so a batch moves between them untouched)
 *
 * The blocks stay allocated to the policy while they are here, as in a cache: the depot is bounded
 * so that the memory the caches give up still goes back to the policy, where it can merge, once
 * the depot is full (the thread that offered a batch then frees it there).
 *
 * Guarantees:
 *   - at most DEPOT_BATCHES batches a bin, and DEPOT_BYTES bytes an arena (DEPOT_SINGLE_BYTES
 *     while the process has a single thread), counted at 8i a block of bin i as the caches count
 *     theirs; a batch that does not fit is refused whole;
 *   - a batch is taken whole, the last one given first (its blocks the likeliest to be in a CPU's
 *     cache still);
 *   - a batch does not sit unused for ever: every DEPOT_SWEEP_EVERY offers to an arena's depot
 *     sweep one of its bins, in turn, which gives half of the batches it held unused since its
 *     last sweep back to the policy (depot_sweep);
 *   - one mutex per bin, held for a few stores (a scan of the bin for a suspected double free),
 *     and skipped while the process has a single thread, as the heap's lock is; no other lock is
 *     ever taken while one is held;
 *   - fork: every bin's lock is held across it (depot_fork_prepare), so the child finds the depot
 *     consistent, its batches valid blocks.
 *
 * Tunables: DEPOT_BATCHES, DEPOT_BYTES, DEPOT_SINGLE_BYTES and DEPOT_SWEEP_EVERY below, each
 * overridable with -D.
 */
#include "thread_cache.h"

#include "arena.h"
#include "threaded_lock.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <sys/single_threaded.h>

/*
 * DEPOT_BATCHES default: 8 - batches a bin holds: a producer that runs ahead of its consumer by a
 * few batches finds them waiting, while one size cannot fill the whole depot.
 */
#ifndef DEPOT_BATCHES
#define DEPOT_BATCHES 8
#endif

/*
 * DEPOT_BYTES default: 1 MiB - the most an arena's depot holds, what it adds at most to the heap
 * the arena's policy would otherwise keep (the caches hold up to 256 KiB a thread besides). An
 * arena's own: with one bound for all, the main thread's blocks that larson's first generation
 * sent home to arena 0, where nobody took them, filled the depot for good, and every later
 * generation's blocks went through the policy under a lock (6 times as many policy calls an op;
 * larson, 1 thread, 0.85x of the speed with one arena).
 * Before the sweep (DEPOT_SWEEP_EVERY, below), this bound was most of what the drop-in held over
 * glibc's peak RSS in larson and xmalloc: with random sizes a cache's bins fill to their bounds.
 * Larson at 1 thread, 2,000 blocks of 8-1,000 bytes (about 1 MB live): arena 0 keeps the main
 * thread's first blocks (1.1 MB resident, as glibc's main arena does), and the workers' arena 2.3
 * MB. `mallocsim programs --repeat 5`, speed and memory against glibc's (medians; glibc's own
 * larson figure varies by up to 30% from run to run): 1 MiB 0.96x and 0.74x; 256 KiB 0.86x and
 * 0.87x; 128 KiB 0.91x and 0.91x. In 9 rounds of larson alone: 0.97x / 0.71x, 0.92x / 0.83x and
 * 0.90x / 0.87x; at 2 threads 1.42x, 1.19x and 1.08x glibc's speed. And xmalloc (1 pair) falls
 * from 6.31x glibc's speed to 4.26x and 1.57x: what the depot refuses, the consumer's frees give to
 * the policy under the producer's arena's lock. TC_BYTES 128 KiB instead of 256: larson 0.78x and
 * 0.77x. Neither is kept. Also tried: a miss that the thread's own arena's depot cannot serve takes
 * the bin's last batch from another arena's depot, so that blocks sent home to an arena whose
 * thread no longer mallocs (larson's main thread) are reused. Four paired runs of `mallocsim
 * programs --repeat 5 (7) -a glibc -a mallocsim -a VARIANT.so`, shipped -> variant: peak RSS of
 * larson at 2 threads 8.6-9.8 -> 7.9-8.0 MiB, of xmalloc at 2 pairs 12.3-12.6 -> 10.1-10.5 MiB; but
 * larson's speed at 2 threads fell in every run (1.15x -> 1.14x, 1.26x -> 1.15x, 1.25x
 * -> 1.21x, 1.21x -> 1.17x glibc's); at 1 thread, cache-scratch and xmalloc's speed, no change
 * beyond the noise. Not kept: it trades the speed target it is furthest from for part of the memory
 * one.
 */
#ifndef DEPOT_BYTES
#define DEPOT_BYTES (1024 * 1024)
#endif

/*
 * DEPOT_SINGLE_BYTES default: 64 KiB - DEPOT_BYTES while the process has a single thread. Then
 * no other thread takes a batch: the depot only holds what the one thread's bins gave up, for its
 * own later misses, and what it holds is memory the policy cannot merge. A program that grows 64
 * buffers together by realloc, 48 bytes at a time, to 1-16 KB (each move frees a block of a
 * cached size, 1.4 MB of them a round, asked for again the next round) peaked at 3.9 MB against
 * glibc's 2.4, its heap 2,246 KiB after 300 rounds; with a bound of 0, 16, 64 and 256 KiB: 1,242,
 * 1,282, 1,362 and 1,554 KiB. The depot's few batches a size are what a single-threaded program's
 * bursts of frees and mallocs of one size reuse: churn (c/bench/churn.c) ran 4.1% more
 * instructions with no depot (callgrind, `churn -n 300000`: 261.3 M -> 272.1 M), 0.2% more with
 * 16 KiB, 0.16% with 64 KiB.
 */
#ifndef DEPOT_SINGLE_BYTES
#define DEPOT_SINGLE_BYTES (64 * 1024)
#endif

/*
 * DEPOT_SWEEP_EVERY default: 2 - batches offered to an arena's depot per sweep of one of its bins,
 * in turn: each bin is swept once per 2 x TC_BINS offers, and gives back to the policy half of the
 * batches it held unused since its last sweep (its low-water mark, as jemalloc's thread caches
 * keep one; rounded up, the oldest first). With random sizes every bin used to fill to its bounds
 * and stay full, taken from as often as given to: larson's workers' arena held 2.3 MB for 1 MB
 * of live blocks. A batch that a whole interval did not need is not the working set: given back,
 * it merges in the policy, which reuses it instead of growing the heap; the batches in use stay,
 * so the misses that take them do not become policy calls (what giving the whole depot back
 * cost). Larson's peak RSS 0.73x -> 0.85x glibc's at 1 thread, 0.77x -> 0.83x at 2, for 0-3% of
 * its speed; sweeping more often costs larson at 2 threads more speed, less often saves less
 * memory (docs/dropin.md, "Sweeping the depot").
 */
#ifndef DEPOT_SWEEP_EVERY
#define DEPOT_SWEEP_EVERY 2
#endif

typedef struct {
    tc_block *head; /* the batch's first block */
    unsigned count; /* blocks in it, at least 1 */
} depot_batch;

/* One bin's batches, on cache lines of their own: two sizes' traffic does not collide. */
typedef struct {
    alignas(CACHE_LINE) word_lock lock;
    _Atomic unsigned batches; /* batch[0 .. batches - 1] hold batches; written under lock, peeked
                                 without it by a taker that finds the bin empty */
    unsigned low;             /* the fewest batches held since the bin was last swept (under lock):
                                 the oldest `low` sat unused all that while */
    depot_batch batch[DEPOT_BATCHES];
} depot_bin;

/* All zero to start, the locks too: the bins' pages stay untouched, out of the process's memory,
   until a size is used (pthread_mutex_init on every bin at start wrote 28 KiB into every process,
   a tenth of the drop-in's peak RSS over glibc's in a small program). */
static struct {
    depot_bin bin[ARENAS][TC_BINS]; /* bin[k][i]: arena k's threads' batches of bin i */
    _Atomic size_t bytes[ARENAS];   /* per arena, 8i summed over every block held (bin i), at
                                       most DEPOT_BYTES */
    _Atomic unsigned ticks[ARENAS]; /* per arena, depot_sweep's calls: which bin is next */
} depot;

/* Lock bin d, unless the process has one thread (as lock_if_threaded does, threaded_lock.h); the
   answer goes to leave. The lock spins a little before it sleeps (word_lock.h): it is held for a
   few stores, and a futex sleep costs more than the wait. */
static bool enter(depot_bin *d) { return lock_if_threaded(&d->lock); }

static void leave(depot_bin *d, bool locked) { unlock_if(&d->lock, locked); }

bool depot_put(unsigned k, unsigned i, tc_block *head, unsigned count) {
    assert(k < ARENAS && i < TC_BINS && head != NULL && count > 0);
    size_t bytes = (size_t)count * i * TC_GRAIN;
    size_t bound = __libc_single_threaded ? DEPOT_SINGLE_BYTES : DEPOT_BYTES;
    /* Counted first, so that bins filled at once never pass the bound together. */
    if (atomic_fetch_add_explicit(&depot.bytes[k], bytes, memory_order_relaxed) + bytes > bound) {
        atomic_fetch_sub_explicit(&depot.bytes[k], bytes, memory_order_relaxed);
        return false;
    }
    depot_bin *d = &depot.bin[k][i];
    bool locked = enter(d);
    unsigned n = atomic_load_explicit(&d->batches, memory_order_relaxed);
    if (n < DEPOT_BATCHES) {
        d->batch[n] = (depot_batch){head, count};
        atomic_store_explicit(&d->batches, n + 1, memory_order_relaxed);
    }
    leave(d, locked);
    if (n == DEPOT_BATCHES)
        atomic_fetch_sub_explicit(&depot.bytes[k], bytes, memory_order_relaxed);
    return n < DEPOT_BATCHES;
}

/* depot_take of bin d (arena k's bin i), which looked not empty: under its lock. Out of line, so
   that the look before, most misses' whole work, saves no register (jq building its tree: a
   miss of every malloc, 29 of depot_take's 43 instructions a call were its frame's). */
__attribute__((noinline)) static unsigned take_locked(unsigned k, unsigned i, depot_bin *d,
                                                      tc_block **head) {
    bool locked = enter(d);
    unsigned n = atomic_load_explicit(&d->batches, memory_order_relaxed);
    depot_batch taken = {NULL, 0};
    if (n > 0) {
        taken = d->batch[n - 1];
        atomic_store_explicit(&d->batches, n - 1, memory_order_relaxed);
        if (d->low > n - 1)
            d->low = n - 1;
    }
    leave(d, locked);
    if (taken.count != 0)
        atomic_fetch_sub_explicit(&depot.bytes[k], (size_t)taken.count * i * TC_GRAIN,
                                  memory_order_relaxed);
    *head = taken.head;
    return taken.count;
}

unsigned depot_take(unsigned k, unsigned i, tc_block **head) {
    assert(k < ARENAS && i < TC_BINS);
    depot_bin *d = &depot.bin[k][i];
    if (atomic_load_explicit(&d->batches, memory_order_relaxed) == 0)
        return 0; /* most misses of an empty bin: no lock */
    return take_locked(k, i, d, head);
}

void depot_sweep(unsigned k, tc_block **onto) {
    assert(k < ARENAS && onto != NULL);
    unsigned tick = atomic_fetch_add_explicit(&depot.ticks[k], 1, memory_order_relaxed);
    if (tick % DEPOT_SWEEP_EVERY != 0)
        return;
    unsigned i = tick / DEPOT_SWEEP_EVERY % TC_BINS;
    depot_bin *d = &depot.bin[k][i];
    if (atomic_load_explicit(&d->batches, memory_order_relaxed) == 0)
        return; /* and low is 0: nothing raises it above batches */
    depot_batch swept[DEPOT_BATCHES];
    bool locked = enter(d);
    unsigned n = atomic_load_explicit(&d->batches, memory_order_relaxed);
    unsigned out = (d->low + 1) / 2; /* half of the idle batches, the oldest: batch[0] first */
    assert(d->low <= n);
    for (unsigned j = 0; j < n; j++) {
        if (j < out)
            swept[j] = d->batch[j];
        else
            d->batch[j - out] = d->batch[j];
    }
    atomic_store_explicit(&d->batches, n - out, memory_order_relaxed);
    d->low = n - out;
    leave(d, locked);
    /* The swept batches are nobody else's now: their lists are walked without the lock. */
    size_t blocks = 0;
    for (unsigned j = out; j-- > 0;) { /* batch[0]'s blocks first on *onto, as they were */
        tc_list_prepend(swept[j].head, onto);
        blocks += swept[j].count;
    }
    if (blocks != 0)
        atomic_fetch_sub_explicit(&depot.bytes[k], blocks * i * TC_GRAIN, memory_order_relaxed);
}

size_t depot_bytes(unsigned k) {
    assert(k < ARENAS);
    return atomic_load_explicit(&depot.bytes[k], memory_order_relaxed);
}

bool depot_holds(unsigned k, unsigned i, const tc_block *b) {
    assert(k < ARENAS && i < TC_BINS);
    depot_bin *d = &depot.bin[k][i];
    bool locked = enter(d);
    bool found = false;
    unsigned n = atomic_load_explicit(&d->batches, memory_order_relaxed);
    for (unsigned j = 0; j < n && !found; j++)
        found = tc_list_holds(d->batch[j].head, b);
    leave(d, locked);
    return found;
}

void depot_fork_prepare(void) {
    for (unsigned k = 0; k < ARENAS; k++)
        for (unsigned i = 0; i < TC_BINS; i++)
            word_lock_take(&depot.bin[k][i].lock);
}

void depot_fork_release(void) {
    for (unsigned k = ARENAS; k-- > 0;)
        for (unsigned i = TC_BINS; i-- > 0;)
            word_lock_give(&depot.bin[k][i].lock);
}
