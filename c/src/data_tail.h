/*
 * data_tail.h - the bytes past the end of a loaded library's writable data, watched.
 *
 * A lab's driver links mm.o with memlib.o: what mm.c writes past its last variable lands on the
 * driver's own (memlib's heap pointers), and the driver crashes or its heap breaks. Loaded as a
 * library of its own, the same write lands in the rest of the library's last data page, where
 * nothing notices it and mm.c may even keep state no count of its variables sees (lab check 21:
 * a file that cleared 11 entries of a 5-entry array was graded valid where every driver
 * crashed). The agent fills that rest with a pattern as the library loads and checks it after
 * every call of the checked passes and every timed pass.
 */
#ifndef MALLOCSIM_DATA_TAIL_H
#define MALLOCSIM_DATA_TAIL_H

#include <stdbool.h>
#include <stddef.h>

/* What a check found: the first object whose watched bytes changed, how many, the first. */
typedef struct {
    size_t bytes;       /* from the end of its writable data to the end of that page */
    size_t changed;     /* of those, how many no longer hold the pattern */
    size_t first;       /* the offset of the first changed one past the end */
    const char *object; /* the object's path; NULL for the library's own variables */
} data_tail_state;

/* Fill the rest of the last page of the writable data of the library `handle` (dlopen's), and
   of every other object loaded but the dynamic loader, with the pattern: state kept there, past
   the engine's libraries' variables, was as uncounted as past mm.c's (red-team pass 42, 80.0 ->
   100.0 under CMU's rule). False when there is nothing to watch. Call before any of the
   library's code runs, once every object is loaded. */
bool data_tail_guard(void *handle);

/* The watched bytes as they are now; changed 0 when intact (or nothing is watched). */
data_tail_state data_tail_check(void);

#endif /* MALLOCSIM_DATA_TAIL_H */
