/*
 * engine.h - what the replay engine (replay.c) lends the remote agent (remote.c): its failures'
 * shape, and calling a student's mm_init and heap checker through their real types, so that
 * both processes call them exactly alike.
 */
#ifndef MALLOCSIM_ENGINE_H
#define MALLOCSIM_ENGINE_H

#include "mallocsim.h"

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
