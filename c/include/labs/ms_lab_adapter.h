/*
 * labs/ms_lab_adapter.h - what the driver appends to a student's mm.c, so that it can call the
 * student's heap checker and read the team record whatever the lab.
 *
 * The driver builds a student's mm.c as one translation unit ending with
 *     #define MS_CHECKER <the checker's name>   (when the student wrote one)
 *     #define MS_LAB_TEAM                       (CS:APP lab only: mm.c defines team_t team)
 *     #include "ms_lab_adapter.h"
 * Appended in the same unit, it reaches a static checker too. It defines, exported with default
 * visibility whatever the build's visibility:
 *
 *   int ms_lab_checkheap(int arg)     (with MS_CHECKER) calls the checker through its real type
 *                                     and returns 1 when the heap is consistent, 0 when not:
 *                                     int checker, non-zero; bool checker, true; void checker,
 *                                     always 1 (it can only report by exiting or crashing). arg
 *                                     is passed to a checker that takes an int, else dropped.
 *   int ms_lab_checkheap_kind(void)   (with MS_CHECKER) which signature the checker has:
 *                                     1 int (int), 2 int (void), 3 bool (int), 4 bool (void),
 *                                     5 void (int), 6 void (void); 0 for any other, and then
 *                                     ms_lab_checkheap calls nothing and returns 1: the engine
 *                                     takes a 0 here to mean there is no checker to call.
 *   const team_t *ms_lab_team(void)   (with MS_LAB_TEAM) &team.
 *   void ms_lab_start(void)           runs mm.c's constructors, which the build took from the
 *                                     loader (ms_lab_constructors.ld): the engine calls it once
 *                                     the process that loaded the library is sealed
 *                                     (ms_allocator_start), before any mm_ call.
 *
 * Guarantees: the checker is only ever called through a pointer of its own type (the pointer
 * goes through void (*)(void) and back, which C11 defines), so no call is undefined; the kind is
 * found at compile time with _Generic, without running anything; the adapter adds no warning
 * under -Wall -Wextra (gcc and clang) whatever the signature, and uses the checker, so a static
 * one no longer draws "defined but not used".
 *
 * A checker declared without a prototype (old-style "int mm_check()") has a type compatible with
 * several of the six; it is taken to have no parameters (an empty list is what such code almost
 * always means, and calling it with none is then defined) and classified by its return type.
 */
#ifndef MALLOCSIM_LABS_MS_LAB_ADAPTER_H
#define MALLOCSIM_LABS_MS_LAB_ADAPTER_H

#if defined(__GNUC__) || defined(__clang__)
#define MS_LAB_EXPORT __attribute__((visibility("default")))
#else
#define MS_LAB_EXPORT
#endif

#ifdef MS_CHECKER

/* 1 when the checker's address has exactly this pointer type (or one compatible with it). */
#define MS_LAB_IS(type) _Generic(&(MS_CHECKER), type : 1, default : 0)

/* A prototype no checker has: only a checker declared without one is compatible with it. Each
   test is a _Generic of its own, as one listing both int (*)(int) and int (*)(void) would not
   compile for such a checker (its type is compatible with both). */
#define MS_LAB_UNPROTOTYPED(result) MS_LAB_IS(result (*)(double *, long double *))

#define MS_LAB_CHECKER_KIND                                                                        \
    (MS_LAB_UNPROTOTYPED(int)     ? 2                                                              \
     : MS_LAB_UNPROTOTYPED(_Bool) ? 4                                                              \
     : MS_LAB_UNPROTOTYPED(void)  ? 6                                                              \
     : MS_LAB_IS(int (*)(int))    ? 1                                                              \
     : MS_LAB_IS(int (*)(void))   ? 2                                                              \
     : MS_LAB_IS(_Bool(*)(int))   ? 3                                                              \
     : MS_LAB_IS(_Bool(*)(void))  ? 4                                                              \
     : MS_LAB_IS(void (*)(int))   ? 5                                                              \
     : MS_LAB_IS(void (*)(void))  ? 6                                                              \
                                  : 0)

MS_LAB_EXPORT int ms_lab_checkheap_kind(void);
MS_LAB_EXPORT int ms_lab_checkheap(int arg);

int ms_lab_checkheap_kind(void) { return MS_LAB_CHECKER_KIND; }

int ms_lab_checkheap(int arg) {
    /* The generic function pointer type: every cast below converts back to the checker's own
       type in the one case that runs, and -Wcast-function-type knows void (*)(void) is generic. */
    void (*checker)(void) = (void (*)(void)) & (MS_CHECKER);
    switch (MS_LAB_CHECKER_KIND) {
    case 1:
        return ((int (*)(int))checker)(arg) != 0;
    case 2:
        return ((int (*)(void))checker)() != 0;
    case 3:
        return ((_Bool(*)(int))checker)(arg) ? 1 : 0;
    case 4:
        return ((_Bool(*)(void))checker)() ? 1 : 0;
    case 5:
        ((void (*)(int))checker)(arg);
        return 1;
    case 6:
        checker();
        return 1;
    default:
        return 1; /* an unknown signature: nothing is called (the kind says so) */
    }
}

#endif /* MS_CHECKER */

/* The table ms_lab_constructors.ld gathers mm.o's constructors in, its ends defined there; both
   null in a library linked without it. Hidden: bound at link time, never looked up. */
typedef void (*ms_lab_constructor)(int argc, char **argv, char **envp);
extern ms_lab_constructor const ms_lab_constructors_start[]
    __attribute__((weak, visibility("hidden")));
extern ms_lab_constructor const ms_lab_constructors_end[]
    __attribute__((weak, visibility("hidden")));

MS_LAB_EXPORT void ms_lab_start(void);

void ms_lab_start(void) {
    /* The loader passes a constructor the program's arguments and environment; these are the
       engine's own (a count's name its traces), so a constructor is given none. Every entry is
       called, as the loader calls them: one the file put there as data fails as it would there. */
    static char *const none[] = {0}; /* read-only: not the file's global data (the labs' rule) */
    for (ms_lab_constructor const *run = ms_lab_constructors_start; run < ms_lab_constructors_end;
         run++)
        (*run)(0, (char **)none, (char **)none);
}

#ifdef MS_LAB_TEAM
MS_LAB_EXPORT const team_t *ms_lab_team(void);

const team_t *ms_lab_team(void) { return &team; }
#endif /* MS_LAB_TEAM */

#endif /* MALLOCSIM_LABS_MS_LAB_ADAPTER_H */
