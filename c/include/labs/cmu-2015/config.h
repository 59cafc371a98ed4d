/*
 * labs/cmu-2015/config.h - the 2013-2015 CMU malloc lab's driver settings, for an mm.c that
 * includes them.
 *
 * Written for mallocsim (not copied from the handout): the handout ships a config.h beside mm.h
 * with the driver's constants. These are the values the lab's profile grades by
 * (driver/mallocsim/labs.py, cmu-2015: F15's); the settings only the handout's own driver reads
 * (its trace folder and list, its timer) are left out. The guard is the handout's name for it.
 */
#ifndef __CONFIG_H_
#define __CONFIG_H_

#define ALIGNMENT 8                /* every payload pointer a multiple of this */
#define MAX_HEAP (100 * (1 << 20)) /* mem_sbrk fails past 100 MB of heap */
#define MIN_SPACE 0.60             /* utilization earning no points, and all of them */
#define MAX_SPACE 0.92
#define MIN_SPEED 0000E3 /* throughput (ops a second) earning none, and all */
#define MAX_SPEED 13000E3
#define UTIL_WEIGHT .61      /* utilization's share of the performance index */
#define PERF_THRESHHOLD 50.0 /* the autograder's least index ("THRESHHOLD" as spelt) */

#endif /* __CONFIG_H_ */
