/*
 * confine_main.c - msconfine: run a program confined for the instruction count.
 *
 *   msconfine FOLDER SECONDS [READABLE...] -- PROGRAM ARG...
 *
 * Confines itself (ms_sandbox_confine_count: files read only beneath the system's folders, each
 * READABLE (folder or file) and FOLDER, written only beneath FOLDER, no network, no signal outside
 * the sandbox, no tracing, no change to the system), then runs PROGRAM, which inherits all of it:
 * valgrind and the student's code it counts. Each of its processes may run SECONDS of CPU time
 * (RLIMIT_CPU): the grader kills the count's process group when the count ends or overruns, but
 * a grader killed itself in the middle (a class worker past its limit, Ctrl-C) cannot. Exits 2
 * with one line on standard error when the kernel cannot confine it; nothing runs unconfined.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mallocsim.h"

int main(int argc, char **argv) {
    int end = 3; /* the "--" after the readable paths */
    while (end < argc && strcmp(argv[end], "--") != 0)
        end++;
    char *rest = NULL;
    unsigned long seconds = argc > 2 ? strtoul(argv[2], &rest, 10) : 0;
    if (argc < 3 || end + 1 >= argc || seconds == 0 || *rest != '\0') {
        fprintf(stderr, "usage: msconfine FOLDER SECONDS [READABLE...] -- PROGRAM ARG...\n");
        return 2;
    }
    struct rlimit cpu = {(rlim_t)seconds, (rlim_t)seconds};
    if (setrlimit(RLIMIT_CPU, &cpu) != 0) {
        fprintf(stderr, "msconfine: RLIMIT_CPU: %s\n", strerror(errno));
        return 2;
    }
    ms_error err;
    if (!ms_sandbox_confine_count((const char *const *)argv + 3, (size_t)(end - 3), argv[1],
                                  &err)) {
        fprintf(stderr, "msconfine: %s\n", err.message);
        return 2;
    }
    execvp(argv[end + 1], argv + end + 1);
    fprintf(stderr, "msconfine: cannot run %s: %s\n", argv[end + 1], strerror(errno));
    return 2;
}
