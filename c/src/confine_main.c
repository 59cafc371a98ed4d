/*
 * confine_main.c - msconfine: run a program confined for the instruction count.
 *
 *   msconfine FOLDER PROGRAM ARG...
 *
 * Confines itself (ms_sandbox_confine_count: files written only beneath FOLDER, no network, no
 * signal outside the sandbox, no tracing, no change to the system), then runs PROGRAM, which
 * inherits all of it: valgrind and the student's code it counts. Exits 2 with one line on
 * standard error when the kernel cannot confine it; nothing runs unconfined.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mallocsim.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: msconfine FOLDER PROGRAM ARG...\n");
        return 2;
    }
    ms_error err;
    if (!ms_sandbox_confine_count(argv[1], &err)) {
        fprintf(stderr, "msconfine: %s\n", err.message);
        return 2;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "msconfine: cannot run %s: %s\n", argv[2], strerror(errno));
    return 2;
}
