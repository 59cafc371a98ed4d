/*
 * arena.c - the drop-in's arenas (arena.h): the one address reservation their heaps share, the
 * calls into the policy for each arena's state, and which arena a thread allocates from.
 *
 * Guarantees:
 *   - the reservation is made once, as large as the system grants with its size map beside it
 *     (a sixteenth and a 1,024th more: RESERVE_WANTED, halved down to RESERVE_LEAST), and cut into
 * ARENAS equal parts, a power of two each, so that a block's arena is one subtraction and one shift
 * away (arena_index, which a free computes unlocked); under a finite RLIMIT_AS it is only placed,
 * the parts together as large as the hard limit, and each heap reserves its part as it grows
 * (reserve_lazily); a finite RLIMIT_AS set later fits the reservation to the heaps
 * (arena_fit_address_space, for address_limit.c), and a mapping refused for want of room gets the
 * parts of arenas that never served (arena_give_back_unused);
 *   - the thread caches' size map (thread_cache.c) starts at the reservation's base, and covers
 *     every arena's heap;
 *   - each arena has a lock of its own, around its policy and its heap: threads of different
 *     arenas never wait for each other there; like glibc's, the locks are skipped while the
 *     process has a single thread (threaded_lock.h), and fork takes them all
 *     (arena_fork_prepare);
 *   - an arena's policy is initialised on its first use only: a process that never starts a
 *     thread touches arena 0 alone, and the others cost it address space, no memory;
 *   - arena_free, arena_realloc and arena_usable_size call the policy that handed the block out;
 *     a free that leaves the heap ending in a free block longer than TRIM_LEAST shrinks it, its
 *     pages given back, when the policy can (mm_trim); of frees made together under one lock
 *     (arena_free_unsettled), the last does (arena_settle);
 *   - frees with no malloc of its policy between them that halve an arena's live bytes, by
 *     PURGE_LEAST at least, give back the whole pages inside its free blocks and its size map's
 *     idle pages.
 */
#include "arena.h"

#include "kernel_calls.h"
#include "memlib.h"
#include "thread_cache.h"
#include "threaded_lock.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * RESERVE_WANTED: 256 GiB - the address space asked for up front, for all the arenas: what the
 * size map can cover (thread_cache.c), and more memory than the machines we run on have; with the
 * map's 16 GiB, 0.2% of x86-64's 128 TiB of user address space. Halved, when the system refuses (a
 * low RLIMIT_AS), down to RESERVE_LEAST: 64 MiB, as the simulated heap's; below that no arena is
 * usable and the shim serves every block from a mapping.
 */
static const size_t RESERVE_WANTED = (size_t)1 << 38;
static const size_t RESERVE_LEAST = (size_t)1 << 26;
_Static_assert((ARENAS & (ARENAS - 1)) == 0, "parts of a power-of-two reservation");
/* A part is a whole number of the size map's chunks (see TC_MAP_CHUNK_SHIFT), down to the least. */
_Static_assert(((size_t)1 << 26) / ARENAS >= (size_t)1 << TC_MAP_CHUNK_SHIFT,
               "no map chunk covers two arenas");

/* The policy's optional functions (mm.h), weak: NULL where the policy has none. */
__attribute__((weak)) const char *mm_configure(const char *options);
__attribute__((weak)) size_t mm_free_top(void);
__attribute__((weak)) size_t mm_trim(size_t pad);
__attribute__((weak)) mm_free_space_t mm_free_space(void);
__attribute__((weak)) void mm_free_spans(size_t least, mm_span_fn *each, void *ctx);
__attribute__((weak)) void *mm_memalign(size_t alignment, size_t size);
__attribute__((weak)) void *mm_malloc_usable(size_t size, size_t *usable);
__attribute__((weak)) size_t mm_free_usable(void *ptr);

_Thread_local unsigned arena_serving __attribute__((tls_model("initial-exec")));

/* Under k's lock: the policy's and its heap's code work on arena k's state from here on
   (arena_state.h). Every function below that calls into them calls this first. */
static inline void arena_serve(unsigned k) {
    assert(k < ARENAS);
    arena_serving = k;
}

/* Under p's lock: the arena holding p, served (arena_serve). */
static inline unsigned arena_serve_holder(const void *p) {
    unsigned k = arena_index(p);
    arena_serve(k);
    return k;
}

