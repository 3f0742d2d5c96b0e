/* history.c -- see history.h: one subscription's hand-off from its
 * stored history to its live data: the live messages held until a
 * channel's frame is out, the floors that drop duplicates after it, the
 * frames themselves (capped by the request's budget), and the walk
 * through a pattern's channels, at most HISTORY_LRANGE_INFLIGHT asked at a
 * time. Where the lists come from (shared LRANGEs) and the budgets they
 * are paid from are history_reads.c's; history_private.h says who owns
 * what. */

#include "history_private.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "inventory.h"
#include "invscan.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "util.h"

struct history_floor {
    char *channel;
    double ts;
    int active;
};

static void settle(struct history_fetch *fetch);

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
    const struct history_item *item = elem;

    return strcmp(key, item->channel);
}

static int cmp_item(const void *a, const void *b)
{
    const struct history_item *x = a, *y = b;

    return strcmp(x->channel, y->channel);
}

static enum verdict judge(struct history_fetch *fetch, const struct outmsg *m)
{
    struct history_item *item;

    if (!fetch->listed)
        return HOLD;
    if (m->channel == NULL || fetch->nitems == 0)
        return DELIVER;
    item = bsearch(m->channel, fetch->items, fetch->nitems, sizeof(*item), cmp_item_key);
    if (item == NULL)
        return DELIVER; /* no history coming for it */
    switch (item->state) {
    case HISTORY_ITEM_QUEUED:
    case HISTORY_ITEM_ASKED:
        return HOLD;
    case HISTORY_ITEM_NONE:
        return DELIVER;
    case HISTORY_ITEM_SENT:
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

/* Turn an LRANGE reply (which asked for the newest `asked` samples) into
 * item's {"channel":C,"history":[...]} and send it: of the newest
 * item->reserved samples, those that are JSON objects, oldest first,
 * embedded as they are. Within the budget's bytes: when they do not all
 * fit, the newest that fit, and the frame says "truncated":true (also
 * when fewer than a full list were asked for and the list has more).
 * Returns 0 when a frame was sent, -1 when none was: a channel that is not
 * valid UTF-8 (it could not be named in JSON as it is), or a pattern's
 * channel with no byte left. */
static int send_frame(struct history_fetch *fetch, struct history_item *item,
                      struct history_reading *r, size_t asked)
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
        history_reading_parse(r);
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
static void send_empty_truncated(struct history_fetch *fetch, struct history_item *item)
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
        h->nfloors += fetch->items[i].state == HISTORY_ITEM_SENT && fetch->items[i].floor_active;
    if (h->nfloors) {
        h->floors = ifmon_xcalloc(h->nfloors, sizeof(*h->floors));
        h->nfloors = 0;
        /* items are sorted by channel: so are the floors */
        for (i = 0; i < fetch->nitems; i++) {
            struct history_item *item = &fetch->items[i];

            if (item->state != HISTORY_ITEM_SENT || !item->floor_active)
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

/* An item asked for is answered: by its LRANGE's reply, or by NULL (no
 * reply: Redis unavailable, or its subscription went away before its
 * LRANGE was sent). What it reserved and did not get goes back. */
void history_item_answered(struct history_item *item, struct history_reading *r, size_t asked)
{
    struct history_fetch *fetch = item->fetch;
    struct history_budget *b = fetch->budget;
    const redisReply *reply = r ? r->reply : NULL;
    size_t got = 0;

    IFMON_ASSERT(item->state == HISTORY_ITEM_ASKED && fetch->inflight > 0 &&
                 fetch->outstanding > 0);
    if (reply && reply->type == REDIS_REPLY_ARRAY)
        got = reply->elements < item->reserved ? reply->elements : item->reserved;
    fetch->inflight--;
    fetch->outstanding--;
    /* A shorter list gives back what it did not use; the connection's
     * bucket keeps one per LRANGE. */
    b->samples_left += item->reserved - got;
    if (b->bucket && item->reserved > (got ? got : 1))
        history_bucket_give_back(b->bucket, item->reserved - (got ? got : 1));
    item->state = HISTORY_ITEM_NONE;
    if (fetch->h && reply) {
        if (reply->type == REDIS_REPLY_ARRAY) {
            if (send_frame(fetch, item, r, asked) == 0) {
                item->state = HISTORY_ITEM_SENT;
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
        struct history_item *item = &fetch->items[fetch->next];
        struct ifmon_key key;
        size_t n = (size_t)rc->history, left = history_budget_samples(b);

        if (left == 0 || b->bytes_left == 0) {
            /* Replies in flight may give samples back (shorter lists):
             * wait for them before deciding the rest gets nothing. */
            if (fetch->inflight > 0)
                return;
            item->state = HISTORY_ITEM_NONE;
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
        item->state = HISTORY_ITEM_NONE;
        /* No history key: a name in the inventory that is not an
         * interface channel of the prefix. */
        if (ifmon_key_history_of(&key, rc->prefix, item->channel) < 0)
            continue;
        if (history_reads_ask(fetch, item, n) < 0)
            continue;
        item->state = HISTORY_ITEM_ASKED;
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
    struct history_item *item;

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
