/* inventory.c -- see inventory.h. A request waiting for Redis is owned by
 * its GET's callback, which always comes (with NULL when the query
 * connection closes): cancelling only detaches it from its connection. */

#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "keys.h"
#include "pubsub.h"
#include "util.h"

struct inventory {
    struct gateway *gw;
};

/* A list request waiting for the inventory. */
struct inventory_list {
    struct inventory *inv;
    struct inventory_requests *pending; /* NULL once cancelled */
    struct inventory_list *prev, *next; /* in pending */
    const struct config_token *grant;
    json_t *id; /* a reference, or NULL */
    inventory_reply_fn fn;
    void *ctx;
};

/* ----------------------------------------------------------- filtering */

/* 1 when obj's "channel" is permitted to grant. */
static int permitted(const struct config_token *grant, const char *prefix, json_t *obj)
{
    const char *ch = json_string_value(json_object_get(obj, "channel"));

    return ch && access_channel_permitted(grant, ch, prefix);
}

/* Remove from the array the elements keep() refuses. */
static void filter_array(json_t *a,
                         int (*keep)(const struct config_token *, const char *, json_t *),
                         const struct config_token *grant, const char *prefix)
{
    size_t i = 0;

    while (i < json_array_size(a)) {
        if (keep(grant, prefix, json_array_get(a, i)))
            i++;
        else
            json_array_remove(a, i);
    }
}

static int keep_device(const struct config_token *grant, const char *prefix, json_t *dev)
{
    json_t *ifs = json_object_get(dev, "interfaces");

    if (json_is_array(ifs))
        filter_array(ifs, permitted, grant, prefix);
    return permitted(grant, prefix, dev) || json_array_size(ifs) > 0;
}

static int keep_site(const struct config_token *grant, const char *prefix, json_t *site)
{
    json_t *devs = json_object_get(site, "devices");

    if (json_is_array(devs))
        filter_array(devs, keep_device, grant, prefix);
    return json_array_size(devs) > 0;
}

/* The inventory as a restricted token sees it: only the interfaces and
 * devices whose channels it may subscribe, and the sites left with a
 * device (docs/PROTOCOL.md, part 2, "Restricted tokens"). Returns the new
 * JSON text (caller frees). */
static char *restricted_text(json_t *inv, const struct config_token *grant, const char *prefix,
                             size_t *len)
{
    json_t *sites = json_object_get(inv, "sites");
    char *text;

    if (json_is_array(sites))
        filter_array(sites, keep_site, grant, prefix);
    text = json_dumps(inv, JSON_COMPACT);
    IFMON_ASSERT(text != NULL); /* jansson fails only when out of memory */
    *len = strlen(text);
    return text;
}

/* ------------------------------------------------------------- replies */

static void unlink_request(struct inventory_list *lr)
{
    struct inventory_requests *pending = lr->pending;

    if (pending == NULL)
        return;
    if (lr->prev)
        lr->prev->next = lr->next;
    else
        pending->head = lr->next;
    if (lr->next)
        lr->next->prev = lr->prev;
    lr->pending = NULL;
    lr->prev = lr->next = NULL;
}

static void request_free(struct inventory_list *lr)
{
    json_decref(lr->id);
    free(lr);
}

/* {"op":"list","inventory":INV,"id":ID} for what lr's token may see, from
 * the GET reply: the snapshot embedded as stored (after checking it is a
 * JSON object), or null when there is none. */
static void answer(struct inventory_list *lr, const redisReply *reply)
{
    static const char head[] = "{\"op\":\"list\",\"inventory\":";
    const char *raw = "null";
    size_t rlen = 4, n;
    char *id = NULL, *text, *filtered = NULL;
    json_t *inv = NULL;

    if (reply->type == REDIS_REPLY_STRING) {
        inv = json_loadb(reply->str, reply->len, 0, NULL);
        if (json_is_object(inv) && lr->grant != &access_all) {
            raw = filtered = restricted_text(inv, lr->grant, lr->inv->gw->cfg->redis.prefix, &rlen);
        } else if (json_is_object(inv)) {
            raw = reply->str;
            rlen = reply->len;
        }
    }
    if (lr->id)
        id = json_dumps(lr->id, JSON_ENCODE_ANY | JSON_COMPACT);
    text = ifmon_xmalloc(sizeof(head) + rlen + (id ? strlen(id) : 0) + 16);
    memcpy(text, head, sizeof(head) - 1);
    memcpy(text + sizeof(head) - 1, raw, rlen);
    n = sizeof(head) - 1 + rlen;
    if (id)
        n += (size_t)sprintf(text + n, ",\"id\":%s", id);
    text[n++] = '}';
    lr->fn(lr->ctx, text, n, NULL);
    free(text);
    free(id);
    free(filtered);
    json_decref(inv);
}

static void on_get(void *arg, redisReply *reply)
{
    struct inventory_list *lr = arg;

    if (lr->pending) {
        unlink_request(lr);
        if (reply == NULL)
            lr->fn(lr->ctx, NULL, 0, lr->id);
        else
            answer(lr, reply);
    }
    request_free(lr);
}

/* ----------------------------------------------------------------- API */

struct inventory *inventory_create(struct gateway *gw)
{
    struct inventory *inv = ifmon_xcalloc(1, sizeof(*inv));

    inv->gw = gw;
    return inv;
}

void inventory_free(struct inventory *inv)
{
    free(inv);
}

void inventory_list(struct inventory *inv, struct inventory_requests *pending,
                    const struct config_token *grant, json_t *id, inventory_reply_fn fn, void *ctx)
{
    struct inventory_list *lr;
    struct ifmon_key key;
    int rc = ifmon_key_inventory(&key, inv->gw->cfg->redis.prefix);

    IFMON_ASSERT(rc == 0); /* the loader holds the prefix to IFMON_PREFIX_MAX */
    lr = ifmon_xcalloc(1, sizeof(*lr));
    lr->inv = inv;
    lr->grant = grant;
    lr->id = json_incref(id);
    lr->fn = fn;
    lr->ctx = ctx;
    if (pubsub_get(inv->gw->pubsub, key.s, on_get, lr) < 0) {
        fn(ctx, NULL, 0, id);
        request_free(lr);
        return;
    }
    lr->pending = pending;
    lr->next = pending->head;
    if (pending->head)
        pending->head->prev = lr;
    pending->head = lr;
}

void inventory_requests_cancel(struct inventory_requests *pending)
{
    while (pending->head)
        unlink_request(pending->head);
}
