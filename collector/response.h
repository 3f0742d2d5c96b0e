/* response.h -- the varbinds of a poll: what one GET asks for a chunk of
 * interfaces, and how its answer becomes one rate result per interface.
 * No I/O and no session, so that made-up answers can be fed to it
 * (tests/fuzz/fuzz_snmp.c); sending and receiving is poller.c's job. */

#ifndef IFMON_COLLECTOR_RESPONSE_H
#define IFMON_COLLECTOR_RESPONSE_H

#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "device.h"
#include "rate.h"

/* Varbinds per interface after the leading sysUpTime.0: in octets, out
 * octets, speed, ifOperStatus. */
#define RESPONSE_VARBINDS_PER_IFACE 4

/* What to publish for one interface of the chunk; res is only valid
 * during the call. */
typedef void (*response_sample_fn)(void *ctx, struct device *dev, struct iface *ifc,
                                   const struct rate_result *res);

/* One varbind of an answer, as reading it needs: decoded from the datagram
 * by request.c (v1/v2c) or taken from net-snmp's PDU (v3). */
struct response_var {
    unsigned char type;    /* ASN_COUNTER64, ..., SNMP_NOSUCHINSTANCE */
    unsigned char asked;   /* its name is the one asked at this position */
    unsigned char numeric; /* value holds it: an unsigned type, or INTEGER >= 0 */
    uint64_t value;        /* 32-bit types: the low 32 bits, as net-snmp */
};

/* Varbinds of chunk ch's poll: sysUpTime.0 and four per interface. */
#define RESPONSE_VARBINDS(ch) (1 + (ch)->count * RESPONSE_VARBINDS_PER_IFACE)

/* The name of varbind k (0 .. RESPONSE_VARBINDS(ch) - 1) of chunk ch's
 * poll, in the order below, written to name (room for 12 subidentifiers);
 * returns its length. */
size_t response_var_name(const struct device *dev, const struct chunk *ch, size_t k, oid *name);

/* Append the varbinds of chunk ch's poll to pdu (a GET, owned by the
 * caller): sysUpTime.0, then per interface ifHCInOctets, ifHCOutOctets,
 * ifHighSpeed (width 64) or ifInOctets, ifOutOctets, ifSpeed (width 32),
 * and ifOperStatus. */
void response_add_vars(const struct device *dev, const struct chunk *ch, netsnmp_pdu *pdu);

/* Fill vars (room for max) from net-snmp's varbind list of an answer to
 * chunk ch's poll, comparing each name with the one asked at its position;
 * returns how many were filled. list stays the caller's. */
size_t response_vars_from_list(const struct device *dev, const struct chunk *ch,
                               const netsnmp_variable_list *list, struct response_var *vars,
                               size_t max);

/* Account the n varbinds of an answer to chunk ch's poll that carried no
 * error status, received at now_ns (uv_hrtime() clock). Varbinds are taken
 * by position, as response_add_vars asked them: one that is missing, was
 * not the name asked, or is not a number is a RATE_GAP_NO_DATA for its
 * interface. Updates each interface's oper, speed, width and rate state,
 * sets dev->need_discovery when an ifIndex is gone or the agent restarted,
 * and calls sample once per interface of the chunk, in order. vars stays
 * the caller's and is not kept. */
void response_read(struct device *dev, const struct chunk *ch, const struct response_var *vars,
                   size_t n, uint64_t now_ns, response_sample_fn sample, void *ctx);

#endif
