/*
 * dropin.c - the malloc API over a mallocsim policy: libmallocsim.so.
 *
 * Linked with the arenas (arena.h: one policy with a copy of its state per arena, each arena's
 * heap in an address range of its own: the program break stays the program's), this file
 * exports malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc and malloc_usable_size, so that LD_PRELOAD=libmallocsim.so runs any program on
 * our allocator, and glibc's extensions that report on or act on the heap (malloc_trim, mallinfo,
 * mallinfo2, malloc_stats), so that they tell of our heaps, not of glibc's idle arena, and glibc's
 * __libc_malloc names of the family. Beside it,
 * cxx_new.c exports C++'s operator new and delete, and address_limit.c setrlimit and prlimit (a
 * limit on the address space set while the program runs fits the heaps' reservation to it).
 * Everything else in the library is hidden.
 *
 * Where a block comes from:
 *   - requests below the mapping threshold (MAP_THRESHOLD, rising as glibc's does) go to the
 *     policy of the calling thread's arena, on its heap; a block is freed (and resized) by the
 *     arena that handed it out, whichever thread calls;
 *   - larger ones, and any the heap cannot serve (its reservation is full, or
 *     the system refused memory), get their own mapping, page aligned, listed
 *     with its length in a table (address_table.c) that free, realloc and
 *     malloc_usable_size consult before they touch it;
 *   - a block lies in a heap exactly when its address is in an arena's
 *     [mem_heap_lo, mem_heap_hi] (arena_holds): a live mapping can never be there.
 * Alignments above 16 work with any policy: over-allocate by the alignment,
 * return the aligned address inside, and remember aligned -> raw in another
 * such table (aliases) that free, realloc and malloc_usable_size consult.
 *
 * Threads: in front of the arenas sits a per-thread cache of free small blocks
 * (thread_cache.c), so that most mallocs and frees of up to 1 KiB take no lock;
 * blocks that cross threads pass between the caches in batches, through the depot
 * (depot.c), with a lock of their size. A miss the depot cannot serve, a larger block, a realloc
 * that resizes and malloc_usable_size take the lock of the block's arena; mapped blocks and the
 * memalign family's aliases, the table lock. free offers every pointer to the cache first, whose
 * size map takes only the start of a live heap block of a cached size (never an aligned alias: no
 * block starts inside a live one); of what it leaves, the alias filter tells an alias from a
 * block without a lock.
 *
 * Guarantees:
 *   - thread-safe: a lock per arena around its policy and its heap, and one around the tables,
 *     each skipped while the process has a single thread, never two held at once; the thread
 *     caches' fast paths touch only their own thread's cache and words that no other thread
 *     writes meanwhile;
 *   - fork-safe: the locks, and the depot's (depot.c), are taken across fork by
 *     fork handlers registered before any other library's (__register_atfork), so that they
 *     run after every other prepare handler and before every other parent and child handler,
 *     as glibc's malloc locks are taken inside fork; the child never inherits one held by a
 *     thread that is gone; the forking thread's cache is the child's; other threads' caches
 *     are lost (their blocks leak in the child, as glibc's tcache's do);
 *   - a double free of a heap block aborts with a message, whether it is in a
 *     thread cache or back in the heap, unless the heap handed a block out at
 *     its address since (a free by an earlier owner then looks like any other,
 *     as it does to glibc); so does a double free of a mapped block, unless a
 *     mapping was made at its address since (glibc's crashes on the unmapped
 *     header); a block freed before a malloc_trim that gave its size map page
 *     back is, freed again, an invalid pointer, and aborts as one;
 *   - a malloc's system calls are the library's own (kernel_calls.h), none made
 *     through a C library function another preload may wrap, the page size is
 *     x86-64's and the options are read from `environ` itself: a wrapper that
 *     mallocs, as libfaketime's getpid does, recursed or deadlocked (pthread's
 *     locks and once are still the C library's);
 *   - errno = ENOMEM on every failed allocation; calloc and reallocarray
 *     check their multiplication;
 *   - free(NULL) does nothing; realloc(NULL, n) is malloc(n); realloc(p, 0)
 *     frees p and returns NULL, as glibc does; malloc(0) returns a unique
 *     pointer;
 *   - a library interposed in front of this one sees the calls it would see in front of
 *     glibc's malloc: each of the program's calls once (realloc(NULL, n) calls no malloc), and
 *     reallocarray's as a realloc;
 *   - free, realloc and malloc_usable_size of a pointer that is not the start
 *     of a live block of ours (one inside a block, above all) abort with a
 *     message, as glibc's free and realloc do (its malloc_usable_size reads
 *     whatever lies before the pointer, and may return 0: one that guessed so
 *     is wrong here, and told); the check costs the lock-free free two
 *     instructions (its alignment, and a map byte it reads anyway), and the
 *     locked paths one more read of that byte (tc_state);
 *   - a mapping the system refuses to unmap stays mapped, lost, and that is
 *     said on stderr once; a block left so is no block any more (freeing it
 *     again aborts).
 *
 * Tunables: MAP_THRESHOLD and MAP_THRESHOLD_MAX below. The environment variable MALLOCSIM_OPTIONS,
 * if set, is passed to the policy's mm_configure (if it has one) before
 * mm_init, e.g. MALLOCSIM_OPTIONS=best.
 */
