/* counters.h -- what a poll asks of each interface and what its answer
 * means: the varbind list of a chunk's GET (sysUpTime.0, then per
 * interface the octet counters, the speed and ifOperStatus), and the
 * reading of an answer into each interface's counters, speed and status,
 * then rates (rate.c).
 *
 * No I/O and no session, so that made-up answers can be fed to it
 * (tests/fuzz/fuzz_snmp.c, fuzz_answer.c); sending and receiving is
 * direct_poll.c's (v1/v2c) or session.c's (v3) job. */

#ifndef IFMON_COLLECTOR_COUNTERS_H
#define IFMON_COLLECTOR_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "ber.h"
#include "rate.h"

struct device;
struct iface;
struct chunk;

/* Varbinds per interface after the leading sysUpTime.0: in octets, out
 * octets, speed, ifOperStatus. */
#define COUNTERS_PER_IFACE 4

/* Varbinds of chunk ch's poll: sysUpTime.0 and four per interface. */
#define COUNTERS_VARBINDS(ch) (1 + (ch)->count * COUNTERS_PER_IFACE)

/* What an interface's poll last said, and the rate state built from it:
 * written by counters_read() (and set up by discovery.c). */
struct iface_reading {
    int width;          /* counter width: 64 (ifHC*Octets) or 32 */
    int oper;           /* RFC 2863 ifOperStatus, 0 before the first poll */
    uint64_t speed_bps; /* 0 when unknown */
    struct rate_state rate;
    struct rate_sample sample; /* scratch: the reading being processed */
    int sample_ok;             /* scratch: sample holds both counters */
};

/* What to publish for one interface of the chunk; res is only valid
 * during the call. */
typedef void (*counters_sample_fn)(void *ctx, struct device *dev, struct iface *ifc,
                                   const struct rate_result *res);

/* The name of varbind k (0 .. COUNTERS_VARBINDS(ch) - 1) of chunk ch's
 * poll, in the order above, written to name (room for BER_NAME_MAX
 * subidentifiers); returns its length. */
size_t counters_var_name(const struct device *dev, const struct chunk *ch, size_t k, oid *name);

/* Make chunk ch's encoded GET (ch->get) ask what its interfaces need now:
 * encoded on first use, again when an interface fell back to 32-bit
 * counters; community is the device's. Returns 0, or -1 when out of
 * memory. */
int counters_prepare_get(const struct device *dev, struct chunk *ch, const char *community);

/* Append the varbinds of chunk ch's poll to pdu (a GET, owned by the
 * caller): sysUpTime.0, then per interface ifHCInOctets, ifHCOutOctets,
 * ifHighSpeed (width 64) or ifInOctets, ifOutOctets, ifSpeed (width 32),
 * and ifOperStatus. */
void counters_add_vars(const struct device *dev, const struct chunk *ch, netsnmp_pdu *pdu);

/* Fill vars (room for max) from net-snmp's varbind list of an answer to
 * chunk ch's poll, comparing each name with the one asked at its
 * position; returns how many were filled. list stays the caller's. */
size_t counters_vars_from_list(const struct device *dev, const struct chunk *ch,
                               const netsnmp_variable_list *list, struct ber_var *vars, size_t max);

/* Account the n varbinds of an answer to chunk ch's poll that carried no
 * error status, received at now_ns (uv_hrtime() clock). Varbinds are taken
 * by position, as counters_var_name() asked them: one that is missing, was
 * not the name asked, or is not a number is a RATE_GAP_NO_DATA for its
 * interface. Updates each interface's reading and rate state, sets
 * dev->need_discovery when an ifIndex is gone or the agent restarted, and
 * calls sample once per interface of the chunk, in order. vars stays the
 * caller's and is not kept. */
void counters_read(struct device *dev, const struct chunk *ch, const struct ber_var *vars, size_t n,
                   uint64_t now_ns, counters_sample_fn sample, void *ctx);

#endif
