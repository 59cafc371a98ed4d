/*
 * thread_cache.c - per-thread caches of free small blocks in front of the drop-in's locked policy.
 *
 * libmallocsim.so serves every block from one policy (segfit by default): single-threaded code
 * behind one lock (dropin.c). Taken on every call, that lock ran two-thread programs at a fraction
 * of glibc's speed (larson 0.27x, with 16,397 futex calls to glibc's 104). This layer, in the
 * spirit of glibc's tcache, lets most calls pass without it: each thread keeps a few free blocks of
 * each small size and serves its mallocs from them. The policy is the same code and sees ordinary
 * mm_malloc and mm_free calls, fewer of them; the lab-mode heap (libmm-*.so) never links this
 * file, so it stays single-threaded and exact.
 *
 * A THREAD'S CACHE (thread-local, initial-exec TLS: the library is preloaded, so its TLS is in the
 * static block, one %fs-relative access away. Its 2 KiB make dlopen of the library fail, "cannot
 * allocate memory in static TLS block"; a malloc loaded after the program started could not free
 * what glibc's malloc had handed out anyway):
 *
 *   bin[i]   b -> b -> ... -> NULL   at most TC_BIN_BLOCKS free blocks of usable size [8i, 8i + 8)
 *
 *   a cached block   +------------------+------------------+----------------------------+
 *                    | next (its bin)   | key              | rest of the payload ...    |
 *                    +------------------+------------------+----------------------------+
 *                    ^ the payload the program freed (every payload has at least 16 bytes)
 *
 * THE SIZE MAP. free must know a block's bin without a lock, and the policy cannot tell it:
 * mm_usable_size reads state that other threads change under the arena's lock (segfit's run map for
 * a slot; a block header's prev_alloc bit, written when the block before it changes), so calling it
 * unlocked would be a data race. Nor can the policy tell whether a pointer is a block's start at
 * all, which free, realloc and malloc_usable_size must check before they trust it with one. So
 * the layer keeps its own record: one byte per 16 heap bytes, written under the arena's lock
 * whenever the policy hands out a block of a cached size (or resizes one to it) and whenever such
 * a block is freed to the policy, at the byte of the block's payload address:
 *
 *   0 (MAP_NONE)       no cached-size block of ours starts here
 *   2 .. TC_BINS - 1   a live block of that bin starts here (live to the policy: maybe cached)
 *   0xFE (MAP_UNCACHED) a live aligned block of a cached size starts here, never to be cached
 *   0xFF (MAP_FREED)   a block freed to the policy started here, and no cached-size block since
 *
 * An aligned block (memalign and its kin, which the policy places and no bin serves) is freed to
 * the policy at once: cached, it waited for a malloc of its size that a program making only
 * aligned blocks never makes, and the heap grew around such blocks (64 live blocks of 0-20,000
 * bytes at 64, replaced at random: 7.7 MB of peak RSS against glibc's 2.6, drop-in pass 25).
 *
 * A block too big to cache is recorded in the BIG MAP instead, one byte per KiB of heap: such a
 * block spans more than a KiB, so at most one starts in each, and the byte says where (which of
 * its 64 places of 16 bytes, 1 to 64), with BIG_FREED added once that block is freed to the
 * policy; 0 where none ever started. Bytes are counted by the page: a map page covers 64 KiB of
 * heap, a big map page 4 MiB. Kept in the size map, a program that only ever held large blocks
 * had its whole map resident (the benchmark program `large`, 16 live blocks of 64 KiB to 4 MiB
 * placed all over a 37 MB heap in 8,000 steps: 2.2 MB of map, 6% of its memory, where glibc's
 * malloc pays nothing); in the big map they cost a 1,024th of the heap at most.
 *
 * A free reads its block's byte without a lock: a thread freeing a live block got it after the
 * byte's last write, so it reads that write, whatever other bytes change meanwhile. Only a double
 * or invalid free may race with a write; the bytes are atomic (relaxed: plain moves on x86-64
 * and AArch64), so that race is no undefined behaviour, and such a free takes the arena's lock
 * anyway, where dropin.c reads the byte again (tc_state), then the big map's: a pointer not
 * 16-aligned, or that neither map says started a block, is none of ours, and one that either says
 * was freed is a double free. The maps are one range of address space, a sixteenth and a 1,024th
 * of the heaps' reservation, reserved with it (arena.c, through tc_heap_start), inaccessible where
 * no heap has grown (no block of ours is there) and readable where a part of the reservation was
 * given back (where another mapping may land): a byte never written reads 0, from the kernel's
 * zero page (which counts in no process's memory), and the byte of any pointer in the heaps is
 * one subtraction and one shift away, with no other load on a free's way to it.
 * Its chunks, one per CHUNK_HEAP bytes of heap, are made writable before the heap grows into
 * them (memlib_sbrk.c calls tc_map_reach, and a growth the map cannot cover is refused), so every
 * heap block has its byte. Only the map pages written count, but a page holds the bytes of 64 KiB
 * of heap, so a heap with a cached-size block starting in every 64 KiB of it touches all of its
 * map: 1/16 of the heap's resident memory, however big the blocks between (perl holding 100,000
 * strings of 0 to 5,000 bytes, a fifth of them of a cached size: 251 MB of heap, 15.6 MB of map,
 * 6.2%; glibc's chunk headers cost it as much for blocks of 128 bytes).
 *
 *   map.bytes  ->  | bin | 0 | FREED | 1 | ... |    byte j: heap_lo + 16 j
 *
 * FREE reads the block's byte; a cached size goes onto the bin, with no lock, while the bin has
 * room and the thread's bins hold at most TC_BYTES. A block of another arena (arena.h: each
 * thread allocates from one, the main thread from arena 0) that a live thread allocates from is
 * not this thread's to reuse, which would put its objects on the cache lines of that thread's
 * (Hoard's passive false sharing): it joins the bin's remote list instead, which goes home, to its
 * arena's depot, as one batch, for that arena's threads to take at a miss (remote_free). Nobody
 * waits for the thread that allocated it. A block of an arena that no live thread allocates from
 * (arena_occupied) is anybody's: it goes onto the bin as the thread's own do. When a bin overflows,
 * the block and the bin's older half (or half of every bin, when it is the byte budget that
 * overflows) go to the depot (depot.c) as one batch a bin, to the thread's arena's depot, one short
 * lock of that size each, and no policy call; what the full depot refuses goes to the policy, under
 * its arena's lock, and so do batches the depot held unused for a while (its sweep, depot.c). So a
 * thread that only frees (a consumer) takes a lock once per TC_BIN_BLOCKS / 2 frees, and its blocks
 * wait in the depot for a thread that mallocs. (Before the depot, each overflow freed its blocks
 * one by one into the policy under what was then the one global lock, and the producer's misses
 * took them back the same way: xmalloc, 2 pairs, 6.9 Mops/s then, 12.8 with the depot, in one perf
 * run each.)
 *
 * MALLOC of n <= TC_MAX bytes pops bin ceil(max(n, 16) / 8), else the next one, with no lock. Bins
 * are 8 bytes wide and the next bin is tried because the policies' usable sizes are 16k (segfit's
 * run slots, implicit's and explicit's blocks) or 16k + 8 (segfit's blocks, whose header is one
 * word): the block the policy itself gives a request is in one of the two, so a program that frees
 * and mallocs one size hits its bin, and a cached block never wastes more than 8 bytes over the
 * policy's own choice. A miss of both bins takes the last batch of either size in its arena's
 * depot, when there is one, with no global lock. Otherwise it takes the lock (a real one once
 * other threads exist), calls its arena's policy, and also puts more blocks of the size in the
 * bin: one more each time the bin misses again with no free into it between, up to
 * TC_REFILL - 1, listed in the order the policy handed them out (in address order, mostly), so
 * that a program's objects made in a row lie in a row. So a thread that only allocates (a
 * producer) soon takes the lock and this way once per TC_REFILL mallocs, while a bin that frees
 * keep feeding, or one size of a random mix, gets nothing it would not use.
 *
 * Guarantees:
 *   - a cached block is a heap block that the policy counts as allocated, whose usable size is at
 *     least 8i for its bin i, so it serves every request that pops it; its contents are garbage
 *     (calloc zeroes what it gets);
 *   - a thread's bins hold blocks of its own arena, and of arenas without an occupant, at most
 *     TC_BYTES bytes (counted at 8i for a block of bin i, so up to 7 bytes a block more in fact),
 *     and its remote lists other arenas' blocks, at most TC_REMOTE_BYTES, TC_BATCH a bin, one
 *     arena a bin; when the thread exits (a pthread key's destructor) they all go to their
 *     arenas' depots, for the threads that go on, or to the policies when the depot is full;
 *   - a bin hit and a free into a bin take no lock; a depot bin's lock is taken at a miss the
 *     depot serves, and once per TC_BIN_BLOCKS / 2 frees into a full bin (once per bin per
 *     TC_BYTES / 2 bytes freed into bins full by bytes); an arena's lock only at a miss the depot
 *     cannot serve and when the depot refuses a batch;
 *   - the maps say live (a bin, or the big map's place) exactly at the payload of a block the
 *     policy counts as allocated (cached ones included), each block in one of the two by its
 *     size, provided dropin.c calls tc_note for every block the policy hands out or resizes and
 *     tc_forget for every block it frees to the policy itself;
 *   - a double free of a block still in a cache or the depot aborts with a message. Every block
 *     they hold carries one key in its second word, the same for all (random, drawn at start);
 *     a block leaves with its key cleared. A free of a block with the key looks for it: in this
 *     thread's bin and remote list (found: "in this thread's cache"), then in its arena's depot
 *     bin of its size (found: "in the depot"); found in neither, it is in another thread's
 *     cache, whose bins are its thread's own and cannot be scanned from here, or on its way
 *     between a cache and the depot (the same double free). Data that equals the key by chance
 *     would be a false alarm, with odds of 2^-63 per free of arbitrary data. One key, not one a
 *     cache, since a batch moving between a cache and the depot then moves as it is: rekeying it
 *     (which this code did) read and wrote every block of it, blocks the other core had just
 *     written, and took a quarter of xmalloc's time. A block already given back to the policy
 *     has its byte MAP_FREED, and dropin.c aborts on it under the arena's lock, unless the policy
 *     handed a block out at that address again since: that double free, and a free by a block's
 *     earlier owner, cannot be told apart (nor can glibc);
 *   - blocks in the depot are no thread's: a thread's exit leaves them there, for any thread;
 *   - fork: the forking thread's cache is the child's thread's cache. The other threads' caches
 *     are gone with their threads: their blocks leak in the child (as glibc's tcache's do), at
 *     most TC_BYTES per thread, and keep the key, so freeing one again in the child still aborts.
 *
 * Tunables: TC_MAX, TC_BIN_BLOCKS, TC_BYTES, TC_REFILL and TC_REMOTE_BYTES below, each
 * overridable with -D.
 */