#include "address_limit.h"
#include "address_table.h"
#include "arena.h"
#include "kernel_calls.h"
#include "memlib.h"
#include "thread_cache.h"
#include "threaded_lock.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MS_EXPORT __attribute__((visibility("default")))

/* Requests of at least map_threshold bytes get their own mapping: they are returned to the
   system when freed, and grow in place with mremap. The threshold starts at MAP_THRESHOLD and,
   as glibc's does, rises past the size of any mapped block freed, up to MAP_THRESHOLD_MAX: a
   program that keeps allocating and freeing blocks of one large size (mawk: 108,945 mmap and
   munmap pairs at a fixed 256 KiB, 6 times glibc's time) then gets them from the heap, while a
   block allocated once and kept still gets a mapping. */
enum { MAP_THRESHOLD = 256 * 1024, MAP_THRESHOLD_MAX = 32 * 1024 * 1024 };
static _Atomic size_t map_threshold = MAP_THRESHOLD;
/* Every block is at least this aligned; larger alignments need the table. */
static const size_t MIN_ALIGN = 16;

/* The lock around the tables of mapped blocks and of aligned aliases (a word lock, as the arenas'
   are: held for a few stores), taken only once the process has threads (threaded_lock.h); fork
   takes it regardless (fork_prepare). Never held together with an arena's. */
static word_lock table_lock;

/*
 * A counting filter of aligned aliases, read without the lock: aliases[h] live aliases hash to h,
 * so 0 says p is surely not one, and needs no look in the table (align_raw). Counts change under
 * the table lock only (a load and a store suffice), and relaxed loads are enough: a thread frees an
 * alias only after the insertion that counted it happened before, through the lock or through
 * the program's own hand-over of the pointer.
 */
/* Slots, 2^ALIAS_FILTER_BITS: 1,024 were all taken once about a thousand aligned blocks lived,
   and every free of a block too big to cache took the lock and a look in the table (2 threads
   freeing 1,100-2,000 byte blocks beside 1,000 aligned ones: twice glibc's time; drop-in pass
   19). 64 KiB of counts, whose pages are touched only where aliases hash. */
enum { ALIAS_FILTER_BITS = 14, ALIAS_FILTER = 1 << ALIAS_FILTER_BITS };
static _Atomic uint32_t alias_filter[ALIAS_FILTER];

/* ------------------------------------------------------------ small helpers */

static bool is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Round x up to a multiple of `to` (a power of two); false on overflow. */
static bool round_up(size_t x, size_t to, size_t *out) {
    if (x > SIZE_MAX - (to - 1))
        return false;
    *out = (x + to - 1) & ~(to - 1);
    return true;
}

static void *fail_enomem(void) {
    errno = ENOMEM;
    return NULL;
}

/* Write "libmallocsim: <what>" to stderr, allocating nothing. */
static void say(const char *what) {
    static const char prefix[] = "libmallocsim: ";
    ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
    ignored = write(STDERR_FILENO, what, strlen(what));
    ignored = write(STDERR_FILENO, "\n", 1);
    (void)ignored;
}

_Noreturn void dropin_die(const char *what) {
    say(what);
    abort();
}

/*
 * Give a mapping back. munmap fails when the system refuses (ENOMEM: unmapping part of a mapping
 * would split it past vm.max_map_count); the memory then stays mapped, lost to the process. The
 * callers keep no state that refers to it any more, so that is a leak, not a corruption; but it
 * is said, once, not hidden: a process leaking so block by block grew to gigabytes unawares.
 */
static void unmap(void *p, size_t len) {
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (km_munmap(p, len) != 0 && !atomic_flag_test_and_set_explicit(&said, memory_order_relaxed))
        say("munmap failed: the memory stays mapped, and is lost (said once)");
}

/* ------------------------------------------------------------- the heap */

static size_t alias_slot(uintptr_t p) {
    return (size_t)(((uint64_t)p >> 4) * 0x9E3779B97F4A7C15ULL >> (64 - ALIAS_FILTER_BITS));
}

/* Caller holds the table lock. */
static void alias_count(uintptr_t p, int delta) {
    _Atomic uint32_t *slot = &alias_filter[alias_slot(p)];
    uint32_t now = atomic_load_explicit(slot, memory_order_relaxed);
    atomic_store_explicit(slot, now + (uint32_t)delta, memory_order_relaxed);
}

/* Could p, a pointer being freed, be an aligned alias? No lock: a false "yes" only costs it the
   lock, and there is no false "no". */
static bool maybe_alias(const void *p) {
    return atomic_load_explicit(&alias_filter[alias_slot((uintptr_t)p)], memory_order_relaxed) != 0;
}

/* ---------------------------------------------------- pointers passed in */

/* The call a pointer was passed to: it names the call in the message when the pointer is not the
   start of a live block of ours. */
typedef enum { CALL_FREE, CALL_REALLOC, CALL_USABLE_SIZE } api_call;

/* What each call says of a pointer that is no block's start ([0]), or of a block back in the
   heap ([1]): to free such a block is a double free, the likeliest mistake. */
static const char *const NOT_A_LIVE_BLOCK[][2] = {
    [CALL_FREE] = {"free(): invalid pointer (not the start of a block of this allocator)",
                   "free(): double free detected (the block is back in the heap)"},
    [CALL_REALLOC] = {"realloc(): invalid pointer (not the start of a block of this allocator)",
                      "realloc(): invalid pointer (a freed block, back in the heap)"},
    [CALL_USABLE_SIZE] =
        {"malloc_usable_size(): invalid pointer (not the start of a block of this "
         "allocator)",
         "malloc_usable_size(): invalid pointer (a freed block, back in the heap)"},
};

