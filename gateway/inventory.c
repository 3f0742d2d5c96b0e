/* inventory.c -- see inventory.h.
 *
 * Freshness. The GETs of the snapshot are numbered (`sent`), at most one
 * in flight. A copy read by GET k is current while the gateway's
 * subscription is confirmed (`watching`) and k >= fresh_from, the first
 * GET sent after the last announcement of a change (or after the
 * subscription was confirmed: what changed before it was not announced
 * to us). A request the copy cannot answer waits for GET `want`: the one
 * in flight when it was sent after the last announcement and the
 * subscription is confirmed, otherwise the next one, which is only sent
 * after the one in flight has come back. Waiting requests are answered in
 * the order they came, when the reply of their GET (or of a later one)
 * comes; then the next GET goes if anything still waits or the copy is
 * not current. So Redis sends the snapshot once per change, and at most
 * once per round trip however many requests wait.
 *
 * A waiting request is owned by the queue, which its GET's reply always
 * empties up to it (a NULL reply when the query connection closes):
 * cancelling a list only detaches it from its connection. */

#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "pubsub.h"
#include "util.h"

/* A restricted token's view of the copy, cut once per copy. */
struct view {
    const struct config_token *grant;
    char *text;
    size_t len;
};

struct inventory {
    struct gateway *gw;
    /* The copy. */
    char *text; /* as stored (owned), NULL when there is none */
    size_t len;
    struct invscan_index index; /* of text, when `object` */
    int object;                 /* text is one JSON object */
    int have;                   /* a copy has been read */
    uint64_t copy_get;          /* the GET it came from */
    struct view *views;
    size_t nviews;
    /* Freshness (see the top of this file). */
    int watching;
    int inflight;
    uint64_t sent, fresh_from;
    struct inventory_wait *head, *tail; /* requests waiting, in order */
    struct inventory_stats st;
};

enum wait_kind { WAIT_LIST, WAIT_READ };

/* A request waiting for a copy. */
struct inventory_wait {
    struct inventory_wait *next; /* in the inventory's queue */
    uint64_t want;               /* the GET whose reply answers it */
    enum wait_kind kind;
    /* WAIT_LIST */
    struct inventory_requests *pending;         /* NULL once cancelled */
    struct inventory_wait *req_prev, *req_next; /* in pending */
    json_t *id;                                 /* a reference, or NULL */
    inventory_reply_fn reply_fn;
    void *ctx;
    /* WAIT_READ */
    inventory_read_fn read_fn;
    void *arg;
};

/* ------------------------------------------------------- restricted views */

/* Which elements of each level a grant keeps. */
struct cut {
    const struct invscan_index *idx;
    const char *text;
    unsigned char *keep[INVSCAN_LEVELS];
    char *out;
    size_t n;
};

static void emit_bytes(struct cut *c, size_t from, size_t to)
{
    memcpy(c->out + c->n, c->text + from, to - from);
    c->n += to - from;
}

static void emit_list(struct cut *c, int level, size_t first, size_t count);

/* An element kept: as stored, with its own list (if any) cut. */
static void emit_node(struct cut *c, int level, size_t i)
{
    const struct invscan_node *node = &c->idx->nodes[level][i];

    if (level == INVSCAN_INTERFACE || !node->has_list) {
        emit_bytes(c, node->start, node->end);
        return;
    }
    emit_bytes(c, node->start, node->open);
    emit_list(c, level + 1, node->first, node->count);
    emit_bytes(c, node->close + 1, node->end);
}

static void emit_list(struct cut *c, int level, size_t first, size_t count)
{
    size_t i;
    int any = 0;

    c->out[c->n++] = '[';
    for (i = first; i < first + count; i++) {
        if (!c->keep[level][i])
            continue;
        if (any)
            c->out[c->n++] = ',';
        emit_node(c, level, i);
        any = 1;
    }
    c->out[c->n++] = ']';
}

/* How many of a list's elements are kept. */
static size_t kept(const struct cut *c, int level, size_t first, size_t count)
{
    size_t i, k = 0;

    for (i = first; i < first + count; i++)
        k += c->keep[level][i];
    return k;
}

/* The copy as token `grant` sees it (docs/PROTOCOL.md, part 2,
 * "Restricted tokens"): interfaces whose channel it may subscribe,
 * devices that keep an interface or whose own channel it may subscribe,
 * sites that keep a device; anything in those lists that is not an
 * object goes too. Everything else is the stored text. The same rules
 * as the jansson tree filter it replaces (tests/unit/
 * test_gateway_inventory.c compares them). Returns the new text (caller
 * frees) and its length in *len. */
