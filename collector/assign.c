/* assign.c -- see assign.h. */

#include "assign.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* FNV-1a over a device and a member name: the rendezvous order in which
 * members are offered a device that has to move (the same for every
 * collector, different per device, so that moves spread evenly). */
static uint64_t rendezvous(const char *device, const char *member)
{
    static const unsigned char sep = 0xff;
    uint64_t h = ifmon_fnv1a_str(IFMON_FNV1A_INIT, device);

    h = ifmon_fnv1a_str(ifmon_fnv1a(h, &sep, 1), member);
    /* A final mix: FNV's low bits alone follow the last byte closely. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int by_weight_then_name(const void *a, const void *b)
{
    const struct assign_device *x = a, *y = b;

    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return strcmp(x->name, y->name);
}

void assign_devices(const char *const *members, size_t nmembers, struct assign_device *devices,
                    size_t ndevices)
{
    uint64_t total = 0, *load;
    double cap;
    size_t i, m;

    IFMON_ASSERT(nmembers >= 1);
    qsort(devices, ndevices, sizeof(*devices), by_weight_then_name);
    for (i = 0; i < ndevices; i++)
        total += devices[i].weight;
    cap = (double)total / (double)nmembers * (1.0 + ASSIGN_SLACK);
    load = ifmon_xcalloc(nmembers, sizeof(*load));
    /* Owners keep what fits, heaviest first. */
    for (i = 0; i < ndevices; i++) {
        struct assign_device *d = &devices[i];

        d->want = -1;
        if (d->owner >= 0 && (size_t)d->owner < nmembers &&
            ((double)(load[d->owner] + d->weight) <= cap || load[d->owner] == 0)) {
            d->want = d->owner;
            load[d->owner] += d->weight;
        }
    }
    /* The rest to the least loaded member; between equals, the first in
     * the device's rendezvous order. */
    for (i = 0; i < ndevices; i++) {
        struct assign_device *d = &devices[i];
        size_t best = 0;
        uint64_t best_rank = 0;

        if (d->want >= 0)
            continue;
        for (m = 0; m < nmembers; m++) {
            uint64_t rank = rendezvous(d->name, members[m]);

            if (m == 0 || load[m] < load[best] || (load[m] == load[best] && rank > best_rank)) {
                best = m;
                best_rank = rank;
            }
        }
        d->want = (int)best;
        load[best] += d->weight;
    }
    free(load);
}
