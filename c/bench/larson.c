/*
 * larson.c - a server's churn: threads replacing random blocks of random sizes.
 *
 * After Larson and Krishnan's benchmark ("Memory allocation for long-running
 * server applications", ISMM 1998), as mimalloc-bench and Hoard run it: each
 * of T threads owns an array of slots filled at the start by the main thread;
 * it repeatedly picks a random slot, frees its block and allocates a new one of
 * a random size in [min, max], touching its first and last byte. After a
 * generation of `rounds` replacements the thread ends and a new thread takes
 * over the same array, as a server hands a connection's state to the next
 * worker: so blocks are freed by threads other than the one that allocated
 * them, and a thread-caching allocator must deal with memory its threads no
 * longer own. It runs for a fixed time and reports replacements per second
 * (higher is better), summed over the threads.
 *
 * Options: -t threads (1), -s seconds (0.5), -n slots per thread (2000),
 * -a min size (8), -b max size (1000), -g rounds per generation (5000),
 * -r seed (1). Prints "larson OPS ops/s".
 */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

static const char *NAME = "larson";

/* One chain of threads: its slots and its random stream, carried from generation to generation. */
typedef struct {
    char **slots;
    size_t count;     /* slots */
    size_t min, max;  /* block sizes */
    long rounds;      /* replacements per generation */
    bench_rng rng;    /* carried over, so the whole chain is one deterministic sequence */
    long ops;         /* replacements made by the chain so far */
    uint64_t touched; /* a checksum of what was read, so no write is optimized away */
} chain;

static atomic_bool stop;

static char *new_block(chain *c) {
    size_t size = bench_between(&c->rng, c->min, c->max);
    char *p = bench_check(malloc(size), NAME, size);
    p[0] = (char)size;
    p[size - 1] = (char)(size >> 8);
    return p;
}

/* One generation: `rounds` replacements by a thread of its own, unless told to stop (looked at
   every 256, so at least that many). */
static void *generation(void *arg) {
    chain *c = arg;
    for (long i = 0; i < c->rounds; i++) {
        if ((i & 255) == 255 && atomic_load_explicit(&stop, memory_order_relaxed))
            break;
        size_t victim = (size_t)(bench_next(&c->rng) % c->count);
        c->touched += (unsigned char)c->slots[victim][0];
        free(c->slots[victim]);
        c->slots[victim] = new_block(c);
        c->ops++;
    }
    return NULL;
}

/* Runs generations one after the other, each in a new thread, until the time is up (at least
   one, so that the figure is never 0). */
static void *manager(void *arg) {
    chain *c = arg;
    do {
        pthread_t worker;
        bench_thread(NAME, &worker, generation, c);
        pthread_join(worker, NULL);
    } while (!atomic_load(&stop));
    return NULL;
}

int main(int argc, char **argv) {
    double threads = 1, seconds = 0.5, slots = 2000, min = 8, max = 1000, rounds = 5000, seed = 1;
    const bench_option options[] = {
        {'t', "threads", 1, 64, &threads},   {'s', "seconds", 0.001, 600, &seconds},
        {'n', "slots", 1, 1e7, &slots},      {'a', "min-size", 1, 1 << 30, &min},
        {'b', "max-size", 1, 1 << 30, &max}, {'g', "rounds", 1, 1e9, &rounds},
        {'r', "seed", 0, 1e15, &seed},
    };
    int count = (int)(sizeof options / sizeof options[0]);
    bench_options(argc, argv, options, count);
    if (min > max)
        bench_usage(argv[0], options, count, "min-size is above max-size");

    int n = (int)threads;
    chain *chains = bench_check(calloc((size_t)n, sizeof *chains), NAME, sizeof *chains);
    for (int i = 0; i < n; i++) {
        chain *c = &chains[i];
        *c = (chain){.count = (size_t)slots,
                     .min = (size_t)min,
                     .max = (size_t)max,
                     .rounds = (long)rounds,
                     .rng = bench_seed((uint64_t)seed, (uint64_t)i)};
        c->slots = bench_check(malloc(c->count * sizeof *c->slots), NAME, c->count);
        for (size_t k = 0; k < c->count; k++)
            c->slots[k] = new_block(c);
    }

    double start = bench_now();
    pthread_t managers[64];
    for (int i = 0; i < n; i++)
        bench_thread(NAME, &managers[i], manager, &chains[i]);
    bench_sleep(seconds);
    atomic_store(&stop, true);
    long ops = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(managers[i], NULL);
        ops += chains[i].ops;
    }
    double elapsed = bench_now() - start;

    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < chains[i].count; k++)
            free(chains[i].slots[k]);
        free(chains[i].slots);
        bench_keep(chains[i].touched);
    }
    free(chains);
    bench_report(NAME, (double)ops / elapsed, "ops/s");
    return 0;
}
