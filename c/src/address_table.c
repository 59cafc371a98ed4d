/*
 * address_table.c - the drop-in's address map (see address_table.h): open addressing, linear
 * probing, no tombstones, doubled at half full, its array mapped from the system.
 */
#include "address_table.h"

#include "kernel_calls.h"

#include <assert.h>
#include <sys/mman.h>

enum { FIRST_CAPACITY = 256 };

static size_t home(uintptr_t key, size_t capacity) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (capacity - 1);
}

/* The slot holding key, or the empty one where it would go. The table has a slot. */
static size_t find(const address_table *t, uintptr_t key) {
    size_t mask = t->capacity - 1;
    size_t i = home(key, t->capacity);
    while (t->slots[i].key != 0 && t->slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static bool grow(address_table *t) {
    size_t capacity = t->capacity == 0 ? FIRST_CAPACITY : t->capacity * 2;
    address_slot *fresh = km_mmap(NULL, capacity * sizeof *fresh, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED)
        return false;
    address_table old = *t;
    t->slots = fresh;
    t->capacity = capacity;
    for (size_t i = 0; i < old.capacity; i++)
        if (old.slots[i].key != 0)
            t->slots[find(t, old.slots[i].key)] = old.slots[i];
    if (old.slots != NULL)
        km_munmap(old.slots, old.capacity * sizeof *old.slots); /* a failure only leaks it */
    return true;
}

bool address_insert(address_table *t, uintptr_t key, uintptr_t value) {
    assert(key != 0);
    if ((t->count + 1) * 2 > t->capacity && !grow(t))
        return false;
    size_t i = find(t, key);
    assert(t->slots[i].key == 0);
    t->slots[i] = (address_slot){key, value};
    t->count++;
    return true;
}

bool address_lookup(address_table *t, uintptr_t key, uintptr_t *value, bool remove) {
    if (t->count == 0 || key == 0)
        return false;
    size_t i = find(t, key);
    if (t->slots[i].key == 0)
        return false;
    if (value != NULL)
        *value = t->slots[i].value;
    if (remove) {
        /* Shift back every later slot of the run that may not stay behind the hole. */
        size_t mask = t->capacity - 1;
        for (size_t j = (i + 1) & mask; t->slots[j].key != 0; j = (j + 1) & mask) {
            size_t at = home(t->slots[j].key, t->capacity);
            bool stays = i <= j ? (i < at && at <= j) : (i < at || at <= j);
            if (!stays) {
                t->slots[i] = t->slots[j];
                i = j;
            }
        }
        t->slots[i].key = 0;
        t->count--;
    }
    return true;
}
