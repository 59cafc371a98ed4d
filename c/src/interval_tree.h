/*
 * interval_tree.h - the replay engine's ordered set of live blocks.
 *
 * A treap keyed by a block's start address, whose nodes are indexed by block
 * id: node i is block i, so the set costs a fixed 8 bytes per id, allocated
 * once, and never allocates while a trace runs. A node's priority is a hash of
 * its id, which keeps the expected depth logarithmic for any insertion order
 * without storing anything more.
 *
 * The keys are not copied: the tree reads keys[id] from the caller's array,
 * which must not change while id is in the tree, and keys in the tree must be
 * distinct. Since the live blocks the engine keeps are pairwise disjoint, the
 * floor and the strict successor of a new block's start are the only blocks
 * that can overlap it (the successor catches a new block that contains an old
 * one), so an overlap check costs two O(log n) lookups.
 */
#ifndef MALLOCSIM_INTERVAL_TREE_H
#define MALLOCSIM_INTERVAL_TREE_H

#include <stdbool.h>
#include <stdint.h>

enum { IT_NONE = UINT32_MAX }; /* "no node"; never a valid id */

/* Internal to the engine's library: not exported (a loaded allocator cannot
   interpose them) and called directly, not through the PLT, once an op. */
#define IT_INTERNAL __attribute__((visibility("hidden")))

typedef struct {
    uint32_t left, right; /* children's ids, IT_NONE when absent */
} it_node;

typedef struct {
    it_node *nodes;        /* indexed by id, num_ids entries */
    const uintptr_t *keys; /* the caller's start addresses, indexed by id */
    uint32_t num_ids;      /* ids are < num_ids */
    uint32_t root;         /* IT_NONE when empty */
} it_tree;

/* Allocate room for num_ids nodes (num_ids < IT_NONE); false when out of memory. */
IT_INTERNAL bool it_init(it_tree *tree, uint32_t num_ids, const uintptr_t *keys);
IT_INTERNAL void it_free(it_tree *tree);
/* Add id, whose key is keys[id]; id must not be in the tree. */
IT_INTERNAL void it_insert(it_tree *tree, uint32_t id);
/* Remove id, which must be in the tree with its key unchanged. */
IT_INTERNAL void it_remove(it_tree *tree, uint32_t id);
/* *floor = the id with the largest key <= key, *above = the id with the
   smallest key > key; IT_NONE where there is none. */
IT_INTERNAL void it_neighbours(const it_tree *tree, uintptr_t key, uint32_t *floor,
                               uint32_t *above);

#endif /* MALLOCSIM_INTERVAL_TREE_H */