static char *cut_view(const struct inventory *inv, const struct config_token *grant, size_t *len)
{
    const struct invscan_index *idx = &inv->index;
    const char *prefix = inv->gw->cfg->redis.prefix;
    struct cut c = {.idx = idx, .text = inv->text};
    size_t i;
    int level;

    c.out = ifmon_xmalloc(inv->len + 1);
    if (!idx->has_sites) {
        /* No list of sites to cut: as stored, as the tree filter did. */
        memcpy(c.out, inv->text, inv->len);
        *len = inv->len;
        return c.out;
    }
    for (level = 0; level < INVSCAN_LEVELS; level++)
        c.keep[level] = ifmon_xcalloc(idx->count[level] + 1, 1);
    for (i = 0; i < idx->count[INVSCAN_INTERFACE]; i++) {
        const struct invscan_node *n = &idx->nodes[INVSCAN_INTERFACE][i];
        const char *ch = invscan_node_channel(idx, n);

        c.keep[INVSCAN_INTERFACE][i] =
            n->object && ch && access_channel_permitted(grant, ch, prefix);
    }
    for (i = 0; i < idx->count[INVSCAN_DEVICE]; i++) {
        const struct invscan_node *n = &idx->nodes[INVSCAN_DEVICE][i];
        const char *ch = invscan_node_channel(idx, n);

        c.keep[INVSCAN_DEVICE][i] =
            n->object && ((ch && access_channel_permitted(grant, ch, prefix)) ||
                          (n->has_list && kept(&c, INVSCAN_INTERFACE, n->first, n->count) > 0));
    }
    for (i = 0; i < idx->count[INVSCAN_SITE]; i++) {
        const struct invscan_node *n = &idx->nodes[INVSCAN_SITE][i];

        c.keep[INVSCAN_SITE][i] =
            n->object && n->has_list && kept(&c, INVSCAN_DEVICE, n->first, n->count) > 0;
    }
    emit_bytes(&c, 0, idx->sites_open);
    emit_list(&c, INVSCAN_SITE, 0, idx->count[INVSCAN_SITE]);
    emit_bytes(&c, idx->sites_close + 1, inv->len);
    IFMON_ASSERT(c.n <= inv->len); /* only elements and blanks are left out */
    for (level = 0; level < INVSCAN_LEVELS; level++)
        free(c.keep[level]);
    *len = c.n;
    return c.out;
}

static void drop_views(struct inventory *inv)
{
    size_t i;

    for (i = 0; i < inv->nviews; i++)
        free(inv->views[i].text);
    free(inv->views);
    inv->views = NULL;
    inv->nviews = 0;
}

/* The text `list` embeds for grant: the copy as stored, its cut for a
 * restricted token, or "null" when there is no snapshot (or it is not a
 * JSON object). An irregular snapshot (a key on the way to a channel
 * twice in one object; the collector never writes one) is "null" to a
 * restricted token: which of the two values a reader takes is its
 * choice, and a view must not depend on it. Borrowed until the copy
 * changes or the grants do. */
static const char *view_text(struct inventory *inv, const struct config_token *grant, size_t *len)
{
    struct view *v;
    size_t i;

    if (!inv->object || (grant != &access_all && inv->index.irregular)) {
        *len = 4;
        return "null";
    }
    if (grant == &access_all) {
        *len = inv->len;
        return inv->text;
    }
    for (i = 0; i < inv->nviews; i++)
        if (inv->views[i].grant == grant) {
            *len = inv->views[i].len;
            return inv->views[i].text;
        }
    inv->views = ifmon_xrealloc(inv->views, (inv->nviews + 1) * sizeof(*inv->views));
    v = &inv->views[inv->nviews++];
    v->grant = grant;
    v->text = cut_view(inv, grant, &v->len);
    *len = v->len;
    return v->text;
}

/* {"op":"list","inventory":INV,"prefix":P,"id":ID} for grant (one
 * reference). The prefix is always there, so that a client can subscribe
 * to `<prefix>:inventory` and `<prefix>:events:*` before there is an
 * inventory to read it from. */
