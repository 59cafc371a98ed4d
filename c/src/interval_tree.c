/*
 * interval_tree.c - a treap of live blocks keyed by start address.
 *
 * See interval_tree.h for the contract. Every operation is iterative (split
 * and merge walk down through links), so a deep tree cannot overflow the
 * stack; with hashed priorities the expected depth is O(log n) whatever the
 * order in which the allocator hands out addresses.
 */
#include "interval_tree.h"

#include <stdlib.h>

/* A fixed mix of the id (the "lowbias32" hash): priorities look random but
   cost no memory and make every run of a trace build the same tree. */
static uint32_t priority(uint32_t id) {
    uint32_t x = id;
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* Whether node a (priority pa) belongs above node b (priority pb): a total
   order, ties broken by id. */
static bool outranks(uint32_t a, uint32_t pa, uint32_t b, uint32_t pb) {
    return pa > pb || (pa == pb && a < b);
}

bool it_init(it_tree *tree, uint32_t num_ids, const uintptr_t *keys) {
    tree->nodes = malloc((num_ids > 0 ? num_ids : 1) * sizeof *tree->nodes);
    tree->keys = keys;
    tree->num_ids = num_ids;
    tree->root = IT_NONE;
    return tree->nodes != NULL;
}

void it_free(it_tree *tree) {
    free(tree->nodes);
    tree->nodes = NULL;
    tree->root = IT_NONE;
}

void it_insert(it_tree *tree, uint32_t id) {
    it_node *nodes = tree->nodes;
    const uintptr_t *keys = tree->keys;
    uintptr_t key = keys[id];
    uint32_t rank = priority(id);

    /* Walk down to where id outranks the subtree... */
    uint32_t *link = &tree->root;
    while (*link != IT_NONE && outranks(*link, priority(*link), id, rank))
        link = key < keys[*link] ? &nodes[*link].left : &nodes[*link].right;

    /* ...and split that subtree around key into id's two children. */
    uint32_t sub = *link;
    uint32_t *less = &nodes[id].left, *more = &nodes[id].right;
    while (sub != IT_NONE) {
        if (keys[sub] < key) {
            *less = sub;
            less = &nodes[sub].right;
            sub = nodes[sub].right;
        } else {
            *more = sub;
            more = &nodes[sub].left;
            sub = nodes[sub].left;
        }
    }
    *less = *more = IT_NONE;
    *link = id;
}

void it_remove(it_tree *tree, uint32_t id) {
    it_node *nodes = tree->nodes;
    const uintptr_t *keys = tree->keys;
    uintptr_t key = keys[id];

    uint32_t *link = &tree->root;
    while (*link != id)
        link = key < keys[*link] ? &nodes[*link].left : &nodes[*link].right;

    /* Merge id's children in its place: every key on the left is smaller. */
    uint32_t a = nodes[id].left, b = nodes[id].right;
    uint32_t pa = a != IT_NONE ? priority(a) : 0, pb = b != IT_NONE ? priority(b) : 0;
    while (a != IT_NONE && b != IT_NONE) {
        if (outranks(a, pa, b, pb)) {
            *link = a;
            link = &nodes[a].right;
            a = nodes[a].right;
            pa = a != IT_NONE ? priority(a) : 0;
        } else {
            *link = b;
            link = &nodes[b].left;
            b = nodes[b].left;
            pb = b != IT_NONE ? priority(b) : 0;
        }
    }
    *link = a != IT_NONE ? a : b;
}

void it_neighbours(const it_tree *tree, uintptr_t key, uint32_t *floor, uint32_t *above) {
    /* One descent finds both: each node passed is the best of one side so far. */
    *floor = *above = IT_NONE;
    for (uint32_t n = tree->root; n != IT_NONE;) {
        if (tree->keys[n] <= key) {
            *floor = n;
            n = tree->nodes[n].right;
        } else {
            *above = n;
            n = tree->nodes[n].left;
        }
    }
}
