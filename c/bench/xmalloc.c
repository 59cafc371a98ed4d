/*
 * xmalloc.c - producers allocate, consumers free: every free is a remote one.
 *
 * After Lever and Boreham's xmalloc-test ("malloc() Performance in a
 * Multithreaded Linux Environment", USENIX 2000), as mimalloc-bench runs it:
 * T producer threads allocate blocks of random sizes in [min, max] in batches
 * and put each full batch on a shared queue; T consumer threads take batches
 * off it and free every block, and the batch itself. No block is ever freed by
 * the thread that allocated it, so an allocator with per-thread caches sees
 * its memory flow one way, from the producers' caches to the consumers'. The
 * queue holds at most `depth` batches (a producer waits when it is full), so
 * the memory in flight is bounded. It runs for a fixed time, then the
 * consumers drain the queue; it reports frees per second (higher is better).
 * With -t T it runs 2T threads: T producers and T consumers.
 *
 * Options: -t producer-consumer pairs (1), -s seconds (0.5), -a min size (8),
 * -b max size (512), -k blocks per batch (256), -q queue depth in batches
 * (64), -r seed (1). Prints "xmalloc OPS ops/s".
 */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

static const char *NAME = "xmalloc";

typedef struct {
    int count;
    char *blocks[]; /* count of them */
} batch;

/* The shared queue: a ring of batches under one lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
    batch **ring;
    int depth, head, size;
    int producers_left; /* consumers stop once it is 0 and the ring is empty */
} queue = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .not_full = PTHREAD_COND_INITIALIZER,
           .not_empty = PTHREAD_COND_INITIALIZER};

static atomic_bool stop;
static size_t min_size, max_size;
static int batch_blocks;

typedef struct {
    bench_rng rng;
    long frees;
    uint64_t touched;
} worker;

static void put(batch *b) {
    pthread_mutex_lock(&queue.lock);
    while (queue.size == queue.depth)
        pthread_cond_wait(&queue.not_full, &queue.lock);
    queue.ring[(queue.head + queue.size) % queue.depth] = b;
    queue.size++;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

/* The next batch, or NULL when the producers are done and the queue is empty. */
static batch *take(void) {
    pthread_mutex_lock(&queue.lock);
    while (queue.size == 0 && queue.producers_left > 0)
        pthread_cond_wait(&queue.not_empty, &queue.lock);
    batch *b = NULL;
    if (queue.size > 0) {
        b = queue.ring[queue.head];
        queue.head = (queue.head + 1) % queue.depth;
        queue.size--;
        pthread_cond_signal(&queue.not_full);
    }
    pthread_mutex_unlock(&queue.lock);
    return b;
}

static void *producer(void *arg) {
    worker *w = arg;
    size_t header = sizeof(batch) + (size_t)batch_blocks * sizeof(char *);
    do { /* at least one batch, so that the figure is never 0 */
        batch *b = bench_check(malloc(header), NAME, header);
        b->count = batch_blocks;
        for (int i = 0; i < batch_blocks; i++) {
            size_t size = bench_between(&w->rng, min_size, max_size);
            b->blocks[i] = bench_check(malloc(size), NAME, size);
            b->blocks[i][0] = (char)size;
        }
        put(b);
    } while (!atomic_load_explicit(&stop, memory_order_relaxed));
    pthread_mutex_lock(&queue.lock);
    queue.producers_left--;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

static void *consumer(void *arg) {
    worker *w = arg;
    for (batch *b; (b = take()) != NULL;) {
        int blocks = b->count;
        for (int i = 0; i < blocks; i++) {
            w->touched += (unsigned char)b->blocks[i][0];
            free(b->blocks[i]);
        }
        free(b);
        w->frees += blocks + 1;
    }
    return NULL;
}

int main(int argc, char **argv) {
    double pairs = 1, seconds = 0.5, min = 8, max = 512, blocks = 256, depth = 64, seed = 1;
    const bench_option options[] = {
        {'t', "pairs", 1, 32, &pairs},       {'s', "seconds", 0.001, 600, &seconds},
        {'a', "min-size", 1, 1 << 30, &min}, {'b', "max-size", 1, 1 << 30, &max},
        {'k', "batch", 1, 1e6, &blocks},     {'q', "depth", 1, 1e6, &depth},
        {'r', "seed", 0, 1e15, &seed},
    };
    int count = (int)(sizeof options / sizeof options[0]);
    bench_options(argc, argv, options, count);
    if (min > max)
        bench_usage(argv[0], options, count, "min-size is above max-size");
    min_size = (size_t)min;
    max_size = (size_t)max;
    batch_blocks = (int)blocks;
    queue.depth = (int)depth;
    queue.ring = bench_check(malloc((size_t)queue.depth * sizeof *queue.ring), NAME, 0);

    int n = (int)pairs;
    queue.producers_left = n;
    worker workers[64];
    pthread_t threads[64];
    double start = bench_now();
    for (int i = 0; i < 2 * n; i++) {
        workers[i] = (worker){.rng = bench_seed((uint64_t)seed, (uint64_t)i)};
        bench_thread(NAME, &threads[i], i < n ? producer : consumer, &workers[i]);
    }
    bench_sleep(seconds);
    atomic_store(&stop, true);
    long frees = 0;
    for (int i = 0; i < 2 * n; i++) {
        pthread_join(threads[i], NULL);
        frees += workers[i].frees;
        bench_keep(workers[i].touched);
    }
    double elapsed = bench_now() - start;
    free(queue.ring);
    bench_report(NAME, (double)frees / elapsed, "ops/s");
    return 0;
}
