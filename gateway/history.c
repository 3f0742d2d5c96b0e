/* history.c -- see history.h. A fetch is owned by the Redis replies still
 * due, not by the subscription: a subscription that goes away only
 * detaches it (fetch->h = NULL), and the last reply frees it. A budget is
 * shared by the fetches of one subscribe request and freed with the last
 * of them; a bucket is the connection's and each budget holds a
 * reference. An LRANGE (struct lrange) is owned by its reply; the items
 * it answers belong to their fetches, which wait for it (each counts it
 * in `outstanding`), and so does a share (one channel's LRANGE in flight
 * and the items waiting for the next one), freed when it has neither. */

#include "history.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "chantable.h"
#include "inventory.h"
#include "invscan.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "pubsub.h"
#include "util.h"

struct history_floor {
    char *channel;
    double ts;
    int active;
};

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
    struct chantable shares; /* struct share by channel */
    uint64_t sent;           /* LRANGEs sent so far: each one's `seq` */
    struct history_stats st;
};

enum item_state {
    ITEM_QUEUED, /* not asked yet: its live messages are held */
    ITEM_ASKED,  /* LRANGE in flight or waited for: held too */
    ITEM_SENT,   /* its frame went out: live, past its floor */
    ITEM_NONE,   /* no frame (no reply, or past the cap): live */
};

/* One channel's history within a fetch. */
struct fetch_item {
    struct history_fetch *fetch;
    char *channel;
    enum item_state state;
    size_t reserved; /* ASKED: samples reserved from the budget and the bucket */
    int has_ts;      /* SENT: newest_ts is the history's newest `ts` */
    double newest_ts;
    int floor_active;              /* SENT: live messages up to newest_ts are duplicates */
    struct fetch_item *share_next; /* ASKED: in its LRANGE's or its share's list */
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
    struct fetch_item *items;
    size_t nitems;
    size_t next;     /* first item not asked yet */
    size_t inflight; /* items asked, not answered yet */
    size_t skipped;  /* pattern channels past the cap: no frame */
};

/* One channel's LRANGEs: the one in flight, and the items waiting for the
 * next one. */
struct share {
    struct chantable_entry node; /* key: channel */
    struct history_registry *reg;
    char *channel;
    struct lrange *inflight;
    struct fetch_item *waiting, *waiting_tail;
};

/* An LRANGE sent, and the items its reply answers. */
struct lrange {
    struct share *share;
    uint64_t seq; /* its place among the registry's LRANGEs */
    size_t asked; /* the newest `asked` samples */
    struct fetch_item *items, *items_tail;
};

/* ---------------------------------------------------- budgets, buckets */

struct history_bucket *history_bucket_new(void)
{
    struct history_bucket *b = ifmon_xcalloc(1, sizeof(*b));

    b->refs = 1;
    b->tokens = HISTORY_CONN_BURST;
    return b;
}

struct history_bucket *history_bucket_ref(struct history_bucket *b)
{
    b->refs++;
    return b;
}

void history_bucket_unref(struct history_bucket *b)
{
    if (b == NULL)
        return;
    IFMON_ASSERT(b->refs > 0);
    if (--b->refs == 0)
        free(b);
}

void history_bucket_refill(struct history_bucket *b, uint64_t now_ms)
{
    if (!b->started) {
        b->started = 1;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * HISTORY_CONN_RATE / 1000.0;
        if (b->tokens > HISTORY_CONN_BURST)
            b->tokens = HISTORY_CONN_BURST;
        b->last_ms = now_ms;
    }
}

size_t history_bucket_level(const struct history_bucket *b)
{
    return b->tokens >= 1.0 ? (size_t)b->tokens : 0;
}

static void bucket_give_back(struct history_bucket *b, size_t n)
{
    b->tokens += (double)n;
    if (b->tokens > HISTORY_CONN_BURST)
        b->tokens = HISTORY_CONN_BURST;
}

struct history_budget *history_budget_new(size_t max_samples, size_t max_bytes,
                                          struct history_bucket *bucket)
{
    struct history_budget *b = ifmon_xcalloc(1, sizeof(*b));

