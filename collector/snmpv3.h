/* snmpv3.h -- what only SNMPv3 (the User-based Security Model, RFC 3414)
 * needs of a device's net-snmp session: its security settings, with the
 * keys usm_keys.c derived off the loop, and the discovery of the agent's
 * engineID (RFC 3414 4), done here without blocking because net-snmp's
 * own probe is synchronous. The session itself is session.c's. */

#ifndef IFMON_COLLECTOR_SNMPV3_H
#define IFMON_COLLECTOR_SNMPV3_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

struct device;

/* Fill the USM fields of sess (about to be opened) from dev's
 * configuration and its derived keys (dev->sess.auth_key, priv_key, both
 * ready). Sets dev->need_probe. Returns 0, or -1 with dev->error. */
int snmpv3_session_settings(struct device *dev, netsnmp_session *sess);

/* Ask the agent for its engineID; the phase ends through
 * poller_phase_done() when answered or given up. */
void snmpv3_probe_start(struct device *dev);

#endif