/*
 * Is raw (a pointer passed to `call`, aliases resolved) a heap block? A pointer inside the heap
 * must be the start of a live block, or the call aborts with a message: trusting it to the policy
 * would corrupt the heap (an interior pointer) or hand a block out twice (a double free). A
 * pointer outside the heap is a mapped block's, or none of ours: map_length_of tells. Caller holds
 * raw's arena's lock (arena_index(raw) is an arena).
 */
static bool heap_block(const void *raw, api_call call) {
    if (!arena_holds(raw))
        return false;
    tc_block_state state = tc_state(raw);
    if (state != TC_LIVE)
        dropin_die(NOT_A_LIVE_BLOCK[call][state == TC_FREED]);
    return true;
}

/* ---------------------------------------------------------- mapped blocks */

/*
 * A mapped block is a mapping of its own, page aligned, the payload at its start. Every live one
 * is in `mappings` (its address -> the bytes mapped), under the lock: free, realloc and
 * malloc_usable_size look a pointer up there before they touch it, so that one that is no mapped
 * block's start (inside a block; a block freed, and unmapped: a double free) aborts with a
 * message instead of reading memory that may not be there, or unmapping what is not a block.
 */
static address_table mappings;

/* The mapped blocks' bytes now, and the most blocks and bytes ever mapped at once (for
   malloc_stats, as glibc's "max mmap regions" and "max mmap bytes"), under the table lock. */
static struct { size_t bytes, most_blocks, most_bytes; } mapped;

static bool map_length(size_t size, size_t *len) {
    return round_up(size == 0 ? 1 : size, mem_pagesize(), len);
}

/* List p as a mapped block of len bytes, under the table lock; false when the table cannot
   grow. */
static bool map_list(void *p, size_t len) {
    bool locked = lock_if_threaded(&table_lock);
    bool listed = address_insert(&mappings, (uintptr_t)p, len);
    if (listed) {
        mapped.bytes += len;
        if (mappings.count > mapped.most_blocks)
            mapped.most_blocks = mappings.count;
        if (mapped.bytes > mapped.most_bytes)
            mapped.most_bytes = mapped.bytes;
    }
    unlock_if(&table_lock, locked);
    return listed;
}

/* Whether a mapping the system refused may be asked for again: when it lacked the address space
   and an arena that never served gave its part back (arena_give_back_unused), or the reservation
   was fitted to a limit no wrapper of ours saw set (address_limit_refit: `prlimit --pid` from
   outside, drop-in pass 28). errno is then `saved` again, so that a retry that succeeds leaves no
   trace of the refusal. */
static bool room_made(int saved) {
    if (errno != ENOMEM || (!arena_give_back_unused() && !address_limit_refit()))
        return false;
    errno = saved;
    return true;
}

static void *map_alloc(size_t size) {
    size_t len;
    if (!map_length(size, &len))
        return NULL;
    void *base;
    int saved = errno;
    do
        base = km_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    while (base == MAP_FAILED && room_made(saved));
    if (base == MAP_FAILED)
        return NULL;
    bool listed = map_list(base, len);
    if (!listed)
        unmap(base, len);
    return listed ? base : NULL;
}

/* The bytes mapped for p, a mapped block passed to `call`; with `remove`, p is no longer one.
   Anything else aborts with a message. Takes the table lock. */
static size_t map_length_of(void *p, api_call call, bool remove) {
    uintptr_t len;
    bool locked = lock_if_threaded(&table_lock);
    if (!address_lookup(&mappings, (uintptr_t)p, &len, remove))
        dropin_die(NOT_A_LIVE_BLOCK[call][0]);
    if (remove)
        mapped.bytes -= (size_t)len;
    unlock_if(&table_lock, locked);
    return (size_t)len;
}

/* Give back p's len bytes, no longer listed; the threshold rises past a freed block's length, so
   that a request of that size comes from the heap next (glibc's rises to the chunk's size, which
   its header puts past the request's; a request of whole pages, the mapping's own length, once
   reached a threshold raised to that length, and was mapped and unmapped at every call). */
static void map_release(void *p, size_t len) {
    if (len >= atomic_load_explicit(&map_threshold, memory_order_relaxed) &&
        len < MAP_THRESHOLD_MAX)
        atomic_store_explicit(&map_threshold, len + 1, memory_order_relaxed);
    unmap(p, len);
}

/* Grow or shrink a mapped block in place or by moving its pages; NULL on failure (p stays). */
static void *map_resize(void *p, size_t size) {
    size_t len;
    if (!map_length(size, &len))
        return NULL;
    size_t old = map_length_of(p, CALL_REALLOC, true);
    void *moved;
    int saved = errno;
    do
        moved = km_mremap(p, old, len, MREMAP_MAYMOVE);
    while (moved == MAP_FAILED && room_made(saved));
    void *q = moved != MAP_FAILED ? moved : p;
    bool listed = map_list(q, moved != MAP_FAILED ? len : old);
    assert(listed); /* the removal left room: no growth, no failure */
    (void)listed;
    return moved != MAP_FAILED ? moved : NULL;
}

/* ------------------------------------------------- aligned -> raw pointers */

/* Blocks whose aligned address differs from the raw one: aligned -> raw, under the table
   lock. */
static address_table aliases;