static struct outmsg *list_reply(struct inventory *inv, const struct config_token *grant,
                                 json_t *id)
{
    static const char head[] = "{\"op\":\"list\",\"inventory\":", pre[] = ",\"prefix\":",
                      mid[] = ",\"id\":";
    const char *prefix = inv->gw->cfg->redis.prefix;
    char *id_text = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    size_t vlen, plen, ilen = id_text ? strlen(id_text) : 0, n;
    char *prefix_text = ifmon_json_quote(prefix, strlen(prefix), &plen, NULL);
    const char *v = view_text(inv, grant, &vlen);
    struct outmsg *m = outmsg_new(OUTMSG_REPLY, NULL,
                                  sizeof(head) + vlen + sizeof(pre) + plen + sizeof(mid) + ilen);
    char *text = outmsg_text(m);

    memcpy(text, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    memcpy(text + n, v, vlen);
    n += vlen;
    memcpy(text + n, pre, sizeof(pre) - 1);
    n += sizeof(pre) - 1;
    memcpy(text + n, prefix_text, plen);
    n += plen;
    if (id_text) {
        memcpy(text + n, mid, sizeof(mid) - 1);
        n += sizeof(mid) - 1;
        memcpy(text + n, id_text, ilen);
        n += ilen;
    }
    text[n++] = '}';
    m->len = n;
    free(prefix_text);
    free(id_text);
    return m;
}

/* ------------------------------------------------------------------- copy */

/* The GET's reply (a string, or nil: no snapshot) becomes the copy; the
 * same text as before changes nothing (no new index, the views kept). */
static void update_copy(struct inventory *inv, const redisReply *reply)
{
    int is_string = reply->type == REDIS_REPLY_STRING;

    if (inv->have && is_string && inv->text && inv->len == reply->len &&
        memcmp(inv->text, reply->str, reply->len) == 0)
        return;
    if (inv->have && !is_string && inv->text == NULL)
        return;
    drop_views(inv);
    invscan_index_free(&inv->index);
    free(inv->text);
    inv->text = NULL;
    inv->len = 0;
    inv->object = 0;
    if (is_string) {
        inv->text = ifmon_xmalloc(reply->len + 1);
        memcpy(inv->text, reply->str, reply->len);
        inv->text[reply->len] = '\0';
        inv->len = reply->len;
        /* Checked as strictly as jansson would (invscan.h) and indexed in
         * the same pass; anything but an object is listed as null. */
        if (invscan_index(inv->text, inv->len, &inv->index) == 0 && inv->index.root_object)
            inv->object = 1;
        else
            invscan_index_free(&inv->index);
    }
    inv->st.changes++;
}

static int current(const struct inventory *inv)
{
    return inv->have && inv->watching && inv->copy_get >= inv->fresh_from;
}

/* ---------------------------------------------------------------- waiting */

static void unlink_request(struct inventory_wait *w)
{
    struct inventory_requests *pending = w->pending;

    if (pending == NULL)
        return;
    if (w->req_prev)
        w->req_prev->req_next = w->req_next;
    else
        pending->head = w->req_next;
    if (w->req_next)
        w->req_next->req_prev = w->req_prev;
    w->pending = NULL;
    w->req_prev = w->req_next = NULL;
}

/* Answer w from the copy, or as unavailable; then free it. */
static void answer(struct inventory *inv, struct inventory_wait *w, int unavailable)
{
    if (w->kind == WAIT_READ) {
        w->read_fn(w->arg, unavailable || !inv->object ? NULL : &inv->index);
    } else if (w->pending) {
        const struct config_token *grant = w->pending->grant;

        unlink_request(w);
        if (unavailable) {
            w->reply_fn(w->ctx, NULL, w->id);
        } else {
            struct outmsg *m = list_reply(inv, grant, w->id);

            w->reply_fn(w->ctx, m, w->id);
            outmsg_unref(m);
        }
    }
    json_decref(w->id);
    free(w);
}

/* Answer the requests waiting for GET k or an earlier one (all of them
 * when k is UINT64_MAX). `want` does not decrease along the queue. */
static void answer_waiting(struct inventory *inv, uint64_t k, int unavailable)
{
    struct inventory_wait *w;

    while ((w = inv->head) != NULL && w->want <= k) {
        inv->head = w->next;
        if (inv->head == NULL)
            inv->tail = NULL;
        answer(inv, w, unavailable);
    }
}

static void on_get(void *arg, redisReply *reply);

/* Send the next GET when none is in flight and a request waits or the
 * copy is not current. Redis unavailable: the requests waiting get that
 * answer now. */
static void refresh(struct inventory *inv)
{
    struct ifmon_key key;
    int rc;

    if (inv->inflight || (inv->head == NULL && (current(inv) || !inv->watching)))
        return;
    rc = ifmon_key_inventory(&key, inv->gw->cfg->redis.prefix);
    IFMON_ASSERT(rc == 0); /* the loader holds the prefix to IFMON_PREFIX_MAX */
    if (pubsub_get(inv->gw->pubsub, key.s, on_get, inv) < 0) {
        answer_waiting(inv, UINT64_MAX, 1);
        return;
    }
    inv->inflight = 1;
    inv->sent++;
    inv->st.gets++;
}

static void on_get(void *arg, redisReply *reply)
{
    struct inventory *inv = arg;
    uint64_t k = inv->sent;

    IFMON_ASSERT(inv->inflight);
    inv->inflight = 0;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        /* The connection went, or Redis is not serving (LOADING...): no
         * snapshot to trust, and none to forget. */
        if (reply)
            log_warn("redis: GET of the inventory: %s", reply->str);
        answer_waiting(inv, k, 1);
    } else {
        update_copy(inv, reply);
        inv->have = 1;
        inv->copy_get = k;
        answer_waiting(inv, k, 0);
    }
    refresh(inv);
}

