/* publish.c -- see publish.h. Commands are formatted here in the Redis
 * protocol (RESP) into reused buffers and handed to hiredis as formatted
 * commands, so a sample costs no printf-style parsing and no allocation of
 * ours.
 *
 * Replies. hiredis allocates, parses and matches to a callback every
 * reply, and a sample is three commands. Commands are therefore gathered
 * in call order in the `quiet` buffer between CLIENT REPLY OFF and CLIENT
 * REPLY ON (Redis 3.2) and handed to hiredis at the end of the loop
 * iteration: one reply for the lot. Only an RPUSH can fail where the
 * others would not (a full or read-only Redis, an ACL, a key of another
 * type); LTRIM, PUBLISH and EXPIRE on the same key cannot tell anything
 * new. So an RPUSH still gets its reply when it is the first of its
 * iteration (a Redis-wide failure shows within one iteration) and when it
 * comes with the EXPIRE, an interface's first sample and every 60th after
 * (a key-wide one shows at once, and then within 60 samples). A server
 * that refuses CLIENT REPLY (asked once per connection) gets every command
 * with its reply. */

#include "publish.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "redis_uv.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 500 /* a refused connect costs nothing; data resumes <= 1.5 s after Redis */

static const char reply_off[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n";
static const char reply_on[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n";

/* Commands in RESP, one after the other. */
struct resp_buf {
    char *p;
    size_t len, cap;
};

struct publisher {
    uv_loop_t *loop;
    const struct config_redis *cfg;
    redisAsyncContext *ac;
    int connected;
    int closing;
    int ever_connected;
    int quiet_ok; /* the server accepted CLIENT REPLY on this connection */
    uv_timer_t retry;
    uv_check_t quiet_check; /* sends `quiet` at the end of the iteration */
    uint64_t backoff_ms;
    void (*on_connected)(void *ctx);
    void *ctx;
    struct resp_buf cmd;   /* the command being formatted */
    struct resp_buf quiet; /* commands whose replies are not wanted */
    size_t quiet_count;
    uint64_t pending; /* commands sent and not acknowledged yet */
    struct publisher_stats st;
    char last_error[128];
};

static void connect_now(struct publisher *pub);

/* ----------------------------------------------------------------- RESP */

static void buf_reserve(struct resp_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    while (b->cap < b->len + more)
        b->cap = b->cap ? b->cap * 2 : 4096;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL)
        abort();
}

static void buf_append(struct resp_buf *b, const char *s, size_t len)
{
    buf_reserve(b, len);
    memcpy(b->p + b->len, s, len);
    b->len += len;
}

/* "<mark><n>\r\n" at the end of the buffer (room reserved by the caller).
 * Hand-rolled: snprintf here took about 4% of the collector's CPU in a
 * perf profile of make bench-collector. */
static void resp_len(struct resp_buf *b, char mark, size_t n)
{
    char tmp[24];
    size_t k = 0;

    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    b->p[b->len++] = mark;
    while (k)
        b->p[b->len++] = tmp[--k];
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

static void resp_begin(struct resp_buf *b, int argc)
{
    buf_reserve(b, 32);
    resp_len(b, '*', (size_t)argc);
}

static void resp_arg(struct resp_buf *b, const char *s, size_t len)
{
    buf_reserve(b, len + 32);
    resp_len(b, '$', len);
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

/* A decimal argument (LTRIM's start, EXPIRE's seconds), once per sample:
 * no snprintf either. */
static void resp_int(struct resp_buf *b, long long v)
{
    char num[24], *p = num + sizeof(num);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    resp_arg(b, p, (size_t)(num + sizeof(num) - p));
}

/* A reply to `privdata` commands (1, or a whole quiet batch). */
static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct publisher *pub = ac->data;
    redisReply *reply = r;
    uint64_t n = (uint64_t)(uintptr_t)privdata;

    if (pub == NULL)
        return;
    pub->pending = pub->pending > n ? pub->pending - n : 0;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        pub->st.errors++;
        if (strncmp(pub->last_error, reply->str, sizeof(pub->last_error) - 1) != 0) {
            log_warn("redis: %s", reply->str);
            snprintf(pub->last_error, sizeof(pub->last_error), "%s", reply->str);
        }
    }
}

/* Hand the formatted command(s) in b, acknowledged by one reply, to
 * hiredis; count is how many commands that reply stands for. */
static int send_resp(struct publisher *pub, struct resp_buf *b, size_t count)
{
    int rc = redisAsyncFormattedCommand(pub->ac, on_reply, (void *)(uintptr_t)count, b->p, b->len);

    b->len = 0;
    if (rc != REDIS_OK)
        return -1;
    pub->pending += count;
    return 0;
}

static int send_cmd(struct publisher *pub)
{
    pub->st.commands++;
    return send_resp(pub, &pub->cmd, 1);
}

/* Hand what the quiet buffer holds to hiredis, closed by CLIENT REPLY ON
 * (whose OK is the one reply). */
static void quiet_close(struct publisher *pub)
{
    if (pub->quiet.len == 0)
        return;
    if (!publisher_ready(pub)) { /* lost with the connection */
        pub->quiet.len = 0;
        pub->quiet_count = 0;
        return;
    }
    buf_append(&pub->quiet, reply_on, sizeof(reply_on) - 1);
    send_resp(pub, &pub->quiet, pub->quiet_count);
    pub->quiet_count = 0;
}

/* uv_check: the end of the loop iteration. */
static void quiet_flush(uv_check_t *h)
{
    uv_check_stop(h);
    quiet_close(h->data);
}

/* Where a command whose reply is not wanted goes: the quiet buffer, or
 * cmd with a reply when the server cannot be asked for silence. Ends with
 * quiet_done(). */
static struct resp_buf *quiet_begin(struct publisher *pub)
{
    if (!pub->quiet_ok)
        return &pub->cmd;
    if (pub->quiet.len == 0) {
        buf_append(&pub->quiet, reply_off, sizeof(reply_off) - 1);
        uv_check_start(&pub->quiet_check, quiet_flush);
    }
    return &pub->quiet;
}

static void quiet_done(struct publisher *pub, struct resp_buf *b)
{
    if (b == &pub->cmd) {
        send_cmd(pub);
        return;
    }
    pub->quiet_count++;
    pub->st.commands++;
}

/* The answer to CLIENT REPLY ON sent at connection: may the quiet buffer
 * be used? */
static void on_reply_probe(redisAsyncContext *ac, void *r, void *privdata)
{
    struct publisher *pub = ac->data;
    redisReply *reply = r;

    if (pub == NULL)
        return;
    if (pub->pending)
        pub->pending--;
    pub->quiet_ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (!pub->quiet_ok && reply && reply->type == REDIS_REPLY_ERROR)
        log_info("redis: CLIENT REPLY refused (%s): every command gets its reply", reply->str);
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
        resp_begin(&pub->cmd, 2);
        resp_arg(&pub->cmd, "AUTH", 4);
        resp_arg(&pub->cmd, pub->cfg->password, strlen(pub->cfg->password));
        send_cmd(pub);
    }
    pub->quiet_ok = 0;
    if (redisAsyncFormattedCommand(pub->ac, on_reply_probe, NULL, reply_on, sizeof(reply_on) - 1) ==
        REDIS_OK)
        pub->pending++;
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
    pub->quiet_ok = 0;
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
    if (ifmon_redis_uv_attach(ac, pub->loop, PUBLISH_FLUSH_MS) != REDIS_OK) {
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
    uv_check_init(loop, &pub->quiet_check);
    pub->quiet_check.data = pub;
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

/* PUBLISH, without a reply where the server allows. */
static void quiet_publish(struct publisher *pub, const char *channel, size_t channel_len,
                          const char *msg, size_t msg_len)
{
    struct resp_buf *q = quiet_begin(pub);

    resp_begin(q, 3);
    resp_arg(q, "PUBLISH", 7);
    resp_arg(q, channel, channel_len);
    resp_arg(q, msg, msg_len);
    quiet_done(pub, q);
}

int publisher_sample(struct publisher *pub, const char *channel, size_t channel_len,
                     const char *history_key, size_t history_key_len, const char *msg,
                     size_t msg_len, int history, int expire_s)
{
    struct resp_buf *q;

    if (!can_send(pub, 4))
        return -1;
    /* RPUSH before PUBLISH: a reader that subscribes and then reads the
     * list can miss nothing (docs/PROTOCOL.md). */
    if (expire_s > 0 || pub->quiet.len == 0) {
        quiet_close(pub); /* keeps the order */
        q = &pub->cmd;
    } else {
        q = quiet_begin(pub);
    }
    resp_begin(q, 3);
    resp_arg(q, "RPUSH", 5);
    resp_arg(q, history_key, history_key_len);
    resp_arg(q, msg, msg_len);
    quiet_done(pub, q);
    q = quiet_begin(pub);
    resp_begin(q, 4);
    resp_arg(q, "LTRIM", 5);
    resp_arg(q, history_key, history_key_len);
    resp_int(q, -(long long)history);
    resp_arg(q, "-1", 2);
    quiet_done(pub, q);
    quiet_publish(pub, channel, channel_len, msg, msg_len);
    if (expire_s > 0) {
        q = quiet_begin(pub);
        resp_begin(q, 3);
        resp_arg(q, "EXPIRE", 6);
        resp_arg(q, history_key, history_key_len);
        resp_int(q, expire_s);
        quiet_done(pub, q);
    }
    return 0;
}

int publisher_publish(struct publisher *pub, const char *channel, size_t channel_len,
                      const char *msg, size_t msg_len)
{
    if (!can_send(pub, 1))
        return -1;
    quiet_publish(pub, channel, channel_len, msg, msg_len);
    return 0;
}

int publisher_set(struct publisher *pub, const char *key, size_t key_len, const char *value,
                  size_t value_len)
{
    if (!can_send(pub, 1))
        return -1;
    quiet_close(pub); /* what came before goes first */
    resp_begin(&pub->cmd, 3);
    resp_arg(&pub->cmd, "SET", 3);
    resp_arg(&pub->cmd, key, key_len);
    resp_arg(&pub->cmd, value, value_len);
    return send_cmd(pub);
}

void publisher_stats(const struct publisher *pub, struct publisher_stats *out)
{
    *out = pub->st;
    out->connected = publisher_ready(pub);
}

void publisher_close(struct publisher *pub)
{
    pub->closing = 1;
    quiet_flush(&pub->quiet_check);
    uv_close((uv_handle_t *)&pub->quiet_check, NULL);
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
    free(pub->cmd.p);
    free(pub->quiet.p);
    free(pub);
}