/* When an arena gives the pages of its free blocks back (arena_free, PURGE_LEAST). */
typedef struct {
    size_t live;       /* usable bytes of the blocks its policy handed out (the caches' too) */
    size_t before;     /* `live` when the run of frees began: the policy's last malloc or growth */
    size_t purged_at;  /* `live` at the run's last purge, or its start */
    size_t least;      /* the fall of `live` that purges, past PURGE_LEAST: raised by regrowth */
    size_t regrown_at; /* `live` at which the last purge's pages are wanted again; SIZE_MAX: none */
    size_t raise_to;   /* `least` from then on */
} purge_state;

/* Each arena's lock and state (under its lock). The locks spin a little before they sleep
   (word_lock.h): with the thread caches a lock is taken rarely and held briefly, and a futex sleep
   costs more than the wait (larson-like, 2 threads, one lock for all then: 28 Mops/s with a plain
   pthread mutex, 41 with an adaptive one, which spins; 8,515 context switches, 2,695). */
static struct {
    alignas(CACHE_LINE) word_lock lock;
    bool ready;    /* mm_init succeeded */
    bool failed;   /* it could not: the arena serves nothing */
    bool deferred; /* its part is not reserved (a finite RLIMIT_AS, set before or later): its
                      heap takes it a chunk at a time as it grows (memlib_sbrk.c's regain) */
    purge_state purge;
} arena[ARENAS] = {[0 ... ARENAS - 1] = {.purge = {.regrown_at = SIZE_MAX}}};

arena_reservation_t arena_reservation;
static pthread_once_t reserved = PTHREAD_ONCE_INIT;

/* Where the search for a thread's arena starts: 1 to ARENAS - 1 in turn. */
static _Atomic unsigned next_arena;

/* Live threads that allocate from each arena (arena_mine, arena_exit_thread), and when each was
   last left empty (a tick of `vacated_clock`; 0: never). */
static _Atomic unsigned occupants[ARENAS];
static _Atomic unsigned vacated_at[ARENAS];
static _Atomic unsigned vacated_clock;

/* The calling thread's arena plus one; 0 until its first call of arena_mine. */
static _Thread_local unsigned mine_plus_one __attribute__((tls_model("initial-exec")));

/*
 * Address space reserved and never used, kept out of core files: gdb's gcore writes every private
 * mapping whatever its protection, and of a process under the drop-in it wrote 55 GB in two
 * minutes, still going, where glibc's made 590 KB (drop-in pass 27). The ranges made read-write
 * as the heaps grow are given back to the dumps (memlib_sbrk.c, thread_cache.c). The kernel's
 * own dumps skip pages never written, so this is about tools that read the whole mapping.
 */
void leave_out_of_dumps(void *at, size_t len) { (void)km_madvise(at, len, MADV_DONTDUMP); }

/*
 * Does the kernel know MAP_FIXED_NOREPLACE (Linux 4.17)? One before takes its address as a hint,
 * and could neither say where nothing is mapped (nothing_mapped) nor reserve a part at its own
 * address as a heap grows (km_reserve_at): asked by mapping a page again where one is.
 */
static bool fixed_noreplace_known(void) {
    size_t page = km_pagesize();
    void *at = km_mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (at == MAP_FAILED)
        return false;
    errno = 0; /* a kernel that maps the page elsewhere, given back, leaves errno as it was */
    bool known = !km_reserve_at(at, page) && errno == EEXIST;
    km_munmap(at, page);
    return known;
}

/*
 * Is nothing mapped in [at, at + len)? Asked of the kernel with MAP_FIXED_NOREPLACE, which refuses
 * a range that meets a mapping (EEXIST) before it weighs the range against RLIMIT_AS (ENOMEM,
 * mm/mmap.c's do_mmap then mmap_region): a range too big for the limit still gets its answer.
 * Where the range fits, the probe's mapping is undone at once.
 */
static bool nothing_mapped(uintptr_t at, size_t len) {
    if (!km_reserve_at((void *)at, len))
        return errno == ENOMEM;
    km_munmap((void *)at, len);
    return true;
}