    b->refs = 1;
    b->samples_left = max_samples;
    b->bytes_left = max_bytes;
    b->bucket = bucket ? history_bucket_ref(bucket) : NULL;
    return b;
}

struct history_budget *history_budget_ref(struct history_budget *b)
{
    b->refs++;
    return b;
}

void history_budget_unref(struct history_budget *b)
{
    if (b == NULL)
        return;
    IFMON_ASSERT(b->refs > 0);
    if (--b->refs == 0) {
        history_bucket_unref(b->bucket);
        free(b);
    }
}

/* Samples the next LRANGE may ask for: what the request and the
 * connection both have left. */
static size_t budget_samples(const struct history_budget *b)
{
    size_t n = b->samples_left;

    if (b->bucket && history_bucket_level(b->bucket) < n)
        n = history_bucket_level(b->bucket);
    return n;
}

/* ------------------------------------------------------ held and floors */

static void hold(struct history *h, struct outmsg *m, uint64_t *dropped)
{
    if (h->held == NULL)
        h->held = ifmon_xcalloc(HISTORY_HOLD_MAX, sizeof(*h->held));
    if (h->nheld == HISTORY_HOLD_MAX) {
        outmsg_unref(h->held[0]);
        memmove(h->held, h->held + 1, (HISTORY_HOLD_MAX - 1) * sizeof(*h->held));
        h->nheld--;
        (*dropped)++;
    }
    h->held[h->nheld++] = outmsg_ref(m);
}

static void drop_held(struct history *h)
{
    size_t i;

    for (i = 0; i < h->nheld; i++)
        outmsg_unref(h->held[i]);
    free(h->held);
    h->held = NULL;
    h->nheld = 0;
}

static void drop_floors(struct history *h)
{
    size_t i;

    for (i = 0; i < h->nfloors; i++)
        free(h->floors[i].channel);
    free(h->floors);
    h->floors = NULL;
    h->nfloors = h->floors_active = 0;
}

static int cmp_floor_key(const void *key, const void *elem)
{
    const struct history_floor *fl = elem;

    return strcmp(key, fl->channel);
}

/* 1 when m is not already in the history sent; a channel's floor goes
 * with its first newer message. */
static int pass_floor(struct history *h, const struct outmsg *m)
{
    struct history_floor *fl;

    if (h->floors_active == 0)
        return 1;
    fl = bsearch(m->channel, h->floors, h->nfloors, sizeof(*fl), cmp_floor_key);
    if (fl == NULL || !fl->active)
        return 1;
    if (m->has_ts && m->ts <= fl->ts)
        return 0;
    fl->active = 0;
    if (--h->floors_active == 0)
        drop_floors(h);
    return 1;
}

/* What to do with a live message of a fetching subscription. */
enum verdict { HOLD, DELIVER, DUPLICATE };

static int cmp_item_key(const void *key, const void *elem)
{
    const struct fetch_item *item = elem;

    return strcmp(key, item->channel);
}

static int cmp_item(const void *a, const void *b)
{
    const struct fetch_item *x = a, *y = b;

    return strcmp(x->channel, y->channel);
}

static enum verdict judge(struct history_fetch *fetch, const struct outmsg *m)
{
    struct fetch_item *item;

    if (!fetch->listed)
        return HOLD;
    if (m->channel == NULL || fetch->nitems == 0)
        return DELIVER;
    item = bsearch(m->channel, fetch->items, fetch->nitems, sizeof(*item), cmp_item_key);
    if (item == NULL)
        return DELIVER; /* no history coming for it */
    switch (item->state) {
    case ITEM_QUEUED:
    case ITEM_ASKED:
        return HOLD;
    case ITEM_NONE:
        return DELIVER;
    case ITEM_SENT:
        break;
    }
    if (!item->floor_active)
        return DELIVER;
    if (m->has_ts && m->ts <= item->newest_ts)
        return DUPLICATE;
    item->floor_active = 0;
    return DELIVER;
}

/* Run what is held through judge() again after items changed state:
 * deliver (in order) what may go now, keep the rest. */
