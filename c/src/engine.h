/*
 * engine.h - what the replay engine (replay.c) lends the remote agent (remote.c): its failures'
 * shape, calling a student's mm_init and heap checker through their real types, and a trace's
 * sizes as a request, so that both processes call them exactly alike.
 */
#ifndef MALLOCSIM_ENGINE_H
#define MALLOCSIM_ENGINE_H

#include "mallocsim.h"

#include <stdint.h>

/* A trace's size (64-bit) as an allocator's size_t. A 32-bit build (the agent of a student's -m32
   build) passes a size its size_t cannot hold as SIZE_MAX, a request no allocator can serve: it
   then fails as under a 32-bit driver, instead of serving a truncated size. */
static inline size_t engine_request_bytes(uint64_t bytes) {
#if SIZE_MAX < UINT64_MAX
    return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
#else
    return bytes;
#endif
}

/* A failure of `kind` about `block` at `address` (MS_ID_NULL and 0 when none), in no op and no
   pass yet: whoever records it says where. */
ms_failure engine_failure(int kind, uint32_t block, uintptr_t address);
/* mm_init's status: the classic dialect's int; the cmu dialect's bool as 1 or 0. */
int64_t engine_init(const ms_allocator *alloc);
/* Whether the heap checker says the heap is consistent; `index`, the op just run, is the cmu
   checker's argument (a line number for its messages). */
bool engine_checkheap(const ms_allocator *alloc, uint64_t index);
/* msagent's work (remote.c), in the program ms_agent_spawn starts: join the grader's link and
   heap, enter the sandbox, load `library` and serve the grader; never returns. */
_Noreturn void ms_agent_run(const char *library, int dialect, const char *options,
                            double cpu_seconds);

#endif /* MALLOCSIM_ENGINE_H */
