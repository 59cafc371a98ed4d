/*
 * data_tail.h - the writable memory no loaded object's variables own, watched.
 *
 * A lab's driver links mm.o with memlib.o: what mm.c writes past its last variable lands on the
 * driver's own (memlib's heap pointers), and the driver crashes or its heap breaks. Loaded as a
 * library of its own, the same write lands in the rest of the library's last data page, where
 * nothing notices it and mm.c may even keep state no count of its variables sees (lab check 21:
 * a file that cleared 11 entries of a 5-entry array was graded valid where every driver
 * crashed). The agent fills that rest with a pattern as the library loads and checks it after
 * every call of the checked passes and every timed pass. The main thread's spare static
 * thread-local storage is watched the same way.
 */
#ifndef MALLOCSIM_DATA_TAIL_H
#define MALLOCSIM_DATA_TAIL_H

#include <stdbool.h>
#include <stddef.h>

/* Whose watched bytes they are. */
typedef enum {
    DATA_TAIL_OWN,        /* past the library's own variables */
    DATA_TAIL_LIBRARY,    /* past another loaded object's */
    DATA_TAIL_STATIC_TLS, /* the main thread's static TLS that no object's block uses */
    DATA_TAIL_UNUSED,     /* another object's variable the library does not name (msg, _res) */
    DATA_TAIL_WATCH       /* the watch's own table, given back to the kernel: nothing watched */
} data_tail_owner;

/* What a check found: the first watched stretch whose bytes changed, how many, the first. */
typedef struct {
    size_t bytes;          /* the stretch's: from the end of the data to the end of its page */
    size_t changed;        /* of those, how many no longer hold the pattern */
    size_t first;          /* the offset of the first changed one from the stretch's start */
    data_tail_owner owner; /* whose */
    const char *object; /* DATA_TAIL_LIBRARY's: the object's path; DATA_TAIL_UNUSED's: the name */
} data_tail_state;

/* Fill the rest of the last page of the writable data of the library `handle` (dlopen's), and
   of every other object loaded but the dynamic loader, with the pattern: state kept there, past
   the engine's libraries' variables, was as uncounted as past mm.c's (red-team pass 42, 80.0 ->
   100.0 under CMU's rule), and the main thread's spare static TLS; the watch's own table is then
   made read-only. False when there is nothing to watch, or the table stays writable. Call before
   any of the library's code runs, once every object is loaded, in the thread that will run it. */
bool data_tail_guard(void *handle);

/* The watched bytes as they are now; changed 0 when intact (or nothing is watched). */
data_tail_state data_tail_check(void);

#endif /* MALLOCSIM_DATA_TAIL_H */