#include "thread_cache.h"

#include "arena.h"
#include "kernel_calls.h"
#include "memlib.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

/*
 * TC_BIN_BLOCKS default: 64 - the most blocks in one bin: enough for a burst of frees of one size
 * (a list of nodes torn down) to be reused without the lock; TC_BYTES bounds what they hold. The
 * churn benchmark (c/bench/churn.c: lists of 4-64 nodes among other small blocks, one thread)
 * ran in 0.53 s with 16, 0.49 with 32, 0.43 with 64 (without caches 0.48-0.52, glibc 0.47).
 */
#ifndef TC_BIN_BLOCKS
#define TC_BIN_BLOCKS 64
#endif

/*
 * TC_BYTES default: 256 KiB - the most bytes a thread's bins hold, which bounds what the caches add
 * to the heap: a thread's cached blocks are not merged, nor reused by other threads, until they
 * are given back. About what glibc's tcache can hold (7 blocks of each 16-byte size up to 1032
 * bytes: 233 KB). A larson-like run (2 threads of 1000 blocks of 8-1000 bytes) made 37 Mops/s
 * with 256 KiB, 18 with 128 KiB and 10 with 64 KiB (every overflow halves the bins, and misses
 * follow), for a peak RSS of 3.4, 3.1 and 3.0 MB (segfit alone: 3.0; glibc 5.0).
 */
#ifndef TC_BYTES
#define TC_BYTES (256 * 1024)
#endif

/*
 * TC_REFILL default: 16 - the most blocks a miss takes from the policy: the one asked for, the
 * rest for its bin, one more each time the bin misses again. A thread that only allocates
 * (xmalloc's producers) then takes the lock once per 16 mallocs (xmalloc -t 1, a noisy figure:
 * 4.8-4.9 Mops/s with 8, 4.9-6.1 with 16, glibc 4.3-5.1). With a single thread, where a miss
 * takes no lock, it still spares the next mallocs the miss's way through the layers (the depot's
 * looks, the arena's, the map's): jq building its tree of a 7 MB file, a miss at every malloc,
 * 3,381.7 M -> 3,332.4 M instructions (callgrind); churn, whose misses are few, +0.1%.
 */
#ifndef TC_REFILL
#define TC_REFILL 16
#endif

/*
 * TC_REMOTE_BYTES default: 256 KiB - the most bytes of other arenas' blocks a thread holds on their
 * way home (besides TC_BYTES of its own); a bin's blocks go home a batch at a time, and every
 * bin's at once when this is full. Smaller bounds save no memory and cost the consumers speed:
 * 64 KiB and 16 KiB took xmalloc at 1 pair from 7.45x glibc's speed to 5.28x and 2.44x, at 2
 * pairs from 3.19x to 2.51x and 1.36x, its peak RSS 6.7-6.9 and 12.1-12.3 MiB either way
 * (`mallocsim programs -p xmalloc -p larson -p rptest --repeat 7` of the three builds, 2026-12-07;
 * larson and rptest at 1 thread the same to the noise).
 */
#ifndef TC_REMOTE_BYTES
#define TC_REMOTE_BYTES (256 * 1024)
#endif

/* TC_MAX, TC_GRAIN and TC_BINS, which depot.c shares, are in thread_cache.h. */
enum {
    TC_BATCH = TC_BIN_BLOCKS / 2 + 1, /* the most blocks in a batch: a full bin's older half and
                                         the block that overflowed it */
    TC_STATE_UNSET = 0,               /* a thread that has not used its cache yet */
    TC_STATE_ACTIVE = 1,              /* registered: frees go to the cache */
    TC_STATE_DEAD = 2,                /* exiting or exited: every call goes to the policy */
};
_Static_assert(TC_MAX % TC_GRAIN == 0, "bins must tile TC_MAX");
_Static_assert(TC_BIN_BLOCKS >= 2 && TC_REFILL >= 1, "halving a full bin must free a slot");
_Static_assert(TC_BATCH <= UINT8_MAX, "a remote list's count fits remote_count");

/* The size map's geometry: 16 heap bytes per map byte (every payload is 16-aligned). */
#define MAP_GRAIN_SHIFT 4
#define MAP_GRAIN ((uintptr_t)1 << MAP_GRAIN_SHIFT)
#define CHUNK_SHIFT TC_MAP_CHUNK_SHIFT /* a chunk covers 16 MiB of heap with 1 MiB of map */
#define CHUNK_HEAP ((uintptr_t)1 << CHUNK_SHIFT)
#define CHUNK_BYTES (CHUNK_HEAP >> MAP_GRAIN_SHIFT)
/* The big map's: a KiB of heap per byte (no block too big to cache spans less: TC_BINS's last
   bin holds usable sizes up to TC_MAX + 15). */
