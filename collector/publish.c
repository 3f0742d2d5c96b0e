/* publish.c -- see publish.h. Commands are formatted here into one reused
 * buffer in the Redis protocol (RESP) and handed to hiredis as formatted
 * commands, so a sample costs no printf-style parsing and no allocation of
 * ours. */

#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "redis_uv.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 500 /* a refused connect costs nothing; data resumes <= 1.5 s after Redis */

struct publisher {
    uv_loop_t *loop;
    const struct config_redis *cfg;
    redisAsyncContext *ac;
    int connected;
    int closing;
    int ever_connected;
    uv_timer_t retry;
    uint64_t backoff_ms;
    void (*on_connected)(void *ctx);
    void *ctx;
    char *buf; /* RESP scratch */
    size_t buf_cap, buf_len;
    uint64_t pending; /* replies not received yet */
    struct publisher_stats st;
    char last_error[128];
};

static void connect_now(struct publisher *pub);

/* ----------------------------------------------------------------- RESP */

static void buf_reserve(struct publisher *pub, size_t more)
{
    if (pub->buf_len + more <= pub->buf_cap)
        return;
    while (pub->buf_cap < pub->buf_len + more)
        pub->buf_cap = pub->buf_cap ? pub->buf_cap * 2 : 4096;
    pub->buf = realloc(pub->buf, pub->buf_cap);
    if (pub->buf == NULL)
        abort();
}

/* "<mark><n>\r\n" at the end of the buffer (room reserved by the caller).
 * Hand-rolled: snprintf here took about 4% of the collector's CPU in a
 * perf profile of make bench-collector. */
static void resp_len(struct publisher *pub, char mark, size_t n)
{
    char tmp[24];
    size_t k = 0;

    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    pub->buf[pub->buf_len++] = mark;
    while (k)
        pub->buf[pub->buf_len++] = tmp[--k];
    pub->buf[pub->buf_len++] = '\r';
    pub->buf[pub->buf_len++] = '\n';
}

static void resp_begin(struct publisher *pub, int argc)
{
    pub->buf_len = 0;
    buf_reserve(pub, 32);
    resp_len(pub, '*', (size_t)argc);
}

static void resp_arg(struct publisher *pub, const char *s, size_t len)
{
    buf_reserve(pub, len + 32);
    resp_len(pub, '$', len);
    memcpy(pub->buf + pub->buf_len, s, len);
    pub->buf_len += len;
    pub->buf[pub->buf_len++] = '\r';
    pub->buf[pub->buf_len++] = '\n';
}

/* A decimal argument (LTRIM's start, EXPIRE's seconds), once per sample:
 * no snprintf either. */
static void resp_int(struct publisher *pub, long long v)
{
    char num[24], *p = num + sizeof(num);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    resp_arg(pub, p, (size_t)(num + sizeof(num) - p));
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct publisher *pub = ac->data;
    redisReply *reply = r;

    if (pub == NULL)
        return;
    if (pub->pending)
        pub->pending--;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        pub->st.errors++;
        if (strncmp(pub->last_error, reply->str, sizeof(pub->last_error) - 1) != 0) {
            log_warn("redis: %s", reply->str);
            snprintf(pub->last_error, sizeof(pub->last_error), "%s", reply->str);
        }
    }
}

static int send_buf(struct publisher *pub)
{
    if (redisAsyncFormattedCommand(pub->ac, on_reply, NULL, pub->buf, pub->buf_len) != REDIS_OK)
        return -1;
    pub->pending++;
    pub->st.commands++;
    return 0;
}

/* ----------------------------------------------------------- connection */

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_retry(struct publisher *pub)
{
    if (pub->closing)
        return;
    uv_timer_start(&pub->retry, on_retry, pub->backoff_ms, 0);
    pub->backoff_ms *= 2;
    if (pub->backoff_ms < BACKOFF_MIN_MS)
        pub->backoff_ms = BACKOFF_MIN_MS;
    if (pub->backoff_ms > BACKOFF_MAX_MS)
        pub->backoff_ms = BACKOFF_MAX_MS;
}

static void note_error(struct publisher *pub, const char *what, const char *err)
{
    char msg[sizeof(pub->last_error)];

    snprintf(msg, sizeof(msg), "%s: %s", what, err);
    /* Once per distinct error, not once per retry. */
    if (strcmp(msg, pub->last_error) != 0)
        log_warn("redis %s:%d: %s (retrying)", pub->cfg->host, pub->cfg->port, msg);
    snprintf(pub->last_error, sizeof(pub->last_error), "%s", msg);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct publisher *pub = ac->data;

    if (pub == NULL)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        note_error(pub, "connect", ac->errstr);
        pub->ac = NULL;
        schedule_retry(pub);
        return;
    }
    pub->connected = 1;
    pub->pending = 0;
    pub->backoff_ms = BACKOFF_MIN_MS;
    pub->last_error[0] = '\0';
    if (pub->ever_connected)
        pub->st.reconnects++;
    pub->ever_connected = 1;
    log_info("redis %s:%d: connected", pub->cfg->host, pub->cfg->port);
    if (pub->cfg->password) {
        resp_begin(pub, 2);
        resp_arg(pub, "AUTH", 4);
        resp_arg(pub, pub->cfg->password, strlen(pub->cfg->password));
        send_buf(pub);
    }
    if (pub->on_connected)
        pub->on_connected(pub->ctx);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct publisher *pub = ac->data;

    if (pub == NULL)
        return;
    pub->ac = NULL;
    pub->connected = 0;
    pub->pending = 0;
    if (pub->closing)
        return;
    note_error(pub, "connection lost", status == REDIS_OK ? "closed" : ac->errstr);
    schedule_retry(pub);
}

