/*
 * churn.c - a single-threaded program's churn of many small blocks of mixed sizes.
 *
 * In the spirit of cfrac and espresso, the single-threaded programs of the
 * classic allocator studies (Zorn and Grunwald; Detlefs, Dosser and Zorn;
 * Johnstone and Wilson) that mimalloc-bench still runs: cfrac factors numbers
 * with multiprecision arithmetic whose every intermediate result is a small
 * fresh block, and espresso minimizes logic functions over sets kept in small
 * blocks that are reallocated as they grow. Each step here is one of four
 * things such programs do, chosen at random with fixed odds:
 *   50%  temporaries: a burst of 1-8 small blocks (8-64 bytes: a bignum's
 *        digits), written, then freed in reverse order (a computation's stack);
 *   30%  a working set: one of POOL blocks of mixed sizes (mostly under 128
 *        bytes, a few up to 4 KiB) is freed and replaced, filled whole;
 *   12%  growth: one of STRINGS buffers grows by realloc to 1.25-2 times its
 *        size, the new part written, until past 8 KiB, when it is freed and
 *        starts again at 16 bytes (a set or a string being built);
 *    8%  structure: a linked list of 4-64 nodes is built, walked, and freed
 *        from its head (a short-lived tree or list).
 * The live memory stays around a megabyte, so the program measures how fast
 * the allocator serves small requests and how well it keeps them in cache.
 * It reports the wall seconds of the steps (lower is better).
 *
 * Options: -n steps (3000000), -r seed (1). Prints "churn SECONDS s".
 */
#include "bench.h"

static const char *NAME = "churn";

enum {
    POOL = 8192,       /* working-set blocks */
    STRINGS = 64,      /* growing buffers */
    STRING_MAX = 8192, /* a buffer past this size is freed and starts again */
    BURST_MAX = 8,     /* temporaries at once */
};

typedef struct node {
    struct node *next;
    uint64_t value[3];
} node;

typedef struct {
    char *p;
    size_t size;
} buffer;

static bench_rng rng;
static uint64_t checksum;

/* A mixed size: mostly small, as in programs' traces. */
static size_t mixed_size(void) {
    uint64_t r = bench_next(&rng) % 100;
    if (r < 50)
        return bench_between(&rng, 8, 32);
    if (r < 80)
        return bench_between(&rng, 33, 128);
    if (r < 95)
        return bench_between(&rng, 129, 512);
    return bench_between(&rng, 513, 4096);
}

static void temporaries(void) {
    char *stack[BURST_MAX];
    int depth = (int)bench_between(&rng, 1, BURST_MAX);
    for (int i = 0; i < depth; i++) {
        size_t size = bench_between(&rng, 8, 64);
        stack[i] = bench_check(malloc(size), NAME, size);
        memset(stack[i], i, size);
    }
    for (int i = depth - 1; i >= 0; i--) {
        checksum += (unsigned char)stack[i][0];
        free(stack[i]);
    }
}

static void replace(buffer *pool) {
    buffer *b = &pool[bench_next(&rng) % POOL];
    if (b->p)
        checksum += (unsigned char)b->p[b->size - 1];
    free(b->p);
    b->size = mixed_size();
    b->p = bench_check(malloc(b->size), NAME, b->size);
    memset(b->p, (int)b->size, b->size);
}

static void grow(buffer *strings) {
    buffer *b = &strings[bench_next(&rng) % STRINGS];
    if (b->size > STRING_MAX) {
        free(b->p);
        *b = (buffer){NULL, 0};
    }
    size_t old = b->size;
    size_t size = old ? old + old * bench_between(&rng, 1, 4) / 4 : 16;
    b->p = bench_check(realloc(b->p, size), NAME, size);
    memset(b->p + old, (int)old, size - old);
    b->size = size;
}

static void structure(void) {
    node *head = NULL;
    int length = (int)bench_between(&rng, 4, 64);
    for (int i = 0; i < length; i++) {
        node *n = bench_check(malloc(sizeof *n), NAME, sizeof *n);
        *n = (node){head, {(uint64_t)i, (uint64_t)length, 0}};
        head = n;
    }
    while (head) {
        node *next = head->next;
        checksum += head->value[0];
        free(head);
        head = next;
    }
}

int main(int argc, char **argv) {
    double steps = 3000000, seed = 1;
    const bench_option options[] = {
        {'n', "steps", 1, 1e12, &steps},
        {'r', "seed", 0, 1e15, &seed},
    };
    bench_options(argc, argv, options, (int)(sizeof options / sizeof options[0]));
    rng = bench_seed((uint64_t)seed, 0);
    buffer *pool = bench_check(calloc(POOL, sizeof *pool), NAME, POOL);
    buffer *strings = bench_check(calloc(STRINGS, sizeof *strings), NAME, STRINGS);

    double start = bench_now();
    for (long i = 0; i < (long)steps; i++) {
        uint64_t r = bench_next(&rng) % 100;
        if (r < 50)
            temporaries();
        else if (r < 80)
            replace(pool);
        else if (r < 92)
            grow(strings);
        else
            structure();
    }
    for (int i = 0; i < POOL; i++)
        free(pool[i].p);
    for (int i = 0; i < STRINGS; i++)
        free(strings[i].p);
    double elapsed = bench_now() - start;

    free(pool);
    free(strings);
    bench_keep(checksum);
    bench_report(NAME, elapsed, "s");
    return 0;
}
