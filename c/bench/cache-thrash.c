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

static const char *NAME = "cache-thrash";

typedef struct {
    long iterations, repetitions;
    size_t size;
} work;

static void *worker(void *arg) {
    const work *w = arg;
    bench_scribble(NAME, w->iterations, w->repetitions, w->size);
    return NULL;
}

int main(int argc, char **argv) {
    bench_cache_options o = bench_cache_parse(argc, argv);
    int n = (int)o.threads;
    work w = {(long)o.iterations, (long)o.repetitions / n, (size_t)o.size};
    bench_threads_timed(NAME, n, worker, &w, 0); /* every thread the same work */
    return 0;
}
