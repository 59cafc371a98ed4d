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

/* Whether node a belongs above node b: a total order, ties broken by id. */
static bool outranks(uint32_t a, uint32_t b) {
    uint32_t pa = priority(a), pb = priority(b);
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

    /* Walk down to where id outranks the subtree... */
    uint32_t *link = &tree->root;
    while (*link != IT_NONE && outranks(*link, id))
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
    while (a != IT_NONE && b != IT_NONE) {
        if (outranks(a, b)) {
            *link = a;
            link = &nodes[a].right;
            a = nodes[a].right;
        } else {
            *link = b;
            link = &nodes[b].left;
            b = nodes[b].left;
        }
    }
    *link = a != IT_NONE ? a : b;
}

uint32_t it_floor(const it_tree *tree, uintptr_t key) {
    uint32_t best = IT_NONE;
    for (uint32_t n = tree->root; n != IT_NONE;) {
        if (tree->keys[n] <= key) {
            best = n;
            n = tree->nodes[n].right;
        } else {
            n = tree->nodes[n].left;
        }
    }
    return best;
}

uint32_t it_above(const it_tree *tree, uintptr_t key) {
    uint32_t best = IT_NONE;
    for (uint32_t n = tree->root; n != IT_NONE;) {
        if (tree->keys[n] > key) {
            best = n;
            n = tree->nodes[n].left;
        } else {
            n = tree->nodes[n].right;
        }
    }
    return best;
}
