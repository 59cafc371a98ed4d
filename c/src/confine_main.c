/*
 * confine_main.c - msconfine: run a program confined for the instruction count.
 *
 *   msconfine FOLDER SECONDS [READABLE...] -- PROGRAM ARG...
 *
 * Runs PROGRAM in a child that first confines itself (ms_sandbox_confine_count: files read only
 * beneath the system's folders, each READABLE (folder or file) and FOLDER, written only beneath
 * FOLDER, no network, no signal outside the sandbox, no tracing, no change to the system), which
 * it inherits all of: valgrind and the student's code it counts. Each of the child's processes
 * may run SECONDS of CPU time (RLIMIT_CPU). This process stays as the count's supervisor, and
 * exits as the program did. The grader kills the count's process group when the count ends or
 * overruns; should the grader itself be killed in the middle (a class worker past its limit),
 * this process gets its death signal and kills the whole group: the count's processes, which the
 * sandbox keeps in it, may otherwise sleep on past any CPU limit (red-team pass 12). Exits 2 with
 * one line on standard error when the kernel cannot confine the child; nothing runs unconfined
 * but this supervisor, which runs no code of the student's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mallocsim.h"

/* The grader that started the count is gone: every process of the count's group, this one too. */
static void end_the_group(int signal_number) {
    (void)signal_number;
    kill(0, SIGKILL);
}

/* The child: confined, then the program. Never returns. */
static _Noreturn void run_confined(char **argv, int end, unsigned long seconds) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* and should the supervisor go first, with it */
    struct rlimit cpu = {(rlim_t)seconds, (rlim_t)seconds};
    if (setrlimit(RLIMIT_CPU, &cpu) != 0) {
        fprintf(stderr, "msconfine: RLIMIT_CPU: %s\n", strerror(errno));
        _exit(2);
    }
    ms_error err;
    if (!ms_sandbox_confine_count((const char *const *)argv + 3, (size_t)(end - 3), argv[1],
                                  &err)) {
        fprintf(stderr, "msconfine: %s\n", err.message);
        _exit(2);
    }
    execvp(argv[end + 1], argv + end + 1);
    fprintf(stderr, "msconfine: cannot run %s: %s\n", argv[end + 1], strerror(errno));
    _exit(2);
}

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
    pid_t grader = getppid();
    struct sigaction ending;
    memset(&ending, 0, sizeof ending);
    ending.sa_handler = end_the_group;
    if (sigaction(SIGTERM, &ending, NULL) != 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        fprintf(stderr, "msconfine: cannot follow the grader: %s\n", strerror(errno));
        return 2;
    }
    if (getppid() != grader) /* it died before the death signal was set */
        end_the_group(SIGTERM);
    fflush(stderr);
    pid_t program = fork();
    if (program < 0) {
        fprintf(stderr, "msconfine: cannot start %s: %s\n", argv[end + 1], strerror(errno));
        return 2;
    }
    if (program == 0)
        run_confined(argv, end, seconds);
    int status;
    while (waitpid(program, &status, 0) < 0)
        if (errno != EINTR)
            return 2;
    if (WIFSIGNALED(status)) { /* ended as the program did: the grader reads a crash so */
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none); /* the program's signal, not a core of this process */
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
