/*
 * cache-thrash.c - active false sharing: threads' small blocks in one cache line.
 *
 * After Hoard's cache-thrash (Berger, McKinley, Blumofe and Wilson, "Hoard: A
 * Scalable Memory Allocator for Multithreaded Applications", ASPLOS 2000), as
 * mimalloc-bench runs it: each of T threads, `iterations` times over,
 * allocates an object of `size` bytes, writes and reads every byte of it
 * `repetitions` / T times, and frees it. The threads never share an object,
 * but an allocator that hands two threads neighbouring small blocks (one heap
 * for everyone) puts them in one cache line, which the cores then pass back
 * and forth on every write: the program slows down as threads are added
 * instead of speeding up. The total work is the same for any T, so with T
 * cores and no false sharing the time falls as 1/T. It reports the wall
 * seconds of the threads' work (lower is better).
 *
 * Options: -t threads (1), -i iterations (1000), -n repetitions (160000),
 * -z object size in bytes (8). Prints "cache-thrash SECONDS s".
 */
#include "bench.h"

#include <pthread.h>

static const char *NAME = "cache-thrash";

typedef struct {
    long iterations, repetitions;
    size_t size;
} work;

static void *worker(void *arg) {
    const work *w = arg;
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
    work w = {(long)iterations, (long)repetitions / n, (size_t)size};
    pthread_t workers[64];
    double start = bench_now();
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i], NULL, worker, &w) != 0) {
            fprintf(stderr, "%s: cannot create a thread\n", NAME);
            return 1;
        }
    for (int i = 0; i < n; i++)
        pthread_join(workers[i], NULL);
    bench_report(NAME, bench_now() - start, "s");
    return 0;
}