/*
 * Under a finite RLIMIT_AS: the reservation placed, and nothing of it reserved. Reserved as large
 * as the limit allowed at once (a power of two with its map), it held half of what the limit
 * allows: 200-byte blocks filled 515 MB of `ulimit -v 1048576` where glibc's filled 982, and each
 * block past it was a page mapping of its own (perl's 3,000,000 strings: "Out of memory!"; drop-in
 * pass 28). Every heap now starts with none of its part reserved: it takes its part a map chunk at
 * a time as it grows (memlib_sbrk.c's regain), and the size map is mapped under it as it goes.
 * The parts together are the hard limit's next power of two, which the program may raise its soft
 * one to: arena 0's heap fills its part, then borrows the next ones', one after another, so the
 * heaps reach the limit. Not each part that size: a thread's heap, as it first grows, makes the
 * map over the parts below it readable (a sixteenth of them), which the limit counts: four threads
 * filled 661 MB of 1.1 GiB against glibc's 1,046, and node's worker threads died of bad_alloc
 * under `ulimit -v 4194304` (drop-in pass 29). With no hard limit the parts are the largest: a
 * thread whose map does not fit then borrows another arena's heap. The range must be free for
 * the parts to grow into: it is placed at the low end of the gap above the program's break (past
 * what the break could grow by under the limit), where the kernel, which places mappings from the
 * top down, puts nothing until that gap is full; else at 1 or 16 TiB, below any stack. False when
 * no such range is free, or the kernel cannot say.
 */
static bool reserve_lazily(rlim_t hard) {
    if (!fixed_noreplace_known())
        return false;
    size_t most = hard < RESERVE_WANTED ? (size_t)hard : RESERVE_WANTED;
    size_t part = RESERVE_LEAST / ARENAS;
    while (part * ARENAS < most)
        part *= 2;
    size_t size = part * ARENAS, len = size + tc_map_size(size);
    const uintptr_t gib = (uintptr_t)1 << 30;
    uintptr_t ceiling = (uintptr_t)&part - gib; /* the stack lies above every free range */
    uintptr_t brk = km_break();                 /* -1 where a sandbox refuses brk */
    uintptr_t past_break = brk < ceiling && most < ceiling - brk ? brk + most : 0;
    const uintptr_t places[] = {past_break, (uintptr_t)1 << 40, (uintptr_t)1 << 44};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        uintptr_t at = (places[i] + gib - 1) / gib * gib;
        if (at != 0 && at < ceiling && len < ceiling - at && nothing_mapped(at, len)) {
            (void)tc_heap_start((void *)at, size, (void *)(at + size));
            for (unsigned k = 0; k < ARENAS; k++)
                arena[k].deferred = true; /* before any thread could look */
            atomic_store_explicit(&arena_reservation.part_shift, (unsigned)__builtin_ctzll(part),
                                  memory_order_relaxed);
            atomic_store_explicit(&arena_reservation.base, at, memory_order_relaxed);
            return true;
        }
    }
    return false;
}

/*
 * The largest range the system grants, halving from RESERVE_WANTED down to RESERVE_LEAST, where
 * none could be placed under a finite RLIMIT_AS (reserve_lazily). Under such a limit, which the
 * range counts against, the parts of arenas 1 to ARENAS - 1 are given back at once, the address
 * range known, and each is taken again as its arena's heap grows, if the room is still there: a
 * program's threads need room for their stacks first. Reserved whole, under `ulimit -v 600000` the
 * range took 512 MiB and a program started 4 threads where glibc's malloc let it start 72;
 * python3 with 8 threads failed under `ulimit -v 300000`, "can't start new thread" (a helper's
 * drop-in pass 17).
 */
static void reserve_range(void) {
    struct rlimit space;
    bool limited = km_getrlimit(RLIMIT_AS, &space) == 0 && space.rlim_cur != RLIM_INFINITY;
    if (limited && reserve_lazily(space.rlim_max))
        return;
    for (size_t size = RESERVE_WANTED; size >= RESERVE_LEAST; size /= 2) {
        char *p =
            km_mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED && !tc_heap_start(p, size, NULL)) { /* no room for its size map */
            km_munmap(p, size);
            p = MAP_FAILED;
        }
        if (p != MAP_FAILED) {
            leave_out_of_dumps(p, size);
            size_t part = size / ARENAS;
            if (limited && km_munmap(p + part, size - part) == 0) {
                tc_map_given_back(p + part, p + size);
                for (unsigned k = 1; k < ARENAS; k++)
                    arena[k].deferred = true; /* before any thread could look */
            }
            atomic_store_explicit(&arena_reservation.part_shift, (unsigned)__builtin_ctzll(part),
                                  memory_order_relaxed);
            atomic_store_explicit(&arena_reservation.base, (uintptr_t)p, memory_order_relaxed);
            return;
        }
    }
}