static bool align_insert(uintptr_t aligned, uintptr_t raw) {
    bool locked = lock_if_threaded(&table_lock);
    bool inserted = address_insert(&aliases, aligned, raw);
    if (inserted)
        alias_count(aligned, +1);
    unlock_if(&table_lock, locked);
    return inserted;
}

/* The raw block behind p (p itself when p was not offset for alignment);
   with `remove`, p's entry is dropped. */
static void *align_raw(void *p, bool remove) {
    if (!maybe_alias(p))
        return p; /* the filter says no: surely none, and no lock */
    uintptr_t raw;
    bool locked = lock_if_threaded(&table_lock);
    bool found = address_lookup(&aliases, (uintptr_t)p, &raw, remove);
    if (found && remove)
        alias_count((uintptr_t)p, -1);
    unlock_if(&table_lock, locked);
    return found ? (void *)raw : p;
}

/* ------------------------------------------------------------ the core */

/*
 * A block from another arena's heap, when the thread's own cannot grow: each arena has a fixed
 * part of the reservation, a quarter, and under a low RLIMIT_AS the reservation is small. A
 * program that never started a thread had every small block mapped a page each once arena 0's
 * quarter was full (Python under `ulimit -v 1000000`: MemoryError at 578 MB, where glibc's
 * malloc got by with 427). The block goes home to its own arena when freed, as any other
 * thread's does. Takes each arena's lock in turn, one at a time.
 */
static void *other_arena_alloc(unsigned mine, size_t size) {
    for (unsigned n = 1; n < ARENAS; n++) {
        unsigned k = (mine + n) % ARENAS;
        bool locked = arena_enter(k);
        size_t usable;
        void *p = arena_usable(k) ? arena_malloc(k, size, &usable) : NULL;
        if (p != NULL)
            tc_note_usable(p, usable);
        arena_leave(k, locked);
        if (p != NULL)
            return p;
    }
    return NULL;
}

/* What a policy may write in a block it hands out from memory never used before: segfit links a
   new run's slots through their first word. */
enum { POLICY_WRITES = 16 };

/* How many of the first bytes of a block at p may hold old data, for calloc to clear: those below
   its arena's clean mark (read before the policy was asked), and the first POLICY_WRITES. Clearing
   a block from the heap's fresh top made every page of it resident: cc1's callocs of 78-392 KB,
   each touched at a byte, peaked at 146.6 MB against glibc's 99.5. */
static size_t dirty_prefix(const char *p, size_t size, const char *clean) {
    size_t dirty = p < clean ? (size_t)(clean - p) : 0;
    if (dirty < POLICY_WRITES)
        dirty = POLICY_WRITES;
    return dirty < size ? dirty : size;
}

/* block_alloc's miss: a batch of the depot, the policy under the lock (the thread's arena's, else
   another's), or a mapping; for a size past the mapping threshold, a mapping first, and the heaps
   when the system refuses one, as glibc takes its heap's free space and top then: under a limit on
   the address space, a program that had freed its small blocks got no 150 MB block where glibc's
   gave one (drop-in pass 28). *dirty, when dirty is not NULL, says how many of the block's first
   bytes may hold old data (0 for a fresh mapping). Out of line, so that the way through the
   thread's bins saves no register. */
__attribute__((noinline)) static void *block_alloc_slow(size_t size, size_t *dirty) {
    void *p = tc_alloc_miss(size);
    size_t old = size; /* unless it is known to be fresh memory */
    if (p == NULL && size > PTRDIFF_MAX)
        return fail_enomem();
    bool big = size >= atomic_load_explicit(&map_threshold, memory_order_relaxed);
    int saved = errno;
    if (p == NULL && big) {
        p = map_alloc(size);
        old = 0;
    }
    if (p == NULL) {
        unsigned k = arena_mine();
        bool locked = arena_enter(k);
        if (arena_usable(k)) {
            const char *clean = dirty != NULL ? arena_clean_from(k) : NULL; /* calloc's only */
            p = tc_alloc_locked(k, size); /* a few more for a bin that keeps missing */
            if (p != NULL && dirty != NULL)
                old = dirty_prefix(p, size, clean);
        }
        arena_leave(k, locked);
        if (p == NULL)
            p = other_arena_alloc(k, size);
        if (p != NULL)
            errno = saved; /* a mapping refused on the way leaves no trace */
    }
    if (p == NULL && !big) {
        p = map_alloc(size); /* the heaps could not serve it */
        old = 0;
    }
    if (dirty != NULL)
        *dirty = old;
    return p != NULL ? p : fail_enomem();
}

/* A block of at least `size` bytes, 16-aligned; *dirty, when dirty is not NULL, says how many of
   its first bytes may hold old data (calloc clears those). NULL with errno = ENOMEM. */
static inline void *block_alloc(size_t size, size_t *dirty) {
    if (size == 0)
        size = 1;             /* a unique pointer, as glibc gives */
    void *p = tc_alloc(size); /* the thread's bins, no lock */
    if (p == NULL)
        return block_alloc_slow(size, dirty);
    if (dirty != NULL)
        *dirty = size;
    return p;
}

/* What a block's last reader takes from it before it is freed: its bytes from `from` (inside it)
   to its end, `most` of them at most, copied to `to`. */
typedef struct {
    void *to;
    const char *from;
    size_t most;
} copy_out;

