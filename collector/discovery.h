/* discovery.h -- which interfaces a device has: a walk of ifName, ifDescr
 * and ifType (GETBULK, or GETNEXT for SNMPv1) through the device's
 * net-snmp session, then the inventory's interface globs applied to the
 * names found, giving dev->ifaces (sorted by ifIndex). An interface whose
 * name and ifIndex did not change keeps its reading, rate state and
 * sequence number, so a rediscovery costs no gap. */

#ifndef IFMON_COLLECTOR_DISCOVERY_H
#define IFMON_COLLECTOR_DISCOVERY_H

struct device;

/* Start walking (PHASE_DISCOVER); the phase ends through
 * poller_phase_done() when the walk is complete or failed. */
void discovery_start(struct device *dev);

/* The walk succeeded: make its result the device's interface list and
 * plan the chunks. Tells the poller when the list changed. */
void discovery_apply(struct device *dev);

/* Drop the walk's state (after the phase, or when the device closes). */
void discovery_free(struct device *dev);

#endif