#define BIG_GRAIN_SHIFT 10
#define BIG_CHUNK_BYTES (CHUNK_HEAP >> BIG_GRAIN_SHIFT)
#define MAP_CHUNKS ((size_t)1 << 14) /* 256 GiB of heap, the largest reservation */

/* What a map byte says of the 16 heap bytes it stands for (the banner's table). */
enum {
    MAP_NONE = 0,        /* no cached-size block of ours starts here */
    MAP_FIRST_BIN = 2,   /* MAP_FIRST_BIN .. TC_BINS - 1: a live block of that bin starts here (no
                            block has less room than a tc_block: bins 0 and 1 are never used) */
    MAP_UNCACHED = 0xFE, /* a live aligned block of a cached size, never cached, starts here */
    MAP_FREED = 0xFF,    /* a cached-size block freed to the policy started here, and none since */
};
_Static_assert(TC_BINS - 1 < MAP_UNCACHED, "a bin's number fits a map byte, and is no other state");
/* A big map byte: 0, or the place (1 + 16-byte steps into its KiB) of the big block that starts
   there, plus BIG_FREED once it is freed to the policy. */
enum { BIG_FREED = 0x80 };
_Static_assert(((size_t)TC_BINS - 1) * TC_GRAIN + TC_GRAIN > ((size_t)1 << BIG_GRAIN_SHIFT),
               "a block too big to cache spans more than a big map byte's KiB");
_Static_assert(((size_t)1 << (BIG_GRAIN_SHIFT - MAP_GRAIN_SHIFT)) < BIG_FREED,
               "a place fits below BIG_FREED");

/* One bin: what a malloc or free of its size touches, in 16 bytes. */
typedef struct {
    tc_block *head;  /* the most recently freed block, or NULL */
    uint32_t count;  /* blocks in the bin, at most TC_BIN_BLOCKS */
    uint32_t misses; /* misses since a free last went into the bin, at most TC_REFILL - 1 */
} tc_bin;

/* One thread's cache. */
typedef struct {
    tc_bin bin[TC_BINS]; /* bin i: free blocks of usable size in [8i, 8i + 8) (this thread's
                            arena's, or of an arena without an occupant) */
    size_t bytes;        /* 8i summed over every binned block: at most TC_BYTES */
    int state;           /* TC_STATE_* */
    unsigned arena;      /* the thread's arena (arena_mine), set when the cache is activated */
    uintptr_t mine_lo;   /* with mine_span, that arena's part of the reservation: a free tells */
    uintptr_t mine_span; /* its own block with one subtraction (0: no reservation, none is) */
    /* Blocks of other arenas this thread freed, on their way home: remote[i], remote_count[i]
       blocks of bin i, all of one arena (its first block's); remote_bytes counts them as bytes
       counts the bins' (at most TC_REMOTE_BYTES). */
    tc_block *remote[TC_BINS];
    uint8_t remote_count[TC_BINS];
    size_t remote_bytes;
} thread_cache;

static _Thread_local thread_cache self __attribute__((tls_model("initial-exec")));

/* What every thread shares. */
static struct {
    pthread_key_t
        exit_key;       /* a registered thread's value: its cache, which the destructor empties */
    _Atomic bool ready; /* exit_key and key are set: caches may register */
    uintptr_t key; /* the second word of every block a cache or the depot holds: random, top bit
                      set, so that no small word (0 above all) and no pointer is the key */
} shared;

/* A bit per chunk of the size map. Bit k is read and written only under the lock of the arena
   whose heap chunk k covers, but one word's 64 chunks may cover two arenas' heaps (a reservation
   under 4 GiB), so a word changes by atomic or and and. Bits, not bools: the two flags of every
   chunk came to 32 KiB of the library's data, on a page apiece for each arena the program used
   (24 kB of a 2-thread program's peak RSS; 4 kB now). */
typedef struct {
    _Atomic uint64_t word[MAP_CHUNKS / 64];
} chunk_flags;

static inline bool chunk_flag(const chunk_flags *flags, size_t k) {
    return atomic_load_explicit(&flags->word[k / 64], memory_order_relaxed) >> (k % 64) & 1;
}

static inline void chunk_flag_set(chunk_flags *flags, size_t k, bool on) {
    uint64_t bit = (uint64_t)1 << (k % 64);
    if (on)
        atomic_fetch_or_explicit(&flags->word[k / 64], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&flags->word[k / 64], ~bit, memory_order_relaxed);
}

/* The size map. heap_lo, span and bytes are written once, before any heap block exists, and read
   by any free: atomic, relaxed (a reader reaches the map only for a block it got after that). */
static struct {
    _Atomic uintptr_t heap_lo;        /* the reservation's first byte; 0 until tc_heap_start */
    _Atomic uintptr_t span;           /* its bytes: the map covers [heap_lo, heap_lo + span) */
    uintptr_t most;                   /* span at tc_heap_start, which a cut span regrows to */
    _Atomic(_Atomic uint8_t *) bytes; /* span / 16 map bytes (see tc_heap_start) */
    _Atomic(_Atomic uint8_t *) big;   /* span / 1024 big map bytes, after them, as they are */
    chunk_flags writable;             /* chunk k's map bytes and big map bytes are read-write */
    chunk_flags written;              /* ...and written since the last tc_map_trim looked */
} map;

/* ---------------------------------------------------------------- the size map */

/* p's offset in the reservation: where both maps find its byte. Past the reservation (or before
   tc_heap_start) it is at least span, since the subtraction wraps below heap_lo. */
static inline uintptr_t heap_offset(const void *p) {
    return (uintptr_t)p - atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
}

/* The map byte of the heap byte at `offset` (below span). */
static inline _Atomic uint8_t *map_byte_at(uintptr_t offset) {
    return atomic_load_explicit(&map.bytes, memory_order_relaxed) + (offset >> MAP_GRAIN_SHIFT);
}

/* The map byte of p, or NULL when p is outside the reservation (or before tc_heap_start: span is
   0). Unreadable where no heap has grown: no block of ours is there. */
static inline _Atomic uint8_t *map_byte(const void *p) {
    uintptr_t offset = heap_offset(p);
    if (offset >= atomic_load_explicit(&map.span, memory_order_relaxed))
        return NULL;
    return map_byte_at(offset);
}

/* `call` (km_mprotect, km_madvise) with `arg` over both maps' bytes for the heap bytes [at, at +
   len) of the reservation (offsets from its start, whole chunks), both tried; 0, or -1 when either
   failed. */
static int on_maps(int (*call)(void *, size_t, int), uintptr_t at, uintptr_t len, int arg) {
    assert(at % CHUNK_HEAP == 0 && len % CHUNK_HEAP == 0);
    _Atomic uint8_t *bytes = atomic_load_explicit(&map.bytes, memory_order_relaxed);
    _Atomic uint8_t *big = atomic_load_explicit(&map.big, memory_order_relaxed);
    int fine = call((void *)(bytes + (at >> MAP_GRAIN_SHIFT)), len >> MAP_GRAIN_SHIFT, arg);
    int coarse = call((void *)(big + (at >> BIG_GRAIN_SHIFT)), len >> BIG_GRAIN_SHIFT, arg);
    return fine != 0 ? fine : coarse;
}

void tc_map_given_back(const void *from, const void *end) {
    uintptr_t lo = atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
    assert((uintptr_t)from >= lo && (uintptr_t)end > (uintptr_t)from);
    (void)on_maps(km_mprotect, (uintptr_t)from - lo, (uintptr_t)end - (uintptr_t)from, PROT_READ);
}