/* Reserve the address range: once (pthread_once), by the first arena to start. The sizes the
   system refuses are no failure of the malloc that asked: errno is left as it was (a first malloc
   under `ulimit -v` that succeeded left ENOMEM behind). */
static void reserve(void) {
    int saved = errno;
    reserve_range();
    errno = saved;
}

bool arena_part_reserved(unsigned k) {
    assert(k < ARENAS);
    (void)pthread_once(&reserved, reserve); /* which says which parts are deferred */
    return !arena[k].deferred;
}

bool arena_range(unsigned k, char **start, char **end) {
    assert(k < ARENAS);
    (void)pthread_once(&reserved, reserve);
    uintptr_t base = atomic_load_explicit(&arena_reservation.base, memory_order_relaxed);
    if (base == 0)
        return false;
    size_t part =
        (size_t)1 << atomic_load_explicit(&arena_reservation.part_shift, memory_order_relaxed);
    *start = (char *)(base + k * part);
    *end = *start + part;
    return true;
}

/*
 * A new thread's arena, other than the main thread's, counted as occupied by it: of those with
 * the fewest occupants, the one left empty last, whose free memory is the most recent (larson's
 * next generation then takes over its predecessor's arena, not a cold one: 0.71x glibc's speed
 * became 0.93x); else the first from the next in turn. The count is taken by a compare-and-swap,
 * so that two threads that start together never both take the same empty arena.
 */
static unsigned arena_choose(void) {
    for (;;) {
        unsigned start = atomic_fetch_add_explicit(&next_arena, 1, memory_order_relaxed);
        unsigned k = 1, fewest = UINT32_MAX, latest = 0;
        for (unsigned i = 0; i < ARENAS - 1; i++) {
            unsigned candidate = 1 + (start + i) % (ARENAS - 1);
            unsigned n = atomic_load_explicit(&occupants[candidate], memory_order_relaxed);
            unsigned at = atomic_load_explicit(&vacated_at[candidate], memory_order_relaxed);
            if (n < fewest || (n == fewest && at > latest)) {
                fewest = n;
                latest = at;
                k = candidate;
            }
        }
        if (atomic_compare_exchange_strong_explicit(&occupants[k], &fewest, fewest + 1,
                                                    memory_order_relaxed, memory_order_relaxed))
            return k;
    }
}

/* The main thread is the one whose id is the process's, asked of the kernel (kernel_calls.h:
   libfaketime wraps getpid, and its wrapper's malloc came back here until the stack ran out). */
static bool main_thread(void) { return km_gettid() == km_getpid(); }

/* arena_mine's first call in a thread: out of line, so that the later ones, a load of the thread's
   word, inline into their callers. */
__attribute__((noinline)) static unsigned arena_mine_first(void) {
    /* Counted as an occupant only once the fork handlers are registered, which set the count
       right in a child (threaded_lock.h). */
    (void)process_threaded();
    unsigned k = 0;
    if (ARENAS > 1 && !main_thread())
        k = arena_choose();
    else
        atomic_fetch_add_explicit(&occupants[0], 1, memory_order_relaxed);
    mine_plus_one = k + 1;
    return k;
}

unsigned arena_mine(void) { return mine_plus_one != 0 ? mine_plus_one - 1 : arena_mine_first(); }

void arena_exit_thread(unsigned k) {
    assert(k < ARENAS && atomic_load_explicit(&occupants[k], memory_order_relaxed) > 0);
    if (atomic_fetch_sub_explicit(&occupants[k], 1, memory_order_relaxed) == 1)
        atomic_store_explicit(
            &vacated_at[k], atomic_fetch_add_explicit(&vacated_clock, 1, memory_order_relaxed) + 1,
            memory_order_relaxed);
}

bool arena_occupied(unsigned k) {
    return k < ARENAS && atomic_load_explicit(&occupants[k], memory_order_relaxed) > 0;
}

bool arena_enter(unsigned k) {
    assert(k < ARENAS);
    return lock_if_threaded(&arena[k].lock);
}

