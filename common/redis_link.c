/* redis_link.c -- see redis_link.h. */

#include "redis_link.h"

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
        log_warn("redis %s:%d (%s): %s (retrying)", l->host, l->port, l->role, msg);
    snprintf(l->last_error, sizeof(l->last_error), "%s", msg);
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
    log_info("redis %s:%d (%s): up", l->host, l->port, l->role);
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
    if (l->wait_auth && !l->up)
        link_is_up(l);
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
        if (l->wait_auth)
            return;
    }
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

static void link_connect(struct ifmon_redis_link *l)
{
    redisAsyncContext *ac;

    if (l->closing || l->ac || l->host == NULL)
        return;
    ac = redisAsyncConnect(l->host, l->port);
    if (ac == NULL || ac->err) {
        note_error(l, "connect", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(l);
        return;
    }
    ac->data = l;
    if (ifmon_redis_uv_attach(ac, l->loop, l->flush_ms, l->reads) != REDIS_OK) {
        redisAsyncFree(ac);
        note_error(l, "connect", "cannot attach to the event loop");
        schedule_retry(l);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
}

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
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int ifmon_redis_link_set_target(struct ifmon_redis_link *l, const char *host, int port,
                                const char *password)
{
    int first = l->host == NULL;

    if (!first && strcmp(l->host, host) == 0 && l->port == port && same_str(l->password, password))
        return 0;
    free(l->host);
    free(l->password);
    l->host = ifmon_xstrdup(host);
    l->port = port;
    l->password = password ? ifmon_xstrdup(password) : NULL;
    l->last_error[0] = '\0';
    if (first) {
        link_connect(l);
        return 1;
    }
    log_info("redis (%s): settings changed, connecting to %s:%d", l->role, host, port);
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
    log_warn("redis %s:%d (%s): %s", l->host, l->port, l->role, err);
    snprintf(l->last_error, sizeof(l->last_error), "%s", err);
}

void ifmon_redis_link_close(struct ifmon_redis_link *l)
{
    l->closing = 1;
    uv_timer_stop(&l->retry);
    uv_close((uv_handle_t *)&l->retry, NULL);
    if (l->ac) {
        /* Sends what is queued; callbacks in flight run with NULL, then
         * on_disconnect. */
        redisAsyncDisconnect(l->ac);
    }
}

void ifmon_redis_link_release(struct ifmon_redis_link *l)
{
    free(l->host);
    free(l->password);
    l->host = l->password = NULL;
}