static void copy_from(const copy_out *copy, const char *raw, size_t usable) {
    size_t left = usable - (size_t)(copy->from - raw);
    memcpy(copy->to, copy->from, left < copy->most ? left : copy->most);
}

/* Free a raw block (not an aligned alias), passed to `call`: a heap block into its arena, a
   mapped block back to the system; anything else aborts with a message. With `copy` (not NULL),
   its bytes are copied out first, measured in the same look at the block: a realloc that moved
   a block measured it and freed it apart, with the lock taken and the block checked twice.
   Takes the lock it needs, and none across a system call. */
static void block_free(void *raw, api_call call, const copy_out *copy) {
    unsigned k = arena_index(raw);
    if (k < ARENAS) {
        bool locked = arena_enter(k);
        bool in_heap = heap_block(raw, call);
        if (in_heap) {
            if (copy != NULL)
                copy_from(copy, raw, arena_usable_size(raw));
            tc_forget(raw);
            arena_free(raw);
        }
        arena_leave(k, locked);
        if (in_heap)
            return;
    }
    size_t len = map_length_of(raw, call, true);
    if (copy != NULL)
        copy_from(copy, raw, len);
    map_release(raw, len);
}

/* Bytes usable at p, an address we handed out, passed to `call`. */
static size_t usable_at(void *p, api_call call) {
    if (call == CALL_USABLE_SIZE)
        tc_check_live(p, "malloc_usable_size()");
    char *raw = align_raw(p, false);
    size_t usable = 0;
    bool in_heap = false;
    unsigned k = arena_index(raw);
    if (k < ARENAS) {
        bool locked = arena_enter(k);
        in_heap = heap_block(raw, call);
        if (in_heap)
            usable = arena_usable_size(raw);
        arena_leave(k, locked);
    }
    if (!in_heap)
        usable = map_length_of(raw, call, false);
    return usable - (size_t)((char *)p - raw);
}

/* An aligned block of the thread's arena's heap placed by its policy (mm_memalign): an ordinary
   block, no alias, the bytes before it back in the heap; NULL when the policy places none, or the
   block is one for a mapping. A block of size + alignment with an alias inside kept the alignment's
   slack for good: C++'s new of alignas(64), alignas(256) and page-aligned types, mixed, peaked at
   2.1 times glibc's memory (drop-in pass 22). Once freed it goes back to the policy, never into a
   cache (tc_note_aligned): one page-aligned 512-byte block made and freed 2 million times took
   23 MB against glibc's 1.8 (drop-in pass 23), blocks of 0-20,000 bytes at 64 replaced at random
   7.7 MB against 2.6 (pass 25). */
static void *policy_aligned(size_t alignment, size_t size) {
    if (size + alignment >= atomic_load_explicit(&map_threshold, memory_order_relaxed))
        return NULL;
    unsigned k = arena_mine();
    bool locked = arena_enter(k);
    void *p = arena_usable(k) ? arena_memalign(k, alignment, size) : NULL;
    if (p != NULL)
        tc_note_aligned(p);
    arena_leave(k, locked);
    return p;
}

