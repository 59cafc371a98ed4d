/*
 * arena_state.h - whose state a policy's code works on: the one heap's in the lab, the calling
 * arena's in the drop-in.
 *
 * The drop-in (libmallocsim.so) has several arenas (arena.h), each its own heap and its own copy
 * of the policy's state, and ONE copy of the policy's code: arena.c sets `arena_serving`, a
 * thread-local index, under an arena's lock before it calls into the policy or its heap
 * (memlib_sbrk.c), and their state is that arena's. A policy declares each static object of its
 * state as an array of STATE_COPIES and reaches it through PER_ARENA:
 *
 *     static struct segfit_state { STATE_ALIGN T first; ... } sf_of[STATE_COPIES];
 *     #define sf PER_ARENA(sf)
 *
 * Its first member is STATE_ALIGN, which puts each arena's copy on cache lines of its own
 * (arena.h, CACHE_LINE).
 *
 * Built for the lab (no MALLOCSIM_ARENAS) there is one copy and PER_ARENA(sf) is sf_of[0], a
 * static object as before, at no cost. In the drop-in it costs a thread-local load per function
 * that touches the state; the code it replaces was the policy compiled once per arena, four
 * copies of its text (92 KiB of the library's 110, all of it resident: the kernel maps text 16
 * pages around a fault) where one serves.
 *
 * Guarantees: a policy's and its heap's state is per arena in the drop-in, provided every call
 * into them is made by arena.c after arena_serve(k) under k's lock (the only caller).
 */
#ifndef MALLOCSIM_ARENA_STATE_H
#define MALLOCSIM_ARENA_STATE_H

#ifdef MALLOCSIM_ARENAS
#include "arena.h"

#include <stdalign.h>

/* The arena whose state the policy's code works on (arena.c's arena_serve sets it). */
extern _Thread_local unsigned arena_serving __attribute__((tls_model("initial-exec")));
#define STATE_COPIES ARENAS
#define STATE_INDEX arena_serving
#define STATE_ALIGN alignas(CACHE_LINE)
#else
#define STATE_COPIES 1
#define STATE_INDEX 0
#define STATE_ALIGN
#endif

/* The object `name` of the arena being served: declared as `static T name##_of[STATE_COPIES]`. */
#define PER_ARENA(name) (name##_of[STATE_INDEX])

#endif /* MALLOCSIM_ARENA_STATE_H */
