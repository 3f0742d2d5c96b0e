/* lease.h -- collector.shared: several collectors on one inventory, each
 * device polled by exactly one live collector, the one holding its lease
 * in Redis (docs/PROTOCOL.md part 1, "Several collectors").
 *
 * Keys (P = redis.prefix; common/keys.h):
 *   P:cluster:members    ZSET collector.id -> the time (ms, Redis' TIME)
 *                        its membership ends; renewed at every tick,
 *                        pruned of past scores by every member.
 *   P:cluster:inventories HASH collector.id -> a digest of its device
 *                        names: while two members' differ (an inventory
 *                        being rolled out), nothing moves but free devices.
 *   P:cluster:lease:<device>  "<collector.id> <epoch>", PX LEASE_TTL_MS.
 *   P:cluster:epochs     HASH device -> its last epoch (HINCRBY at every
 *                        acquisition: grows on every takeover).
 *   P:cluster:weights    HASH device -> interfaces polled (its owner
 *                        writes it after discovery; 1 while unknown).
 *   P:cluster:inventory  HASH device -> "<collector.id>\n<its entry of
 *                        the inventory snapshot>", written by its owner.
 *   P:cluster:alerts     HASH collector.id -> its active alerts.
 *   P:cluster:version    INCR at every write of the last two.
 *
 * Every LEASE_TICK_MS, on a Redis link of its own (renewals never queue
 * behind the samples on the publisher's link), two scripts:
 *   1. read (Lua): heartbeat (ZADD, prune, our digest), then the members,
 *      their digests, every device's lease and weight, and the version;
 *   2. act (Lua), after assign.c has said who polls what: for each device
 *      renew (PEXPIRE if the value is still ours), release (DEL if still
 *      ours) or acquire (if free, or ours from an earlier life: HINCRBY
 *      the epoch, SET NX PX); returns each device's epoch, 0 when not
 *      (or no longer) ours.
 *
 * Fencing: a lease counts here until (the time the act script was SENT) +
 * LEASE_TTL_MS - LEASE_MARGIN_MS on the monotonic clock. Redis starts the
 * TTL when it runs the script, after we sent it, so we stop before Redis
 * lets another collector in, whatever the hosts' clocks say. Nothing of a
 * device is published past that (poller.c checks at every reading); a
 * device is released here before the release is sent. A collector frozen,
 * killed or cut off from Redis stops within LEASE_TTL_MS; its devices are
 * free LEASE_TTL_MS after its last renewal and taken at the next tick of
 * the collector assign.c names: LEASE_TTL_MS + LEASE_TICK_MS = 2.5 s after
 * a kill -9 at most. A device free at two ticks in a row is taken by
 * whoever sees it, whatever assign.c says (a member named for it may be
 * gone, or read another inventory).
 *
 * The member with the smallest id merges: when the version moved, it
 * writes P:inventory from the parts (every device of its own inventory,
 * with the part of its lease holder, or "unknown" without one) and
 * P:alerts from the live members' parts, and it prunes the events list by
 * age. On SIGTERM a collector releases its leases and leaves at once. */

#ifndef IFMON_COLLECTOR_LEASE_H
#define IFMON_COLLECTOR_LEASE_H

#include <stdint.h>

#include <uv.h>

#include "config.h"

#define LEASE_TICK_MS 250
#define LEASE_TTL_MS 1500
#define LEASE_MARGIN_MS 250

struct lease;
struct output;
struct poller;

struct lease_stats {
    uint64_t held;     /* devices held now */
    uint64_t acquired; /* leases taken (takeovers included) since start */
    uint64_t lost;     /* leases found taken or expired at renewal */
    uint64_t released; /* leases given up to balance the load */
    uint64_t members;  /* live collectors at the last tick */
    int leader;        /* this collector merges the inventory */
};

/* Join the collectors sharing cfg's inventory (cfg->collector.shared). */
struct lease *lease_create(uv_loop_t *loop, struct poller *poller, struct output *out,
                           const struct config *cfg);

/* New Redis settings (SIGHUP). */
void lease_set_config(struct lease *ls, const struct config *cfg);

void lease_stats(const struct lease *ls, struct lease_stats *out);

/* Release every lease held, leave the members, close the link; free after
 * uv_run() returns. */
void lease_close(struct lease *ls);
void lease_free(struct lease *ls);

#endif