static void replay_held(struct history_fetch *fetch)
{
    struct history *h = fetch->h;
    size_t i, kept = 0;

    for (i = 0; i < h->nheld; i++) {
        struct outmsg *m = h->held[i];

        switch (judge(fetch, m)) {
        case HOLD:
            h->held[kept++] = m;
            continue;
        case DELIVER:
            fetch->hooks->deliver(fetch->ctx, m);
            break;
        case DUPLICATE:
            break;
        }
        outmsg_unref(m);
    }
    h->nheld = kept;
}

int history_admit_held_or_floor(struct history *h, struct outmsg *m, uint64_t *dropped)
{
    if (h->state == HISTORY_LIVE)
        return pass_floor(h, m);
    if (h->state == HISTORY_FETCHING) {
        switch (judge(h->fetch, m)) {
        case DELIVER:
            return 1;
        case DUPLICATE:
            return 0;
        case HOLD:
            break;
        }
    }
    hold(h, m, dropped);
    return 0;
}

/* ------------------------------------------------------------- frames */

int history_sample_ts(const json_t *sample, double *ts)
{
    json_t *v = json_object_get(sample, "ts");

    if (!json_is_number(v))
        return 0;
    *ts = json_number_value(v);
    return 1;
}

/* An LRANGE reply read once for all the items it answers: which elements
 * are samples (JSON objects), and their `ts`. The one parse of the stored
 * text. The last frame built is kept: items that cut the same samples
 * share it. */
struct reading {
    const redisReply *reply;
    int done;
    unsigned char *valid, *has_ts;
    double *ts;
    struct outmsg *frame; /* the last frame built (a reference), or NULL */
    size_t frame_first;
    int frame_truncated;
};

static void reading_parse(struct reading *r)
{
    const redisReply *reply = r->reply;
    size_t i, n = reply->elements;

    r->done = 1;
    r->valid = ifmon_xcalloc(n + 1, 1);
    r->has_ts = ifmon_xcalloc(n + 1, 1);
    r->ts = ifmon_xcalloc(n + 1, sizeof(*r->ts));
    for (i = 0; i < n; i++) {
        const redisReply *el = reply->element[i];
        json_t *sample;

        if (el->type != REDIS_REPLY_STRING)
            continue;
        sample = json_loadb(el->str, el->len, 0, NULL);
        if (json_is_object(sample)) {
            r->valid[i] = 1;
            r->has_ts[i] = (unsigned char)history_sample_ts(sample, &r->ts[i]);
        }
        json_decref(sample);
    }
}

static void reading_free(struct reading *r)
{
    free(r->valid);
    free(r->has_ts);
    free(r->ts);
    outmsg_unref(r->frame);
}

/* Turn an LRANGE reply (which asked for the newest `asked` samples) into
 * item's {"channel":C,"history":[...]} and send it: of the newest
 * item->reserved samples, those that are JSON objects, oldest first,
 * embedded as they are. Within the budget's bytes: when they do not all
 * fit, the newest that fit, and the frame says "truncated":true (also
 * when fewer than a full list were asked for and the list has more).
 * Returns 0 when a frame was sent, -1 when none was: a channel that is not
 * valid UTF-8 (it could not be named in JSON as it is), or a pattern's
 * channel with no byte left. */