void arena_leave(unsigned k, bool locked) {
    assert(k < ARENAS);
    unlock_if(&arena[k].lock, locked);
}

void arena_fork_prepare(void) {
    for (unsigned k = 0; k < ARENAS; k++)
        word_lock_take(&arena[k].lock);
}

void arena_fork_release(void) {
    for (unsigned k = ARENAS; k-- > 0;)
        word_lock_give(&arena[k].lock);
}

void arena_fork_child(bool locked) {
    /* The parent's other threads are not in the child, and never exit there. */
    for (unsigned k = 0; k < ARENAS; k++)
        atomic_store_explicit(&occupants[k], 0, memory_order_relaxed);
    if (mine_plus_one != 0)
        atomic_store_explicit(&occupants[mine_plus_one - 1], 1, memory_order_relaxed);
    if (locked)
        arena_fork_release();
}

/* MALLOCSIM_OPTIONS, read from `environ` itself: getenv, called so under the arena's lock, may be
   another preloaded library's wrapper that mallocs (a thread's first malloc hung; without threads
   the wrapper recursed until the stack ran out, or, guarded, had arena 0 set up twice and a block
   handed out twice: drop-in pass 19). NULL when it is not set. */
static const char *options_variable(void) {
    static const char name[] = "MALLOCSIM_OPTIONS=";
    for (char **entry = environ; entry != NULL && *entry != NULL; entry++) {
        size_t i = 0;
        while (i < sizeof name - 1 && (*entry)[i] == name[i])
            i++;
        if (i == sizeof name - 1)
            return *entry + i;
    }
    return NULL;
}

/* Arena k's first use, out of line: arena_usable's test, on every locked malloc's way, saves no
   register then (24 instructions a call before). */
__attribute__((noinline)) static void start(unsigned k) {
    arena_serve(k);
    const char *options = options_variable();
    if (options != NULL && *options != '\0' && mm_configure != NULL) {
        const char *message = mm_configure(options);
        if (message != NULL)
            dropin_die(message);
    }
    int saved = errno; /* a heap that cannot start is no failure of the malloc that asked: it is
                          served from a mapping then */
    mem_init();
    arena[k].ready = mem_heap_lo() != NULL && mm_init();
    arena[k].failed = !arena[k].ready;
    errno = saved;
}

bool arena_usable(unsigned k) {
    assert(k < ARENAS);
    if (!arena[k].ready && !arena[k].failed) /* its first use: once a ready arena, no work */
        start(k);
    return arena[k].ready;
}

/* Under k's lock: arena k's policy handed out `gained` usable bytes and took back `lost`. A block
   handed out or grown starts a new run of frees; live bytes back past the mark of the last purge
   raise the fall that purges (PURGE_LEAST). */
static inline void count_live(unsigned k, size_t gained, size_t lost) {
    purge_state *s = &arena[k].purge;
    assert(s->live + gained >= lost);
    s->live += gained;
    s->live -= lost < s->live ? lost : s->live;
    if (gained > lost) {
        s->before = s->purged_at = s->live;
        if (s->live >= s->regrown_at) {
            s->least = s->raise_to;
            s->regrown_at = SIZE_MAX;
        }
    }
}

void *arena_malloc(unsigned k, size_t size, size_t *usable) {
    assert(k < ARENAS && arena[k].ready);
    arena_serve(k);
    void *p;
    if (mm_malloc_usable != NULL)
        p = mm_malloc_usable(size, usable);
    else if ((p = mm_malloc(size)) != NULL)
        *usable = mm_usable_size(p);
    if (p != NULL)
        count_live(k, *usable, 0);
    return p;
}

void *arena_memalign(unsigned k, size_t alignment, size_t size) {
    assert(k < ARENAS && arena[k].ready);
    if (mm_memalign == NULL)
        return NULL;
    arena_serve(k);
    void *p = mm_memalign(alignment, size);
    if (p != NULL)
        count_live(k, mm_usable_size(p), 0);
    return p;
}

void *arena_clean_from(unsigned k) {
    assert(k < ARENAS && arena[k].ready);
    arena_serve(k);
    return mem_clean_from();
}

bool arena_holds(const void *p) {
    unsigned k = arena_index(p);
    if (k >= ARENAS || !arena[k].ready)
        return false;
    arena_serve(k);
    return (uintptr_t)p >= (uintptr_t)mem_heap_lo() && (uintptr_t)p <= (uintptr_t)mem_heap_hi();
}

