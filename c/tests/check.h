/*
 * check.h - the few assertion macros the C tests share.
 *
 * CHECK(cond, ...) reports the file, line and a printf-style message and
 * counts a failure without stopping the test, so one run shows every broken
 * expectation; CHECK_DONE() prints the plain closing line CI reads
 * ("N passed, N failed") and returns the process's exit status.
 */
#ifndef MALLOCSIM_TESTS_CHECK_H
#define MALLOCSIM_TESTS_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_DONE()                                                                               \
    (printf("%s: %d passed, %d failed\n", __FILE__, check_passed, check_failed),                   \
     check_failed == 0 ? 0 : 1)

#endif /* MALLOCSIM_TESTS_CHECK_H */
