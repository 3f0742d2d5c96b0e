/* assign.h -- which collector should poll which device, when several
 * collectors share one inventory (issue 11; the leases that make it so
 * are another file's). Pure: the same members, devices and owners give
 * every collector the same answer, with no Redis and no clock
 * (tests/unit/test_assign.c).
 *
 * Balanced by weight (a device's interfaces): no member is given more
 * than ASSIGN_SLACK over an equal share, unless one device alone is
 * heavier. Sticky: a device stays with its owner while the owner is a
 * member and stays within that bound, so that a collector joining or
 * leaving moves about its share of devices and no more (each move is a
 * handover, a sample interval without data at worst). */

#ifndef IFMON_COLLECTOR_ASSIGN_H
#define IFMON_COLLECTOR_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

/* How far over an equal share a member may be loaded: 5%, within the
 * issue's 10% with room for the weights' granularity. */
#define ASSIGN_SLACK 0.05

struct assign_device {
    const char *name;
    uint32_t weight; /* interfaces polled; 1 when not known yet */
    int owner;       /* index in members of its owner now, -1 when none */
    int want;        /* out: the member that should poll it */
    size_t ref;      /* the caller's (which device this is), untouched */
};

/* Fill devices[i].want for every device: members are the live collectors'
 * ids (any order; n >= 1). devices are reordered (by weight, then name). */
void assign_devices(const char *const *members, size_t nmembers, struct assign_device *devices,
                    size_t ndevices);

#endif
