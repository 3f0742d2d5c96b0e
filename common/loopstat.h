/* loopstat.h -- how long each turn of a libuv loop kept it busy, for
 * /metrics: a Prometheus histogram of the time between two waits for
 * events, less any time spent waiting (libuv's idle-time metric). An
 * event loop that stalls delays everything behind it; this says whether
 * the daemon's own loop stalled, and how often, without a profiler. */

#ifndef IFMON_LOOPSTAT_H
#define IFMON_LOOPSTAT_H

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

/* Upper bounds (seconds) of the histogram's buckets. */
#define IFMON_LOOPSTAT_LE_N 9
extern const double ifmon_loopstat_le[IFMON_LOOPSTAT_LE_N];

struct ifmon_loopstat {
    uv_prepare_t prepare; /* runs once per turn, just before the wait */
    uint64_t last_ns;     /* uv_hrtime() at the last prepare, 0 before the first */
    uint64_t last_idle_ns;
    uint64_t le[IFMON_LOOPSTAT_LE_N]; /* turns at most ifmon_loopstat_le[i] busy */
    uint64_t count;
    double sum_s;
};

/* Turns on libuv's idle-time metric (before the loop first runs) and
 * starts counting. Returns 0, or a libuv error: then nothing is counted
 * and the histogram stays empty. */
int ifmon_loopstat_start(struct ifmon_loopstat *s, uv_loop_t *loop);

/* The histogram as Prometheus text, under `name` (e.g.
 * "ifmon_gateway_loop_busy_seconds"); nothing when it is not counting
 * (ifmon_loopstat_start() failed, or closed). */
void ifmon_loopstat_write(const struct ifmon_loopstat *s, FILE *f, const char *name);

/* Closes the handle (the loop can then end). */
void ifmon_loopstat_close(struct ifmon_loopstat *s);

#endif
