/*
 * bench.h - what the benchmark programs of c/bench/ share: options, a seeded
 * random generator, a clock, and the one line each prints.
 *
 * Each program models one well-known allocator benchmark (its banner says
 * which) and is run by `mallocsim programs` (driver/mallocsim/programs.py)
 * under glibc and under each allocator preloaded. The contract with the driver:
 *   - options are "-x VALUE" pairs (bench_options); a bad one prints one usage
 *     line on stderr and exits 2;
 *   - on success the program prints exactly one line on stdout,
 *         NAME VALUE UNIT
 *     where UNIT is "s" (wall seconds of the measured work: lower is better)
 *     or "ops/s" (operations per second: higher is better), and exits 0;
 *   - the work is deterministic for a given seed (-r): every run makes the
 *     same requests in the same order, thread by thread (a time-bounded program
 *     makes a prefix of the same sequence);
 *   - a failed allocation is reported on stderr and exits 1.
 * Everything here is static inline: each program is a single translation unit.
 */
#ifndef MALLOCSIM_BENCH_H
#define MALLOCSIM_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ options */

/* One option: "-<flag> VALUE", a number from min to max: a whole one, but for "seconds". */
typedef struct {
    char flag;        /* the letter after the dash */
    const char *name; /* what it is, for the usage line */
    double min, max;  /* accepted range, both included */
    double *value;    /* where the value goes; holds the default beforehand */
} bench_option;

/* Print the problem and the usage line (each option with its value: the default unless given),
   and exit 2. */
static inline void bench_usage(const char *program, const bench_option *options, int count,
                               const char *problem) {
    fprintf(stderr, "%s: %s; usage: %s", program, problem, program);
    for (int i = 0; i < count; i++)
        fprintf(stderr, " [-%c %s=%g]", options[i].flag, options[i].name, *options[i].value);
    fputc('\n', stderr);
    exit(2);
}

/* Parse argv as "-x VALUE" pairs into options (each keeps its default when not given). */
static inline void bench_options(int argc, char **argv, const bench_option *options, int count) {
    char problem[160];
    for (int i = 1; i < argc; i += 2) {
        const char *arg = argv[i];
        const bench_option *option = NULL;
        for (int k = 0; k < count && arg[0] == '-' && strlen(arg) == 2; k++)
            if (options[k].flag == arg[1])
                option = &options[k];
        if (option == NULL) {
            snprintf(problem, sizeof problem, "unknown option '%s'", arg);
            bench_usage(argv[0], options, count, problem);
        }
        if (i + 1 >= argc) {
            snprintf(problem, sizeof problem, "%s needs a value", arg);
            bench_usage(argv[0], options, count, problem);
        }
        char *end = NULL;
        double value = strtod(argv[i + 1], &end);
        bool whole = strcmp(option->name, "seconds") != 0;
        if (end == argv[i + 1] || *end != '\0' || !(value >= option->min && value <= option->max) ||
            (whole && value != (double)(long long)value)) {
            snprintf(problem, sizeof problem, "%s %s: not a %snumber from %g to %g", arg,
                     argv[i + 1], whole ? "whole " : "", option->min, option->max);
            bench_usage(argv[0], options, count, problem);
        }
        *option->value = value;
    }
}

/* --------------------------------------------------------- random numbers */

/* splitmix64: tiny, fast, and good enough to pick sizes and slots. */
typedef struct {
    uint64_t state;
} bench_rng;

static inline bench_rng bench_seed(uint64_t seed, uint64_t stream) {
    bench_rng rng = {seed * 0x9E3779B97F4A7C15u + stream * 0xD1B54A32D192ED03u + 1};
    return rng;
}

static inline uint64_t bench_next(bench_rng *rng) {
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A number from lo to hi, both included. */
static inline size_t bench_between(bench_rng *rng, size_t lo, size_t hi) {
    return lo + (size_t)(bench_next(rng) % (uint64_t)(hi - lo + 1));
}

/* A number in [0, 1), of 53 random bits. */
static inline double bench_unit(bench_rng *rng) {
    return (double)(bench_next(rng) >> 11) / 9007199254740992.0;
}

/* ---------------------------------------------------------- time and output */

static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Sleep `seconds` (a timed program's main thread, while its workers run). */
static inline void bench_sleep(double seconds) {
    struct timespec pause = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&pause, &pause) != 0)
        ;
}

/* The program's one line: "NAME VALUE UNIT". */
static inline void bench_report(const char *name, double value, const char *unit) {
    printf("%s %.6g %s\n", name, value, unit);
}

/* A NULL from the allocator: said once on stderr, exit status 1. */
static inline void *bench_check(void *p, const char *name, size_t size) {
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory allocating %zu bytes\n", name, size);
        exit(1);
    }
    return p;
}

/* Keeps a computed value alive, so the compiler cannot drop the work that made it: an empty
   asm statement that claims to read it (benchmark::DoNotOptimize's trick). */
static inline void bench_keep(uint64_t value) { __asm__ volatile("" : : "r"(value) : "memory"); }

/* ---------------------------------------------------- Hoard's cache programs */

/* The work of cache-thrash and cache-scratch's threads, as Hoard's: `iterations` times, an
   object of `size` bytes allocated, each byte written and read `repetitions` times, freed. */
static inline void bench_scribble(const char *name, long iterations, long repetitions,
                                  size_t size) {
    for (long i = 0; i < iterations; i++) {
        volatile char *object = bench_check(malloc(size), name, size);
        for (long r = 0; r < repetitions; r++)
            for (size_t k = 0; k < size; k++) {
                object[k] = (char)k;
                object[k]++;
            }
        free((void *)object);
    }
}

/* Their options: -t threads (1), -i iterations (1000), -n repetitions (160000) shared out among
   the threads, -z object size (8). */
typedef struct {
    double threads, iterations, repetitions, size;
} bench_cache_options;

static inline bench_cache_options bench_cache_parse(int argc, char **argv) {
    bench_cache_options o = {1, 1000, 160000, 8};
    const bench_option options[] = {
        {'t', "threads", 1, 64, &o.threads},
        {'i', "iterations", 1, 1e9, &o.iterations},
        {'n', "repetitions", 1, 1e12, &o.repetitions},
        {'z', "size", 1, 1 << 20, &o.size},
    };
    bench_options(argc, argv, options, (int)(sizeof options / sizeof options[0]));
    return o;
}

/* Start a thread of `worker` with `arg` in *thread; one that cannot start is said on stderr, and
   the program exits 1. */
static inline void bench_thread(const char *name, pthread_t *thread, void *(*worker)(void *),
                                void *arg) {
    if (pthread_create(thread, NULL, worker, arg) != 0) {
        fprintf(stderr, "%s: cannot create a thread\n", name);
        exit(1);
    }
}

/* Run `count` (at most 64) threads of `worker`, the i-th given args + i * stride bytes, and
   report the wall seconds until all have ended; exits 1 when one cannot start. */
static inline void bench_threads_timed(const char *name, int count, void *(*worker)(void *),
                                       void *args, size_t stride) {
    pthread_t threads[64];
    double start = bench_now();
    for (int i = 0; i < count; i++)
        bench_thread(name, &threads[i], worker, (char *)args + (size_t)i * stride);
    for (int i = 0; i < count; i++)
        pthread_join(threads[i], NULL);
    bench_report(name, bench_now() - start, "s");
}

#endif /* MALLOCSIM_BENCH_H */
