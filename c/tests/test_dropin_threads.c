/*
 * test_dropin_threads.c - the drop-in malloc under several threads and fork.
 *
 * Run it under the library it tests: LD_PRELOAD=.../libmallocsim.so
 * (driver/tests/test_dropin.py builds and runs it so). Built without
 * sanitizers: AddressSanitizer would replace the very malloc under test.
 *
 * Each thread keeps its own blocks and, at random, allocates (malloc, calloc,
 * the memalign family), reallocates, frees, or swaps one of its blocks with a
 * shared mailbox, so blocks are reallocated and freed by threads other than
 * the one that allocated them. Every block is filled with a pattern derived
 * from its own tag and verified in full before every realloc and free and at
 * the end: any overlap or lost byte shows. Thread 0 also forks now and then;
 * each child allocates and verifies its copy of the blocks and exits, which
 * hangs if the allocator's lock crosses fork held. The last thread calls
 * malloc_trim(0) now and then, which gives back the pages of free memory and
 * of the size map while the others' blocks come and go: a page of a live
 * block given back would read zero.
 *
 * Arguments: [threads] [ops per thread]. With EXPECT_MALLOC_FROM=<name>, it
 * also checks that malloc really comes from a library of that name. Prints
 * the check summary.
 */
#include "check.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    SLOTS = 64,   /* blocks a thread keeps */
    MAILBOX = 32, /* blocks in flight between threads */
    MAX_THREADS = 16,
    FORK_EVERY = 4096, /* thread 0 forks once per this many ops */
    TRIM_EVERY = 1024, /* the last thread calls malloc_trim once per this many ops */
};

static int thread_count;

typedef struct {
    unsigned char *p; /* NULL = empty slot */
    size_t size;
    uint32_t tag; /* seeds the fill pattern */
} block;

static block mailbox[MAILBOX];
static pthread_mutex_t mailbox_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static long ops_per_thread = 200000;

typedef struct {
    uint64_t state;
    int index;
    block slots[SLOTS];
    long forks;
} worker;

static uint64_t next_random(worker *w) {
    w->state ^= w->state << 13;
    w->state ^= w->state >> 7;
    w->state ^= w->state << 17;
    return w->state;
}

static unsigned char pattern(uint32_t tag, size_t i) {
    return (unsigned char)(tag + i * 31 + (i >> 9));
}

static void fill(block *b, size_t from) {
    for (size_t i = from; i < b->size; i++)
        b->p[i] = pattern(b->tag, i);
}

/* First byte of b (up to `upto`) that lost its pattern, or SIZE_MAX. */
static size_t first_bad(const block *b, size_t upto) {
    for (size_t i = 0; i < upto; i++)
        if (b->p[i] != pattern(b->tag, i))
            return i;
    return SIZE_MAX;
}

/* CHECK from several threads: the counters are shared, so serialize. */
#define TCHECK(cond, ...)                                                                          \
    do {                                                                                           \
        pthread_mutex_lock(&report_lock);                                                          \
        CHECK(cond, __VA_ARGS__);                                                                  \
        pthread_mutex_unlock(&report_lock);                                                        \
    } while (0)

static void verify(const block *b, const char *when) {
    size_t bad = first_bad(b, b->size);
    if (bad != SIZE_MAX)
        TCHECK(bad == SIZE_MAX, "%s: block %p+%zu byte %zu is 0x%02x, expected 0x%02x", when,
               (void *)b->p, b->size, bad, b->p[bad], pattern(b->tag, bad));
}

/* Mostly small sizes, some medium, rarely one past the mapping threshold. */
static size_t random_size(worker *w) {
    uint64_t r = next_random(w);
    switch (r % 64) {
    case 0:
        return 256 * 1024 + (size_t)(r >> 8) % (128 * 1024);
    case 1:
    case 2:
    case 3:
        return (size_t)(r >> 8) % 16384;
    default:
        return (size_t)(r >> 8) % 512;
    }
}