/* Aligned allocation for any power-of-two alignment. */
static void *aligned_block(size_t alignment, size_t size) {
    if (alignment <= MIN_ALIGN)
        return block_alloc(size, NULL);
    /* At least one byte, so the aligned address lies inside the raw block:
       one past its end could be where the next block starts, which would
       then have two owners in aliases. */
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - alignment)
        return fail_enomem();
    void *placed = policy_aligned(alignment, size);
    if (placed != NULL)
        return placed;
    char *raw = block_alloc(size + alignment - MIN_ALIGN, NULL);
    if (raw == NULL)
        return NULL;
    uintptr_t aligned = ((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (aligned == (uintptr_t)raw)
        return raw;
    if (align_insert(aligned, (uintptr_t)raw))
        return (void *)aligned;
    block_free(raw, CALL_FREE, NULL);
    return fail_enomem();
}

/* realloc by moving: a new block, the old contents, the old block freed. */
static void *move_block(void *p, size_t size) {
    void *q = block_alloc(size, NULL);
    if (q != NULL)
        block_free(align_raw(p, true), CALL_REALLOC, &(copy_out){q, p, size});
    return q;
}

/* -------------------------------------------------------- the public API */

/* The exported functions share their work through these rather than call each other: the
   dynamic linker would bind such a call to whatever library comes first, so an interposer in
   front of this one (a recorder, a leak checker) would see realloc(NULL, n) as a realloc and a
   malloc, and one that locks around its call to us would wait for itself. glibc's realloc, free
   and malloc call nothing exported either (its reallocarray is the exception, kept below). */

static void *allocate(size_t size) { return block_alloc(size, NULL); }

/* Free p, which the big map said (without the lock) starts a live block too big to cache: its
   byte read again under the lock, and the block given to its policy, with none of block_free's
   other looks (its arena's heap range, the size map's byte), which that byte makes moot: a heap's
   blocks have their bytes, and a live block lies in its heap. A byte changed meanwhile (a double
   or invalid free raced with its write) leaves p to block_free, which says what it is. */
static void free_big(void *p) {
    unsigned k = arena_index(p);
    assert(k < ARENAS); /* the maps cover the reservation only */
    bool locked = arena_enter(k);
    bool live = tc_forget_big(p);
    if (live)
        arena_free(p);
    arena_leave(k, locked);
    if (!live)
        block_free(p, CALL_FREE, NULL);
}

/* release's way when the thread's cache does not take the block: out of line, so that the way
   through the cache saves no register. */
__attribute__((noinline)) static void release_slow(void *p) {
    /* The alias filter's look is a miss in its 64 KiB on most frees of blocks too big to cache;
       the big map's byte says first whether p is one (no alias is: an alias lies inside its
       block). */
    if (tc_big_live(p))
        free_big(p);
    else
        block_free(align_raw(p, true), CALL_FREE, NULL);
}

static void release(void *p) {
    if (p == NULL)
        return;
    if (tc_free(p))
        return; /* no lock; an aligned alias is never taken (it is no block's start) */
    release_slow(p);
}

static void *resize(void *p, size_t size) {
    if (p == NULL)
        return allocate(size);
    if (size == 0) {
        release(p);
        return NULL;
    }
    if (size > PTRDIFF_MAX)
        return fail_enomem();
    tc_check_live(p, "realloc()");
    /* A block of a cached size that still fits, and is not twice too big: in place, no lock.
       A shrunk block keeps its tail, which segfit would have split off and freed. */
    size_t room = tc_room(p); /* 0 for an aligned alias */
    if (size <= room && size > room / 2)
        return p;
    /* A block too big to cache, or an aligned alias, resized to a cached size: moved, through
       the thread's bins. Shrunk in place, a big block's head stayed among big blocks, and once
       freed waited in a cache, where it merges with nothing: a program replacing 64 blocks of
       1 byte to 300 KB at random, a third of them by realloc, peaked at 19.2 MB against glibc's
       3.2 (drop-in pass 23). */
    if (room == 0 && size <= TC_MAX)
        return move_block(p, size);
    /* A block of a cached size grown to another cached size: moved through the thread's bins, no
       lock. The arena's realloc took its lock and the policy's own move: sqlite3 grows 200,000
       blocks of 16 bytes to 24 in a bulk insert (glibc's smallest chunk holds 24), 569
       instructions a realloc against glibc's 181, 4-7% of its time (drop-in pass 22). */
    if (room > 0 && size > room && size <= TC_MAX) {
        assert(room == usable_at(p, CALL_REALLOC)); /* every byte the program may have written */
        void *q = allocate(size);
        if (q != NULL) {
            memcpy(q, p, room); /* room: the usable size, a multiple of the bins' grain */
            release(p);
        }
        return q;
    }
    /* As for a free (release_slow): the big map's byte says without the alias filter's look,
       and under the lock without heap_block's, that p is a live block too big to cache. */
    bool big = tc_big_live(p);
    bool plain = big || align_raw(p, false) == p;
    unsigned k = arena_index(p);
    bool in_heap = false;
    if (plain && k < ARENAS) {
        bool locked = arena_enter(k);
        in_heap = (big && tc_big_live(p)) || heap_block(p, CALL_REALLOC);
        size_t usable;
        void *q = in_heap ? arena_realloc(p, size, &usable) : NULL;
        if (q != NULL) {
            if (q != p)
                tc_forget(p); /* moved, and freed by the policy */
            tc_note(q, usable);
        }
        arena_leave(k, locked);
        if (q != NULL)
            return q; /* else the heap is full: move the block to a mapping */
    }
    if (plain && !in_heap && size >= atomic_load_explicit(&map_threshold, memory_order_relaxed)) {
        void *q = map_resize(p, size);
        if (q != NULL)
            return q; /* else moved, maybe into a heap (block_alloc_slow) */
    }
    return move_block(p, size);
}

MS_EXPORT void *malloc(size_t size) { return allocate(size); }

/* flatten: the thread cache's tc_free inlined whole (its rare ways stay out of line), which the
   compiler left a call of its own (churn: 293.1 M -> 283.7 M instructions under callgrind). */
MS_EXPORT __attribute__((flatten)) void free(void *p) { release(p); }

MS_EXPORT void *calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return fail_enomem();
    size_t dirty;
    void *p = block_alloc(total, &dirty);
    if (p != NULL)
        memset(p, 0, dirty);
    return p;
}

MS_EXPORT void *realloc(void *p, size_t size) { return resize(p, size); }

/* The one exported function that calls another, as glibc's does: so an interposer that defines
   realloc alone, written for glibc, sees every block reallocarray makes or frees. */
MS_EXPORT void *reallocarray(void *p, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return fail_enomem();
    return realloc(p, total);
}

MS_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno; /* posix_memalign reports through its result only */
    void *p = aligned_block(alignment, size);
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

MS_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_block(alignment, size);
}

MS_EXPORT void *memalign(size_t alignment, size_t size) {
    /* glibc's leniency: a non-power-of-two alignment is rounded up; past the widest power of
       two none can be (EINVAL, as glibc says). */
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = MIN_ALIGN;
    while (a < alignment)
        a *= 2;
    return aligned_block(a, size);
}

MS_EXPORT void *valloc(size_t size) { return aligned_block(mem_pagesize(), size); }

MS_EXPORT void *pvalloc(size_t size) {
    size_t rounded;
    if (!round_up(size == 0 ? 1 : size, mem_pagesize(), &rounded))
        return fail_enomem();
    return aligned_block(mem_pagesize(), rounded);
}

/* glibc's other names for them, which programs and libraries call to reach the C library's
   malloc past an interposer: a block of one heap was freed into the other, and aborted
   (__libc_free of a malloc'd block in glibc's munmap_chunk; drop-in pass 28). tcmalloc and
   jemalloc export them too. */
