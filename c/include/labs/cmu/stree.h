/*
 * labs/cmu/stree.h - the splay tree the CMU 15-213 malloc lab's driver keeps its blocks in (F20
 * handout), declared for an mm.c that includes it.
 *
 * Written for mallocsim (not copied from the handout): the handout ships stree.h beside mm.h,
 * and students' files include it, most without using it (lab check pass 5: a public file that
 * built under the handout stopped here at "stree.h: file not found"). Only the declarations are
 * here: the tree is the driver's, compiled into mdriver, not into mm.c, and it allocates with
 * the C library's malloc, which an allocator may not call; a file that calls these functions
 * fails to link here, as a forbidden call would. The guard is this file's own: the handout's has
 * none.
 */
#ifndef MALLOCSIM_LABS_CMU_STREE_H
#define MALLOCSIM_LABS_CMU_STREE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef long tkey_t;                /* a node's key */
typedef void (*free_fun_t)(void *); /* frees a node's record, for tree_free */

typedef struct node {
    struct node *left, *right, *parent;
    tkey_t key;
    void *record; /* what the tree's user keeps at the key */
} node_t;

typedef struct {
    node_t *root;
    size_t node_count;
    size_t comparison_count;
} tree_t;

tree_t *tree_new(void);
void tree_free(tree_t *tree, free_fun_t free_fun);        /* every node, free_fun on each record */
bool tree_insert(tree_t *tree, tkey_t key, void *record); /* false when the key is there */
void *tree_find(tree_t *tree, tkey_t key);
void *tree_find_nearest(tree_t *tree, tkey_t key); /* the record of the largest key <= key */
void *tree_remove(tree_t *tree, tkey_t key);
void tree_show(tree_t *tree, bool tree_mode); /* prints the keys */

#endif /* MALLOCSIM_LABS_CMU_STREE_H */