/* Queue w behind the others, for the GET that can answer it. */
static void enqueue(struct inventory *inv, struct inventory_wait *w)
{
    w->want =
        inv->inflight && inv->watching && inv->sent >= inv->fresh_from ? inv->sent : inv->sent + 1;
    if (inv->tail)
        inv->tail->next = w;
    else
        inv->head = w;
    inv->tail = w;
}

/* ------------------------------------------------------------------- API */

struct inventory *inventory_create(struct gateway *gw)
{
    struct inventory *inv = ifmon_xcalloc(1, sizeof(*inv));

    inv->gw = gw;
    return inv;
}

void inventory_free(struct inventory *inv)
{
    if (inv == NULL)
        return;
    /* Nothing waits without a GET in flight, whose reply came before the
     * loop ended; free what a broken promise would leave anyway. */
    while (inv->head) {
        struct inventory_wait *w = inv->head;

        inv->head = w->next;
        unlink_request(w);
        json_decref(w->id);
        free(w);
    }
    drop_views(inv);
    invscan_index_free(&inv->index);
    free(inv->text);
    free(inv);
}

void inventory_watch(struct inventory *inv, int up)
{
    inv->watching = up;
    if (up) {
        inv->fresh_from = inv->sent + 1;
        refresh(inv);
    }
}

void inventory_changed(struct inventory *inv)
{
    inv->fresh_from = inv->sent + 1;
    refresh(inv);
}

void inventory_grants_changed(struct inventory *inv)
{
    drop_views(inv);
}

void inventory_list(struct inventory *inv, struct inventory_requests *pending, json_t *id,
                    inventory_reply_fn fn, void *ctx)
{
    struct inventory_wait *w;

    IFMON_ASSERT(pending->grant != NULL);
    if (current(inv)) {
        struct outmsg *m = list_reply(inv, pending->grant, id);

        fn(ctx, m, id);
        outmsg_unref(m);
        return;
    }
    w = ifmon_xcalloc(1, sizeof(*w));
    w->kind = WAIT_LIST;
    w->id = json_incref(id);
    w->reply_fn = fn;
    w->ctx = ctx;
    w->pending = pending;
    w->req_next = pending->head;
    if (pending->head)
        pending->head->req_prev = w;
    pending->head = w;
    enqueue(inv, w);
    refresh(inv);
}

void inventory_requests_cancel(struct inventory_requests *pending)
{
    while (pending->head)
        unlink_request(pending->head);
}

void inventory_read(struct inventory *inv, inventory_read_fn fn, void *arg)
{
    struct inventory_wait *w;

    if (current(inv)) {
        fn(arg, inv->object ? &inv->index : NULL);
        return;
    }
    w = ifmon_xcalloc(1, sizeof(*w));
    w->kind = WAIT_READ;
    w->read_fn = fn;
    w->arg = arg;
    enqueue(inv, w);
    refresh(inv);
}

void inventory_stats(const struct inventory *inv, struct inventory_stats *out)
{
    *out = inv->st;
}
