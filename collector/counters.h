/* counters.h -- what a poll asks of each interface and what its answer
 * means: the varbind list of a chunk's GET (sysUpTime.0, then per
 * interface the octet counters, the speed, ifOperStatus and the counter
 * groups the device polls: packets, errors and discards), and the reading
 * of an answer into each interface's counters, speed and status, then
 * rates (rate.c).
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

/* The counter groups of a reading (rate.h's groups), in this order. */
enum counters_group {
    COUNTERS_OCTETS = 0, /* in_bps, out_bps: always polled */
    COUNTERS_PACKETS,    /* in_pps, out_pps: `counters: [packets]` */
    COUNTERS_ERRORS,     /* in_errors_ps, out_errors_ps: `counters: [errors]` */
    COUNTERS_DISCARDS,   /* in_discards_ps, out_discards_ps: `counters: [errors]` */
};

/* What one varbind of an interface asks (counters.c maps each to its
 * RFC 2863 object, 64- or 32-bit). */
enum counters_slot {
    SLOT_IN_OCTETS = 0, /* ifHCInOctets, or ifInOctets */
    SLOT_OUT_OCTETS,
    SLOT_SPEED, /* ifHighSpeed, or ifSpeed */
    SLOT_OPER,  /* ifOperStatus */
    SLOT_IN_UCAST,
    SLOT_IN_MCAST, /* ifHCInMulticastPkts, or ifXTable's Counter32 ifInMulticastPkts */
    SLOT_IN_BCAST,
    SLOT_OUT_UCAST,
    SLOT_OUT_MCAST,
    SLOT_OUT_BCAST,
    SLOT_IN_NUCAST, /* ifInNUcastPkts: agents without ifXTable, SNMPv1 */
    SLOT_OUT_NUCAST,
    SLOT_IN_ERRORS,
    SLOT_OUT_ERRORS,
    SLOT_IN_DISCARDS,
    SLOT_OUT_DISCARDS,
    SLOT_COUNT,
};

/* The most varbinds an interface is asked: octets, speed and status (4),
 * packets (6) and errors and discards (4). */
#define COUNTERS_PER_IFACE_MAX 14

/* Varbinds of chunk ch's poll: sysUpTime.0 and the device's per interface
 * (counters_layout()). */
#define COUNTERS_VARBINDS(ch) (1 + (ch)->count * (size_t)(ch)->dev->layout.vars)

/* Varbinds of an interface that are always asked: in and out octets,
 * speed, ifOperStatus (slot[0 .. 3]). */
#define COUNTERS_BASE_VARS 4

/* What a device asks of each of its interfaces (the same for all): a
 * device's part (device.h), set by counters_layout().
 *
 * In a chunk's GET, after sysUpTime.0, come the other varbinds of each
 * interface in turn (slot[4 ..]), then the four always asked of each
 * interface in turn: an answer is timed by its arrival and an agent reads
 * the varbinds in order, so the bit rates' counters are read closest to
 * that time (a slow agent, snmpsimd at 60 varbinds, spends tens of
 * milliseconds on a request, and its jitter is the rates' error). */
struct counters_layout {
    int vars;                                   /* varbinds per interface */
    unsigned char slot[COUNTERS_PER_IFACE_MAX]; /* enum counters_slot of each */
    int packets_nucast;                         /* packets are ifIn/OutUcastPkts +
                                                 * ifIn/OutNUcastPkts (no ifXTable, v1) */
    unsigned groups;                            /* bit (1 << enum counters_group) per group
                                                 * the configuration polls */
    unsigned missing;                           /* of those, groups the agent lacks (an
                                                 * SNMPv1 noSuchName on them): not asked */
    unsigned dropping;                          /* groups to add to missing at the next
                                                 * plan (counters_replan()) */
};

/* What an interface's poll last said, and the rate state built from it:
 * written by counters_read() (and set up by discovery.c). */
struct iface_reading {
    int width;          /* octets and speed: 64 (ifHC*Octets, ifHighSpeed) or 32 */
    int packets_width;  /* packets: 64 (ifHC*Pkts) or 32 */
    int oper;           /* RFC 2863 ifOperStatus, 0 before the first poll */
    uint64_t speed_bps; /* 0 when unknown */
    struct rate_state rate;
    struct rate_sample sample; /* scratch: the reading being processed */
    int sample_ok;             /* scratch: sample holds at least one group */
};

/* What to publish for one interface of the chunk; res is only valid
 * during the call. */
typedef void (*counters_sample_fn)(void *ctx, struct device *dev, struct iface *ifc,
                                   const struct rate_result *res);

/* Decide what dev's interfaces are asked, from its configuration (which
 * counter groups, SNMP version) and whether its agent has the ifXTable
 * (discovery found ifName). Before the chunks are planned. */
void counters_layout(struct device *dev, int has_ifxtable);

/* The counter width an interface starts with on dev: 64 where the agent
 * has ifXTable and the version has Counter64 (not SNMPv1), else 32. */
int counters_start_width(const struct device *dev, int has_ifxtable);

/* res for an interface that got no reading: `gap` for every group dev
 * polls, RATE_GAP_NOT_POLLED for the others (and RATE_GAP_NO_DATA for a
 * group the agent lacks). */
void counters_gap_result(const struct device *dev, enum rate_gap gap, struct rate_result *res);

/* An SNMPv1 agent answered chunk ch's GET with noSuchName at its varbind
 * errindex (1-based): on v1 one object the agent lacks fails the whole
 * GET. When it is one of the optional groups (packets, errors), the agent
 * is taken not to have that group: it is no longer asked (from the next
 * plan, once the GETs in flight are answered) and its rates stay null with
 * no_data, until a discovery finds another interface list
 * (counters_layout()). Returns 1 then, 0 when it is another object. */
int counters_agent_lacks(struct device *dev, const struct chunk *ch, long errindex);

/* Apply what counters_agent_lacks() found, before the chunks are planned
 * again. */
void counters_replan(struct device *dev);

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
 * caller), as counters_var_name() names them. */
void counters_add_vars(const struct device *dev, const struct chunk *ch, netsnmp_pdu *pdu);

/* Fill vars (room for max) from net-snmp's varbind list of an answer to
 * chunk ch's poll, comparing each name with the one asked at its
 * position; returns how many were filled. list stays the caller's. */
size_t counters_vars_from_list(const struct device *dev, const struct chunk *ch,
                               const netsnmp_variable_list *list, struct ber_var *vars, size_t max);

/* Account the n varbinds of an answer to chunk ch's poll that carried no
 * error status, received at now_ns (uv_hrtime() clock). Varbinds are taken
 * by position, as counters_var_name() asked them: a group with a varbind
 * that is missing, was not the name asked, or is not a number is a
 * RATE_GAP_NO_DATA for that group alone (and a group of 64-bit counters
 * falls back to 32-bit ones when the interface is there: RFC 2863 lets an
 * agent leave them out). Updates each interface's reading and rate state,
 * sets dev->need_discovery when an ifIndex is gone or the agent restarted,
 * and calls sample once per interface of the chunk, in order. vars stays
 * the caller's and is not kept. */
void counters_read(struct device *dev, const struct chunk *ch, const struct ber_var *vars, size_t n,
                   uint64_t now_ns, counters_sample_fn sample, void *ctx);

#endif