static int send_frame(struct history_fetch *fetch, struct fetch_item *item, struct reading *r,
                      size_t asked)
{
    static const char head[] = "{\"channel\":", mid[] = ",\"history\":[", tail[] = "]}",
                      cut[] = "],\"truncated\":true}";
    const redisReply *reply = r->reply;
    struct history_budget *b = fetch->budget;
    size_t history = (size_t)fetch->gw->cfg->redis.history, total = reply->elements;
    size_t qlen, replaced, i, len, n, first, base, kept = 0;
    char *quoted = ifmon_json_quote(item->channel, strlen(item->channel), &qlen, &replaced);
    struct outmsg *frame;
    int truncated;
    char *text;

    if (replaced > 0) {
        free(quoted);
        return -1;
    }
    if (!r->done)
        reading_parse(r);
    /* This item's samples: the newest `reserved` of the reply. */
    base = total > item->reserved ? total - item->reserved : 0;
    /* Fewer than a full list asked for, and the list has more (or may). */
    truncated = item->reserved < history &&
                (total > item->reserved || (total == item->reserved && asked == item->reserved));
    item->has_ts = 0;
    for (i = total; i > base; i--)
        if (r->valid[i - 1] && r->has_ts[i - 1]) {
            item->has_ts = 1;
            item->newest_ts = r->ts[i - 1];
            break;
        }
    /* The newest samples that fit the bytes left, the frame around them
     * included. */
    len = sizeof(head) - 1 + qlen + sizeof(mid) - 1 + sizeof(cut) - 1;
    first = total;
    while (first > base) {
        const redisReply *el = reply->element[first - 1];

        if (r->valid[first - 1]) {
            if (len + el->len + 1 > b->bytes_left)
                break;
            len += el->len + 1;
            kept++;
        }
        first--;
    }
    for (i = base; i < first; i++)
        if (r->valid[i]) {
            truncated = 1; /* a valid sample did not fit */
            break;
        }
    if (truncated && kept == 0) {
        /* Nothing fits: the budget is spent, and with no sample sent
         * there is no floor (the held messages are all news). */
        b->bytes_left = 0;
        b->samples_left = 0;
        item->has_ts = 0;
        if (fetch->pattern) {
            free(quoted);
            return -1;
        }
    }
    if (r->frame && r->frame_first == first && r->frame_truncated == truncated &&
        r->frame->has_ts == item->has_ts && (!item->has_ts || r->frame->ts == item->newest_ts)) {
        /* Another subscription's frame of the same samples. */
        frame = outmsg_ref(r->frame);
        n = frame->len;
    } else {
        frame = outmsg_new(OUTMSG_HISTORY, item->channel, len);
        text = outmsg_text(frame);
        memcpy(text, head, sizeof(head) - 1);
        n = sizeof(head) - 1;
        memcpy(text + n, quoted, qlen);
        n += qlen;
        memcpy(text + n, mid, sizeof(mid) - 1);
        n += sizeof(mid) - 1;
        for (i = first; i < total; i++) {
            const redisReply *el = reply->element[i];

            if (!r->valid[i])
                continue;
            if (text[n - 1] != '[')
                text[n++] = ',';
            memcpy(text + n, el->str, el->len);
            n += el->len;
        }
        if (truncated) {
            memcpy(text + n, cut, sizeof(cut));
            n += sizeof(cut) - 1;
        } else {
            memcpy(text + n, tail, sizeof(tail));
            n += sizeof(tail) - 1;
        }
        IFMON_ASSERT(n <= len);
        frame->len = n;
        frame->has_ts = item->has_ts;
        frame->ts = item->newest_ts;
        outmsg_unref(r->frame);
        r->frame = outmsg_ref(frame);
        r->frame_first = first;
        r->frame_truncated = truncated;
    }
    b->bytes_left = n < b->bytes_left ? b->bytes_left - n : 0;
    if (first > base && truncated) {
        /* Cut for bytes: nothing more fits this request. */
        b->bytes_left = 0;
        b->samples_left = 0;
    }
    fetch->hooks->deliver(fetch->ctx, frame);
    outmsg_unref(frame);
    free(quoted);
    return 0;
}

/* {"channel":C,"history":[],"truncated":true}: an exact channel always
 * gets a frame, an empty one when the request's budget is spent. */
static void send_empty_truncated(struct history_fetch *fetch, struct fetch_item *item)
{
    static const char head[] = "{\"channel\":", tail[] = ",\"history\":[],\"truncated\":true}";
    size_t qlen, replaced;
    char *quoted = ifmon_json_quote(item->channel, strlen(item->channel), &qlen, &replaced);
    struct outmsg *frame;

    if (replaced == 0) {
        frame =
            outmsg_new(OUTMSG_HISTORY, item->channel, sizeof(head) - 1 + qlen + sizeof(tail) - 1);
        memcpy(outmsg_text(frame), head, sizeof(head) - 1);
        memcpy(outmsg_text(frame) + sizeof(head) - 1, quoted, qlen);
        memcpy(outmsg_text(frame) + sizeof(head) - 1 + qlen, tail, sizeof(tail) - 1);
        fetch->hooks->deliver(fetch->ctx, frame);
        outmsg_unref(frame);
    }
    free(quoted);
}

