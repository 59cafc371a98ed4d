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

#include <pthread.h>

static const char *NAME = "cache-scratch";

typedef struct {
    char *given; /* the main thread's object, freed first */
    long iterations, repetitions;
    size_t size;
} work;

static void *worker(void *arg) {
    const work *w = arg;
    free(w->given);
    for (long i = 0; i < w->iterations; i++) {
        volatile char *object = bench_check(malloc(w->size), NAME, w->size);
        for (long r = 0; r < w->repetitions; r++)
            for (size_t k = 0; k < w->size; k++) {
                object[k] = (char)k;
                object[k]++;
            }
        free((void *)object);
    }
    return NULL;
}

int main(int argc, char **argv) {
    double threads = 1, iterations = 1000, repetitions = 160000, size = 8;
    const bench_option options[] = {
        {'t', "threads", 1, 64, &threads},
        {'i', "iterations", 1, 1e9, &iterations},
        {'n', "repetitions", 1, 1e12, &repetitions},
        {'z', "size", 1, 1 << 20, &size},
    };
    bench_options(argc, argv, options, (int)(sizeof options / sizeof options[0]));

    int n = (int)threads;
    work works[64];
    for (int i = 0; i < n; i++)
        works[i] = (work){bench_check(malloc((size_t)size), NAME, (size_t)size), (long)iterations,
                          (long)repetitions / n, (size_t)size};
    pthread_t workers[64];
    double start = bench_now();
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i], NULL, worker, &works[i]) != 0) {
            fprintf(stderr, "%s: cannot create a thread\n", NAME);
            return 1;
        }
    for (int i = 0; i < n; i++)
        pthread_join(workers[i], NULL);
    bench_report(NAME, bench_now() - start, "s");
    return 0;
}
