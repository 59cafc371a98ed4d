/*
 * bump_faults.c - the naive fixture allocator, correct, and each bug a student makes in it, one
 * switch per bug (test fixture; classic dialect, or CMU with -DMM_DIALECT_CMU).
 *
 * A bump allocator over mem_sbrk: each payload has a 16-byte header in front (its capacity, then
 * a free-list link), the heap grows by exactly what a block needs, free does nothing, realloc is
 * malloc + copy + free, calloc is malloc + memset. Its utilization is poor and its figures are
 * easy to compute by hand.
 *
 * The tests never build this file as it is: conftest.fixture_allocator(NAME) writes NAME.c, this
 * file with `#define NAME` (upper case) in front, so that each variant is graded as a student's
 * mm.c of its own, under its own file name. One switch chooses one variant; the bugs below are
 * the whole difference between them. Each names the check of the grader that must catch it.
 *
 *   GOOD_BUMP           nothing wrong: every check passes.
 *   CALLS_MALLOC        mm_init keeps a table of size-class heads from the system malloc: memory
 *                       the heap never sees. The forbidden-call trap, at the call, in every trace
 *                       ("called free at mm_init ..., which an allocator may not: it may get memory
 *                       only from mem_sbrk ..."); built elsewhere and handed in as a library, the
 *                       import check refuses it ("calls free, malloc").
 *   CHECKER_CRASHES     the allocator is right, its heap checker is not: mm_checkheap writes through
 *                       a NULL pointer on its third call. The crash's diagnosis must name the
 *                       checker, not the op before it ("crashed with SIGSEGV at mm_checkheap,
 *                       called after op 2 (...)"), under --check-heap.
 *   CHECKER_EXITS       the allocator is right; its heap checker, on its third call, prints the
 *                       heap (2,000 lines, more than a pipe holds by default) and a report, and
 *                       calls exit(0), as a student's checker does on finding what it takes for an
 *                       error. The diagnosis names the exit and shows the end of the report ("exited
 *                       with status 0 at mm_checkheap, called after op 2 (...); its last output:
 *                       ... | mm_checkheap: ...").
 *   CALLOC_NO_ZERO      (CMU dialect) calloc skips the memset because "sbrk memory is zero"; but
 *                       malloc reuses freed blocks (a LIFO free list, first fit), which still hold
 *                       their old bytes. The calloc check: for "a 0 32, f 0, c 1 4 8" op 2
 *                       ("calloc memory is not zero").
 *   INIT_NO_RESET       mm_init sets up its chunk only on its first call; from the second run on a
 *                       fresh heap it hands out addresses past the new, empty heap's break. The
 *                       heap-bounds check, in the second run ("block 0 [...] is not inside the
 *                       heap [...]").
 *   GROWTH_KEPT         no bug a lab's driver sees: the heap grows by a step that doubles at each
 *                       growth (from 4 KiB to 64 KiB) and that mm_init never sets back, so a second run on a
 *                       fresh heap grows in other steps, every block still valid. The drivers
 *                       accept it; the grade measures the first run and says why in a note ("mm_init
 *                       does not reset all its state: a second run ... used 16,384 bytes of heap").
 *   INIT_RUNS_OUT       mm_init works twice, then fails for good (a pool of two heap descriptors,
 *                       never given back). The timed passes, whose first mm_init is the third
 *                       call ("in the timed passes: mm_init failed (returned -1)"). INIT_POOL
 *                       sets another pool size (a batch of short passes is reached past 8).
 *   MISALIGNED          the 32-bit textbook's ALIGNMENT 8 with an 8-byte header: every block is a
 *                       multiple of 16 and every payload sits at 8 mod 16. The alignment check, on
 *                       the first malloc ("block 0 [...] is not 16-byte aligned").
 *   NULL_EARLY          mm_init takes one chunk and malloc carves blocks from it, but returns NULL
 *                       when it is used up instead of growing the heap (the textbook's extend_heap
 *                       call left out). The NULL check: for "a 0 4000, a 1 200", op 1 ("malloc
 *                       returned NULL for 200 bytes (heap 4.0 KiB of ... limit)").
 *   OUTSIDE_HEAP        the heap grows by one chunk when the current one is too small, even for a
 *                       request bigger than a chunk: the block ends past the break. The heap-bounds
 *                       check, on the first request above 4 KiB: the whole block must lie inside.
 *   OVERLAP             malloc reuses a free block but never takes it off the free list, so the
 *                       next malloc of a fitting size gets it again while it is live. The overlap
 *                       check: for "a 0 32, f 0, a 1 32, a 2 32", op 3 ("block 2 [...] overlaps
 *                       block 1 [...]"). The links are in the header, so the payload checker's
 *                       writes cannot crash the allocator first.
 *   REALLOC_DROPS_DATA  realloc subtracts the header from the capacity once more, as if it were the
 *                       block's size: the last 16 bytes of the old payload are not copied. The
 *                       realloc check: for "a 0 48, r 0 64", op 1 ("realloc did not keep the
 *                       data").
 *   PAST_BREAK          no bug a lab's driver sees: after each growth, mm_malloc reads the word
 *                       three pages past the break (as a realloc that copies too much does), and
 *                       with PAST_BREAK_WRITES writes a 1 there too (storage the heap does not
 *                       count). The labs' drivers map their whole heap: both valid there, and
 *                       under a lab with a heap limit here, the write's page counted as heap
 *                       ("wrote memory past its break"); with no limit (mallocsim's own rules)
 *                       the read is past the heap's memory (SIGBUS).
 *   SLOWER_LATER        correct, but each run slower, as a list that grows from run to run is:
 *                       from its third mm_init (the timed passes' first) on, every malloc
 *                       busy-works SLOW_STEPS steps. Out of a trace's time limit in the timed
 *                       passes, the checked ones done, the trace stays valid, timed by its
 *                       checked passes ("the timed passes ran past the trace's time limit");
 *                       with SLOW_STEPS past the stall limit a malloc there is hung, and fails it.
 *
 * Variants with a team record (the classic dialect's; the csapp lab requires one): GOOD_BUMP,
 * CALLS_MALLOC, CHECKER_CRASHES, INIT_RUNS_OUT, NULL_EARLY. The others have none, so that a test can add one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#ifdef MM_DIALECT_CMU
/* no team record in this dialect */
#elif defined(GOOD_BUMP)
team_t team = {"bump", "A. Student", "astudent", "", ""};
#elif defined(CALLS_MALLOC)
team_t team = {"libc", "Short Cut", "shortcut", "", ""};
#elif defined(INIT_RUNS_OUT)
team_t team = {"runs out", "Pool Party", "pool", "", ""};
#elif defined(NULL_EARLY)
team_t team = {"early", "Out Of Ideas", "early", "", ""};
#elif defined(CHECKER_CRASHES)
team_t team = {"checked", "Over Cautious", "cautious", "", ""};
#endif

