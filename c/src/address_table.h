/*
 * address_table.h - a map from addresses to words for the drop-in (dropin.c): which aligned
 * aliases stand for which raw blocks, and which mappings are live blocks and how long.
 *
 * Open addressing with linear probing over an array the table maps itself (it cannot call
 * malloc: it is part of malloc). Removal shifts the following run back, so there are no
 * tombstones and lookups stay short; the table doubles at half full. Key 0 is no address and
 * cannot be stored. Not thread-safe: the caller holds the drop-in's lock.
 */
#ifndef MALLOCSIM_ADDRESS_TABLE_H
#define MALLOCSIM_ADDRESS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uintptr_t key;   /* an address; 0 = an empty slot */
    uintptr_t value; /* what it maps to */
} address_slot;

typedef struct {
    address_slot *slots;
    size_t capacity; /* a power of two, or 0 before the first insert */
    size_t count;
} address_table;

/* Map key (not 0, not in the table) to value; false when no memory could be had for it. */
__attribute__((visibility("hidden"))) bool address_insert(address_table *t, uintptr_t key,
                                                          uintptr_t value);

/* Whether key is in the table; its value is left in *value (when not NULL). With `remove`, the
   key is taken out. */
__attribute__((visibility("hidden"))) bool address_lookup(address_table *t, uintptr_t key,
                                                          uintptr_t *value, bool remove);

#endif
