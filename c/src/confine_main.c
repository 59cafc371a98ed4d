/*
 * confine_main.c - msconfine: run a program confined for the instruction count.
 *
 *   msconfine FOLDER [READABLE...] -- PROGRAM ARG...
 *
 * Confines itself (ms_sandbox_confine_count: files read only beneath the system's folders, each
 * READABLE (folder or file) and FOLDER, written only beneath FOLDER, no network, no signal outside
 * the sandbox, no tracing, no change to the system), then runs PROGRAM, which inherits all of it:
 * valgrind and the student's code it counts. Exits 2 with one line on standard error when the
 * kernel cannot confine it; nothing runs unconfined.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mallocsim.h"

int main(int argc, char **argv) {
    int end = 2; /* the "--" after the readable paths */
    while (end < argc && strcmp(argv[end], "--") != 0)
        end++;
    if (argc < 2 || end + 1 >= argc) {
        fprintf(stderr, "usage: msconfine FOLDER [READABLE...] -- PROGRAM ARG...\n");
        return 2;
    }
    ms_error err;
    if (!ms_sandbox_confine_count((const char *const *)argv + 2, (size_t)(end - 2), argv[1],
                                  &err)) {
        fprintf(stderr, "msconfine: %s\n", err.message);
        return 2;
    }
    execvp(argv[end + 1], argv + end + 1);
    fprintf(stderr, "msconfine: cannot run %s: %s\n", argv[end + 1], strerror(errno));
    return 2;
}