/* {"op":"history_truncated","channel":P,"skipped":N}: the pattern's
 * channels past the request's cap, which start with live data. */
static void send_skipped_notice(struct history_fetch *fetch)
{
    size_t qlen, replaced;
    char *quoted = ifmon_json_quote(fetch->name, strlen(fetch->name), &qlen, &replaced);
    size_t size = qlen + 96;
    struct outmsg *m = outmsg_new(OUTMSG_REPLY, NULL, size);
    int n = snprintf(outmsg_text(m), size + 1,
                     "{\"op\":\"history_truncated\",\"channel\":%s,\"skipped\":%zu}", quoted,
                     fetch->skipped);

    IFMON_ASSERT(n > 0 && (size_t)n <= size);
    m->len = (size_t)n;
    fetch->hooks->deliver(fetch->ctx, m);
    outmsg_unref(m);
    free(quoted);
}

/* ------------------------------------------------------------- fetches */

static void fetch_free(struct history_fetch *fetch)
{
    size_t i;

    for (i = 0; i < fetch->nitems; i++)
        free(fetch->items[i].channel);
    free(fetch->items);
    history_budget_unref(fetch->budget);
    free(fetch);
}

/* Every item is done: keep the floors still active, send the notice of a
 * cut pattern, and go live. */
static void fetch_complete(struct history_fetch *fetch)
{
    struct history *h = fetch->h;
    size_t i;

    replay_held(fetch);
    IFMON_ASSERT(h->nheld == 0); /* every item is SENT or NONE */
    drop_held(h);
    drop_floors(h);
    for (i = 0; i < fetch->nitems; i++)
        h->nfloors += fetch->items[i].state == ITEM_SENT && fetch->items[i].floor_active;
    if (h->nfloors) {
        h->floors = ifmon_xcalloc(h->nfloors, sizeof(*h->floors));
        h->nfloors = 0;
        /* items are sorted by channel: so are the floors */
        for (i = 0; i < fetch->nitems; i++) {
            struct fetch_item *item = &fetch->items[i];

            if (item->state != ITEM_SENT || !item->floor_active)
                continue;
            h->floors[h->nfloors].channel = item->channel;
            h->floors[h->nfloors].ts = item->newest_ts;
            h->floors[h->nfloors].active = 1;
            h->nfloors++;
            item->channel = NULL; /* moved */
        }
    }
    h->floors_active = h->nfloors;
    if (fetch->skipped)
        send_skipped_notice(fetch);
    h->state = HISTORY_LIVE;
    h->fetch = NULL;
    fetch->h = NULL;
}

/* ---------------------------------------------------------------- shares */

static void on_lrange(void *arg, redisReply *reply);
static void settle(struct history_fetch *fetch);

static struct share *share_get(struct history_registry *reg, const char *channel)
{
    struct chantable_entry *node = chantable_find(&reg->shares, channel, strlen(channel));
    struct share *sh;

    if (node)
        return CHANTABLE_CONTAINER(node, struct share, node);
    sh = ifmon_xcalloc(1, sizeof(*sh));
    sh->reg = reg;
    sh->channel = ifmon_xstrdup(channel);
    sh->node.key = sh->channel;
    sh->node.key_len = strlen(sh->channel);
    chantable_add(&reg->shares, &sh->node);
    return sh;
}

static void share_maybe_free(struct share *sh)
{
    if (sh->inflight || sh->waiting)
        return;
    chantable_remove(&sh->reg->shares, &sh->node);
    free(sh->channel);
    free(sh);
}

static void append(struct fetch_item **head, struct fetch_item **tail, struct fetch_item *item)
{
    item->share_next = NULL;
    if (*tail)
        (*tail)->share_next = item;
    else
        *head = item;
    *tail = item;
}

