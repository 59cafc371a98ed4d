/*
 * rptest.c - threads replacing blocks of 8 bytes to 16 KB, some of them freed by another thread.
 *
 * After rpmalloc's benchmark (Mattias Jansson's rpmalloc-benchmark), as
 * mimalloc-bench runs it ("rptest T 0 1 2 500 1000 100 8 16000"): each of T
 * threads keeps `slots` live blocks and in each loop replaces `ops` of them at
 * random places. Sizes run from min to max with rpmalloc's "linear drop-off": a
 * uniform draw times |u + v - 1| (u, v uniform), so small sizes are likelier,
 * but over 8-16,000 bytes the mean is about a sixth of the range, 2.7 KB: most
 * requests are past the thread caches of the allocators that have them (glibc's
 * tcache ends at 1,032 bytes), where larson, xmalloc and churn stay below. Each
 * new block gets its first word, a byte in every page and its last byte
 * written, as rpmalloc's benchmark writes them. Every `cross` loops a thread
 * also allocates a batch of ops / 4 blocks and hands it to the next thread,
 * which frees them at the start of its next loop (with one thread, none is
 * handed, as in rpmalloc's). It runs for a fixed time and reports mallocs and
 * frees per second (higher is better), summed over the threads.
 *
 * Options: -t threads (1), -s seconds (0.5), -n slots per thread (1000),
 * -k replacements a loop (100), -c loops between handed batches (2),
 * -a min size (8), -b max size (16000), -r seed (1). Prints "rptest OPS ops/s".
 */
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

static const char *NAME = "rptest";
enum { PAGE = 4096 };

/* Blocks handed from one thread to the next, for it to free. */
typedef struct handed {
    struct handed *next;
    long count;
    char *blocks[]; /* count of them */
} handed;

typedef struct {
    pthread_mutex_t lock; /* over inbox */
    handed *inbox;        /* batches the previous thread handed over, not yet freed */
    char **slots;
    bench_rng rng;
    long ops;         /* mallocs and frees made so far */
    uint64_t touched; /* a checksum of what was read, so no write is optimized away */
} worker;

static struct {
    worker *workers;
    int count;
    long slots, per_loop, cross;
    size_t min, max;
} setup;

static atomic_bool stop;

/* A block of a size with rpmalloc's linear drop-off, written as rpmalloc's benchmark writes it. */
static char *new_block(worker *w) {
    double drop = fabs(bench_unit(&w->rng) + bench_unit(&w->rng) - 1.0);
    size_t size =
        setup.min + (size_t)((double)(setup.max - setup.min) * bench_unit(&w->rng) * drop);
    char *p = bench_check(malloc(size), NAME, size);
    memcpy(p, &size, size < sizeof size ? size : sizeof size);
    for (size_t at = PAGE; at < size; at += PAGE)
        p[at] = 1;
    p[size - 1] = 1;
    w->ops++;
    return p;
}

static void free_block(worker *w, char *p) {
    w->touched += (unsigned char)p[0];
    free(p);
    w->ops++;
}

/* Free what the previous thread handed over. */
static void free_handed(worker *w) {
    pthread_mutex_lock(&w->lock);
    handed *list = w->inbox;
    w->inbox = NULL;
    pthread_mutex_unlock(&w->lock);
    while (list != NULL) {
        handed *next = list->next;
        for (long i = 0; i < list->count; i++)
            free_block(w, list->blocks[i]);
        free_block(w, (char *)list);
        list = next;
    }
}

/* A batch of ops / 4 new blocks (at least one) for the next thread. */
static void hand_over(worker *w, worker *to) {
    long count = setup.per_loop / 4 > 0 ? setup.per_loop / 4 : 1;
    size_t bytes = sizeof(handed) + (size_t)count * sizeof(char *);
    handed *h = bench_check(malloc(bytes), NAME, bytes);
    w->ops++;
    h->count = count;
    for (long i = 0; i < count; i++)
        h->blocks[i] = new_block(w);
    pthread_mutex_lock(&to->lock);
    h->next = to->inbox;
    to->inbox = h;
    pthread_mutex_unlock(&to->lock);
}

/* Loops until the time is up (at least one, so that the figure is never 0). */
static void *run(void *arg) {
    worker *w = arg;
    worker *next = &setup.workers[(w - setup.workers + 1) % setup.count];
    long loop = 0;
    do {
        free_handed(w);
        for (long i = 0; i < setup.per_loop; i++) {
            char **slot = &w->slots[bench_next(&w->rng) % (uint64_t)setup.slots];
            if (*slot != NULL)
                free_block(w, *slot);
            *slot = new_block(w);
        }
        if (next != w && ++loop % setup.cross == 0)
            hand_over(w, next);
    } while (!atomic_load_explicit(&stop, memory_order_relaxed));
    return NULL;
}

int main(int argc, char **argv) {
    double threads = 1, seconds = 0.5, slots = 1000, per_loop = 100, cross = 2, min = 8;
    double max = 16000, seed = 1;
    const bench_option options[] = {
        {'t', "threads", 1, 64, &threads},   {'s', "seconds", 0.001, 600, &seconds},
        {'n', "slots", 1, 1e7, &slots},      {'k', "ops", 1, 1e7, &per_loop},
        {'c', "cross", 1, 1e9, &cross},      {'a', "min-size", 1, 1 << 30, &min},
        {'b', "max-size", 1, 1 << 30, &max}, {'r', "seed", 0, 1e15, &seed},
    };
    int count = (int)(sizeof options / sizeof options[0]);
    bench_options(argc, argv, options, count);
    if (min > max)
        bench_usage(argv[0], options, count, "min-size is above max-size");
    setup.count = (int)threads;
    setup.slots = (long)slots;
    setup.per_loop = (long)per_loop;
    setup.cross = (long)cross;
    setup.min = (size_t)min;
    setup.max = (size_t)max;
    setup.workers = bench_check(calloc((size_t)setup.count, sizeof(worker)), NAME, 0);
    for (int i = 0; i < setup.count; i++) {
        worker *w = &setup.workers[i];
        pthread_mutex_init(&w->lock, NULL);
        w->rng = bench_seed((uint64_t)seed, (uint64_t)i);
        w->slots = bench_check(calloc((size_t)setup.slots, sizeof(char *)), NAME, 0);
    }

    pthread_t ids[64];
    double start = bench_now();
    for (int i = 0; i < setup.count; i++)
        bench_thread(NAME, &ids[i], run, &setup.workers[i]);
    bench_sleep(seconds);
    atomic_store(&stop, true);
    for (int i = 0; i < setup.count; i++)
        pthread_join(ids[i], NULL);
    double elapsed = bench_now() - start;

    long ops = 0;
    uint64_t touched = 0;
    for (int i = 0; i < setup.count; i++) {
        worker *w = &setup.workers[i];
        ops += w->ops;
        free_handed(w);
        for (long k = 0; k < setup.slots; k++)
            if (w->slots[k] != NULL)
                free_block(w, w->slots[k]);
        touched += w->touched;
        free(w->slots);
        pthread_mutex_destroy(&w->lock);
    }
    free(setup.workers);
    bench_keep(touched);
    bench_report(NAME, (double)ops / elapsed, "ops/s");
    return 0;
}