bool tc_map_reach(const void *from, const void *end) {
    uintptr_t lo = atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
    uintptr_t span = atomic_load_explicit(&map.span, memory_order_relaxed);
    assert(lo != 0 && (uintptr_t)from >= lo && (uintptr_t)end > (uintptr_t)from);
    if ((uintptr_t)end - lo > span)
        return false;
    size_t last = (size_t)(((uintptr_t)end - 1 - lo) >> CHUNK_SHIFT);
    for (size_t k = (size_t)(((uintptr_t)from - lo) >> CHUNK_SHIFT); k <= last; k++) {
        if (chunk_flag(&map.writable, k))
            continue;
        if (on_maps(km_mprotect, k * CHUNK_HEAP, CHUNK_HEAP, PROT_READ | PROT_WRITE) != 0)
            return false;
        (void)on_maps(km_madvise, k * CHUNK_HEAP, CHUNK_HEAP, MADV_DODUMP); /* in dumps: arena.c */
        chunk_flag_set(&map.writable, k, true);
    }
    return true;
}

/* What the map says of p: MAP_NONE for a pointer inside a block (not 16-aligned), or outside
   the heap. */
static inline unsigned map_state(const void *p) {
    if ((uintptr_t)p % MAP_GRAIN != 0)
        return MAP_NONE;
    _Atomic uint8_t *byte = map_byte(p);
    return byte != NULL ? atomic_load_explicit(byte, memory_order_relaxed) : MAP_NONE;
}

static inline bool is_bin(unsigned state) { return state >= MAP_FIRST_BIN && state < TC_BINS; }

/* Does a map byte name a live block: one of a bin, or an aligned one never cached? */
static inline bool is_live(unsigned state) { return is_bin(state) || state == MAP_UNCACHED; }

/* p's bin when p is a live block of a cached size, else 0. */
static inline unsigned map_bin(const void *p) {
    unsigned state = map_state(p);
    return is_bin(state) ? state : 0;
}

/* The big map byte of p, a 16-aligned pointer in the reservation, and the place it would hold
   for a big block starting at p (the reservation starts on a page: p's own low bits say it). */
static _Atomic uint8_t *big_byte(const void *p) {
    return atomic_load_explicit(&map.big, memory_order_relaxed) +
           (heap_offset(p) >> BIG_GRAIN_SHIFT);
}

static unsigned big_place(const void *p) {
    uintptr_t steps = (uintptr_t)1 << (BIG_GRAIN_SHIFT - MAP_GRAIN_SHIFT);
    return 1 + (unsigned)(((uintptr_t)p >> MAP_GRAIN_SHIFT) & (steps - 1));
}

/* The bin of a block of `usable` bytes, or 0 when it is too big to cache. */
static unsigned bin_of_usable(size_t usable) {
    assert(usable >= sizeof(tc_block)); /* so a bin is at least MAP_FIRST_BIN */
    size_t i = usable / TC_GRAIN;
    return i < TC_BINS ? (unsigned)i : 0;
}

size_t tc_map_size(size_t span) { return (span >> MAP_GRAIN_SHIFT) + (span >> BIG_GRAIN_SHIFT); }