/*
 * TRIM_LEAST: 32 MiB - the free top of an arena's heap past which the heap shrinks at once, back
 * to TRIM_PAD: 1 MiB of it, its pages given back to the system (memlib_sbrk.c), as glibc trims its
 * heaps' tops. Without it an arena kept the most memory it ever held (a helper's runs of real
 * programs, peak RSS against glibc's, before -> after): Python loading 200 MB in its main thread
 * and processing it in a worker, 416 -> 216 MB (glibc 215); the same in C, 394 -> 204 MB (197);
 * 8 threads a round making 8 MB each, freed by the main thread, 20 rounds, 158 -> 106 MB (66);
 * Python, 8 threads a round for 60 rounds, 241 -> 145 MB (110). Lower, the benchmark program
 * `large` (16 blocks of 64 KiB-4 MiB replaced at random in a 37 MB heap, whose top is freed and
 * taken again) paid its pages' faults again on every round: at 8 MiB it ran at 2.3 times glibc's
 * speed instead of 7.3, with 0.95 of its memory instead of 1.00; at 32 MiB, 7.0 and 1.00 (one
 * `mallocsim programs -p large --repeat 5` each). Waiting for the top to stay long for 32 frees
 * in a row did not help `large` and undid the rest (a heap freed in one go sees no later free).
 */
#ifndef TRIM_LEAST
#define TRIM_LEAST ((size_t)32 << 20)
#endif
#ifndef TRIM_PAD
#define TRIM_PAD ((size_t)1 << 20)
#endif

/*
 * PURGE_LEAST: 8 MiB - frees with no malloc between them (of the arena's policy: the caches serve
 * most small ones) that take an arena's live bytes down to half what they were, and by this much
 * at least, give back the whole pages inside its free blocks and its size map's idle pages
 * (trim_arena, as malloc_trim(0) would for that arena). A program that freed what it held in the
 * order it allocated kept it all resident: the caches hold the blocks freed last, the heap's top
 * among them, so no free top grew past TRIM_LEAST (400,000 blocks of 16-1,015 bytes, all freed:
 * 225 MB, glibc's 5.0 once its chunks merged into its trimmed top; now 10.6).
 *   A run of frees, so that a heap whose blocks are replaced, one freed and one made, keeps its
 * pages: counted from the most the live bytes were since the last purge, `large` (16 blocks of
 * 64 KiB-4 MiB, replaced at random, sizes uniform in their logarithm, so live bytes halve and
 * double again) gave its pages back and faulted them in again hundreds of times: 49 ms -> 1.1 s.
 *   Raised when the pages come back: a program in phases (50 rounds of 100,000 blocks of 16-400
 * bytes made, then all freed) purged every round and faulted its 21 MB in again, 240,570 page
 * faults and twice the time, where glibc's took 8,562. Once the live bytes climb back by half the
 * fall of the run of frees that purged, a fall must be four times that one to purge again: one
 * run that purges, then none, for phases of one size. (Raised by the last purge's own fall, a
 * run's smallest, Python's rounds of a big shuffled list purged in every round: pass 20.)
 *   Halving, and 8 MiB, so that a small heap, or a few blocks freed of a large one, is not worth
 * the system calls; between purges, what is free inside the heap stays, as the free chunks inside
 * glibc's heaps do.
 */
#ifndef PURGE_LEAST
#define PURGE_LEAST ((size_t)8 << 20)
#endif

/*
 * PURGE_SPAN_LEAST: 64 KiB - the free spans a purge gives back (malloc_trim gives back any whole
 * page). A big heap freed in random order is holes of a few pages at each halving: Python freeing
 * a shuffled list of 600,000 objects purged 15 times in 3 rounds, 339,000 madvise calls under the
 * arena's lock and 3 times the page faults, 1.85 times the old build's time (drop-in pass 20).
 * Freed in order, or all of it, the spans are megabytes long.
 */
#ifndef PURGE_SPAN_LEAST
#define PURGE_SPAN_LEAST ((size_t)64 << 10)
#endif

/* Under k's lock (k ready): arena k's free top cut down to `pad` bytes, and the map pages of what
   went (the heap past its break holds no block); the bytes that went. */
