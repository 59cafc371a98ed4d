/*
 * count_main.c - mscount: one pass per trace, for valgrind to count.
 *
 *   mscount [--forked] [--glibc-warm] classic|cmu|system LIBRARY|- OPTIONS TRACE...
 *
 * OPTIONS is the allocator's run-time options for mm_configure ("" for none),
 * so that `implicit:best` is counted as best fit, not as the default.
 *
 * Each pass replays a trace through the engine's timed loop (ms_replay_timed,
 * the same loop `mallocsim bench` times) inside count_pass().
 *
 * Default (for callgrind): callgrind is told to collect only in count_pass and
 * to dump after it, so each dump holds one pass's count. Every trace is
 * replayed twice and the caller keeps the second count: the first pays
 * one-time costs (lazy symbol binding, first touch of code paths) no steady
 * state has. The first trace is an empty one: its count, the fixed cost of a
 * pass (heap reset, mm_init), is what the caller subtracts. Prints each
 * trace's op count, one per line, after a first line "0" for the empty trace.
 *
 * --forked (for cachegrind --cache-sim=no, several times faster than callgrind
 * on a slow allocator, but counting the whole process with no way to switch
 * off): every trace is parsed first, then each pass runs once in its own
 * forked child, which ends with _exit. Each child's profile (the caller asks
 * for one per pid) holds everything the parent counted before the fork plus
 * that one pass. Between two forks the parent runs the same instructions
 * every time (fork, waitpid, two stores: nothing that depends on the trace),
 * so the caller gets a pass's own count exactly from three empty passes run
 * first: the first pays the parent's lazy binding, the next two give the
 * fixed step between forks and the fixed cost of a pass. Prints, after every
 * child ended, one line per child: "PID STATUS OPS" (STATUS as waitpid gave
 * it), the three empty ones first.
 *
 * A small executable rather than the Python process, so that valgrind sees
 * nothing but the replay and starts in milliseconds.
 */
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mallocsim.h"

enum { FORKED_EMPTIES = 3 }; /* --forked: empty passes before the traces' */

/* Kept out of line: callgrind toggles collection on entry and exit. */
__attribute__((noinline)) bool count_pass(const ms_trace *trace, const ms_allocator *alloc,
                                          ms_timed_result *result);

bool count_pass(const ms_trace *trace, const ms_allocator *alloc, ms_timed_result *result) {
    static const ms_timed_options one_pass = {.min_passes = 1, .max_passes = 1};
    double seconds;
    return ms_replay_timed(trace, alloc, &one_pass, &seconds, result) == 1;
}

/* Two passes, the second one's dump the warm count. Both run even when the
   first fails: the caller pairs the dumps up by position. */
static bool count_twice(const ms_trace *trace, const ms_allocator *alloc, ms_timed_result *result) {
    bool first = count_pass(trace, alloc, result);
    return count_pass(trace, alloc, result) && first;
}

/* --forked: every trace parsed, then each pass in its own child (see the banner). */
static int count_forked(int count, char **paths, const ms_allocator *alloc) {
    int children = FORKED_EMPTIES + count;
    ms_trace *traces = calloc((size_t)children, sizeof *traces); /* the empty ones stay zero */
    pid_t *pids = calloc((size_t)children, sizeof *pids);
    int *statuses = calloc((size_t)children, sizeof *statuses);
    if (traces == NULL || pids == NULL || statuses == NULL) {
        fprintf(stderr, "mscount: out of memory\n");
        return 2;
    }
    for (int i = 0; i < count; i++) {
        ms_error err = {{0}, 0};
        if (!ms_trace_parse_file(paths[i], &traces[FORKED_EMPTIES + i], &err)) {
            fprintf(stderr, "mscount: %s:%llu: %s\n", paths[i], (unsigned long long)err.line,
                    err.message);
            return 2;
        }
    }
    fflush(stdout); /* nothing buffered is written twice by the children */
    /* Nothing in this loop may depend on the trace: see the banner. */
    for (int i = 0; i < children; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            ms_timed_result timed;
            _exit(count_pass(&traces[i], alloc, &timed) ? 0 : 1);
        }
        pids[i] = pid;
        if (pid > 0)
            waitpid(pid, &statuses[i], 0);
    }
    int status = 0;
    for (int i = 0; i < children; i++) {
        if (pids[i] < 0) {
            fprintf(stderr, "mscount: fork failed\n");
            return 2;
        }
        printf("%d %d %llu\n", (int)pids[i], statuses[i], (unsigned long long)traces[i].num_ops);
        if (statuses[i] != 0)
            status = 1;
        ms_trace_free(&traces[i]);
    }
    free(traces);
    free(pids);
    free(statuses);
    return status;
}

/* --glibc-warm: glibc keeps its pages between passes, as `bench --glibc-warm` makes it do in
   the driver's process (the same two settings as bench.keep_glibc_memory). */
static bool keep_glibc_memory(void) {
#ifdef __GLIBC__
    return mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) && mallopt(M_TRIM_THRESHOLD, INT_MAX);
#else
    return false;
#endif
}

int main(int argc, char **argv) {
    bool forked = false, warm = false;
    for (; argc > 1 && strncmp(argv[1], "--", 2) == 0; argv++, argc--) {
        if (strcmp(argv[1], "--forked") == 0)
            forked = true;
        else if (strcmp(argv[1], "--glibc-warm") == 0)
            warm = true;
        else
            break;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: mscount [--forked] [--glibc-warm] classic|cmu|system LIBRARY|- "
                        "OPTIONS TRACE...\n");
        return 2;
    }
    if (warm && !keep_glibc_memory()) {
        fprintf(stderr, "mscount: --glibc-warm: this malloc has no glibc mallopt\n");
        return 2;
    }
    ms_allocator alloc;
    ms_error err = {{0}, 0};
    if (strcmp(argv[1], "system") == 0) {
        ms_allocator_system(&alloc);
    } else {
        int dialect = strcmp(argv[1], "cmu") == 0 ? MS_DIALECT_CMU : MS_DIALECT_CLASSIC;
        if (!ms_allocator_open(argv[2], dialect, argv[3], &alloc, &err)) {
            fprintf(stderr, "mscount: %s\n", err.message);
            return 2;
        }
    }
    if (forked) {
        int status = count_forked(argc - 4, argv + 4, &alloc);
        ms_allocator_close(&alloc);
        return status;
    }
    ms_trace empty = {0};
    ms_timed_result timed;
    count_twice(&empty, &alloc, &timed);
    printf("0\n");
    int status = 0;
    for (int i = 4; i < argc; i++) {
        ms_trace trace;
        if (!ms_trace_parse_file(argv[i], &trace, &err)) {
            fprintf(stderr, "mscount: %s:%llu: %s\n", argv[i], (unsigned long long)err.line,
                    err.message);
            return 2;
        }
        if (count_twice(&trace, &alloc, &timed)) {
            printf("%llu\n", (unsigned long long)trace.num_ops);
        } else {
            printf("0\n"); /* keeps the lines in step with the dumps */
            fprintf(stderr, "mscount: %s: %s\n", argv[i], timed.error);
            status = 1;
        }
        fflush(stdout);
        ms_trace_free(&trace);
    }
    ms_allocator_close(&alloc);
    return status;
}