/* Send lr (its items and `asked` set) as the share's LRANGE in flight.
 * 0, or -1 when the query connection cannot take it (lr is not kept). */
static int lrange_send(struct share *sh, struct lrange *lr)
{
    struct history_registry *reg = sh->reg;
    struct ifmon_key key;

    /* pump() asks only for channels that have a history key. */
    if (ifmon_key_history_of(&key, reg->gw->cfg->redis.prefix, sh->channel) < 0 ||
        pubsub_lrange(reg->gw->pubsub, key.s, -(long)lr->asked, -1, on_lrange, lr) < 0)
        return -1;
    lr->seq = ++reg->sent;
    reg->st.lranges++;
    sh->inflight = lr;
    return 0;
}

/* An item asked for is answered: by its LRANGE's reply, or by NULL (no
 * reply: Redis unavailable, or its subscription went away before its
 * LRANGE was sent). What it reserved and did not get goes back. */
static void item_answered(struct fetch_item *item, struct reading *r, size_t asked)
{
    struct history_fetch *fetch = item->fetch;
    struct history_budget *b = fetch->budget;
    const redisReply *reply = r ? r->reply : NULL;
    size_t got = 0;

    IFMON_ASSERT(item->state == ITEM_ASKED && fetch->inflight > 0 && fetch->outstanding > 0);
    if (reply && reply->type == REDIS_REPLY_ARRAY)
        got = reply->elements < item->reserved ? reply->elements : item->reserved;
    fetch->inflight--;
    fetch->outstanding--;
    /* A shorter list gives back what it did not use; the connection's
     * bucket keeps one per LRANGE. */
    b->samples_left += item->reserved - got;
    if (b->bucket && item->reserved > (got ? got : 1))
        bucket_give_back(b->bucket, item->reserved - (got ? got : 1));
    item->state = ITEM_NONE;
    if (fetch->h && reply) {
        if (reply->type == REDIS_REPLY_ARRAY) {
            if (send_frame(fetch, item, r, asked) == 0) {
                item->state = ITEM_SENT;
                item->floor_active = item->has_ts;
            } else if (fetch->pattern) {
                fetch->skipped += b->bytes_left == 0;
            }
        } else if (reply->type == REDIS_REPLY_ERROR) {
            log_warn("redis: LRANGE for %s: %s", item->channel, reply->str);
        }
    }
    settle(fetch);
}

/* The share's LRANGE is back: send the next one for the items that
 * waited meanwhile (those whose subscription is still there), or let the
 * share go. */
static void share_next(struct share *sh)
{
    struct fetch_item *item = sh->waiting, *next, *head = NULL, *tail = NULL;
    struct lrange *lr;
    size_t asked = 0;

    sh->waiting = sh->waiting_tail = NULL;
    for (; item; item = next) {
        next = item->share_next;
        if (item->fetch->h == NULL) {
            item_answered(item, NULL, 0);
            continue;
        }
        if (head)
            sh->reg->st.shared++;
        append(&head, &tail, item);
        if (item->reserved > asked)
            asked = item->reserved;
    }
    if (head) {
        lr = ifmon_xcalloc(1, sizeof(*lr));
        lr->share = sh;
        lr->asked = asked;
        lr->items = head;
        lr->items_tail = tail;
        if (lrange_send(sh, lr) < 0) {
            free(lr);
            for (item = head; item; item = next) {
                next = item->share_next;
                item_answered(item, NULL, 0);
            }
        }
    }
    share_maybe_free(sh);
}

static void on_lrange(void *arg, redisReply *reply)
{
    struct lrange *lr = arg;
    struct share *sh = lr->share;
    struct reading r = {.reply = reply};
    struct fetch_item *item, *next;

    IFMON_ASSERT(sh->inflight == lr);
    sh->inflight = NULL;
    for (item = lr->items; item; item = next) {
        next = item->share_next; /* item_answered() may free the item's fetch */
        item_answered(item, reply ? &r : NULL, lr->asked);
    }
    reading_free(&r);
    free(lr);
    share_next(sh);
}