static size_t trim_top(unsigned k, size_t pad) {
    if (mm_trim == NULL)
        return 0;
    arena_serve(k);
    char *top = (char *)mem_heap_hi() + 1;
    size_t released = mm_trim(pad);
    char *cut = (char *)mem_heap_hi() + 1;
    return cut < top ? released + tc_map_trim_span(cut, top) : released;
}

/* What discard_pages gives back: spans of `least` bytes or more; the bytes that went. */
typedef struct {
    size_t least;
    size_t released;
} discarding;

/* mm_span_fn: the whole pages of a free span given back to the system (they read zero when the
   block is used again), when the span is long enough (ctx, a discarding). */
static void discard_pages(void *lo, size_t len, void *ctx) {
    discarding *d = ctx;
    uintptr_t page = mem_pagesize();
    uintptr_t from = ((uintptr_t)lo + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)lo + len) & ~(page - 1);
    if (to > from && to - from >= d->least &&
        km_madvise((void *)from, to - from, MADV_DONTNEED) == 0)
        d->released += to - from;
}

/* Under k's lock (k ready): arena k's free top cut down to `pad` bytes, the whole pages inside
   its other free blocks (in a purge, only spans of PURGE_SPAN_LEAST) and its size map's idle
   pages given back; the bytes that went. While the lock is held no block of its heap changes
   hands, so no page given back can be a live block's, nor a live block's map byte. The map pages
   go too: a sixteenth of the heap, all of it resident where blocks of cached sizes came and went
   (400,000 blocks of 16-1,015 bytes, all freed: 18.0 MB left after malloc_trim(0), 14 of them
   map). A purge (purge_if_due) reads the map only when its spans gave pages back: at each halving
   of a 770 MB heap freed in random order, the spans walk and the map's read took 30-40 ms under
   the lock, and the first purges gave back nothing (drop-in pass 21). */
static size_t trim_arena(unsigned k, size_t pad, bool purge) {
    size_t top = trim_top(k, pad);
    discarding d = {purge ? PURGE_SPAN_LEAST : 0, 0};
    char *start, *end;
    if (mm_free_spans != NULL) {
        arena_serve(k);
        mm_free_spans(d.least, discard_pages, &d);
    }
    if ((!purge || d.released > 0) && arena_range(k, &start, &end))
        d.released += tc_map_trim(start, end);
    arena[k].purge.purged_at = arena[k].purge.live;
    return top + d.released;
}

/* Under k's lock (k ready): the purge PURGE_LEAST calls for. Out of line, as it is rare: the test
   of every free (purge_if_due) then stays a few instructions inline. */
__attribute__((noinline)) static void purge(unsigned k) {
    purge_state *s = &arena[k].purge;
    trim_arena(k, TRIM_PAD, true);
    size_t run = s->before - s->live; /* the whole run's fall so far */
    s->regrown_at = s->live + run / 2;
    s->raise_to = 4 * run;
}

/* Under k's lock (k ready): what PURGE_LEAST says, after a free. */
static inline void purge_if_due(unsigned k) {
    const purge_state *s = &arena[k].purge;
    size_t fall = s->purged_at - s->live;
    if (fall >= PURGE_LEAST && fall >= s->least && s->live <= s->purged_at / 2)
        purge(k);
}

/* Under k's lock, k served: p, of arena k, freed to its policy. */
static inline void free_unsettled(unsigned k, void *p) {
    assert(arena_holds(p));
    if (mm_free_usable != NULL)
        count_live(k, 0, mm_free_usable(p));
    else {
        count_live(k, 0, mm_usable_size(p));
        mm_free(p);
    }
}

/* Under k's lock, k served: the heap's free top trimmed, or a purge made, when due. */
static inline void settle(unsigned k) {
    if (mm_free_top != NULL && mm_free_top() > TRIM_LEAST)
        trim_top(k, TRIM_PAD);
    else
        purge_if_due(k);
}

void arena_free_unsettled(void *p) { free_unsettled(arena_serve_holder(p), p); }

void arena_settle(unsigned k) {
    assert(k < ARENAS && arena[k].ready);
    arena_serve(k);
    settle(k);
}

void arena_free(void *p) {
    unsigned k = arena_serve_holder(p);
    free_unsettled(k, p);
    settle(k);
}