static void connect_now(struct publisher *pub)
{
    redisAsyncContext *ac;

    if (pub->closing || pub->ac)
        return;
    ac = redisAsyncConnect(pub->cfg->host, pub->cfg->port);
    if (ac == NULL || ac->err) {
        note_error(pub, "connect", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(pub);
        return;
    }
    ac->data = pub;
    if (redis_uv_attach(ac, pub->loop, PUBLISH_FLUSH_MS) != REDIS_OK) {
        redisAsyncFree(ac);
        note_error(pub, "connect", "cannot attach to the event loop");
        schedule_retry(pub);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    pub->ac = ac;
}

/* ------------------------------------------------------------------ API */

struct publisher *publisher_create(uv_loop_t *loop, const struct config_redis *cfg,
                                   void (*on_connected)(void *ctx), void *ctx)
{
    struct publisher *pub = calloc(1, sizeof(*pub));

    if (pub == NULL)
        abort();
    pub->loop = loop;
    pub->cfg = cfg;
    pub->on_connected = on_connected;
    pub->ctx = ctx;
    pub->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &pub->retry);
    pub->retry.data = pub;
    connect_now(pub);
    return pub;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

void publisher_set_config(struct publisher *pub, const struct config_redis *cfg)
{
    int same = strcmp(pub->cfg->host, cfg->host) == 0 && pub->cfg->port == cfg->port &&
               same_str(pub->cfg->password, cfg->password);

    pub->cfg = cfg;
    if (same)
        return;
    log_info("redis: settings changed, connecting to %s:%d", cfg->host, cfg->port);
    if (pub->ac) {
        redisAsyncContext *ac = pub->ac;

        /* on_disconnect schedules the new connection. */
        pub->backoff_ms = 0;
        redisAsyncDisconnect(ac);
    } else {
        uv_timer_stop(&pub->retry);
        pub->backoff_ms = BACKOFF_MIN_MS;
        connect_now(pub);
    }
}

int publisher_ready(const struct publisher *pub)
{
    return pub->connected && pub->ac != NULL;
}

static int can_send(struct publisher *pub, unsigned commands)
{
    if (!publisher_ready(pub) || pub->pending + commands > PUBLISH_MAX_PENDING) {
        pub->st.dropped++;
        return 0;
    }
    return 1;
}

int publisher_sample(struct publisher *pub, const char *channel, size_t channel_len,
                     const char *history_key, size_t history_key_len, const char *msg,
                     size_t msg_len, int history, int expire_s)
{
    if (!can_send(pub, 4))
        return -1;
    /* RPUSH before PUBLISH: a reader that subscribes and then reads the
     * list can miss nothing (docs/PROTOCOL.md). */
    resp_begin(pub, 3);
    resp_arg(pub, "RPUSH", 5);
    resp_arg(pub, history_key, history_key_len);
    resp_arg(pub, msg, msg_len);
    send_buf(pub);
    resp_begin(pub, 4);
    resp_arg(pub, "LTRIM", 5);
    resp_arg(pub, history_key, history_key_len);
    resp_int(pub, -(long long)history);
    resp_arg(pub, "-1", 2);
    send_buf(pub);
    resp_begin(pub, 3);
    resp_arg(pub, "PUBLISH", 7);
    resp_arg(pub, channel, channel_len);
    resp_arg(pub, msg, msg_len);
    send_buf(pub);
    if (expire_s > 0) {
        resp_begin(pub, 3);
        resp_arg(pub, "EXPIRE", 6);
        resp_arg(pub, history_key, history_key_len);
        resp_int(pub, expire_s);
        send_buf(pub);
    }
    return 0;
}

int publisher_publish(struct publisher *pub, const char *channel, size_t channel_len,
                      const char *msg, size_t msg_len)
{
    if (!can_send(pub, 1))
        return -1;
    resp_begin(pub, 3);
    resp_arg(pub, "PUBLISH", 7);
    resp_arg(pub, channel, channel_len);
    resp_arg(pub, msg, msg_len);
    return send_buf(pub);
}

int publisher_set(struct publisher *pub, const char *key, size_t key_len, const char *value,
                  size_t value_len)
{
    if (!can_send(pub, 1))
        return -1;
    resp_begin(pub, 3);
    resp_arg(pub, "SET", 3);
    resp_arg(pub, key, key_len);
    resp_arg(pub, value, value_len);
    return send_buf(pub);
}

void publisher_stats(const struct publisher *pub, struct publisher_stats *out)
{
    *out = pub->st;
    out->connected = publisher_ready(pub);
}

void publisher_close(struct publisher *pub)
{
    pub->closing = 1;
    uv_timer_stop(&pub->retry);
    uv_close((uv_handle_t *)&pub->retry, NULL);
    if (pub->ac) {
        /* Sends what is queued, then calls on_disconnect. */
        redisAsyncDisconnect(pub->ac);
    }
}

void publisher_free(struct publisher *pub)
{
    if (pub == NULL)
        return;
    free(pub->buf);
    free(pub);
}
