/* request.h -- the poll GETs of SNMPv1/v2c devices, encoded once per chunk.
 *
 * net-snmp allocates and BER-encodes every varbind of every request; a
 * chunk asks the same names every poll, so its varbind list is encoded once
 * and each send (and retransmission) only writes the message and PDU
 * headers and the request-id around it, from net-snmp's build hook
 * (snmp_sess_add_ex). The bytes are those net-snmp's snmp_build() would
 * write for the PDU response_add_vars() fills (tests/unit/test_request.c).
 * SNMPv3 messages are authenticated and encrypted per send: they keep
 * net-snmp's encoder. */

#ifndef IFMON_COLLECTOR_REQUEST_H
#define IFMON_COLLECTOR_REQUEST_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "device.h"

/* Make ch's encoded varbind list match its interfaces (built on first use,
 * again when an interface fell back to 32-bit counters). Returns 0, or -1
 * when the list cannot be encoded (the caller then sends a PDU with
 * varbinds, as for SNMPv3). */
int request_prepare(const struct device *dev, struct chunk *ch);

/* Free ch's encoded varbind list (the chunk itself stays the caller's). */
void request_free(struct chunk *ch);

/* net-snmp's hook_realloc_build for a v1/v2c device's session, whose
 * callback_magic is the device. A GET without varbinds whose request-id is
 * that of one of the device's chunks (ch->reqid) is written from the
 * chunk's encoded list; any other PDU goes through snmp_build(). Writes the
 * message at the start of *buf (reallocated as needed, *buf_len its size)
 * and its length in *offset. Returns 0, or -1 on an encoding failure. */
int request_build_hook(netsnmp_session *sp, netsnmp_pdu *pdu, u_char **buf, size_t *buf_len,
                       size_t *offset);

#endif
