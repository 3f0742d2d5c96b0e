/* history_reads.c -- the history reads the gateway makes for
 * subscriptions (history.h, "LRANGEs are shared"): one LRANGE in flight
 * per channel, shared by every subscription that needs it when it was sent
 * after that subscription started (no gap), the others waiting for the
 * next one, which goes when the reply is back; each reply parsed once for
 * all it answers. And what the reads are paid from: a request's budget and
 * a connection's bucket. What a reply becomes for one subscription (its
 * frame, its held messages) is history.c's.
 *
 * A share (one channel's LRANGE in flight and the items waiting for the
 * next one) is freed when it has neither; an LRANGE (struct lrange) is
 * owned by its reply. */

#include "history_private.h"

#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "keys.h"
#include "pubsub.h"
#include "util.h"

/* One channel's LRANGEs: the one in flight, and the items waiting for the
 * next one. */
struct share {
    struct chantable_entry node; /* key: channel */
    struct history_registry *reg;
    char *channel;
    struct lrange *inflight;
    struct history_item *waiting, *waiting_tail;
};

/* An LRANGE sent, and the items its reply answers. */
struct lrange {
    struct share *share;
    uint64_t seq; /* its place among the registry's LRANGEs */
    size_t asked; /* the newest `asked` samples */
    struct history_item *items, *items_tail;
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

void history_bucket_give_back(struct history_bucket *b, size_t n)
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

size_t history_budget_samples(const struct history_budget *b)
{
    size_t n = b->samples_left;

    if (b->bucket && history_bucket_level(b->bucket) < n)
        n = history_bucket_level(b->bucket);
    return n;
}

/* ------------------------------------------------------------ readings */

void history_reading_parse(struct history_reading *r)
{
    const redisReply *reply = r->reply;
    size_t i, n = reply->elements;

    r->done = 1;
    r->valid = ifmon_xcalloc(n + 1, 1);
    r->has_ts = ifmon_xcalloc(n + 1, 1);
    r->ts = ifmon_xcalloc(n + 1, sizeof(*r->ts));
    for (i = 0; i < n; i++) {
        const redisReply *el = reply->element[i];
        int check;

        if (el->type != REDIS_REPLY_STRING)
            continue;
        check = ifmon_json_check_object(el->str, el->len, &r->ts[i]);
        r->valid[i] = check >= 0;
        r->has_ts[i] = check == 1;
    }
}

static void reading_free(struct history_reading *r)
{
    free(r->valid);
    free(r->has_ts);
    free(r->ts);
    outmsg_unref(r->frame);
}

/* ---------------------------------------------------------------- shares */

static void on_lrange(void *arg, redisReply *reply);

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

static void append(struct history_item **head, struct history_item **tail,
                   struct history_item *item)
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

/* The share's LRANGE is back: send the next one for the items that
 * waited meanwhile (those whose subscription is still there), or let the
 * share go. */
static void share_next(struct share *sh)
{
    struct history_item *item = sh->waiting, *next, *head = NULL, *tail = NULL;
    struct lrange *lr;
    size_t asked = 0;

    sh->waiting = sh->waiting_tail = NULL;
    for (; item; item = next) {
        next = item->share_next;
        if (item->fetch->h == NULL) {
            history_item_answered(item, NULL, 0);
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
                history_item_answered(item, NULL, 0);
            }
        }
    }
    share_maybe_free(sh);
}

static void on_lrange(void *arg, redisReply *reply)
{
    struct lrange *lr = arg;
    struct share *sh = lr->share;
    struct history_reading r = {.reply = reply};
    struct history_item *item, *next;

    IFMON_ASSERT(sh->inflight == lr);
    sh->inflight = NULL;
    for (item = lr->items; item; item = next) {
        next = item->share_next; /* history_item_answered() may free the item's fetch */
        history_item_answered(item, reply ? &r : NULL, lr->asked);
    }
    reading_free(&r);
    free(lr);
    share_next(sh);
}

/* history_reads_ask(): see history_private.h. */
int history_reads_ask(struct history_fetch *fetch, struct history_item *item, size_t n)
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

/* ------------------------------------------------------------ registry */

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
