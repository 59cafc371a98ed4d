/*
 * memlib_sbrk.c - memlib.h for the drop-in build (libmallocsim.so): an sbrk-style heap in an
 * address range reserved for it alone, not the process's program break.
 *
 * The drop-in links a policy with this file instead of the simulated heap (memlib.c). A policy
 * needs ONE contiguous heap [mem_heap_lo, mem_heap_hi] that only it writes to. This file once
 * grew the heap with sbrk(2); but the break is the program's too, and once a program moved it
 * itself (sbrk or brk) the heap could not grow past the program's memory, and the drop-in gave
 * every later block, however small, a mapping of its own: 1M mallocs of 32 bytes after one
 * foreign sbrk took 3.98 GB and 19.5 s (glibc 57 MB, 0.08 s), until vm.max_map_count. Weighed:
 *   - glibc fences the program's range off as an in-use chunk and grows past it. That needs the
 *     policy to take a block it did not place, at an address it did not choose: mm.h has no such
 *     call, and a policy (a student's too) owns its heap's layout;
 *   - go on in a reserved range once the break turns foreign: the heap would be two ranges with
 *     the program's memory between them, which no policy may be shown;
 *   - the heap in a reserved range from the start (this file): one contiguous heap whatever the
 *     program does with the break, which stays entirely the program's, as under mimalloc and
 *     jemalloc (whose sbrk use is off, or second choice, by default).
 * What it costs: the heap is bounded by the reservation (past it mem_sbrk refuses, and the shim
 * maps blocks), and sbrk(0) no longer shows how much the heap grew.
 *
 * The drop-in has several arenas (arena.h), each a copy of the policy's state with a copy of
 * this file's (arena_state.h): each is one heap, in its arena's part of the one reservation
 * arena.c makes.
 *
 *   heap_start            heap_brk            committed             reserve_end
 *   | the policy's heap ...  | read-write slack  | PROT_NONE: address space only |
 *
 * The range is reserved PROT_NONE and MAP_NORESERVE, as glibc's arenas are: address space, no
 * memory and no commit charge. It is committed by mprotect to read-write in steps of at least
 * GROW_STEP (policies often grow by just what is missing: one system call per step instead of
 * one per call). The kernel merges each step into the read-write mapping below it, so the heap is
 * two lines of /proc/self/maps however large it grows; and under a strict commit limit
 * (vm.overcommit_memory=2) a step that would pass it fails with ENOMEM, instead of the OOM
 * killer coming later. Pages committed cost nothing until touched.
 *
 * Guarantees, beyond memlib.h's:
 *   - the heap starts at the start of its arena's part of the reservation (page aligned), stays
 *     one contiguous range [lo, hi] inside that part, and never moves; no byte of it is the
 *     program's, nor past its break;
 *   - before the heap's memory grows, the thread caches' size map is made to cover it
 *     (tc_map_reach): a growth the map cannot cover is refused, so every heap block has a map
 *     byte (see thread_cache.c);
 *   - when the system granted no reservation (arena.c) mem_init leaves the heap unusable
 *     (mem_heap_lo() == NULL) and the shim serves every block from a mapping;
 *   - a reservation cut to the committed range (mem_reserve_cut, for a limit on the address
 *     space set later), or never made (a part reserved as the heap grows, under a finite limit),
 *     is taken at its own address, as the heap grows past it;
 *   - mem_sbrk fails with ENOMEM past the reservation or when mprotect fails, and with EINVAL
 *     below the heap's start; shrinking gives the whole pages past the new break back to the
 *     system (they stay committed, and read zero when regrown: a trimmed top, mm_trim);
 *   - mem_reset moves the break back to the start and gives the pages back to the system (they
 *     stay committed, and read zero when regrown);
 *   - mem_clean_from() is an address from which every byte of the heap's range reads zero: the
 *     break's highest point since the pages were last given back (calloc's clearing stops there).
 * The driver-only settings of memlib.h (limits, failure injection, counters) are the simulated
 * heap's alone; the page size and mem_memset/mem_memcpy, which every arena's heap shares, are in
 * arena.c. Not thread-safe by itself: the drop-in calls it for an arena under that arena's lock.
 */
#include "memlib.h"

#include "arena.h"
#include "arena_state.h"
#include "kernel_calls.h"
#include "thread_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>

/* GROW_STEP: 256 KiB - the least the committed range grows by. */
static const size_t GROW_STEP = 256 * 1024;

/* The heap: every address below is in its arena's part of the reservation, in this order. One
   per arena: the served arena's (arena_state.h). */
static struct {
    STATE_ALIGN char *start; /* the part's first byte, the heap's too; NULL before mem_init */
    char *brk;               /* the heap's break, as the policy sees it */
    char *committed;         /* end of the read-write part; PROT_NONE from here */
    char *reserve_end; /* end of the reservation: the part's, or less once cut (mem_reserve_cut) */
    char *part_end;    /* end of the part, up to which a cut reservation is taken again */
    /* From here up every byte reads zero: the policy writes only below the break, so nothing was
       written here since the pages were committed or given back (calloc skips clearing it). */
    char *clean;
} heap_of[STATE_COPIES];
#define heap PER_ARENA(heap)

/* sbrk's failure value, which mem_sbrk returns too. */
static void *const SBRK_FAILED = (void *)-1;

/* The heap's first use: its range, the arena's part of the reservation. Out of line, so that
   mem_init's test, on every free's way (arena_holds calls mem_heap_lo and mem_heap_hi), saves no
   register: that call cost 3% of rptest's time (perf) and 44 instructions a free. */