#ifdef MISALIGNED
#define ALIGNMENT 8
#define HEADER 8 /* the capacity alone */
#else
#define ALIGNMENT 16
#define HEADER 16 /* the capacity, then the free-list link */
#endif

/* The least the heap grows by: 0 (exactly what a block needs) but where a bug needs a chunk. */
#if defined(INIT_NO_RESET) || defined(NULL_EARLY) || defined(OUTSIDE_HEAP)
#define CHUNKSIZE 4096
#else
#define CHUNKSIZE 0
#endif

/* Only these two reuse freed blocks: the others' figures stay those of a plain bump. */
#if defined(CALLOC_NO_ZERO) || defined(OVERLAP)
#define REUSE
#endif

#ifdef MM_DIALECT_CMU
#define INIT_OK true
#define INIT_FAILED false
typedef bool init_result;
typedef bool check_result;
#else
#define INIT_OK 0
#define INIT_FAILED (-1)
typedef int init_result;
typedef int check_result;
#endif

static struct {
    char *next;      /* the chunk's first unused byte */
    char *end;       /* the chunk's end: the break */
    char *free_list; /* freed payloads, linked through their headers (REUSE) */
    bool ready;      /* mm_init has run once (INIT_NO_RESET) */
    size_t step;     /* the last growth's step, kept across runs (GROWTH_KEPT) */
    int inits;       /* mm_init calls ever (INIT_RUNS_OUT, SLOWER_LATER) */
} heap;

#ifdef CALLS_MALLOC
static void **class_heads; /* BUG: from the system malloc */
#endif

static size_t round_up(size_t size, size_t to) { return (size + to - 1) / to * to; }

static size_t capacity(const char *payload) {
    size_t cap;
    memcpy(&cap, payload - HEADER, sizeof cap);
    return cap;
}

#ifdef REUSE
/* The free-list link in the header of payload p. */
static char **link_of(char *p) { return (char **)(void *)(p - HEADER + sizeof(size_t)); }
#endif