void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);
MS_EXPORT void *__libc_malloc(size_t size) { return malloc(size); }
MS_EXPORT void __libc_free(void *p) { free(p); }
MS_EXPORT void *__libc_calloc(size_t count, size_t size) { return calloc(count, size); }
MS_EXPORT void *__libc_realloc(void *p, size_t size) { return realloc(p, size); }
MS_EXPORT void *__libc_memalign(size_t alignment, size_t size) { return memalign(alignment, size); }
MS_EXPORT void *__libc_valloc(size_t size) { return valloc(size); }
MS_EXPORT void *__libc_pvalloc(size_t size) { return pvalloc(size); }

MS_EXPORT size_t malloc_usable_size(void *p) {
    if (p == NULL)
        return 0;
    return usable_at(p, CALL_USABLE_SIZE);
}

/* glibc's extension: give back the free top of every heap, down to `pad` bytes, and the whole
   free pages inside them; 1 when any memory went back. The calling thread's cache and the depots
   give their blocks to the policies first, where they merge: they held the blocks freed last,
   which a program freeing all it had freed in the order it allocated, the heap's top among them
   (400,000 blocks of 16-1,015 bytes: 225 MB resident after malloc_trim(0), glibc's 4.7). (Without
   it, glibc's own malloc_trim ran, on its arena that serves nothing here.) */
MS_EXPORT int malloc_trim(size_t pad) {
    tc_give_back_all();
    return arena_trim_all(pad);
}

/* ------------------------------------------------------------ statistics */

/*
 * mallinfo2 in glibc's terms, which glibc's own would give for its arena that serves nothing
 * here: arena, the heaps' bytes; ordblks and smblks, their free blocks and free run slots (glibc's
 * fast-bin chunks are its small free ones); fordblks, the bytes of both, and of the free blocks
 * waiting in the arenas' depots and the calling thread's cache; fsmblks, the slots'; uordblks,
 * the rest of the heaps; hblks and hblkhd, the mapped blocks; keepcost, arena 0's free top
 * (glibc's main arena's). A policy without mm_free_space has all its heap in use. (The caches'
 * blocks counted in use, a program that freed its 30 MB read 1.2 MB still in use, glibc's 0.24:
 * a leak check of that kind failed here, drop-in pass 22. Other threads' caches stay in use, as
 * glibc counts its own tcache's chunks.)
 */
static size_t free_bytes(const arena_usage_t *u) {
    return u->free.block_bytes + u->free.slot_bytes;
}

/* Arena k's usage (false when it has none), and the bytes of its heap in use: neither free in
   its policy nor waiting in its depot or, `own` bytes when k is `mine`, the calling thread's
   cache. */
static bool arena_in_use(unsigned k, arena_usage_t *u, unsigned mine, size_t own, size_t *used) {
    if (!arena_usage(k, u))
        return false;
    size_t in_use = u->heap_bytes - free_bytes(u), cached = depot_bytes(k) + (k == mine ? own : 0);
    *used = cached < in_use ? in_use - cached : 0;
    return true;
}

static struct mallinfo2 usage_totals(void) {
    struct mallinfo2 info = {0};
    unsigned mine = ARENAS;
    size_t own = tc_cached_bytes(&mine), used;
    for (unsigned k = 0; k < ARENAS; k++) {
        arena_usage_t u;
        if (!arena_in_use(k, &u, mine, own, &used))
            continue;
        info.arena += u.heap_bytes;
        info.ordblks += u.free.blocks;
        info.smblks += u.free.slots;
        info.fsmblks += u.free.slot_bytes;
        info.fordblks += u.heap_bytes - used;
        info.uordblks += used;
        if (k == 0)
            info.keepcost = u.free_top;
    }
    bool locked = lock_if_threaded(&table_lock);
    info.hblks = mappings.count;
    info.hblkhd = mapped.bytes;
    unlock_if(&table_lock, locked);
    return info;
}

MS_EXPORT struct mallinfo2 mallinfo2(void) { return usage_totals(); }

/* glibc's older form, its fields int: a figure past INT_MAX is INT_MAX here (glibc's wrap). */
static int clamped(size_t n) { return n > INT_MAX ? INT_MAX : (int)n; }

MS_EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 i = usage_totals();
    return (struct mallinfo){clamped(i.arena),   clamped(i.ordblks),  clamped(i.smblks),
                             clamped(i.hblks),   clamped(i.hblkhd),   clamped(i.usmblks),
                             clamped(i.fsmblks), clamped(i.uordblks), clamped(i.fordblks),
                             clamped(i.keepcost)};
}

/* text appended to out at *len (room for it is the caller's): malloc_stats uses no stdio. */
static void append(char *out, size_t *len, const char *text) {
    size_t n = strlen(text);
    memcpy(out + *len, text, n);
    *len += n;
}

/* "label%10zu\n" appended to out at *len. */
static void stat_line(char *out, size_t *len, const char *label, size_t value) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    append(out, len, label);
    for (size_t pad = n; pad < 10; pad++)
        out[(*len)++] = ' ';
    while (n > 0)
        out[(*len)++] = digits[--n];
    out[(*len)++] = '\n';
}

/* glibc's report on stderr, line for line: each arena with a heap, then the totals with the
   mapped blocks. */
