/* history_private.h -- what the two files of the history hand-off share:
 * history.c (one subscription's hand-off: what is held, the floors, the
 * frames, the walk through a pattern's channels) and history_reads.c (the
 * gateway's LRANGEs, one in flight per channel and shared by every
 * subscription that needs it, each reply parsed once; the budgets of a
 * request and of a connection they are paid from). Internal to the
 * gateway; the interface is history.h.
 *
 * Ownership. A fetch is owned by the Redis replies still due, not by the
 * subscription: a subscription that goes away only detaches it (fetch->h
 * = NULL), and the last reply frees it. A budget is shared by the fetches
 * of one subscribe request and freed with the last of them; a bucket is
 * the connection's and each budget holds a reference. An LRANGE is owned
 * by its reply; the items it answers belong to their fetches, which wait
 * for it (each counts it in `outstanding`). */

#ifndef IFMON_GATEWAY_HISTORY_PRIVATE_H
#define IFMON_GATEWAY_HISTORY_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "chantable.h"
#include "history.h"
#include "outmsg.h"

struct history_bucket {
    unsigned refs;
    double tokens;
    uint64_t last_ms; /* the caller's clock at the last refill */
    int started;
};

struct history_budget {
    unsigned refs;
    size_t samples_left;           /* not yet reserved by an LRANGE */
    size_t bytes_left;             /* of history frames */
    struct history_bucket *bucket; /* the connection's (a reference), or NULL */
};

struct history_registry {
    struct gateway *gw;
    struct chantable shares; /* history_reads.c's shares, by channel */
    uint64_t sent;           /* LRANGEs sent so far: each one's `seq` */
    struct history_stats st;
};

enum history_item_state {
    HISTORY_ITEM_QUEUED, /* not asked yet: its live messages are held */
    HISTORY_ITEM_ASKED,  /* LRANGE in flight or waited for: held too */
    HISTORY_ITEM_SENT,   /* its frame went out: live, past its floor */
    HISTORY_ITEM_NONE,   /* no frame (no reply, or past the cap): live */
};

/* One channel's history within a fetch. */
struct history_item {
    struct history_fetch *fetch;
    char *channel;
    enum history_item_state state;
    size_t reserved; /* ASKED: samples reserved from the budget and the bucket */
    int has_ts;      /* SENT: newest_ts is the history's newest `ts` */
    double newest_ts;
    int floor_active;                /* SENT: live messages up to newest_ts are duplicates */
    struct history_item *share_next; /* ASKED: in its LRANGE's or its share's list */
};

struct history_fetch {
    struct history *h; /* NULL once the subscription went away */
    struct history_registry *reg;
    struct gateway *gw;
    const char *name; /* the subscription's (borrowed: used only while h is set) */
    int pattern;
    const struct history_hooks *hooks;
    void *ctx;
    struct history_budget *budget; /* a reference */
    uint64_t start_seq;            /* reg->sent when it started: later LRANGEs may be shared */
    size_t outstanding;            /* replies due, plus one while starting */
    int listed;                    /* items is final (and sorted by channel) */
    struct history_item *items;
    size_t nitems;
    size_t next;     /* first item not asked yet */
    size_t inflight; /* items asked, not answered yet */
    size_t skipped;  /* pattern channels past the cap: no frame */
};

/* An LRANGE reply read once for all the items it answers: which elements
 * are samples (JSON objects), and their `ts`. The one parse of the stored
 * text. The last frame built is kept: items that cut the same samples
 * share it. */
struct history_reading {
    const redisReply *reply;
    int done;
    unsigned char *valid, *has_ts;
    double *ts;
    struct outmsg *frame; /* the last frame built (a reference), or NULL */
    size_t frame_first;
    int frame_truncated;
};

/* history_reads.c: samples the next LRANGE may ask for: what the request
 * and the connection both have left. */
size_t history_budget_samples(const struct history_budget *b);
/* history_reads.c: put back n samples in a connection's bucket (never
 * above HISTORY_CONN_BURST). */
void history_bucket_give_back(struct history_bucket *b, size_t n);
/* history_reads.c: parse r->reply (once; r->done says it was). */
void history_reading_parse(struct history_reading *r);

/* history_reads.c: ask for item's newest n samples: with the LRANGE of
 * the channel in flight when it was sent after this fetch started and
 * asks for as many (history.h: no gap), else with the next one; a new
 * LRANGE when none is in flight. The item is answered later, through
 * history_item_answered(), never before this returns. 0, or -1 when
 * Redis cannot be asked (nothing kept). */
int history_reads_ask(struct history_fetch *fetch, struct history_item *item, size_t n);

/* history.c: an item asked for is answered: by its LRANGE's reply (r,
 * which asked for the newest `asked` samples), or by NULL (no reply: Redis
 * unavailable, or its subscription went away before its LRANGE was sent).
 * May free item's fetch. */
void history_item_answered(struct history_item *item, struct history_reading *r, size_t asked);

#endif
