/*
 * measure.c - run one command and report its wait status, wall time and peak RSS.
 *
 * Not a benchmark: the launcher `mallocsim programs` starts each benchmark
 * program through. The peak RSS Linux reports for a child (ru_maxrss) keeps
 * the largest resident size its process ever had, including the memory of the
 * process it was forked from until it calls exec: a program started straight
 * from a Python interpreter of 70 MB would "peak" at 70 MB whatever it does.
 * This launcher is small (a megabyte or two), so a program it forks and execs
 * reports its own peak, as under /usr/bin/time.
 *
 * Usage: measure [-p LIBRARY] COMMAND [ARG...]
 *   -p LIBRARY  the child runs with LD_PRELOAD=LIBRARY (set in the child
 *               alone, so that this launcher always runs on the C library's
 *               own malloc, whatever the library does)
 * The command's stdin, stdout and stderr are this launcher's. Once it ends,
 * the launcher writes one line on file descriptor 3:
 *     status WAIT_STATUS seconds WALL_SECONDS maxrss KIB
 * (WAIT_STATUS as waitpid gives it; a command that cannot be started exits
 * 127) and exits 0; 2 with a message on stderr for bad usage. A caller that
 * kills it on a time limit kills its process group, the command included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { REPORT_FD = 3 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int first = 1;
    const char *preload = NULL;
    if (argc > 2 && strcmp(argv[1], "-p") == 0) {
        preload = argv[2];
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-p LIBRARY] COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    FILE *report = fdopen(REPORT_FD, "w");
    if (report == NULL) {
        fprintf(stderr, "%s: no file descriptor %d to report on\n", argv[0], REPORT_FD);
        return 2;
    }
    double start = now();
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "%s: cannot fork: %s\n", argv[0], strerror(errno));
        return 2;
    }
    if (child == 0) {
        close(REPORT_FD);
        if (preload && setenv("LD_PRELOAD", preload, 1) != 0)
            _exit(127);
        execv(argv[first], &argv[first]);
        fprintf(stderr, "%s: cannot run %s: %s\n", argv[0], argv[first], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage usage;
    while (wait4(child, &status, 0, &usage) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "%s: wait4: %s\n", argv[0], strerror(errno));
            return 2;
        }
    double elapsed = now() - start;
    fprintf(report, "status %d seconds %.9f maxrss %ld\n", status, elapsed, usage.ru_maxrss);
    return fclose(report) == 0 ? 0 : 2;
}