/*
 * Address space for a mapping the system refused: the reservation is as large as RLIMIT_AS
 * allowed when it was made, which left too little for a big block later (under `ulimit -v
 * 400000`, a 256 MiB reservation and its map: malloc(150 MiB) failed where glibc's succeeds).
 * The last arena that never served gives its part back; it serves nothing from then on, and a
 * thread it was chosen for borrows another's heap (dropin.c's other_arena_alloc). Arena 0, the
 * main thread's, is kept. A mapping the system places in the part later is no block of an arena:
 * arena_holds says so, as for any arena that is not ready, and the size map there still reads 0.
 */
bool arena_give_back_unused(void) {
    if (atomic_load_explicit(&arena_reservation.base, memory_order_relaxed) == 0)
        return false; /* nothing reserved (arena_range would reserve it now) */
    for (unsigned k = ARENAS; k-- > 1;) {
        char *start, *end;
        bool locked = arena_enter(k);
        bool unused = !arena[k].ready && !arena[k].failed && !arena[k].deferred &&
                      arena_range(k, &start, &end);
        if (unused)
            arena[k].failed = true;
        arena_leave(k, locked);
        if (unused &&
            km_munmap(start, (size_t)(end - start)) == 0) { /* no system call under a lock */
            tc_map_given_back(start, end);
            return true;
        }
    }
    return false;
}

void arena_fit_address_space(void) {
    if (atomic_load_explicit(&arena_reservation.base, memory_order_relaxed) == 0)
        return; /* not reserved yet: the first malloc sizes it by the limit (reserve_range) */
    arena_fork_prepare(); /* every lock: no heap grows, no arena starts meanwhile */
    unsigned top = 0;
    for (unsigned k = 1; k < ARENAS; k++)
        if (arena[k].ready)
            top = k;
    char *start, *end;
    if (arena_range(top, &start, &end)) {
        tc_map_cut(end); /* no lookup reaches the parts past it once they are given back */
        for (unsigned k = 0; k < ARENAS; k++) {
            if (arena[k].ready || k == top) { /* the top's heap made: its map cut with it */
                arena_serve(k);
                (void)mem_reserve_cut(k == top);
            } else if (!arena[k].failed && !arena[k].deferred && arena_range(k, &start, &end)) {
                if (k < top) /* inside the map's span: readable before others may map there */
                    tc_map_given_back(start, end);
                if (km_munmap(start, (size_t)(end - start)) == 0)
                    arena[k].deferred = true; /* taken again as its heap grows, if it can */
            }
        }
    }
    arena_fork_release();
}

bool arena_trim_all(size_t pad) {
    size_t released = 0;
    for (unsigned k = 0; k < ARENAS; k++) {
        bool locked = arena_enter(k);
        if (arena[k].ready)
            released += trim_arena(k, pad, false);
        arena_leave(k, locked);
    }
    return released > 0;
}

bool arena_usage(unsigned k, arena_usage_t *usage) {
    assert(k < ARENAS);
    bool locked = arena_enter(k);
    bool ready = arena[k].ready;
    if (ready) {
        arena_serve(k);
        usage->heap_bytes = (size_t)((char *)mem_heap_hi() + 1 - (char *)mem_heap_lo());
        usage->free = mm_free_space != NULL ? mm_free_space() : (mm_free_space_t){0, 0, 0, 0};
        usage->free_top = mm_free_top != NULL ? mm_free_top() : 0;
    }
    arena_leave(k, locked);
    return ready;
}

void *arena_realloc(void *p, size_t size, size_t *usable) {
    assert(arena_holds(p));
    unsigned k = arena_serve_holder(p);
    size_t before = mm_usable_size(p);
    void *q = mm_realloc(p, size);
    if (q != NULL) { /* in the same arena: its policy's own block */
        *usable = mm_usable_size(q);
        count_live(k, *usable, before);
    }
    return q;
}

size_t arena_usable_size(void *p) {
    assert(arena_holds(p));
    arena_serve_holder(p);
    return mm_usable_size(p);
}

/* ------------------------------------------- memlib.h's functions the arenas' heaps share */

size_t mem_pagesize(void) { return km_pagesize(); }

void *mem_memset(void *ptr, int value, size_t n) { return memset(ptr, value, n); }

void *mem_memcpy(void *dst, const void *src, size_t n) { return memcpy(dst, src, n); }
