/*
 * agent_main.c - msagent: a student's allocator in a process that holds nothing of the grader's.
 *
 *   msagent LIBRARY DIALECT OPTIONS CPU_SECONDS
 *
 * Started by the grader (ms_agent_spawn, remote.c), never by hand: descriptors 3, 4 and 5 are
 * the link, the shared heap and the parent's progress words. A program of its own rather than a
 * fork of the grader, so that the untrusted code it loads finds in its address space only this
 * program, the C library and the engine: nothing the grader's process ever held (other
 * students' code, results, the interpreter's heap) is there to be read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "msagent: started by the grader only (LIBRARY DIALECT OPTIONS SECONDS)\n");
        return 2;
    }
    ms_agent_run(argv[1], atoi(argv[2]), argv[3], strtod(argv[4], NULL));
}
