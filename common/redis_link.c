/* redis_link.c -- see redis_link.h. */

#include "redis_link.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "redis_uv.h"
#include "util.h"

static void link_connect(struct ifmon_redis_link *l);

/* Once per distinct error, not once per retry. */
static void note_error(struct ifmon_redis_link *l, const char *what, const char *err)
{
    char msg[sizeof(l->last_error)];

    snprintf(msg, sizeof(msg), "%s: %s", what, err);
    if (strcmp(msg, l->last_error) != 0)
        log_warn("redis %s (%s): %s (retrying)", l->addr, l->role, msg);
    snprintf(l->last_error, sizeof(l->last_error), "%s", msg);
}

static void set_addr(struct ifmon_redis_link *l, const char *host, int port)
{
    snprintf(l->addr, sizeof(l->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static void on_retry(uv_timer_t *t)
{
    link_connect(t->data);
}

static void schedule_retry(struct ifmon_redis_link *l)
{
    if (l->closing)
        return;
    uv_timer_start(&l->retry, on_retry, l->backoff_ms, 0);
    l->backoff_ms *= 2;
    if (l->backoff_ms < IFMON_REDIS_BACKOFF_MIN_MS)
        l->backoff_ms = IFMON_REDIS_BACKOFF_MIN_MS;
    if (l->backoff_ms > IFMON_REDIS_BACKOFF_MAX_MS)
        l->backoff_ms = IFMON_REDIS_BACKOFF_MAX_MS;
}

static void link_is_up(struct ifmon_redis_link *l)
{
    l->up = 1;
    l->backoff_ms = IFMON_REDIS_BACKOFF_MIN_MS;
    l->last_error[0] = '\0';
    if (l->ever_up)
        l->reconnects++;
    l->ever_up = 1;
    if (l->nsentinels)
        log_info("redis %s (%s): up, the master of %s", l->addr, l->role, l->master_name);
    else
        log_info("redis %s (%s): up", l->addr, l->role);
    if (l->hooks.up)
        l->hooks.up(l);
}

static void on_auth(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    redisReply *reply = reply_ptr;

    if (l == NULL || reply == NULL)
        return; /* disconnected meanwhile: on_disconnect says so */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Retried from on_disconnect, with backoff: the password may be
         * fixed on the server's side. */
        note_error(l, "AUTH", reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (l->wait_auth && !l->up && l->nsentinels == 0)
        link_is_up(l);
}

/* With Sentinels: the server they named must say it is the master (it
 * may have been demoted since they answered). */
static void on_role(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    redisReply *reply = reply_ptr;
    char role[32];

    (void)privdata;
    if (l == NULL || reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "master") == 0) {
        if (!l->up)
            link_is_up(l);
        return;
    }
    snprintf(role, sizeof(role), "%s",
             reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                     reply->element[0]->type == REDIS_REPLY_STRING
                 ? reply->element[0]->str
             : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                : "?");
    note_error(l, "not the master: ROLE says", role);
    l->next_sentinel = (l->next_sentinel + 1) % l->nsentinels;
    redisAsyncDisconnect(ac);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct ifmon_redis_link *l = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;

    if (l == NULL)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        note_error(l, "connect", cac->errstr);
        l->ac = NULL;
        schedule_retry(l);
        return;
    }
    if (l->password) {
        /* Replies come in order: AUTH's is the first. */
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", l->password);
    }
    if (l->nsentinels) {
        redisAsyncCommand(ac, on_role, NULL, "ROLE");
        return;
    }
    if (l->password && l->wait_auth)
        return;
    link_is_up(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct ifmon_redis_link *l = ac->data;
    int was_up;

    if (l == NULL)
        return;
    was_up = l->up;
    l->ac = NULL;
    l->up = 0;
    if (l->closing)
        return;
    note_error(l, "connection lost", status == REDIS_OK ? "closed" : ac->errstr);
    if (was_up && l->hooks.down)
        l->hooks.down(l);
    schedule_retry(l);
}

/* Connect to the server at host (an address) and port. */
static void connect_server(struct ifmon_redis_link *l, const char *host, int port)
{
    redisAsyncContext *ac;

    set_addr(l, host, port);
    ac = redisAsyncConnect(host, port);
    if (ac == NULL || ac->err) {
        note_error(l, "connect", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(l);
        return;
    }
    ac->data = l;
    if (ifmon_redis_uv_attach(ac, l->loop, l->flush_ms, l->reads) != REDIS_OK ||
        (l->tap && ifmon_redis_uv_set_tap(ac, l->tap, l->owner) != REDIS_OK)) {
        redisAsyncFree(ac);
        note_error(l, "connect", "cannot attach to the event loop");
        schedule_retry(l);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
}

/* ---------------------------------------------------------- Sentinels */

static void resolve_then_connect(struct ifmon_redis_link *l, const char *host, int port,
                                 int sentinel);

/* Let go of the Sentinel connection, if any (its callbacks then see no
 * link). */
static void drop_sentinel(struct ifmon_redis_link *l)
{
    redisAsyncContext *sac = l->sac;

    if (sac == NULL)
        return;
    l->sac = NULL;
    sac->data = NULL;
    if (l->sac_connected)
        redisAsyncDisconnect(sac);
    else
        redisAsyncFree(sac);
}

/* The Sentinel asked did not answer (in time, or at all): the next one,
 * at once, or after the backoff once each has been asked. */
static void sentinel_failed(struct ifmon_redis_link *l, const char *why)
{
    uv_timer_stop(&l->sentinel_timer);
    drop_sentinel(l);
    note_error(l, "sentinel", why);
    l->next_sentinel = (l->next_sentinel + 1) % l->nsentinels;
    if (l->next_sentinel == 0)
        schedule_retry(l);
    else
        link_connect(l);
}

static void on_sentinel_timeout(uv_timer_t *t)
{
    sentinel_failed(t->data, "no answer within 1 s");
}

static void on_master_addr(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    redisReply *reply = reply_ptr;
    char host[INET6_ADDRSTRLEN + 1];
    int port;

    (void)privdata;
    if (l == NULL || reply == NULL)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING || reply->element[0]->len >= sizeof(host)) {
        sentinel_failed(l, reply->type == REDIS_REPLY_ERROR ? reply->str
                                                            : "it knows no master of that name");
        return;
    }
    memcpy(host, reply->element[0]->str, reply->element[0]->len);
    host[reply->element[0]->len] = '\0';
    port = atoi(reply->element[1]->str);
    uv_timer_stop(&l->sentinel_timer);
    l->sac = NULL;
    ac->data = NULL;
    redisAsyncDisconnect(ac);
    resolve_then_connect(l, host, port, 0);
}

static void on_sentinel_connect(const redisAsyncContext *cac, int status)
{
    struct ifmon_redis_link *l = cac->data;

    if (l == NULL)
        return;
    if (status != REDIS_OK) {
        l->sac = NULL; /* hiredis frees it after this callback */
        sentinel_failed(l, cac->errstr);
        return;
    }
    l->sac_connected = 1;
}

static void on_sentinel_disconnect(const redisAsyncContext *cac, int status)
{
    struct ifmon_redis_link *l = cac->data;

    (void)status;
    if (l == NULL)
        return;
    l->sac = NULL;
    sentinel_failed(l, "connection lost");
}

/* Ask the Sentinel at host (an address), port for the master's address. */
static void ask_sentinel(struct ifmon_redis_link *l, const char *host, int port)
{
    redisAsyncContext *sac = redisAsyncConnect(host, port);

    set_addr(l, host, port);
    if (sac == NULL || sac->err) {
        if (sac)
            redisAsyncFree(sac);
        sentinel_failed(l, "cannot connect");
        return;
    }
    sac->data = l;
    if (ifmon_redis_uv_attach(sac, l->loop, 0, 1) != REDIS_OK) {
        redisAsyncFree(sac);
        sentinel_failed(l, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(sac, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(sac, on_sentinel_disconnect);
    l->sac = sac;
    l->sac_connected = 0;
    redisAsyncCommand(sac, on_master_addr, NULL, "SENTINEL get-master-addr-by-name %s",
                      l->master_name);
    uv_timer_start(&l->sentinel_timer, on_sentinel_timeout, IFMON_REDIS_SENTINEL_TIMEOUT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ifmon_redis_link *l = req->data;
    char host[INET6_ADDRSTRLEN];
    const void *a = NULL;

    l->gai_busy = 0;
    if (status == 0 && res) {
        a = res->ai_family == AF_INET6
                ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        if (inet_ntop(res->ai_family, a, host, sizeof(host)) == NULL)
            a = NULL;
    }
    uv_freeaddrinfo(res);
    if (l->closing)
        return;
    if (a == NULL) {
        if (l->gai_sentinel) {
            sentinel_failed(l, status ? uv_strerror(status) : "no address");
        } else {
            note_error(l, "resolve", status ? uv_strerror(status) : "no address");
            schedule_retry(l);
        }
        return;
    }
    if (l->gai_sentinel)
        ask_sentinel(l, host, l->gai_port);
    else
        connect_server(l, host, l->gai_port);
}

/* host is an address, or a name looked up on the thread pool first. */
static void resolve_then_connect(struct ifmon_redis_link *l, const char *host, int port,
                                 int sentinel)
{
    unsigned char buf[sizeof(struct in6_addr)];
    struct addrinfo hints;
    int rc;

    if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) {
        if (sentinel)
            ask_sentinel(l, host, port);
        else
            connect_server(l, host, port);
        return;
    }
    set_addr(l, host, port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    l->gai.data = l;
    l->gai_sentinel = sentinel;
    l->gai_port = port;
    rc = uv_getaddrinfo(l->loop, &l->gai, on_resolved, host, NULL, &hints);
    if (rc < 0) {
        note_error(l, "resolve", uv_strerror(rc));
        schedule_retry(l);
        return;
    }
    l->gai_busy = 1;
}

static void link_connect(struct ifmon_redis_link *l)
{
    if (l->closing || l->ac || l->sac || l->gai_busy || (l->host == NULL && l->nsentinels == 0))
        return;
    if (l->nsentinels) {
        const struct ifmon_redis_sentinel *s = &l->sentinels[l->next_sentinel];

        resolve_then_connect(l, s->host, s->port, 1);
        return;
    }
    resolve_then_connect(l, l->host, l->port, 0);
}

/* ---------------------------------------------------------------- API */

void ifmon_redis_link_init(struct ifmon_redis_link *l, uv_loop_t *loop, const char *role,
                           unsigned flush_ms, int wait_auth,
                           const struct ifmon_redis_link_hooks *hooks, void *owner)
{
    memset(l, 0, sizeof(*l));
    l->loop = loop;
    l->role = role;
    l->flush_ms = flush_ms;
    l->reads = 1;
    l->wait_auth = wait_auth;
    l->hooks = *hooks;
    l->owner = owner;
    l->backoff_ms = IFMON_REDIS_BACKOFF_MIN_MS;
    uv_timer_init(loop, &l->retry);
    l->retry.data = l;
    uv_timer_init(loop, &l->sentinel_timer);
    l->sentinel_timer.data = l;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void free_target(struct ifmon_redis_link *l)
{
    size_t i;

    for (i = 0; i < l->nsentinels; i++)
        free((char *)l->sentinels[i].host);
    free(l->sentinels);
    free(l->host);
    free(l->password);
    free(l->master_name);
    l->sentinels = NULL;
    l->nsentinels = 0;
    l->host = l->password = l->master_name = NULL;
}

static int same_target(const struct ifmon_redis_link *l, const struct ifmon_redis_target *t)
{
    size_t i;

    if (!same_str(l->password, t->password) || l->nsentinels != t->nsentinels)
        return 0;
    if (t->nsentinels == 0)
        return same_str(l->host, t->host) && l->port == t->port;
    if (!same_str(l->master_name, t->master_name))
        return 0;
    for (i = 0; i < t->nsentinels; i++)
        if (strcmp(l->sentinels[i].host, t->sentinels[i].host) != 0 ||
            l->sentinels[i].port != t->sentinels[i].port)
            return 0;
    return 1;
}

int ifmon_redis_link_set_target(struct ifmon_redis_link *l, const struct ifmon_redis_target *t)
{
    int first = l->host == NULL && l->nsentinels == 0;
    size_t i;

    if (!first && same_target(l, t))
        return 0;
    free_target(l);
    l->host = ifmon_xstrdup(t->host ? t->host : "");
    l->port = t->port;
    l->password = t->password ? ifmon_xstrdup(t->password) : NULL;
    if (t->nsentinels) {
        l->sentinels = ifmon_xcalloc(t->nsentinels, sizeof(*l->sentinels));
        for (i = 0; i < t->nsentinels; i++) {
            l->sentinels[i].host = ifmon_xstrdup(t->sentinels[i].host);
            l->sentinels[i].port = t->sentinels[i].port;
        }
        l->nsentinels = t->nsentinels;
        l->master_name = ifmon_xstrdup(t->master_name);
    }
    l->next_sentinel = 0;
    set_addr(l, l->host, l->port);
    l->last_error[0] = '\0';
    if (first) {
        link_connect(l);
        return 1;
    }
    if (l->nsentinels)
        log_info("redis (%s): settings changed, asking the Sentinels for %s", l->role,
                 l->master_name);
    else
        log_info("redis (%s): settings changed, connecting to %s", l->role, l->addr);
    if (l->ac) {
        /* on_disconnect schedules the new connection, at once. */
        l->backoff_ms = 0;
        redisAsyncDisconnect(l->ac);
    } else {
        uv_timer_stop(&l->retry);
        l->backoff_ms = IFMON_REDIS_BACKOFF_MIN_MS;
        link_connect(l);
    }
    return 1;
}

int ifmon_redis_link_is_up(const struct ifmon_redis_link *l)
{
    return l->up && l->ac != NULL;
}

void ifmon_redis_link_reply_error(struct ifmon_redis_link *l, const char *err)
{
    if (strncmp(l->last_error, err, sizeof(l->last_error) - 1) == 0)
        return;
    log_warn("redis %s (%s): %s", l->addr, l->role, err);
    snprintf(l->last_error, sizeof(l->last_error), "%s", err);
}

void ifmon_redis_link_close(struct ifmon_redis_link *l)
{
    l->closing = 1;
    uv_timer_stop(&l->retry);
    uv_close((uv_handle_t *)&l->retry, NULL);
    uv_timer_stop(&l->sentinel_timer);
    uv_close((uv_handle_t *)&l->sentinel_timer, NULL);
    if (l->gai_busy)
        uv_cancel((uv_req_t *)&l->gai); /* on_resolved runs, sees closing */
    drop_sentinel(l);
    if (l->ac) {
        /* Sends what is queued; callbacks in flight run with NULL, then
         * on_disconnect. */
        redisAsyncDisconnect(l->ac);
    }
}

void ifmon_redis_link_release(struct ifmon_redis_link *l)
{
    free_target(l);
}
