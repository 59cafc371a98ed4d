/*
 * expect_broken.h - the one assertion every checker-corruption test makes.
 *
 * Included by corrupt_boundary_tags.h (implicit, explicit) and test_corrupt_segfit.c: after a
 * test breaks an invariant by hand, mm_checkheap must return false with a message naming the
 * invariant, the line number it was called with and, when given, the address of the culprit.
 */
#ifndef MALLOCSIM_TESTS_EXPECT_BROKEN_H
#define MALLOCSIM_TESTS_EXPECT_BROKEN_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mm.h"

/* mm_checkheap must fail naming `invariant`, the address `at` (when not NULL) and its lineno. */
static void expect_broken(const char *what, const char *invariant, const void *at) {
    enum { LINENO = 4242 };
    bool ok = mm_checkheap(LINENO);
    const char *message = mm_checkheap_message();
    CHECK(!ok, "%s: mm_checkheap passed a corrupted heap", what);
    CHECK(strstr(message, invariant) != NULL, "%s: message \"%s\" does not name \"%s\"", what,
          message, invariant);
    CHECK(strstr(message, "line 4242") != NULL, "%s: message \"%s\" lacks the line", what, message);
    char address[32];
    snprintf(address, sizeof address, "%p", at);
    CHECK(at == NULL || strstr(message, address) != NULL, "%s: message \"%s\" does not name %s",
          what, message, address);
}

#endif
