/*
 * policy_options.h - the run-time options each built-in policy accepts, for
 * the tests that exercise a policy under every one of them (test_policy.c,
 * fuzz_policy.c). A policy missing here is tested with its defaults ("") only.
 */
#ifndef MALLOCSIM_TESTS_POLICY_OPTIONS_H
#define MALLOCSIM_TESTS_POLICY_OPTIONS_H

#include <stddef.h>
#include <string.h>

static const char *const implicit_options[] = {"first", "next", "best", NULL};
static const char *const explicit_options[] = {"lifo", "address", "lifo,best", "address,best",
                                               NULL};
static const char *const default_options[] = {"", NULL};
static const struct {
    const char *policy;
    const char *const *options;
} policy_options[] = {{"implicit", implicit_options}, {"explicit", explicit_options}};

/* The NULL-terminated option list of `policy`. */
static inline const char *const *options_of(const char *policy) {
    for (size_t i = 0; i < sizeof policy_options / sizeof policy_options[0]; i++)
        if (strcmp(policy_options[i].policy, policy) == 0)
            return policy_options[i].options;
    return default_options;
}

#endif /* MALLOCSIM_TESTS_POLICY_OPTIONS_H */
