/*
 * cache-scratch.c - passive false sharing: a freed neighbour's block reused.
 *
 * After Hoard's cache-scratch (Berger, McKinley, Blumofe and Wilson, "Hoard: A
 * Scalable Memory Allocator for Multithreaded Applications", ASPLOS 2000), as
 * mimalloc-bench runs it: the main thread allocates T small objects one after
 * the other (so they share cache lines) and hands one to each of T threads.
 * Each thread frees the object it was given, then, `iterations` times over,
 * allocates an object of `size` bytes, writes and reads every byte of it
 * `repetitions` / T times, and frees it. An allocator that gives a thread back
 * the block it just freed (a free list shared by all threads, or one that
 * returns a remote free to the freeing thread's cache) keeps the threads'
 * objects in the cache lines the main thread laid out, and every write
 * invalidates the other core's copy; one that serves each thread from memory
 * of its own does not. The total work is the same for any T. It reports the
 * wall seconds of the threads' work (lower is better).
 *
 * Options: -t threads (1), -i iterations (1000), -n repetitions (160000),
 * -z object size in bytes (8). Prints "cache-scratch SECONDS s".
 */
#include "bench.h"

static const char *NAME = "cache-scratch";

typedef struct {
    char *given; /* the main thread's object, freed first */
    long iterations, repetitions;
    size_t size;
} work;

static void *worker(void *arg) {
    const work *w = arg;
    free(w->given);
    bench_scribble(NAME, w->iterations, w->repetitions, w->size);
    return NULL;
}

int main(int argc, char **argv) {
    bench_cache_options o = bench_cache_parse(argc, argv);
    int n = (int)o.threads;
    size_t size = (size_t)o.size;
    work works[64];
    for (int i = 0; i < n; i++) /* one after the other: the objects share cache lines */
        works[i] = (work){bench_check(malloc(size), NAME, size), (long)o.iterations,
                          (long)o.repetitions / n, size};
    bench_threads_timed(NAME, n, worker, works, sizeof works[0]);
    return 0;
}