static void allocate(worker *w, block *b) {
    size_t size = random_size(w);
    uint64_t how = next_random(w) % 8;
    void *p = NULL;
    size_t align = 16;
    if (how == 0) {
        p = calloc(1 + size / 8, 8);
        size = (1 + size / 8) * 8;
        if (p != NULL) {
            block z = {p, size, 0};
            for (size_t i = 0; i < size; i++)
                if (z.p[i] != 0) {
                    TCHECK(z.p[i] == 0, "calloc(%zu) byte %zu is 0x%02x", size, i, z.p[i]);
                    break;
                }
        }
    } else if (how == 1) {
        align = (size_t)32 << (next_random(w) % 8); /* 32 .. 4096 */
        int rc = posix_memalign(&p, align, size);
        TCHECK(rc == 0, "posix_memalign(%zu, %zu) = %d", align, size, rc);
    } else if (how == 2) {
        align = 64;
        p = aligned_alloc(align, size);
    } else {
        p = malloc(size);
    }
    TCHECK(p != NULL, "allocation of %zu bytes failed (errno %d)", size, errno);
    if (p == NULL)
        return;
    TCHECK((uintptr_t)p % align == 0, "%p is not %zu-aligned", p, align);
    TCHECK(malloc_usable_size(p) >= size, "usable size %zu < %zu", malloc_usable_size(p), size);
    *b = (block){p, size, (uint32_t)next_random(w)};
    fill(b, 0);
}

static void reallocate(worker *w, block *b) {
    verify(b, "before realloc");
    size_t size = random_size(w);
    unsigned char *q = realloc(b->p, size == 0 ? 1 : size);
    TCHECK(q != NULL, "realloc to %zu failed", size);
    if (q == NULL)
        return;
    size_t kept = b->size < size ? b->size : size;
    b->p = q;
    size_t bad = first_bad(b, kept);
    TCHECK(bad == SIZE_MAX, "realloc %zu -> %zu lost byte %zu", b->size, size, bad);
    b->size = size;
    fill(b, kept);
}

static void release(block *b) {
    verify(b, "before free");
    free(b->p);
    b->p = NULL;
}

/* Swap one of our blocks with a mailbox slot: blocks change threads. */
static void exchange(worker *w, block *b) {
    size_t m = next_random(w) % MAILBOX;
    pthread_mutex_lock(&mailbox_lock);
    block incoming = mailbox[m];
    mailbox[m] = *b;
    pthread_mutex_unlock(&mailbox_lock);
    *b = incoming;
}

/* In a child of fork: the allocator must work, and our blocks be intact. */
static void fork_and_check(worker *w) {
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        for (int i = 0; i < SLOTS; i++)
            if (w->slots[i].p != NULL && first_bad(&w->slots[i], w->slots[i].size) != SIZE_MAX)
                bad = 1;
        for (int i = 0; i < 100; i++) {
            char *p = malloc((size_t)i * 40 + 1);
            if (p == NULL)
                _exit(3);
            memset(p, i, (size_t)i * 40 + 1);
            free(p);
        }
        _exit(bad);
    }
    TCHECK(pid > 0, "fork failed (errno %d)", errno);
    int status = 0;
    if (pid > 0) {
        TCHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
        TCHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
        w->forks++;
    }
}