_Static_assert(ARENAS <= 10, "malloc_stats names an arena by one digit");
MS_EXPORT void malloc_stats(void) {
    char out[ARENAS * 96 + 256];
    size_t len = 0, system = 0, in_use = 0, used;
    unsigned mine = ARENAS;
    size_t own = tc_cached_bytes(&mine);
    for (unsigned k = 0; k < ARENAS; k++) {
        arena_usage_t u;
        if (!arena_in_use(k, &u, mine, own, &used))
            continue;
        char arena[] = "Arena 0:\n";
        arena[6] = (char)('0' + k);
        append(out, &len, arena);
        stat_line(out, &len, "system bytes     = ", u.heap_bytes);
        stat_line(out, &len, "in use bytes     = ", used);
        system += u.heap_bytes;
        in_use += used;
    }
    bool locked = lock_if_threaded(&table_lock);
    size_t bytes = mapped.bytes, most_blocks = mapped.most_blocks, most_bytes = mapped.most_bytes;
    unlock_if(&table_lock, locked);
    append(out, &len, "Total (incl. mmap):\n");
    stat_line(out, &len, "system bytes     = ", system + bytes);
    stat_line(out, &len, "in use bytes     = ", in_use + bytes);
    stat_line(out, &len, "max mmap regions = ", most_blocks);
    stat_line(out, &len, "max mmap bytes   = ", most_bytes);
    ssize_t ignored = write(STDERR_FILENO, out, len);
    (void)ignored;
}

/* ------------------------------------------------------------------ fork */

/* Whether fork_prepare took the locks: not while the process has a single thread, where no other
   thread can hold one across the fork or take one meanwhile. Taking them all wrote every page of
   the depot's table (its bins' locks, about 24 pages), which parent and child then each copied:
   28.6 page faults a fork in the parent against glibc's 2.6, and 1.75 times glibc's faults in a
   shell's subshell loop (drop-in pass 23). Written and read by the forking thread only. */
static bool fork_locked;

/* Every lock taken, in one order: run after every other library's prepare handler, before its
   parent and child handlers (dropin_register_fork_handlers). */
static void fork_prepare(void) {
    fork_locked = !__libc_single_threaded;
    if (!fork_locked)
        return;
    word_lock_take(&table_lock);
    arena_fork_prepare();
    depot_fork_prepare();
}

static void fork_release(void) {
    if (!fork_locked)
        return;
    depot_fork_release();
    arena_fork_release();
    word_lock_give(&table_lock);
}

static void fork_child(void) {
    if (fork_locked)
        depot_fork_release();
    arena_fork_child(fork_locked);
    if (fork_locked)
        word_lock_give(&table_lock);
}

/* glibc's registration of fork handlers (pthread_atfork, which every library links statically,
   calls it), found once. */
typedef int register_fn(void (*)(void), void (*)(void), void (*)(void), void *);
static register_fn
    *real_register; /* written once, under dropin_register_fork_handlers' pthread_once */

/*
 * The drop-in's fork handlers registered before any other's: prepare handlers run newest first,
 * parent and child handlers oldest first, so ours take the locks after every other library's
 * prepare handler and give them back before its parent and child handlers, as glibc's malloc
 * takes its own inside fork. Registered after them (a library's constructor ran before ours),
 * a prepare handler that took a lock of its library's while another thread held it inside a
 * malloc waited for ever (drop-in pass 20), and a prepare handler that malloced waited for ours
 * (pass 19). So the first registration of anyone's registers ours first: every library's
 * pthread_atfork calls this __register_atfork, the preloaded one.
 */
_Atomic bool dropin_fork_handlers_registered; /* threaded_lock.h reads it from any thread */

/* Under pthread_once. NULL for the handle: they are never unregistered (this library is never
   unloaded). */
static void register_ours(void) {
    real_register = (register_fn *)dlsym(RTLD_NEXT, "__register_atfork");
    bool registered =
        real_register != NULL && real_register(fork_prepare, fork_release, fork_child, NULL) == 0;
    atomic_store_explicit(&dropin_fork_handlers_registered, registered, memory_order_release);
}

void dropin_register_fork_handlers(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    /* A malloc inside the registration (in dlsym, should it take memory) reaches a lock, whose
       check brings it back here: it goes on without waiting for the pthread_once it is inside. */
    static _Thread_local bool registering __attribute__((tls_model("initial-exec")));
    if (registering)
        return;
    registering = true;
    (void)pthread_once(&once, register_ours);
    registering = false;
    if (!atomic_load_explicit(&dropin_fork_handlers_registered, memory_order_acquire))
        dropin_die("the drop-in's fork handlers could not be registered");
}

MS_EXPORT int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                                void *dso); /* glibc's, which its headers do not declare */
MS_EXPORT int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                                void *dso) {
    dropin_register_fork_handlers(); /* or dies */
    return real_register(prepare, parent, child, dso);
}

/* The compatibility pthread_atfork that libc exports for programs and libraries linked against a
   glibc older than 2.28 (libtcmalloc_minimal here) calls glibc's own registration directly, past
   __register_atfork: a library bound to it and registering from its constructor came before ours
   again, and the fork that pass 20 fixed hung (drop-in pass 21). This definition, unversioned,
   serves their versioned reference; the handle is NULL, as theirs is (never unregistered). */
MS_EXPORT int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    dropin_register_fork_handlers(); /* or dies */
    return real_register(prepare, parent, child, NULL);
}

/* The fork handlers are not registered here: see threaded_lock.h. */
__attribute__((constructor)) static void dropin_setup(void) { tc_setup(); }
