/*
 * large.c - large blocks, 64 KiB to 4 MiB: allocated, touched, freed.
 *
 * After mimalloc-bench's malloc-large: a program that keeps a few large
 * buffers (images, I/O buffers, big arrays) and replaces them now and then.
 * Each step frees one of `slots` blocks at random and allocates a new one of a
 * random size from `min` to `max` KiB (uniform in its logarithm, so small and
 * big sizes are equally common), then writes one byte in every page of it, as
 * a program filling a buffer does. Such blocks are above most allocators'
 * small-object sizes, so the figure is how each gets and returns large memory:
 * a fresh mapping and its page faults for every block, or reuse of what was
 * freed. It reports the wall seconds of the steps (lower is better).
 *
 * Options: -n steps (8000), -k slots (16), -a min KiB (64), -b max KiB (4096),
 * -r seed (1). Prints "large SECONDS s".
 */
#include "bench.h"

#include <math.h>

static const char *NAME = "large";
enum { PAGE = 4096 };

int main(int argc, char **argv) {
    double steps = 8000, slots = 16, min = 64, max = 4096, seed = 1;
    const bench_option options[] = {
        {'n', "steps", 1, 1e9, &steps},     {'k', "slots", 1, 1e5, &slots},
        {'a', "min-kib", 1, 1 << 20, &min}, {'b', "max-kib", 1, 1 << 20, &max},
        {'r', "seed", 0, 1e15, &seed},
    };
    int count = (int)(sizeof options / sizeof options[0]);
    bench_options(argc, argv, options, count);
    if (min > max)
        bench_usage(argv[0], options, count, "min-kib is above max-kib");
    bench_rng rng = bench_seed((uint64_t)seed, 0);
    int n = (int)slots;
    char **blocks = bench_check(calloc((size_t)n, sizeof *blocks), NAME, (size_t)n);
    double log_min = log(min * 1024), log_max = log(max * 1024);
    uint64_t checksum = 0;

    double start = bench_now();
    for (long i = 0; i < (long)steps; i++) {
        int slot = (int)(bench_next(&rng) % (uint64_t)n);
        if (blocks[slot])
            checksum += (unsigned char)blocks[slot][0];
        free(blocks[slot]);
        size_t size = (size_t)exp(log_min + bench_unit(&rng) * (log_max - log_min));
        char *p = bench_check(malloc(size), NAME, size);
        for (size_t at = 0; at < size; at += PAGE)
            p[at] = (char)(at / PAGE);
        p[size - 1] = 1;
        blocks[slot] = p;
    }
    for (int i = 0; i < n; i++)
        free(blocks[i]);
    double elapsed = bench_now() - start;

    free(blocks);
    bench_keep(checksum);
    bench_report(NAME, elapsed, "s");
    return 0;
}
