/* events.h -- the alert events of docs/PROTOCOL.md part 1, "Events": each
 * change alerts.c reports, as a JSON object, published on the device's
 * channel <prefix>:events:<device> and appended to the list
 * <prefix>:events (the last EVENTS_MAX_AGE_S seconds, EVENTS_KEEP events at
 * most); the alerts active now in the key <prefix>:alerts.
 *
 * Redis may lose them (a restart without persistence): the collector keeps
 * the list's events in memory and writes the list and the active set again
 * after every reconnection, as it does the inventory. The list a previous
 * run of the collector left is read back once, at the first connection, so
 * a restarted collector keeps the last hour. The active set is made from
 * the devices polled now: an alert of an interface or a device no longer
 * polled leaves it (without a `cleared` event). */

#ifndef IFMON_COLLECTOR_EVENTS_H
#define IFMON_COLLECTOR_EVENTS_H

#include <stdint.h>

#include <uv.h>

#include "alerts.h"

/* The list <prefix>:events holds at most this many events, and none older
 * than EVENTS_MAX_AGE_S (dropped within EVENTS_PRUNE_MS). */
#define EVENTS_KEEP 1000
#define EVENTS_MAX_AGE_S 3600
#define EVENTS_PRUNE_MS 10000

struct device;
struct iface;
struct events;
struct poller;
struct publisher;

struct events *events_create(uv_loop_t *loop);

/* The parts events work with; set once both exist. */
void events_attach(struct events *e, struct poller *poller, struct publisher *pub);

/* Publish the change ev of an alert of dev (of its interface ifc, or of the
 * device itself when ifc is NULL), noticed at ts (Unix seconds) and now_ns
 * (uv_hrtime() clock), and keep it: in the list, and while raised in the
 * active set (the text is kept in ifc->alert_text or dev->alert_text). */
void events_emit(struct events *e, struct device *dev, struct iface *ifc,
                 const struct alert_event *ev, double ts, uint64_t now_ns);

/* Devices or interfaces came or went: the active set is written again
 * (soon: once per loop iteration at most). */
void events_active_changed(struct events *e);

/* The publisher is (again) connected: write the list and the active set
 * again (the first time: read back what a previous run left). */
void events_on_redis_connected(struct events *e);

void events_close(struct events *e);
void events_free(struct events *e);

#endif