static void *work(void *arg) {
    worker *w = arg;
    for (long op = 0; op < ops_per_thread; op++) {
        block *b = &w->slots[next_random(w) % SLOTS];
        uint64_t what = next_random(w) % 16;
        if (w->index == 0 && op % FORK_EVERY == FORK_EVERY - 1)
            fork_and_check(w);
        if (w->index == thread_count - 1 && op % TRIM_EVERY == TRIM_EVERY - 1)
            malloc_trim(0);
        if (b->p == NULL)
            allocate(w, b);
        else if (what < 5)
            release(b);
        else if (what < 9)
            reallocate(w, b);
        else if (what < 11)
            exchange(w, b);
        else
            verify(b, "at random");
        if (b->p != NULL && b->size > 64 * 1024 && what % 2 == 0)
            release(b); /* keep the big blocks few */
    }
    for (int i = 0; i < SLOTS; i++)
        if (w->slots[i].p != NULL)
            release(&w->slots[i]);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2)
        ops_per_thread = atol(argv[2]);
    if (threads < 1 || threads > MAX_THREADS)
        threads = 4;
    thread_count = threads;
    static worker workers[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        workers[t].index = t;
        workers[t].state = 0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1);
        /* TCHECK: the workers already started count their checks meanwhile. */
        TCHECK(pthread_create(&ids[t], NULL, work, &workers[t]) == 0, "pthread_create %d", t);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(ids[t], NULL);
    for (int m = 0; m < MAILBOX; m++)
        if (mailbox[m].p != NULL)
            release(&mailbox[m]);
    CHECK(workers[0].forks > 0 || ops_per_thread < FORK_EVERY, "thread 0 never forked");

    /* The edges the standard and glibc define (volatile: no compile-time verdict). */
    volatile size_t huge = SIZE_MAX / 2;
    errno = 0;
    CHECK(calloc(huge, 4) == NULL && errno == ENOMEM, "calloc overflow: errno %d", errno);
    errno = 0;
    CHECK(malloc(huge) == NULL && errno == ENOMEM, "huge malloc: errno %d", errno);
    void *p = NULL;
    CHECK(posix_memalign(&p, 24, 8) == EINVAL, "posix_memalign with alignment 24");
    /* A zero-byte aligned block is still a unique pointer: no later block may
       start at its address (it must not sit just past its raw block's end).
       Blocks of the raw block's size come before and after it, so that an
       allocator packing them tightly puts one right there. */
    for (size_t align = 32; align <= 256; align *= 2) {
        void *before[64], *later[64];
        for (int i = 0; i < 64; i++)
            before[i] = malloc(align - 16);
        void *zero = aligned_alloc(align, 0);
        int shared = 0;
        for (int i = 0; i < 64; i++) {
            later[i] = malloc(align - 16);
            shared += later[i] == zero;
        }
        CHECK(zero != NULL && shared == 0, "aligned_alloc(%zu, 0) = %p handed out again", align,
              zero);
        for (int i = 0; i < 64; i++) {
            free(before[i]);
            free(later[i]);
        }
        free(zero);
    }
    /* Someone else moves the program break: the heap can no longer grow in
       place, and allocation must go on (from mappings) with data intact. */
    CHECK(sbrk(4096) != (void *)-1, "sbrk failed");
    block after[256];
    for (int i = 0; i < 256; i++) {
        after[i] = (block){malloc(65536), 65536, (uint32_t)i};
        CHECK(after[i].p != NULL, "malloc after a foreign sbrk failed");
        if (after[i].p != NULL)
            fill(&after[i], 0);
    }
    for (int i = 0; i < 256; i++)
        if (after[i].p != NULL)
            release(&after[i]);
    /* The memalign family's alignments and errors. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(100), *pv = pvalloc(1), *m = memalign(48, 10);
    CHECK(v != NULL && (uintptr_t)v % page == 0, "valloc(100) = %p", v);
    CHECK(pv != NULL && (uintptr_t)pv % page == 0 && malloc_usable_size(pv) >= page,
          "pvalloc(1) = %p", pv);
    CHECK(m != NULL && (uintptr_t)m % 64 == 0, "memalign(48, 10) = %p", m);
    volatile size_t widest = SIZE_MAX; /* no power of two can round it up: EINVAL, as glibc's */
    errno = 0;
    CHECK(memalign(widest, 1) == NULL && errno == EINVAL, "memalign(SIZE_MAX, 1): errno %d", errno);
    free(v);
    free(pv);
    free(m);
    errno = 0;
    CHECK(reallocarray(NULL, huge, 4) == NULL && errno == ENOMEM, "reallocarray overflow: errno %d",
          errno);
    free(NULL);
    char *r = realloc(NULL, 10);
    CHECK(r != NULL, "realloc(NULL, 10)");
    free(r);
    /* Grown step by step through the sizes the caches serve (moved through the bins, no lock),
       every usable byte written each time: each is kept. */
    r = NULL;
    for (size_t size = 8, kept = 0; size <= 1100; size += 8) {
        char *grown = realloc(r, size);
        CHECK(grown != NULL, "realloc to %zu", size);
        if (grown == NULL)
            break;
        size_t bad = 0;
        for (size_t i = 0; i < kept; i++)
            bad += grown[i] != (char)(i * 7 + kept);
        CHECK(bad == 0, "realloc to %zu lost %zu of %zu bytes", size, bad, kept);
        r = grown;
        kept = malloc_usable_size(r);
        for (size_t i = 0; i < kept; i++)
            r[i] = (char)(i * 7 + kept);
    }
    free(r);
    /* Make sure the malloc under test is the one we were told to test. */
    const char *expected = getenv("EXPECT_MALLOC_FROM");
    Dl_info info;
    if (expected != NULL)
        CHECK(dladdr((void *)malloc, &info) != 0 && strstr(info.dli_fname, expected) != NULL,
              "malloc comes from %s, not %s", info.dli_fname, expected);
    printf("%d threads x %ld ops, %ld forks\n", threads, ops_per_thread, workers[0].forks);
    return CHECK_DONE();
}