__attribute__((noinline)) static void start(void) {
    char *lo, *end;
    if (arena_range(STATE_INDEX, &lo, &end)) {
        heap.start = heap.brk = heap.committed = heap.clean = lo;
        heap.part_end = end;
        heap.reserve_end = arena_part_reserved(STATE_INDEX) ? end : lo; /* else regained */
    }
}

void mem_init(void) {
    if (heap.start == NULL)
        start();
}

void mem_deinit(void) {
    /* The reservation stays: blocks handed out from it may still be in use. */
    mem_reset();
}

static void *refuse(int error) {
    errno = error;
    return SBRK_FAILED;
}

/* Whole chunks of the size map (16 MiB) from the part's start: where a cut reservation ends. */
static size_t in_chunks(size_t bytes) {
    size_t chunk = (size_t)1 << TC_MAP_CHUNK_SHIFT;
    return (bytes + chunk - 1) / chunk * chunk;
}

/* The reservation, cut short (mem_reserve_cut) or never made (a part reserved as the heap grows:
   arena_part_reserved), taken at its own address for `need` bytes past the committed end: whole
   chunks up to the part's end, first the address space (so that no other mapping lands there),
   then the size map over it, readable below the heap's start where it did not reach (the parts
   below, given back). False when the part has no such room, the address range was taken
   meanwhile, or the system refuses (the RLIMIT_AS that cut it). */
static bool regain(size_t need) {
    size_t used = (size_t)(heap.committed - heap.start);
    size_t part = (size_t)(heap.part_end - heap.start);
    if (heap.reserve_end == heap.part_end || need > part - used)
        return false;
    size_t to = in_chunks(used + need);
    char *end = heap.start + (to < part ? to : part);
    size_t len = (size_t)(end - heap.reserve_end);
    int saved = errno;
    bool reserved = km_reserve_at(heap.reserve_end, len);
    errno = saved; /* ENOMEM is the caller's to say */
    if (!reserved)
        return false;
    if (!tc_map_regrow(end, heap.start)) {
        km_munmap(heap.reserve_end, len);
        return false;
    }
    leave_out_of_dumps(heap.reserve_end, len);
    heap.reserve_end = end;
    return true;
}

char *mem_reserve_cut(bool map_ends_here) {
    mem_init();
    if (heap.start == NULL)
        return NULL;
    char *cut = heap.start + in_chunks((size_t)(heap.committed - heap.start));
    if (cut >= heap.reserve_end)
        return heap.reserve_end;
    /* Before others may map there: lookups stop short of the range, or read 0 in it. */
    if (map_ends_here)
        tc_map_cut(cut);
    else
        tc_map_given_back(cut, heap.reserve_end);
    if (km_munmap(cut, (size_t)(heap.reserve_end - cut)) == 0)
        heap.reserve_end = cut;
    else if (!map_ends_here || !tc_map_regrow(heap.reserve_end, NULL)) /* still ours, but its */
        heap.reserve_end = cut; /* map no longer writable there: no longer the heap's to grow in */
    return heap.reserve_end;
}

/* Commit `need` more bytes past the committed end (more, up to GROW_STEP, when it can); false
   when the reservation or the system cannot. */
static bool commit(size_t need) {
    if (need > (size_t)(heap.reserve_end - heap.committed) && !regain(need))
        return false;
    size_t room = (size_t)(heap.reserve_end - heap.committed);
    size_t page = mem_pagesize();
    size_t exact = (need + page - 1) / page * page; /* <= room: room is a multiple of the page */
    size_t step = exact > GROW_STEP ? exact : GROW_STEP;
    if (step > room)
        step = room;
    if (!tc_map_reach(heap.committed, heap.committed + step))
        return false;
    if (km_mprotect(heap.committed, step, PROT_READ | PROT_WRITE) != 0) {
        if (step == exact || km_mprotect(heap.committed, exact, PROT_READ | PROT_WRITE) != 0)
            return false;
        step = exact;
    }
    (void)km_madvise(heap.committed, step, MADV_DODUMP); /* in use: in dumps (arena.c) */
    heap.committed += step;
    return true;
}

void *mem_sbrk(intptr_t incr) {
    mem_init();
    if (heap.start == NULL)
        return refuse(ENOMEM);
    if (incr >= 0) {
        size_t slack = (size_t)(heap.committed - heap.brk);
        if ((size_t)incr > slack && !commit((size_t)incr - slack))
            return refuse(ENOMEM);
    } else if ((size_t)0 - (size_t)incr > (size_t)(heap.brk - heap.start)) {
        return refuse(EINVAL);
    }
    char *old = heap.brk;
    heap.brk += incr;
    if (heap.brk > heap.clean)
        heap.clean = heap.brk;
    if (incr < 0) { /* should the system refuse, the pages keep their bytes, and are not clean */
        size_t page = mem_pagesize();
        char *from = heap.start + ((size_t)(heap.brk - heap.start) + page - 1) / page * page;
        if (from < heap.committed &&
            km_madvise(from, (size_t)(heap.committed - from), MADV_DONTNEED) == 0)
            heap.clean = from;
    }
    return old;
}

void mem_reset(void) {
    heap.brk = heap.start;
    /* The pages go back to the system; the range stays committed, and reads zero. Should the
       system refuse, they keep their bytes, and are not clean. */
    if (heap.committed > heap.start &&
        km_madvise(heap.start, (size_t)(heap.committed - heap.start), MADV_DONTNEED) == 0)
        heap.clean = heap.start;
}

void mem_reset_brk(void) { mem_reset(); }

void *mem_heap_lo(void) {
    mem_init();
    return heap.start;
}

void *mem_heap_hi(void) {
    mem_init();
    return (void *)((uintptr_t)heap.brk - 1);
}

size_t mem_heapsize(void) { return (size_t)(heap.brk - heap.start); }

void *mem_clean_from(void) { return heap.clean; }
