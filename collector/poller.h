/* poller.h -- the schedule of every device of the inventory, all polled
 * concurrently on one libuv loop: each device's state machine (engine
 * probe, discovery, polls), its timer, its up/down status, and the
 * lateness statistics.
 *
 * The I/O of each phase is another file's: session.c (net-snmp: probe,
 * walks, SNMPv3 polls), discovery.c (the walk and its result),
 * direct_poll.c (v1/v2c polls), counters.c (what an answer means). They
 * report back through the second half of this header. What to do with a
 * rate is the caller's business, through the hooks. Nothing here blocks. */

#ifndef IFMON_COLLECTOR_POLLER_H
#define IFMON_COLLECTOR_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ber.h"
#include "config.h"
#include "rate.h"

/* A device whose session cannot be opened (or whose name cannot be
 * looked up) is tried again after its interval, then twice as long after
 * each failure in a row, up to this (or its interval, when longer). */
#define POLLER_OPEN_BACKOFF_MAX_MS 60000

struct poller;
struct device;
struct iface;
struct chunk;

struct poller_hooks {
    void *ctx;
    /* One interface reading was accounted; res says what to publish. ts is
     * the response's arrival in Unix seconds. */
    void (*sample)(void *ctx, struct device *dev, struct iface *ifc, const struct rate_result *res,
                   double ts);
    /* A device changed status (up/down) or error text. */
    void (*status)(void *ctx, struct device *dev, double ts);
    /* Devices or interfaces were added, removed or renamed. */
    void (*inventory)(void *ctx);
};

/* The upper bounds (seconds) of the lateness histogram of /metrics. */
#define POLLER_LATE_LE_N 8
extern const double poller_late_le[POLLER_LATE_LE_N];

/* Lateness of poll starts against their schedule, for the benchmark and
 * the periodic log line. */
struct poller_stats {
    /* Since start, for /metrics: poll starts at most poller_late_le[i]
     * late (cumulative), all of them, and the sum of their lateness. */
    uint64_t late_le[POLLER_LATE_LE_N];
    uint64_t late_total;
    double late_sum_s;
    uint64_t polls;
    uint64_t skipped;  /* a poll was due while the last was in flight */
    uint64_t timeouts; /* requests that got no answer after retries */
    uint64_t samples;  /* interface readings handed to the hooks */
    uint64_t fenced;   /* polls not started and readings not handed on: the lease
                        * had run out (collector.shared) */
    double late_p50_ms;
    double late_p99_ms;
    double late_max_ms;
};

/* session_library_init() must have run. */
struct poller *poller_create(uv_loop_t *loop, const struct poller_hooks *hooks);

/* Make the poller poll what `cfg` says. Takes ownership of cfg (the
 * previous one is freed). Devices whose entry did not change keep their
 * session, interfaces and rate state; the others are closed or opened. New
 * devices' first polls are spread over their interval. A device whose
 * session cannot be opened now is retried with a backoff
 * (poller_session_failed()). Kept devices look their host name up again
 * (session_refresh_address()), and one still failing to open is tried
 * again at its next tick. */
void poller_apply(struct poller *p, struct config *cfg);

/* The devices currently polled, in inventory order. */
struct device **poller_devices(struct poller *p, size_t *count);
const struct config *poller_config(const struct poller *p);
/* Grows at every poller_apply(): the device list may have changed. */
uint64_t poller_generation(const struct poller *p);

/* collector.shared (lease.c): dev is held, at epoch, until until_ns
 * (uv_hrtime() clock; renewals move it on). A device newly held is
 * discovered afresh and polled at once: its first samples are `first`
 * gaps, never a rate across another collector's counters. */
void poller_hold(struct device *dev, uint64_t epoch, uint64_t until_ns);

/* collector.shared (lease.c): dev is no longer held. Nothing more of it is
 * published from now on, its polls stop, and what was known of it
 * (interfaces, rate state, status, alerts) is forgotten once no request
 * is in flight. */
void poller_release(struct device *dev);

/* 1 while what dev produces may be published: owned, and the lease's
 * time not over (always 1 without collector.shared). */
int poller_device_held(const struct device *dev);

/* Stats since the last call (lateness percentiles), counters since start. */
void poller_stats(struct poller *p, struct poller_stats *out, int reset_window);

/* Close every session and libuv handle; the loop then runs dry. Call
 * poller_free() after uv_run() has returned. */
void poller_close(struct poller *p);
void poller_free(struct poller *p);

/* ------------------------------------------------------------------------
 * For the parts that do a device's I/O (session.c, direct_poll.c,
 * discovery.c). */

/* An answer arrived, or a timer fired: take the clock now, so that every
 * reading of it has the same arrival time. */
void poller_mark_arrival(struct poller *p);

/* The same with the arrival time known (rxstamp.h): mono_ns on
 * uv_hrtime()'s clock, wall in Unix seconds. */
void poller_set_arrival(struct poller *p, uint64_t mono_ns, double wall);

/* Every request of dev's current phase is answered or given up:
 * decide what comes next. */
void poller_phase_done(struct device *dev);

/* An answer to chunk ch's poll GET with error-status errstat (at varbind
 * errindex) and n varbinds (read-only, not kept). The GET is no longer in
 * flight. */
void poller_poll_answered(struct device *dev, struct chunk *ch, long errstat, long errindex,
                          const struct ber_var *vars, size_t n);

/* No usable answer to chunk ch's poll GET; gap says why. */
void poller_poll_failed(struct device *dev, struct chunk *ch, enum rate_gap gap);

/* A request got no answer after its retries. */
void poller_count_timeout(struct device *dev);

/* The device's session could not be opened, or its host name not looked
 * up (dev->error says why): the device is down, and the open is tried
 * again after a backoff, POLLER_OPEN_BACKOFF_MAX_MS at most. */
void poller_session_failed(struct device *dev);

/* Room for an answer of n varbinds, reused from one answer to the next. */
struct ber_var *poller_vars(struct poller *p, size_t n);

/* The device's interface list changed (names, ifIndexes). */
void poller_inventory_changed(struct poller *p);

#endif
