/* reload.c -- see reload.h. The new configuration takes the running
 * values of what needs a restart by exchanging them with the old one:
 * strings the running parts point to (lws keeps the listen host; the
 * Redis connections, history and inventory read redis.prefix and
 * redis.history) stay allocated, and the old configuration is freed with
 * the values that were not applied. */

#include "reload.h"

#include <stdio.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "util.h"

/* Whether two optional strings differ. */
static int differ(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

/* Append name to the comma-separated list in buf. */
static void add_name(char *buf, size_t size, const char *name)
{
    size_t n = strlen(buf);

    snprintf(buf + n, size - n, "%s%s", n ? ", " : "", name);
}

static int same_sentinels(const struct config_redis *a, const struct config_redis *b)
{
    size_t i;

    if (a->nsentinels != b->nsentinels || differ(a->master_name, b->master_name))
        return 0;
    for (i = 0; i < a->nsentinels; i++)
        if (differ(a->sentinels[i].host, b->sentinels[i].host) ||
            a->sentinels[i].port != b->sentinels[i].port)
            return 0;
    return 1;
}

/* Keep in `fresh` the running values of what only a restart applies, and
 * say in `changed` which of them the file changed. */
static void keep_running(struct config *fresh, struct config *running, char *changed, size_t size)
{
    const struct config_redis *a = &running->redis, *b = &fresh->redis;

    changed[0] = '\0';
    if (differ(a->host, b->host) || a->port != b->port)
        add_name(changed, size, "redis host/port");
    if (differ(a->password, b->password))
        add_name(changed, size, "redis.password");
    if (differ(a->prefix, b->prefix))
        add_name(changed, size, "redis.prefix");
    if (a->history != b->history)
        add_name(changed, size, "redis.history");
    if (!same_sentinels(a, b))
        add_name(changed, size, "redis.sentinels/master_name");
    if (differ(running->gateway.listen_host, fresh->gateway.listen_host) ||
        running->gateway.listen_port != fresh->gateway.listen_port)
        add_name(changed, size, "gateway.listen");
    if (differ(running->gateway.web_root, fresh->gateway.web_root))
        add_name(changed, size, "gateway.web_root");
    if (running->gateway.io_uring != fresh->gateway.io_uring)
        add_name(changed, size, "gateway.io_uring");
    if (differ(running->gateway.metrics_host, fresh->gateway.metrics_host) ||
        running->gateway.metrics_port != fresh->gateway.metrics_port)
        add_name(changed, size, "gateway.metrics_listen");

#define SWAP(T, a, b)                                                                              \
    do {                                                                                           \
        T t_ = (a);                                                                                \
        (a) = (b);                                                                                 \
        (b) = t_;                                                                                  \
    } while (0)
    SWAP(struct config_redis, fresh->redis, running->redis);
    SWAP(char *, fresh->gateway.listen_host, running->gateway.listen_host);
    SWAP(int, fresh->gateway.listen_port, running->gateway.listen_port);
    SWAP(char *, fresh->gateway.web_root, running->gateway.web_root);
    /* lws keeps the metrics vhost's address too. */
    SWAP(char *, fresh->gateway.metrics_host, running->gateway.metrics_host);
    SWAP(int, fresh->gateway.metrics_port, running->gateway.metrics_port);
    SWAP(int, fresh->gateway.io_uring, running->gateway.io_uring);
#undef SWAP
}

int reload_config(struct gateway *gw, const char *path, struct config **current)
{
    struct config *fresh, *old = *current;
    const struct config_gateway *g;
    char changed[256];
    size_t closed;

    IFMON_ASSERT(gw->cfg == old);
    log_info("SIGHUP: reloading %s", path);
    fresh = config_load_reported_for(path, CONFIG_READER_GATEWAY, 1);
    if (fresh == NULL) {
        log_err("SIGHUP: %s is invalid (problems above); keeping the current settings", path);
        return -1;
    }
    keep_running(fresh, old, changed, sizeof(changed));
    if (changed[0])
        log_warn("SIGHUP: %s changed: restart the gateway to apply (running with the old values)",
                 changed);
    gw->cfg = fresh;
    *current = fresh;
    closed = client_set_reload(gw->clients);
    config_free(old);
    g = &fresh->gateway;
    log_info("SIGHUP: applied %s: %s token, %zu restricted tokens, %zu allowed origins, "
             "%zu hosts%s, /metrics %s, max_connections %d, max_channels %d, max_frame %d, flush_ms %d, "
             "max_connections_per_address %d, max_subscriptions %d, "
             "max_subscriptions_per_address %d, %zu trusted proxies; %zu connections closed",
             path, g->token[0] ? "a full-access" : "no full-access", g->ntokens,
             g->nallowed_origins, g->nhosts, g->nhosts ? "" : " (the defaults)",
             g->metrics_token ? "with the token" : "without a token", g->max_connections,
             g->max_channels, g->max_frame, g->flush_ms, g->max_connections_per_address, g->max_subscriptions,
             g->max_subscriptions_per_address, g->ntrusted_proxies, closed);
    return 0;
}
