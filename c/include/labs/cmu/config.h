/*
 * labs/cmu/config.h - the CMU 15-213 malloc lab's driver settings (F20 handout), for an mm.c
 * that includes them.
 *
 * Written for mallocsim (not copied from the handout): the handout ships a config.h beside mm.h
 * with the driver's constants. These are the values the lab's profile grades by
 * (driver/mallocsim/labs.py, cmu); the settings only the handout's own drivers read (trace
 * folders and lists, the sparse heap's emulation, the reference driver and its throughput file)
 * are left out. The guard is the handout's name for it.
 */
#ifndef __CONFIG_H_
#define __CONFIG_H_

#define ALIGNMENT 16                     /* every payload pointer a multiple of this */
#define MAX_DENSE_HEAP (100 * (1 << 20)) /* mem_sbrk fails past 100 MB of heap */
#define MIN_SPACE 0.55                   /* utilization earning no points, and all of them */
#define MAX_SPACE 0.74
#define MIN_SPEED_RATIO 0.50 /* throughput over T_ref earning none, and all */
#define MAX_SPEED_RATIO 0.90
#define UTIL_WEIGHT .60 /* utilization's share of the performance index */

#endif /* __CONFIG_H_ */
