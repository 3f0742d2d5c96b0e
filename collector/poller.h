/* poller.h -- polls every device of the inventory over SNMP, all of them
 * concurrently on one libuv loop, and turns responses into rates.
 *
 * Each device has one net-snmp single session (snmp_sess_*) whose socket is
 * watched by a uv_poll and whose retransmissions are driven by a uv_timer,
 * and its own schedule timer; nothing here blocks. What to do with a rate
 * is the caller's business, through the hooks. */

#ifndef IFMON_POLLER_H
#define IFMON_POLLER_H

#include <uv.h>

#include "config.h"
#include "device.h"
#include "rate.h"

struct poller;

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

/* Lateness of poll starts against their schedule, for the benchmark and
 * the periodic log line. */
struct poller_stats {
    uint64_t polls;
    uint64_t skipped;  /* a poll was due while the last was in flight */
    uint64_t timeouts; /* requests that got no answer after retries */
    uint64_t samples;  /* interface readings handed to the hooks */
    double late_p50_ms;
    double late_p99_ms;
    double late_max_ms;
};

/* Initialise net-snmp for the process (no MIB loading, no config files,
 * no persistent state writes). Call once before poller_create(). */
void poller_library_init(void);
void poller_library_shutdown(void);

struct poller *poller_create(uv_loop_t *loop, const struct poller_hooks *hooks);

/* Make the poller poll what `cfg` says. Takes ownership of cfg (the previous
 * one is freed). Devices whose entry did not change keep their session,
 * interfaces and rate state; the others are closed or opened. New devices'
 * first polls are spread over their interval. Returns 0, or -1 if a device
 * could not be opened (it is then retried on its schedule). */
int poller_apply(struct poller *p, struct config *cfg);

/* The devices currently polled, in inventory order. */
struct device **poller_devices(struct poller *p, size_t *count);
const struct config *poller_config(struct poller *p);

/* Stats since the last call (lateness percentiles), counters since start. */
void poller_stats(struct poller *p, struct poller_stats *out, int reset_window);

/* Close every session and libuv handle; the loop then runs dry. Call
 * poller_free() after uv_run() has returned. */
void poller_close(struct poller *p);
void poller_free(struct poller *p);

#endif