init_result mm_init(void) {
#if defined(INIT_NO_RESET)
    if (heap.ready) /* BUG: must start over on every call */
        return INIT_OK;
    heap.ready = true;
#elif defined(INIT_RUNS_OUT)
#ifndef INIT_POOL
#define INIT_POOL 2 /* a test may set another size: the engine's batches of short passes */
#endif
    if (heap.inits == INIT_POOL) /* BUG: the pool is never given back */
        return INIT_FAILED;
    heap.inits++;
#elif defined(SLOWER_LATER)
    heap.inits++;
#elif defined(CALLS_MALLOC)
    free(class_heads);
    class_heads = malloc(16 * sizeof *class_heads);
    if (class_heads == NULL)
        return INIT_FAILED;
#endif
    heap.next = heap.end = mem_heap_lo();
    heap.free_list = NULL;
#ifdef NULL_EARLY
    if (mem_sbrk(CHUNKSIZE) == (void *)-1)
        return INIT_FAILED;
    heap.end += CHUNKSIZE;
#endif
    return INIT_OK;
}

/* Make the chunk hold `need` more bytes; false when the heap cannot grow. */
static bool grow(size_t need) {
#if defined(NULL_EARLY)
    (void)need; /* BUG: should grow the heap here */
    return false;
#elif defined(OUTSIDE_HEAP)
    (void)need;
    if (mem_sbrk(CHUNKSIZE) == (void *)-1) /* BUG: need may exceed it */
        return false;
    heap.next = heap.end; /* the rest of the old chunk is wasted */
    heap.end += CHUNKSIZE;
    return true;
#else
#ifdef GROWTH_KEPT
    /* Doubled up to 64 KiB, and never set back by mm_init. */
    size_t chunk = heap.step = heap.step == 0 ? 4096 : heap.step < 65536 ? 2 * heap.step : 65536;
#else
    size_t chunk = CHUNKSIZE;
#endif
    size_t step = need > chunk ? need : chunk;
    char *old = mem_sbrk((intptr_t)step);
    if (old == (void *)-1)
        return false;
    heap.next = old;
    heap.end = old + step;
#ifdef PAST_BREAK
    volatile long *past = (volatile long *)(void *)(heap.end + 3 * 4096);
#ifdef PAST_BREAK_WRITES
    *past = 1;
#endif
    (void)*past;
#endif
    return true;
#endif
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
#ifdef SLOWER_LATER
#ifndef SLOW_STEPS
#define SLOW_STEPS 100000000UL /* 0.05-0.2 s: a pass of 50 mallocs takes seconds */
#endif
    if (heap.inits > 2) /* BUG (of speed): slower from run to run */
        for (volatile unsigned long step = 0; step < SLOW_STEPS; step++) {
        }
#endif
    size_t cap = round_up(size, ALIGNMENT);
#ifdef REUSE
    for (char **link = &heap.free_list; *link != NULL; link = link_of(*link)) {
        char *p = *link;
        if (capacity(p) >= cap) {
#ifndef OVERLAP
            *link = *link_of(p); /* OVERLAP's bug: p stays on the list */
#endif
            return p;
        }
    }
#endif
    size_t need = round_up(HEADER + cap, 16);
    if ((size_t)(heap.end - heap.next) < need && !grow(need))
        return NULL;
    char *block = heap.next;
    heap.next += need;
    cap = need - HEADER;
    memcpy(block, &cap, sizeof cap);
    return block + HEADER;
}

void mm_free(void *ptr) {
#ifdef REUSE
    if (ptr == NULL)
        return;
    *link_of(ptr) = heap.free_list;
    heap.free_list = ptr;
#else
    (void)ptr;
#endif
}

void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    void *newptr = mm_malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t old = capacity(ptr);
#ifdef REALLOC_DROPS_DATA
    old -= HEADER; /* BUG: the capacity is the payload's already */
#endif
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}

void *mm_calloc(size_t nmemb, size_t size) {
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *ptr = mm_malloc(nmemb * size);
#ifndef CALLOC_NO_ZERO /* its bug: a reused block is not zero */
    if (ptr != NULL)
        memset(ptr, 0, nmemb * size);
#endif
    return ptr;
}

/* Every listed free block inside the heap. */
check_result mm_checkheap(int verbose) {
    (void)verbose;
#ifdef CHECKER_CRASHES
    static int calls;
    if (++calls == 3)
        *(volatile int *)NULL = 1;
#elif defined(CHECKER_EXITS)
    static int calls;
    if (++calls == 3) {
        for (int line = 0; line < 2000; line++)
            printf("heap listing, line %4d: nothing wrong here\n", line);
        printf("mm_checkheap: the free list is not sorted (check %d)\n", calls);
        exit(0);
    }
#endif
#ifdef REUSE
    for (char *p = heap.free_list; p != NULL; p = *link_of(p))
        if (p - HEADER < (char *)mem_heap_lo() || p > (char *)mem_heap_hi() + 1)
            return false;
#endif
    return true;
}
