/* device.h -- one polled device and its interfaces, as the collector's
 * parts share them. The struct is assembled from parts, each with one
 * owner that writes it (the others at most read it):
 *
 *   poller.c       schedule, phase and status; the chunk plan
 *   session.c      the net-snmp session, its socket watcher and timer,
 *                  the agent's address and its lookup (resolve.c), the
 *                  SNMPv3 keys (usm_keys.c)
 *   direct_poll.c  the agent's address and each chunk's GET in flight
 *   discovery.c    the walk and the interface list (identity)
 *   counters.c     what each interface is asked (the layout), each
 *                  interface's reading and rate state
 *   message.c      the Redis names and message heads, sequence numbers
 *   alerts.c       each interface's and the device's alert state (fed by
 *                  output.c)
 *   events.c       the text of each active alert
 *
 * device.c holds the few operations every part needs (the error text,
 * planning and freeing chunks and interfaces). */

#ifndef IFMON_COLLECTOR_DEVICE_H
#define IFMON_COLLECTOR_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "alerts.h"
#include "ber.h"
#include "config.h"
#include "counters.h"
#include "direct_poll.h"
#include "message.h"
#include "session.h"

struct poller;
struct walk;

enum device_status {
    DEVICE_UNKNOWN = 0, /* not answered yet */
    DEVICE_UP,
    DEVICE_DOWN,
};

/* What a device is busy with. */
enum device_phase {
    PHASE_IDLE = 0, /* nothing in flight */
    PHASE_PROBE,    /* SNMPv3 engineID discovery (RFC 3414 4) */
    PHASE_DISCOVER, /* walking ifName/ifDescr/ifType/ifAlias */
    PHASE_POLL,     /* counter GETs in flight */
};

/* One polled interface. */
struct iface {
    /* Identity, from the walk (discovery.c). */
    char *name;  /* ifName, or ifDescr when that matched */
    char *descr; /* ifDescr ("" when the agent has none) */
    char *alias; /* ifAlias, what operators typed ("" when none) */
    long ifindex;
    int loopback;                /* ifType softwareLoopback(24): its speed means nothing */
    int site_total;              /* the inventory's site_total globs match it */
    const char *picked_by_alias; /* while a walk is applied: the `interfaces` glob that
                                  * matched its ifAlias only (for the log), else NULL */

    struct iface_reading rd;                /* counters.c */
    struct message_iface msg;               /* message.c */
    struct alerts_iface alert;              /* alerts.c */
    char *alert_text[ALERT_THRESHOLDS + 1]; /* events.c: the raised event of each active
                                             * alert (enum alert_kind up to ALERT_OPER), or
                                             * NULL; owned */
};

/* A group of interfaces polled with one GET. */
struct chunk {
    struct device *dev;
    size_t first; /* index into dev->ifaces (poller.c plans) */
    size_t count;
    struct ber_get get;              /* v1/v2c: the encoded GET (counters_prepare_get) */
    struct direct_inflight inflight; /* v1/v2c: the GET in flight (direct_poll.c) */
};

struct device {
    struct poller *poller;
    const struct config_device *cfg; /* owned by the poller's current config */

    /* Schedule and state (poller.c). */
    uv_timer_t tick; /* the poll schedule */
    uint64_t interval_ns;
    uint64_t due_ns; /* next scheduled poll, uv_hrtime() clock */
    enum device_phase phase;
    enum device_status status;
    char status_error[160]; /* the published reason, "" when up */
    int need_probe;         /* SNMPv3: (re)discover the engineID */
    int need_discovery;     /* (re)walk the interface table */
    uint64_t discovered_ns;
    int max_varbinds; /* may shrink when the agent says tooBig */
    int replan;       /* re-split the chunks when the poll is over */
    int open_handles; /* libuv handles not closed yet (each part counts its own) */
    int closing;      /* being removed; freed when handles are closed */
    uint64_t polls, polls_skipped, timeouts;
    unsigned open_failures; /* session opens (lookups included) failed in a row */
    uint64_t open_retry_ns; /* no open tried before this (backoff), uv_hrtime() clock */

    /* Ownership (lease.c decides through poller_hold() and
     * poller_release()): polled and published only while owned and
     * before lease_until_ns. Without collector.shared always owned, until
     * UINT64_MAX. */
    int owned;
    int forget_pending;      /* released during a phase: forgotten when it ends */
    int poll_after_walk;     /* newly held: the first poll right after discovery */
    uint64_t lease_epoch;    /* the lease's epoch (0 without collector.shared) */
    uint64_t lease_until_ns; /* uv_hrtime() clock */

    /* The current phase's requests, counted by whichever part does the
     * I/O; poller_phase_done() when outstanding drops to 0. */
    int outstanding; /* requests in flight */
    int failures;    /* requests of the phase that failed */
    int answers;     /* requests of the phase answered */
    char error[160]; /* the last failure, while a phase runs */

    struct session sess;       /* session.c */
    struct direct_peer direct; /* direct_poll.c */
    struct walk *walk;         /* discovery.c, during PHASE_DISCOVER */

    struct iface *ifaces; /* discovery.c, sorted by ifIndex */
    size_t nifaces;
    int has_ifxtable;              /* discovery.c: the agent has ifName (RFC 2863 ifXTable) */
    struct counters_layout layout; /* counters.c: what each interface is asked */
    struct chunk *chunks;          /* poller.c (device_plan_chunks) */
    size_t nchunks;

    int part_dirty;             /* output.c, collector.shared: its entry to write again */
    struct message_device msg;  /* message.c */
    struct alerts_device alert; /* alerts.c */
    char *alert_text;           /* events.c: the raised down event while active, or NULL */
};

/* Why the device is failing (dev->error, for its state message);
 * truncated if long. */
void device_error(struct device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Split the interfaces into GETs of at most dev->max_varbinds varbinds
 * (the chunks of a previous plan are freed). */
void device_plan_chunks(struct device *dev);
void device_free_chunks(struct device *dev);

/* Free an interface list of n entries (what each part allocated in it). */
void device_free_ifaces(struct iface *list, size_t n);

#endif