bool tc_heap_start(void *lo, size_t span, void *map_at) {
    assert(lo != NULL && atomic_load_explicit(&map.heap_lo, memory_order_relaxed) == 0);
    assert(span % CHUNK_HEAP == 0 && span / CHUNK_HEAP <= MAP_CHUNKS);
    /* Inaccessible until a heap reaches a chunk (tc_map_reach) or the part is given back
       (tc_map_given_back): no commit charge (vm.overcommit_memory=2 counts writable private
       memory only), and nothing for mlockall to fill in. Read-only, the map's 16 GiB took 4
       million zero-page entries at a program's mlockall, 2.4-5.5 s and 33 MB of page tables
       (tor with DisableAllSwap; drop-in pass 27). Only the reservation's heaps can hold a block
       whose byte is read, and their chunks are writable before they grow. Placed by the caller,
       the map starts cut to nothing, and is mapped as the heaps regrow it. */
    char *bytes = map_at;
    if (bytes == NULL) {
        bytes = km_mmap(NULL, tc_map_size(span), PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (bytes == MAP_FAILED)
            return false;
        leave_out_of_dumps(bytes, tc_map_size(span)); /* but its chunks in use */
    }
    atomic_store_explicit(&map.bytes, (_Atomic uint8_t *)bytes, memory_order_relaxed);
    atomic_store_explicit(&map.big, (_Atomic uint8_t *)(bytes + (span >> MAP_GRAIN_SHIFT)),
                          memory_order_relaxed);
    atomic_store_explicit(&map.heap_lo, (uintptr_t)lo, memory_order_relaxed);
    atomic_store_explicit(&map.span, map_at == NULL ? span : 0, memory_order_relaxed);
    map.most = span;
    return true;
}

static int unmap_call(void *at, size_t len, int unused) {
    (void)unused;
    return km_munmap(at, len);
}

void tc_map_cut(const void *end) {
    uintptr_t lo = atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
    uintptr_t was = atomic_load_explicit(&map.span, memory_order_relaxed);
    uintptr_t span = (uintptr_t)end - lo;
    assert((uintptr_t)end >= lo && span % CHUNK_HEAP == 0);
    if (span >= was)
        return;
    /* Lookups past the new span answer "none of ours" before the bytes they read go. */
    atomic_store_explicit(&map.span, span, memory_order_relaxed);
    (void)on_maps(unmap_call, span, was - span, 0);
    for (size_t k = span / CHUNK_HEAP; k < was / CHUNK_HEAP; k++) { /* mapped again unwritable */
        chunk_flag_set(&map.writable, k, false);
        chunk_flag_set(&map.written, k, false);
    }
}

/* `len` bytes of the maps at `at`, mapped anew, inaccessible, where nothing is: false when
   something else is there or the system refuses. */
static bool map_afresh(void *at, size_t len) {
    if (!km_reserve_at(at, len))
        return false;
    leave_out_of_dumps(at, len);
    return true;
}

/* Taken by tc_map_regrow alone, always under an arena's lock (so never held across a fork, whose
   handlers take every arena's): two arenas whose heaps take their parts as they grow may regrow
   the map at once. */
static pthread_mutex_t regrow_lock = PTHREAD_MUTEX_INITIALIZER;

static bool map_regrow_locked(const void *end, const void *readable_to) {
    uintptr_t lo = atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
    uintptr_t was = atomic_load_explicit(&map.span, memory_order_relaxed);
    uintptr_t span = (uintptr_t)end - lo;
    assert(lo != 0 && (uintptr_t)end > lo && span % CHUNK_HEAP == 0);
    if (span <= was)
        return true;
    if (span > map.most)
        return false;
    _Atomic uint8_t *bytes = atomic_load_explicit(&map.bytes, memory_order_relaxed);
    _Atomic uint8_t *big = atomic_load_explicit(&map.big, memory_order_relaxed);
    void *fine_at = (void *)(bytes + (was >> MAP_GRAIN_SHIFT));
    void *coarse_at = (void *)(big + (was >> BIG_GRAIN_SHIFT));
    size_t fine_len = (span - was) >> MAP_GRAIN_SHIFT, coarse_len = (span - was) >> BIG_GRAIN_SHIFT;
    bool fine = map_afresh(fine_at, fine_len), coarse = fine && map_afresh(coarse_at, coarse_len);
    if (!coarse) { /* only what was mapped here: the rest may be another's */
        if (fine)
            km_munmap(fine_at, fine_len);
        return false;
    }
    if ((uintptr_t)readable_to > lo + was) /* before any lookup can reach it */
        tc_map_given_back((const void *)(lo + was), readable_to);
    atomic_store_explicit(&map.span, span, memory_order_relaxed);
    return true;
}

bool tc_map_regrow(const void *end, const void *readable_to) {
    pthread_mutex_lock(&regrow_lock);
    bool covered = map_regrow_locked(end, readable_to);
    pthread_mutex_unlock(&regrow_lock);
    return covered;
}

/* Do `len` map bytes from `at` name no live block? In the size map a live block's byte is its bin
   or MAP_UNCACHED; in the big map, its place without BIG_FREED. */
static bool bytes_idle(const _Atomic uint8_t *at, size_t len, bool big) {
    for (size_t n = 0; n < len; n++) {
        unsigned b = atomic_load_explicit(&at[n], memory_order_relaxed);
        if (big ? b != 0 && !(b & BIG_FREED) : is_live(b))
            return false;
    }
    return true;
}

/* Whether none of the 8 map bytes in w may name a live block, tested at once: a size map byte of
   0 or MAP_FREED names none (any other byte may), a big map byte of 0 or with BIG_FREED none. */
static inline bool word_idle(uint64_t w, bool big) {
    const uint64_t tops = 0x8080808080808080u, lows = 0x7F7F7F7F7F7F7F7Fu;
    uint64_t top = w & tops;
    if (!big)
        return w == (top >> 7) * 0xFF;                   /* every byte 0x00 or 0xFF */
    uint64_t nonzero = (((w & lows) + lows) | w) & tops; /* a byte's top bit: it is not 0 */
    return (nonzero & ~top) == 0;
}

/* bytes_idle for `len` bytes (a multiple of 8, 8-aligned), read 8 at a time, and a word byte by
   byte only when it may name a live block: a purge of a 770 MB heap read its 48 MB of map in 40
   ms byte by byte, 12 this way. The bytes are written only under the lock the caller holds, so
   reading them whole races with nothing. */
static bool map_idle(const _Atomic uint8_t *at, size_t len, bool big) {
    assert(len % 8 == 0 && (uintptr_t)at % 8 == 0);
    for (size_t n = 0; n < len; n += 8) {
        uint64_t w;
        memcpy(&w, (const void *)(at + n), sizeof w);
        assert(!word_idle(w, big) || bytes_idle(at + n, 8, big));
        if (!word_idle(w, big) && !bytes_idle(at + n, 8, big))
            return false;
    }
    return true;
}

/* The pages of `len` map bytes from `at` (whole pages, at most CHUNK_BYTES) that name no live
   block given back, each run of them in one call; their bytes then read 0, as where no block ever
   started. A page not resident is passed over unread: reading it faulted back, page by page, what
   the last trim had given back (drop-in pass 18: 749 us a trim against glibc's 19). Returns the
   bytes of resident pages given back. */
static size_t map_discard_idle(_Atomic uint8_t *at, size_t len, bool big) {
    enum { MOST_PAGES = CHUNK_BYTES / 4096 };
    unsigned char resident[MOST_PAGES];
    size_t page = mem_pagesize(), released = 0, run = 0, idle = 0;
    bool known = len / page <= MOST_PAGES && km_mincore(at, len, resident) == 0;
    for (size_t n = 0; n <= len; n += page) {
        bool absent = n < len && known && !(resident[n / page] & 1);
        if (n < len && (absent || map_idle(at + n, page, big))) {
            run += page;
            idle += absent ? 0 : page;
            continue;
        }
        if (idle > 0 && km_madvise((void *)(at + n - run), run, MADV_DONTNEED) == 0)
            released += idle;
        run = idle = 0;
    }
    return released;
}

size_t tc_map_trim(const void *lo, const void *hi) {
    uintptr_t heap_lo = atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
    assert(heap_lo != 0 && (uintptr_t)lo >= heap_lo && (uintptr_t)hi > (uintptr_t)lo);
    _Atomic uint8_t *bytes = atomic_load_explicit(&map.bytes, memory_order_relaxed);
    _Atomic uint8_t *big = atomic_load_explicit(&map.big, memory_order_relaxed);
    size_t released = 0, last = (size_t)(((uintptr_t)hi - 1 - heap_lo) >> CHUNK_SHIFT);
    /* Only chunks written since the last look: a trim every 10 ms (Java's
       -XX:TrimNativeHeapInterval=10) read every byte of the map each time, faulting back the
       pages it had given back, 12-166 ms a trim against glibc's 0.1 (drop-in pass 17). */
    for (size_t k = (size_t)(((uintptr_t)lo - heap_lo) >> CHUNK_SHIFT); k <= last; k++)
        if (chunk_flag(&map.writable, k) && chunk_flag(&map.written, k)) {
            chunk_flag_set(&map.written, k, false);
            released += map_discard_idle(bytes + k * CHUNK_BYTES, CHUNK_BYTES, false) +
                        map_discard_idle(big + k * BIG_CHUNK_BYTES, BIG_CHUNK_BYTES, true);
        }
    return released;
}

/* The whole pages of base's bytes [from, to), within one chunk, given back where idle. */
static size_t discard_map_range(_Atomic uint8_t *base, uintptr_t from, uintptr_t to, bool big) {
    uintptr_t page = mem_pagesize();
    uintptr_t lo = ((uintptr_t)(base + from) + page - 1) & ~(page - 1);
    uintptr_t hi = (uintptr_t)(base + to) & ~(page - 1);
    return hi > lo ? map_discard_idle((_Atomic uint8_t *)lo, hi - lo, big) : 0;
}

size_t tc_map_trim_span(const void *lo, const void *hi) {
    uintptr_t heap_lo = atomic_load_explicit(&map.heap_lo, memory_order_relaxed);
    assert(heap_lo != 0 && (uintptr_t)lo >= heap_lo && (uintptr_t)hi > (uintptr_t)lo);
    _Atomic uint8_t *bytes = atomic_load_explicit(&map.bytes, memory_order_relaxed);
    _Atomic uint8_t *big = atomic_load_explicit(&map.big, memory_order_relaxed);
    uintptr_t from = (uintptr_t)lo - heap_lo, to = (uintptr_t)hi - heap_lo;
    size_t released = 0;
    for (uintptr_t at = from; at < to; at = (at & ~(CHUNK_HEAP - 1)) + CHUNK_HEAP) {
        uintptr_t end = (at & ~(CHUNK_HEAP - 1)) + CHUNK_HEAP; /* a chunk at a time: */
        if (end > to)                                          /* map_discard_idle's limit */
            end = to;
        if (!chunk_flag(&map.writable, at >> CHUNK_SHIFT))
            continue;
        released += discard_map_range(bytes, at >> MAP_GRAIN_SHIFT, end >> MAP_GRAIN_SHIFT, false) +
                    discard_map_range(big, at >> BIG_GRAIN_SHIFT, end >> BIG_GRAIN_SHIFT, true);
    }
    return released;
}

/* Set p's map byte. Under p's lock. */
static void map_set(const void *p, unsigned state) {
    _Atomic uint8_t *byte = map_byte(p);
    assert(byte != NULL && (uintptr_t)p % MAP_GRAIN == 0); /* the map covers the whole heap */
    atomic_store_explicit(byte, (uint8_t)state, memory_order_relaxed);
}

/* The map bytes of the heap byte at `offset` in the reservation are about to change: its chunk is
   one for the next tc_map_trim to look at. Under that byte's lock. */
static inline void mark_chunk_written(uintptr_t offset) {
    size_t k = offset >> CHUNK_SHIFT;
    if (!chunk_flag(&map.written, k)) /* mostly set already: no locked write */
        chunk_flag_set(&map.written, k, true);
}

/* p's map bytes are about to change (mark_chunk_written). Under p's lock. */
static void mark_written(const void *p) { mark_chunk_written(heap_offset(p)); }

/* mark_written and map_set in one, inline, with the offset found once: for the loops that move
   blocks between a cache and the policy by the dozen (note_cached, forget_cached). */
__attribute__((always_inline)) static inline void map_rewrite(const void *p, unsigned state) {
    uintptr_t offset = heap_offset(p);
    assert(map_byte(p) != NULL && (uintptr_t)p % MAP_GRAIN == 0);
    mark_chunk_written(offset);
    atomic_store_explicit(map_byte_at(offset), (uint8_t)state, memory_order_relaxed);
}

/* Record p, of `usable` bytes, as live, with its bin in the map, or in the big map when too big to
   cache, and take it out of the other, where a realloc in place may have moved it across; return
   the bin (0: too big to cache). Under p's lock. `fresh`: the policy has just handed p out, not
   resized it, and then neither map says live at p (a block's start is forgotten, tc_forget, when
   it goes back to the policy): the other map is not read. That read missed the cache on most
   mallocs of blocks too big to cache, whose size map bytes nothing else reads (callgrind's cache
   model, 300,000 replacements of 1,100-2,000 byte blocks: 44,600 first-level misses, 11,000 in
   the last level). */
static unsigned note(void *p, size_t usable, bool fresh) {
    assert(usable == arena_usable_size(p));
    mark_written(p);
    unsigned bin = bin_of_usable(usable);
    _Atomic uint8_t *big = big_byte(p);
    unsigned place = big_place(p);
    assert(!fresh || (!is_live(map_state(p)) && atomic_load(big) != place));
    if (bin != 0) {
        map_set(p, bin);
        if (!fresh && atomic_load_explicit(big, memory_order_relaxed) == place)
            atomic_store_explicit(big, (uint8_t)(place | BIG_FREED), memory_order_relaxed);
    } else {
        atomic_store_explicit(big, (uint8_t)place, memory_order_relaxed);
        if (!fresh && is_live(map_state(p)))
            map_set(p, MAP_FREED);
    }
    return bin;
}

/* note of a block the policy has just handed out (fresh) whose usable size is of bin i. */
static inline void note_cached(void *p, unsigned i) {
    assert(i == bin_of_usable(arena_usable_size(p)) && i != 0 && !is_live(map_state(p)));
    map_rewrite(p, i);
}

void tc_note(void *p, size_t usable) { (void)note(p, usable, false); }

void tc_note_usable(void *p, size_t usable) { (void)note(p, usable, true); }

void tc_note_aligned(void *p) {
    if (note(p, arena_usable_size(p), true) != 0)
        map_set(p, MAP_UNCACHED);
}

size_t tc_cached_bytes(unsigned *arena) {
    if (self.state != TC_STATE_ACTIVE)
        return 0;
    *arena = self.arena;
    return self.bytes + self.remote_bytes;
}

/* tc_forget of a block that a cache, the depot or a remote list held: its map byte names its bin,
   so no other byte is read. */
static inline void forget_cached(const void *p) {
    assert(is_bin(map_state(p)));
    map_rewrite(p, MAP_FREED);
}

void tc_forget(void *p) {
    mark_written(p);
    if (is_live(map_state(p))) {
        map_set(p, MAP_FREED);
        return;
    }
    _Atomic uint8_t *big = big_byte(p);
    assert(atomic_load_explicit(big, memory_order_relaxed) == big_place(p)); /* a live one */
    atomic_store_explicit(big, (uint8_t)(big_place(p) | BIG_FREED), memory_order_relaxed);
}

/* Could a block of ours start at p: 16-aligned, and in the reservation the maps cover (where
   map_byte is not NULL)? */
static inline bool in_maps(const void *p) {
    return (uintptr_t)p % MAP_GRAIN == 0 &&
           heap_offset(p) < atomic_load_explicit(&map.span, memory_order_relaxed);
}

bool tc_big_live(const void *p) {
    return in_maps(p) && atomic_load_explicit(big_byte(p), memory_order_relaxed) == big_place(p);
}

bool tc_forget_big(void *p) {
    assert(in_maps(p));
    _Atomic uint8_t *big = big_byte(p);
    unsigned place = big_place(p);
    if (atomic_load_explicit(big, memory_order_relaxed) != place)
        return false;
    assert(!is_live(map_state(p))); /* one map at most says live (note) */
    mark_written(p);
    atomic_store_explicit(big, (uint8_t)(place | BIG_FREED), memory_order_relaxed);
    return true;
}

tc_block_state tc_state(const void *p) {
    unsigned state = map_state(p);
    if (is_live(state))
        return TC_LIVE;
    if (!in_maps(p))
        return TC_NOT_A_BLOCK;
    unsigned big = atomic_load_explicit(big_byte(p), memory_order_relaxed), place = big_place(p);
    if (big == place)
        return TC_LIVE;
    return big == (place | BIG_FREED) || state == MAP_FREED ? TC_FREED : TC_NOT_A_BLOCK;
}

/* ---------------------------------------------------------------- the bins */

/* May bin i of c take one more block? */
static inline bool bin_has_room(const thread_cache *c, unsigned i) {
    return c->bin[i].count < TC_BIN_BLOCKS && c->bytes + (size_t)i * TC_GRAIN <= TC_BYTES;
}

/* How many blocks bin i of c may take one after another: bin_has_room's two bounds, counted. */
static inline unsigned bin_room(const thread_cache *c, unsigned i) {
    assert(c->bin[i].count <= TC_BIN_BLOCKS && c->bytes <= TC_BYTES);
    size_t by_bytes = (TC_BYTES - c->bytes) / ((size_t)i * TC_GRAIN);
    unsigned by_count = TC_BIN_BLOCKS - c->bin[i].count;
    return by_bytes < by_count ? (unsigned)by_bytes : by_count;
}

static inline void bin_push(thread_cache *c, unsigned i, tc_block *b) {
    c->bin[i].misses = 0;
    b->next = c->bin[i].head;
    b->key = shared.key;
    c->bin[i].head = b;
    c->bin[i].count++;
    c->bytes += (size_t)i * TC_GRAIN;
}

/* The bin a request of `size` (at most TC_MAX) bytes pops first; the next one serves it too.
   Below 16 bytes, the bins of 16: no payload is smaller, and segfit's smallest block has 24
   usable bytes (bin 3). */
static inline unsigned bin_for(size_t size) {
    assert(size <= TC_MAX);
    return size < 2 * TC_GRAIN ? 2 : (unsigned)((size + TC_GRAIN - 1) / TC_GRAIN);
}

/* A block for `size` bytes, from its bin or the next, or NULL. */
static inline void *bin_pop(thread_cache *c, size_t size) {
    if (size > TC_MAX)
        return NULL;
    unsigned i = bin_for(size);
    tc_block *b = c->bin[i].head;
    if (b == NULL && (b = c->bin[++i].head) == NULL)
        return NULL;
    c->bin[i].head = b->next;
    c->bin[i].count--;
    c->bytes -= (size_t)i * TC_GRAIN;
    b->key = 0; /* out of every cache: freeing it again is a free, not a double free */
    return b;
}

/* Give b back to its arena's policy. Under b's lock. */
static void give_back(tc_block *b) {
    b->key = 0; /* the policy may leave this word as it is, and hand the block out again */
    tc_forget(b);
    arena_free(b);
}

/* Give a list of cached blocks (of any arenas) back to their policies, each under its arena's
   lock, which each arena's run of them takes once and settles once (arena_settle): per block, the
   map byte's write and the policy's free alone. */
static void give_back_locked(tc_block *list) {
    unsigned held = ARENAS; /* the arena whose lock is held: none yet */
    bool locked = false;
    for (tc_block *next; list != NULL; list = next) {
        next = list->next;
        unsigned k = arena_index(list);
        if (k != held) {
            if (held < ARENAS) {
                arena_settle(held);
                arena_leave(held, locked);
            }
            locked = arena_enter(k);
            held = k;
        }
        list->key = 0; /* as give_back says */
        forget_cached(list);
        arena_free_unsettled(list);
    }
    if (held < ARENAS) {
        arena_settle(held);
        arena_leave(held, locked);
    }
}

/* Keep the first `keep` blocks of bin i (the most recently freed, likeliest still in the CPU's
   cache) and detach the rest: their list (still keyed), its length in *count. */
static tc_block *bin_cut(thread_cache *c, unsigned i, unsigned keep, unsigned *count) {
    *count = 0;
    if (c->bin[i].count <= keep)
        return NULL;
    tc_block **link = &c->bin[i].head;
    for (unsigned n = 0; n < keep; n++)
        link = &(*link)->next;
    tc_block *rest = *link;
    *link = NULL;
    *count = c->bin[i].count - keep;
    c->bytes -= (size_t)*count * i * TC_GRAIN;
    c->bin[i].count = keep;
    return rest;
}

/* Offer `count` blocks of bin i to arena k's depot; what it refuses, and what its sweep gives back,
   go onto *refused, for the policy. */
static void hand_over(unsigned k, unsigned i, tc_block *list, unsigned count, tc_block **refused) {
    if (count == 0)
        return;
    if (!depot_put(k, i, list, count))
        tc_list_prepend(list, refused);
    depot_sweep(k, refused);
}

/*
 * b does not fit bin i: make room for the frees to come, b included: half of bin i when it is
 * full, else (the byte budget is) half of every bin. Each bin's half goes to the depot as one
 * batch, for any thread's bin that misses; what the depot refuses goes to the policy, under one
 * lock. Out of line: it runs once per TC_BIN_BLOCKS / 2 frees at most, and keeps tc_free small.
 */
__attribute__((noinline)) static bool overflow(thread_cache *c, unsigned i, tc_block *b) {
    tc_block *refused = NULL;
    unsigned count;
    b->key = shared.key;
    if (c->bin[i].count >= TC_BIN_BLOCKS) {
        b->next = bin_cut(c, i, TC_BIN_BLOCKS / 2, &count);
        hand_over(c->arena, i, b, count + 1, &refused);
    } else {
        for (unsigned j = 0; j < TC_BINS; j++) {
            tc_block *half = bin_cut(c, j, c->bin[j].count / 2u, &count);
            if (j == i) {
                b->next = half;
                half = b;
                count++;
            }
            hand_over(c->arena, j, half, count, &refused);
        }
    }
    give_back_locked(refused);
    return true;
}

/* Bin i is empty: fill it with the depot's last batch of its size, when there is one and the
   thread's byte budget has room for any batch. */
static bool refill_from_depot(thread_cache *c, unsigned i) {
    if (c->bytes + (size_t)TC_BATCH * i * TC_GRAIN > TC_BYTES)
        return false;
    tc_block *head;
    unsigned count = depot_take(c->arena, i, &head);
    if (count == 0)
        return false;
    assert(c->bin[i].head == NULL && count <= TC_BATCH);
    c->bin[i].head = head;
    c->bin[i].count = count;
    c->bytes += (size_t)count * i * TC_GRAIN;
    return true;
}

/* Send bin i's remote list home: to its arena's depot, or, when that is full, to its policy. */
static void send_home(thread_cache *c, unsigned i) {
    tc_block *list = c->remote[i], *refused = NULL;
    unsigned count = c->remote_count[i];
    if (list == NULL)
        return;
    c->remote[i] = NULL;
    c->remote_count[i] = 0;
    c->remote_bytes -= (size_t)count * i * TC_GRAIN;
    hand_over(arena_index(list), i, list, count, &refused);
    give_back_locked(refused);
}

/*
 * b, a block of bin i, was freed by this thread but belongs to another arena: it is not this
 * thread's to reuse. Reused here, it would share its cache lines with the blocks its own thread
 * uses (Hoard's cache-scratch: a thread frees a block the main thread allocated next to
 * another's, then gets it back for its every malloc: 0.2x glibc's speed at 2 threads). It joins
 * bin i's remote list, which goes to its arena's depot as one batch when full, or when a block
 * of another arena comes, or when the thread holds TC_REMOTE_BYTES of such blocks (then every
 * bin's list goes); a thread of that arena takes the batch at a miss. Tried and lost: only blocks
 * of up to 71 usable bytes sent home, larger ones kept by the freeing thread (they have cache lines
 * of their own): xmalloc's consumer then kept its producer's blocks, which overflowed into its own
 * arena's depot, where no thread took them (1 pair: 1.43x glibc's speed against 5.54x), and
 * larson's peak RSS stayed where it was (5.2 MB against 5.3).
 */
__attribute__((noinline)) static bool remote_free(thread_cache *c, unsigned i, tc_block *b) {
    if (c->remote[i] != NULL && arena_index(c->remote[i]) != arena_index(b))
        send_home(c, i);
    b->key = shared.key;
    b->next = c->remote[i];
    c->remote[i] = b;
    c->remote_bytes += (size_t)i * TC_GRAIN;
    if (++c->remote_count[i] >= TC_BATCH)
        send_home(c, i);
    if (c->remote_bytes > TC_REMOTE_BYTES)
        for (unsigned j = 0; j < TC_BINS; j++)
            send_home(c, j);
    return true;
}

/* ------------------------------------------------------------- double frees */

/*
 * b, passed to `call` ("free()"; `what` says what that is: "double free detected"), carries the key
 * in its second word: it is most likely in a cache or the depot still, and freeing it again would
 * put it in a bin twice, whence two mallocs would get it. Out of line, since it runs only on a
 * double free (or on data that equals the key).
 */
/* The parts joined into out (size bytes, cut to fit, ended): no stdio in a malloc. */
static void join(char *out, size_t size, const char *const *parts, size_t count) {
    size_t at = 0;
    for (size_t n = 0; n < count; n++)
        for (const char *c = parts[n]; *c != '\0' && at + 1 < size; c++)
            out[at++] = *c;
    out[at] = '\0';
}

__attribute__((noinline, cold)) _Noreturn static void check_freed(const thread_cache *c, unsigned i,
                                                                  const tc_block *b,
                                                                  const char *call,
                                                                  const char *what) {
    const char *where = "another thread's cache";
    if (tc_list_holds(c->bin[i].head, b) || tc_list_holds(c->remote[i], b))
        where = "this thread's cache";
    for (unsigned k = 0; k < ARENAS; k++) /* a bin may hand a block of another arena over */
        if (depot_holds(k, i, b))
            where = "the depot";
    char message[160];
    const char *parts[] = {call, ": ", what, " (the block is in ", where, ")"};
    join(message, sizeof message, parts, sizeof parts / sizeof parts[0]);
    dropin_die(message);
}

void tc_check_live(const void *p, const char *call) {
    unsigned i = map_bin(p);
    /* No key yet (0: tc_setup sets its top bit): a library's constructor, run before ours,
       reallocs a block whose second word is 0, which is no cache's mark (libgobject-2.0). */
    if (i != 0 && shared.key != 0 && ((const tc_block *)p)->key == shared.key)
        check_freed(&self, i, p, call, "use after free detected");
}

/* ------------------------------------------------------- registering a thread */

/*
 * Runs in an exiting thread that registered its cache, after its thread_local destructors. Its
 * bins go to the depot, in batches a bin can take whole, for the threads that go on (larson hands
 * its slots to a new thread every generation, which then misses on every size); what the depot
 * refuses goes to the policy. Before, every block went to the policy under what was then the one
 * global lock, one mm_free each, while the other threads waited.
 */
static void thread_exit(void *arg) {
    thread_cache *c = arg;
    assert(c == &self && c->state == TC_STATE_ACTIVE);
    c->state = TC_STATE_DEAD; /* frees and mallocs from later destructors go to the policy */
    arena_exit_thread(c->arena);
    tc_block *refused = NULL;
    for (unsigned i = 0; i < TC_BINS; i++)
        while (c->bin[i].count > 0) {
            unsigned count, keep = c->bin[i].count > TC_BATCH ? c->bin[i].count - TC_BATCH : 0;
            tc_block *batch = bin_cut(c, i, keep, &count);
            hand_over(c->arena, i, batch, count, &refused);
        }
    for (unsigned i = 0; i < TC_BINS; i++)
        send_home(c, i);
    give_back_locked(refused);
}

void tc_give_back_all(void) {
    thread_cache *c = &self;
    tc_block *list = NULL;
    unsigned count;
    for (unsigned i = 0; i < TC_BINS; i++) {
        tc_block *bin = bin_cut(c, i, 0, &count);
        if (bin != NULL)
            tc_list_prepend(bin, &list);
        send_home(c, i); /* to the depot, whence it goes below */
    }
    for (unsigned k = 0; k < ARENAS; k++)
        for (unsigned i = 0; i < TC_BINS; i++) {
            tc_block *batch;
            while (depot_take(k, i, &batch) > 0)
                tc_list_prepend(batch, &list);
        }
    give_back_locked(list);
}

/* Register this thread's cache on its first use: its exit destructor. Without the lock held.
   False when caches are not ready yet, or this one is dead. */
static bool activate(thread_cache *c) {
    if (c->state != TC_STATE_UNSET || !atomic_load_explicit(&shared.ready, memory_order_acquire))
        return false;
    c->state = TC_STATE_ACTIVE;
    c->arena = arena_mine();
    char *start, *end;
    if (arena_range(c->arena, &start, &end)) {
        c->mine_lo = (uintptr_t)start;
        c->mine_span = (uintptr_t)(end - start);
    }
    /* Last, and without the lock: it may call malloc (for keys past glibc's first 32), which
       then finds the cache already active. Should it fail, the cache is simply never emptied at
       exit: at most TC_BYTES leak, once. */
    (void)pthread_setspecific(shared.exit_key, c);
    return true;
}

void tc_setup(void) {
    uintptr_t key = 0;
    /* The kernel's, not the C library's getrandom, which another preload may wrap
       (kernel_calls.h). */
    if (km_getrandom(&key, sizeof key, GRND_NONBLOCK) != (long)sizeof key) {
        /* No entropy yet (early boot): the clock and an address make a marker that only has to
           differ from what programs store, not resist an attacker. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        key = (uintptr_t)now.tv_nsec * (uintptr_t)0x9E3779B97F4A7C15ULL ^ (uintptr_t)&shared;
    }
    shared.key = key | (uintptr_t)1 << 63;
    if (pthread_key_create(&shared.exit_key, thread_exit) != 0)
        return; /* no destructor: no caches, every call takes the lock as before */
    atomic_store_explicit(&shared.ready, true, memory_order_release);
}

/* ------------------------------------------------------------- the API */

void *tc_alloc_miss(size_t size) {
    assert(size > 0);
    thread_cache *c = &self;
    if (c->state == TC_STATE_UNSET)
        (void)activate(c); /* so that this thread's frees are cached from now on */
    if (c->state != TC_STATE_ACTIVE || size > TC_MAX)
        return NULL;
    unsigned i = bin_for(size);
    /* An empty depot (always, where no thread ever started) is said by one word: two looks in
       its bins cost a miss of a single-threaded program a fifth of its instructions. */
    if (depot_bytes(c->arena) != 0 && (refill_from_depot(c, i) || refill_from_depot(c, i + 1)))
        return bin_pop(c, size);
    return NULL;
}

void *tc_alloc(size_t size) {
    assert(size > 0);
    return bin_pop(&self, size);
}

void *tc_alloc_locked(unsigned k, size_t size) {
    assert(size > 0 && k == arena_mine());
    size_t usable;
    void *p = arena_malloc(k, size, &usable);
    if (p == NULL)
        return NULL;
    unsigned i = note(p, usable, true);
    thread_cache *c = &self;
    if (i == 0 || c->state != TC_STATE_ACTIVE)
        return p;
    assert(c->arena == k);
    /* A bin that frees keep feeding needs no refill, and one size in a random mix would only
       crowd the others out; a bin that misses again and again (a producer) gets more each time. */
    unsigned extra = c->bin[i].misses;
    if (extra < TC_REFILL - 1)
        c->bin[i].misses++;
    /* As many as fit the bin, pushed at once. */
    unsigned room = bin_room(c, i);
    if (extra > room)
        extra = room;
    tc_block *first = NULL, **tail = &first, *odd = NULL;
    uintptr_t key = shared.key;
    unsigned n = 0;
    for (; n < extra; n++) {
        tc_block *q = arena_malloc(k, size, &usable);
        if (q == NULL)
            break;
        if (bin_of_usable(usable) != i) { /* a policy may give one size two usable sizes */
            odd = q;
            break;
        }
        note_cached(q, i);
        q->key = key;
        *tail = q;
        tail = &q->next;
    }
    *tail = c->bin[i].head;
    c->bin[i].head = first;
    c->bin[i].count += n;
    c->bytes += (size_t)n * i * TC_GRAIN;
    if (odd != NULL) { /* the refill ends with it: into its own bin, if that has room */
        unsigned j = note(odd, usable, true);
        if (j == 0 || !bin_has_room(c, j)) {
            give_back(odd);
        } else {
            uint32_t streak = c->bin[j].misses;
            bin_push(c, j, odd);
            c->bin[j].misses = streak; /* a refill is no free */
        }
    }
    return p;
}

size_t tc_room(const void *p) { return (size_t)map_bin(p) * TC_GRAIN; }

/* b, a block of bin i this thread may reuse, into bin i. */
static inline bool keep(thread_cache *c, unsigned i, tc_block *b) {
    if (!bin_has_room(c, i))
        return overflow(c, i, b);
    bin_push(c, i, b);
    return true;
}

/* b, a block of bin i of another arena than the thread's: on its way home while that arena has an
   occupant, else anybody's. Out of line: the common free is of the thread's own arena. */
__attribute__((noinline)) static bool free_foreign(thread_cache *c, unsigned i, tc_block *b) {
    return arena_occupied(arena_index(b)) ? remote_free(c, i, b) : keep(c, i, b);
}

/* b, a live block of bin i freed by this thread, whose cache is active, taken into it. */
static inline bool free_active(thread_cache *c, unsigned i, tc_block *b) {
    if (b->key == shared.key)
        check_freed(c, i, b, "free()", "double free detected");
    if ((uintptr_t)b - c->mine_lo >= c->mine_span)
        return free_foreign(c, i, b);
    return keep(c, i, b);
}

/* tc_free in a thread whose cache is not active: its first free activates it. Out of line, as
   every way off tc_free's fast path is (a tail call, or a call that never returns), so that the
   fast path keeps everything in scratch registers and saves none. */
__attribute__((noinline)) static bool free_inactive(thread_cache *c, unsigned i, tc_block *b) {
    return activate(c) && free_active(c, i, b);
}

bool tc_free(void *p) {
    assert(p != NULL);
    unsigned i = map_bin(p); /* 0 for an aligned alias too: no block starts inside a live one */
    if (i == 0)
        return false;
    thread_cache *c = &self;
    if (c->state != TC_STATE_ACTIVE)
        return free_inactive(c, i, p);
    return free_active(c, i, p);
}
