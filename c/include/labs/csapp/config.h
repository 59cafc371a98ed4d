/*
 * labs/csapp/config.h - the CS:APP malloc lab's driver settings, for an mm.c that includes them.
 *
 * Written for mallocsim (not copied from the handout): the handout ships a config.h beside mm.h
 * with the driver's constants, and students include it for MAX_HEAP or ALIGNMENT. These are the
 * values the lab's profile grades by (driver/mallocsim/labs.py, csapp); the settings only the
 * handout's own driver reads (its trace folder and list, its timer) are left out. The guard is
 * the handout's name for it, so that a file testing it sees the header as included.
 */
#ifndef __CONFIG_H_
#define __CONFIG_H_

#define ALIGNMENT 8               /* every payload pointer a multiple of this */
#define MAX_HEAP (20 * (1 << 20)) /* mem_sbrk fails past 20 MB of heap */
#define AVG_LIBC_THRUPUT 600E3    /* T_ref: ops a second */
#define UTIL_WEIGHT .60           /* utilization's share of the performance index */

#endif /* __CONFIG_H_ */
