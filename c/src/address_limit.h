/*
 * address_limit.h - what the drop-in's setrlimit and prlimit (address_limit.c) offer the rest of
 * it: a limit on the address space set where no wrapper saw it, fitted to when it shows.
 */
#ifndef MALLOCSIM_ADDRESS_LIMIT_H
#define MALLOCSIM_ADDRESS_LIMIT_H

#include <stdbool.h>

/* After a mapping was refused for want of room: when RLIMIT_AS is finite and not the limit the
   heaps' reservation was last fitted to (set by the raw system call, from outside the process,
   or before the start), the reservation fitted to it now (arena_fit_address_space); true when it
   was, and the mapping may be asked for again. Takes every arena's lock. */
bool address_limit_refit(void);

#endif /* MALLOCSIM_ADDRESS_LIMIT_H */
