/*
 * check.h - the few assertion macros the C tests share.
 *
 * CHECK(cond, ...) reports the file, line and a printf-style message and
 * counts a failure without stopping the test, so one run shows every broken
 * expectation; CHECK_DONE() prints the plain closing line CI reads
 * ("N passed, N failed") and returns the process's exit status; check_random() draws a
 * test's inputs.
 */
#ifndef MALLOCSIM_TESTS_CHECK_H
#define MALLOCSIM_TESTS_CHECK_H

#include <stdint.h>
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

/* A fixed xorshift sequence for tests that draw inputs: the same every run, so a failure
   repeats. */
static uint64_t check_random_state = 0x9e3779b97f4a7c15u;

static inline uint64_t check_random(void) {
    check_random_state ^= check_random_state << 13;
    check_random_state ^= check_random_state >> 7;
    check_random_state ^= check_random_state << 17;
    return check_random_state;
}

#endif /* MALLOCSIM_TESTS_CHECK_H */