/* Ask for item's newest n samples: with the LRANGE of the channel in
 * flight when it was sent after this fetch started and asks for as many
 * (history.h: no gap), else with the next one; a new LRANGE when none is
 * in flight. 0, or -1 when Redis cannot be asked. */
static int ask(struct history_fetch *fetch, struct fetch_item *item, size_t n)
{
    struct share *sh = share_get(fetch->reg, item->channel);
    struct lrange *lr = sh->inflight;

    item->reserved = n;
    if (lr && lr->seq > fetch->start_seq && n <= lr->asked) {
        append(&lr->items, &lr->items_tail, item);
        fetch->reg->st.shared++;
        return 0;
    }
    if (lr) {
        append(&sh->waiting, &sh->waiting_tail, item);
        return 0;
    }
    lr = ifmon_xcalloc(1, sizeof(*lr));
    lr->share = sh;
    lr->asked = n;
    append(&lr->items, &lr->items_tail, item);
    if (lrange_send(sh, lr) < 0) {
        free(lr);
        share_maybe_free(sh);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- asking */

/* Ask for the next items while fewer than HISTORY_LRANGE_INFLIGHT are
 * asked and the budget (the request's and the connection's) has samples
 * left. Items that cannot be asked (the query connection is down, the
 * budget is spent) get no frame. */
static void pump(struct history_fetch *fetch)
{
    const struct config_redis *rc = &fetch->gw->cfg->redis;
    struct history_budget *b = fetch->budget;

    while (fetch->next < fetch->nitems && fetch->inflight < HISTORY_LRANGE_INFLIGHT) {
        struct fetch_item *item = &fetch->items[fetch->next];
        struct ifmon_key key;
        size_t n = (size_t)rc->history, left = budget_samples(b);

        if (left == 0 || b->bytes_left == 0) {
            /* Replies in flight may give samples back (shorter lists):
             * wait for them before deciding the rest gets nothing. */
            if (fetch->inflight > 0)
                return;
            item->state = ITEM_NONE;
            if (fetch->pattern)
                fetch->skipped++;
            else
                send_empty_truncated(fetch, item);
            fetch->next++;
            continue;
        }
        fetch->next++;
        if (n > left)
            n = left;
        item->state = ITEM_NONE;
        /* No history key: a name in the inventory that is not an
         * interface channel of the prefix. */
        if (ifmon_key_history_of(&key, rc->prefix, item->channel) < 0)
            continue;
        if (ask(fetch, item, n) < 0)
            continue;
        item->state = ITEM_ASKED;
        b->samples_left -= n;
        if (b->bucket)
            b->bucket->tokens -= (double)n;
        fetch->inflight++;
        fetch->outstanding++;
    }
}

/* After each event of a fetch: ask for more, deliver what may go, and
 * finish when everything is done (or free a detached fetch whose last
 * reply came). */
static void settle(struct history_fetch *fetch)
{
    if (fetch->h == NULL) {
        if (fetch->outstanding == 0)
            fetch_free(fetch);
        return;
    }
    if (fetch->listed)
        pump(fetch);
    replay_held(fetch);
    if (fetch->listed && fetch->next == fetch->nitems && fetch->outstanding == 0) {
        fetch_complete(fetch);
        fetch_free(fetch);
    }
}

static void add_item(struct history_fetch *fetch, const char *channel, size_t *cap)
{
    struct fetch_item *item;

    if (fetch->nitems == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        fetch->items = ifmon_xrealloc(fetch->items, *cap * sizeof(*fetch->items));
    }
    item = &fetch->items[fetch->nitems++];
    memset(item, 0, sizeof(*item));
    item->fetch = fetch;
    item->channel = ifmon_xstrdup(channel);
}

/* Sort the items by channel (for judge()'s lookups), drop repeats, and
 * call the list final: from now on LRANGEs point into it. */
static void list_items(struct history_fetch *fetch)
{
    size_t i, kept = 0;

    if (fetch->nitems > 1)
        qsort(fetch->items, fetch->nitems, sizeof(*fetch->items), cmp_item);
    for (i = 0; i < fetch->nitems; i++) {
        if (kept && strcmp(fetch->items[kept - 1].channel, fetch->items[i].channel) == 0) {
            free(fetch->items[i].channel);
            continue;
        }
        fetch->items[kept++] = fetch->items[i];
    }
    fetch->nitems = kept;
    fetch->listed = 1;
}

/* inventory_read_fn: the interface channels of the gateway's copy of the
 * inventory (docs/PROTOCOL.md, part 1), each kept when the pattern matches
 * it and the subscriber does not hold it exactly. */
static void on_inventory(void *arg, const struct invscan_index *idx)
{
    struct history_fetch *fetch = arg;
    size_t i, cap = 0;

    fetch->outstanding--;
    if (fetch->h && idx) {
        for (i = 0; i < idx->count[INVSCAN_INTERFACE]; i++) {
            const char *ch = invscan_node_channel(idx, &idx->nodes[INVSCAN_INTERFACE][i]);

            if (ch && channel_matches(fetch->name, ch) &&
                !fetch->hooks->holds_exactly(fetch->ctx, ch))
                add_item(fetch, ch, &cap);
        }
    }
    list_items(fetch);
    settle(fetch);
}

/* ----------------------------------------------------------------- API */

struct history_registry *history_registry_new(struct gateway *gw)
{
    struct history_registry *r = ifmon_xcalloc(1, sizeof(*r));

    r->gw = gw;
    return r;
}

void history_registry_free(struct history_registry *r)
{
    if (r == NULL)
        return;
    IFMON_ASSERT(r->shares.count == 0); /* every LRANGE had its reply */
    chantable_free(&r->shares);
    free(r);
}

void history_registry_stats(const struct history_registry *r, struct history_stats *out)
{
    *out = r->st;
}

void history_init(struct history *h)
{
    memset(h, 0, sizeof(*h));
    h->state = HISTORY_WAITING;
}

void history_fetch(struct history *h, struct history_registry *reg, const char *name, int pattern,
                   struct history_budget *budget, const struct history_hooks *hooks, void *ctx)
{
    struct gateway *gw = reg->gw;
    struct history_fetch *fetch;
    size_t cap = 0;

    IFMON_ASSERT(h->state == HISTORY_WAITING && h->fetch == NULL && budget != NULL);
    IFMON_ASSERT(pattern ||
                 ifmon_channel_kind(name, gw->cfg->redis.prefix) == IFMON_CHANNEL_INTERFACE);
    fetch = ifmon_xcalloc(1, sizeof(*fetch));
    fetch->h = h;
    fetch->reg = reg;
    fetch->gw = gw;
    fetch->name = name;
    fetch->pattern = pattern;
    fetch->hooks = hooks;
    fetch->ctx = ctx;
    fetch->budget = history_budget_ref(budget);
    fetch->start_seq = reg->sent;
    h->fetch = fetch;
    h->state = HISTORY_FETCHING;
    /* One guard count so that nothing completes while starting. */
    fetch->outstanding = 1;
    if (pattern) {
        fetch->outstanding++;
        if (gw->inventory)
            inventory_read(gw->inventory, on_inventory, fetch);
        else
            on_inventory(fetch, NULL);
    } else {
        add_item(fetch, name, &cap);
        list_items(fetch);
    }
    fetch->outstanding--;
    settle(fetch);
}

void history_skip(struct history *h, const struct history_hooks *hooks, void *ctx)
{
    size_t i;

    IFMON_ASSERT(h->state == HISTORY_WAITING && h->fetch == NULL);
    h->state = HISTORY_LIVE;
    for (i = 0; i < h->nheld; i++)
        hooks->deliver(ctx, h->held[i]);
    drop_held(h);
}

void history_release(struct history *h)
{
    if (h->fetch) {
        struct history_fetch *fetch = h->fetch;

        fetch->h = NULL; /* the replies still due free it */
        if (fetch->outstanding == 0)
            fetch_free(fetch);
    }
    h->fetch = NULL;
    drop_held(h);
    drop_floors(h);
    h->state = HISTORY_LIVE;
}
