/*
 * test_address_table.c - the drop-in's address map (c/src/address_table.c) against a plain
 * array doing the same: random inserts, lookups and removals of thousands of live keys, so that
 * the table grows, probe runs form and wrap around its end, and removals shift them back.
 */
#include "address_table.h"
#include "check.h"

#include <stdlib.h>

enum { KEYS = 4000, OPS = 200000 };

static uintptr_t values[KEYS]; /* the model: key i + 1 maps to values[i], 0 = absent */

/* Keys 16-aligned, as the drop-in's are. */
static uintptr_t key_of(size_t i) { return 0x100000 + 16 * (uintptr_t)i; }

static void agrees_with_the_model(address_table *t, const char *when) {
    size_t present = 0;
    for (size_t i = 0; i < KEYS; i++) {
        uintptr_t value = 0;
        bool found = address_lookup(t, key_of(i), &value, false);
        CHECK(found == (values[i] != 0) && value == (found ? values[i] : 0), "%s: key %zu", when,
              i);
        present += values[i] != 0;
    }
    CHECK(t->count == present, "%s: count %zu, model %zu", when, t->count, present);
}

int main(void) {
    address_table t = {0};
    CHECK(!address_lookup(&t, key_of(0), NULL, false), "an empty table holds nothing");
    CHECK(!address_lookup(&t, 0, NULL, true), "key 0 is never there");
    for (size_t op = 0; op < OPS; op++) {
        size_t i = (size_t)(check_random() % KEYS);
        uintptr_t value;
        if (values[i] == 0) {
            values[i] = (uintptr_t)check_random() | 1;
            CHECK(address_insert(&t, key_of(i), values[i]), "insert of key %zu", i);
        } else if (check_random() % 2 == 0) {
            CHECK(address_lookup(&t, key_of(i), &value, true) && value == values[i],
                  "removal of key %zu", i);
            values[i] = 0;
        } else {
            CHECK(address_lookup(&t, key_of(i), &value, false) && value == values[i],
                  "lookup of key %zu", i);
        }
        if (op % 20000 == 0)
            agrees_with_the_model(&t, "midway");
    }
    agrees_with_the_model(&t, "at the end");
    for (size_t i = 0; i < KEYS; i++)
        if (values[i] != 0)
            CHECK(address_lookup(&t, key_of(i), NULL, true), "final removal of key %zu", i);
    CHECK(t.count == 0, "emptied: %zu left", t.count);
    return CHECK_DONE();
}
