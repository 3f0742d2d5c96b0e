/* history.h -- the hand-off from a subscription's stored history to its
 * live data (docs/PROTOCOL.md, part 2, "History, then live data"): no
 * gap and no duplicate between the two.
 *
 * For an interface channel the history is its list
 * `<prefix>:history:<device>:<interface>` (one LRANGE); for a pattern, the
 * lists of the inventory's interface channels it matches (a GET of
 * `<prefix>:inventory`, then one LRANGE each). Each list becomes one
 * history frame. While the queries run, the subscription's live messages
 * are held here; when every reply is in, the frames go out, then the held
 * messages newer than their channel's history, and the subscription is
 * live. A live message not newer than the history may still arrive after
 * that (it was in flight on the subscriber connection when the LRANGE
 * reply was read): each channel keeps a "floor", the newest `ts` of its
 * history, until its first newer message passes. `ts` strictly increases
 * per interface (docs/PROTOCOL.md, part 1).
 *
 * fanout.c decides when to start (once the Redis subscription is
 * confirmed, see the top of fanout.c) and routes each live message
 * through history_admit(). This file knows nothing of connections. */

#ifndef IFMON_GATEWAY_HISTORY_H
#define IFMON_GATEWAY_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway.h"
#include "outmsg.h"

/* Live messages held per subscription while its history is fetched; past
 * this the oldest held is dropped (and counted). */
#define HISTORY_HOLD_MAX 1024

enum history_state {
    HISTORY_LIVE = 0, /* handed over, or no history wanted: messages pass (floors aside) */
    HISTORY_WAITING,  /* wanted; waiting for history_fetch(); messages are held */
    HISTORY_FETCHING, /* queries in flight; messages are held */
};

/* Who gets the hand-off. Neither callback may start, release or fetch
 * a history. */
struct history_hooks {
    /* Hand a frame or a held message to the subscriber; the callee takes
     * its own reference if it keeps it. */
    void (*deliver)(void *ctx, struct outmsg *m);
    /* 1 when the subscriber holds `channel` as an exact subscription (it
     * got that channel's history then): a pattern leaves it out. */
    int (*holds_exactly)(void *ctx, const char *channel);
};

struct history_fetch;
struct history_floor;

/* One subscription's hand-off, embedded in the subscription. */
struct history {
    enum history_state state;
    struct history_fetch *fetch; /* FETCHING: the queries in flight */
    struct outmsg **held;        /* live messages kept, oldest first */
    size_t nheld;
    struct history_floor *floors; /* sorted by channel */
    size_t nfloors, floors_active;
};

/* Prepare h: HISTORY_WAITING when the subscription wants a history (an
 * interface channel or a pattern), HISTORY_LIVE otherwise (device state
 * and inventory channels keep none). */
void history_init(struct history *h, int wanted);

/* Start the queries for a HISTORY_WAITING subscription: an LRANGE for
 * `name`, an interface channel, or for a pattern the inventory's matching
 * interface channels. `name` is borrowed until history_release();
 * hooks/ctx are used until the hand-off is done or h is released. A query
 * Redis cannot take (the query connection is down) or that fails gives no
 * frame: with none at all the subscription goes live without history,
 * delivering what it held. The frames and held messages may be delivered
 * before this returns. */
void history_fetch(struct history *h, struct gateway *gw, const char *name, int pattern,
                   const struct history_hooks *hooks, void *ctx);

/* The slow path of history_admit(). */
int history_admit_held_or_floor(struct history *h, struct outmsg *m, uint64_t *dropped);

/* A live message of the subscription: 1 when it is to be delivered now;
 * 0 when it is held for later (a held message dropped to make room is
 * added to *dropped) or is already in the history sent. */
static inline int history_admit(struct history *h, struct outmsg *m, uint64_t *dropped)
{
    if (h->state == HISTORY_LIVE && h->floors_active == 0)
        return 1;
    return history_admit_held_or_floor(h, m, dropped);
}

/* The subscription goes away: cancel the queries (their replies are
 * ignored when they come), drop what is held and the floors. */
void history_release(struct history *h);

/* The collector's `ts` of a sample (docs/PROTOCOL.md, part 1), when it
 * has a number there: 1 and *ts set, else 0. */
int history_sample_ts(const json_t *sample, double *ts);

#endif
