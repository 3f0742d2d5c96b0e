/* publisher.c -- see publisher.h. Commands are formatted here in the Redis
 * protocol (RESP) into reused buffers and handed to hiredis as formatted
 * commands, so a sample costs no printf-style parsing and no allocation of
 * ours.
 *
 * Replies. hiredis allocates, parses and matches to a callback every
 * reply, and a sample is two or three commands (RPUSH, PUBLISH, and every
 * few samples LTRIM). Commands are therefore gathered
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

#include "publisher.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "redis_link.h"
#include "util.h"

static const char reply_off[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n";
static const char reply_on[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n";

/* Commands in RESP, one after the other. */
struct resp_buf {
    char *p;
    size_t len, cap;
};

struct publisher {
    struct ifmon_redis_link link;
    int quiet_ok;           /* the server accepted CLIENT REPLY on this connection */
    uv_check_t quiet_check; /* sends `quiet` at the end of the iteration */
    void (*on_connected)(void *ctx);
    void *ctx;
    struct resp_buf cmd;   /* the command being formatted */
    struct resp_buf quiet; /* commands whose replies are not wanted */
    size_t quiet_count;
    uint64_t pending; /* commands sent and not acknowledged yet */
    struct publisher_stats st;
};
/* ----------------------------------------------------------------- RESP */

static void buf_reserve(struct resp_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    while (b->cap < b->len + more)
        b->cap = b->cap ? b->cap * 2 : 4096;
    b->p = ifmon_xrealloc(b->p, b->cap);
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
    struct ifmon_redis_link *l = ac->data;
    struct publisher *pub = l->owner;
    redisReply *reply = r;
    uint64_t n = (uint64_t)(uintptr_t)privdata;

    pub->pending = pub->pending > n ? pub->pending - n : 0;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        pub->st.errors++;
        ifmon_redis_link_reply_error(l, reply->str);
    }
}

/* Hand the formatted command(s) in b, acknowledged by one reply, to
 * hiredis; count is how many commands that reply stands for. */
static int send_resp(struct publisher *pub, struct resp_buf *b, size_t count)
{
    int rc =
        redisAsyncFormattedCommand(pub->link.ac, on_reply, (void *)(uintptr_t)count, b->p, b->len);

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
    struct ifmon_redis_link *l = ac->data;
    struct publisher *pub = l->owner;
    redisReply *reply = r;

    if (pub->pending)
        pub->pending--;
    pub->quiet_ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (!pub->quiet_ok && reply && reply->type == REDIS_REPLY_ERROR)
        log_info("redis: CLIENT REPLY refused (%s): every command gets its reply", reply->str);
}

/* ----------------------------------------------------------- connection */

/* The link's up hook: after every (re)connection. */
static void on_link_up(struct ifmon_redis_link *l)
{
    struct publisher *pub = l->owner;

    pub->pending = 0;
    pub->quiet_ok = 0;
    if (redisAsyncFormattedCommand(l->ac, on_reply_probe, NULL, reply_on, sizeof(reply_on) - 1) ==
        REDIS_OK)
        pub->pending++;
    if (pub->on_connected)
        pub->on_connected(pub->ctx);
}

/* Lost: what was gathered for the connection goes with it. */
static void on_link_down(struct ifmon_redis_link *l)
{
    struct publisher *pub = l->owner;

    pub->pending = 0;
    pub->quiet_ok = 0;
}

/* ------------------------------------------------------------------ API */

struct publisher *publisher_create(uv_loop_t *loop, const struct config_redis *cfg,
                                   void (*on_connected)(void *ctx), void *ctx)
{
    static const struct ifmon_redis_link_hooks hooks = {.up = on_link_up, .down = on_link_down};
    struct publisher *pub = ifmon_xcalloc(1, sizeof(*pub));

    pub->on_connected = on_connected;
    pub->ctx = ctx;
    uv_check_init(loop, &pub->quiet_check);
    pub->quiet_check.data = pub;
    ifmon_redis_link_init(&pub->link, loop, "publisher", PUBLISHER_FLUSH_MS, 0, &hooks, pub);
    publisher_set_config(pub, cfg);
    return pub;
}

void publisher_set_config(struct publisher *pub, const struct config_redis *cfg)
{
    struct ifmon_redis_target t = {cfg->host,      cfg->port,       cfg->password,
                                   cfg->sentinels, cfg->nsentinels, cfg->master_name};

    ifmon_redis_link_set_target(&pub->link, &t);
}

int publisher_ready(const struct publisher *pub)
{
    return ifmon_redis_link_is_up(&pub->link);
}

static int can_send(struct publisher *pub, unsigned commands)
{
    if (!publisher_ready(pub) || pub->pending + commands > PUBLISHER_MAX_PENDING) {
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
    if (history > 0) {
        q = quiet_begin(pub);
        resp_begin(q, 4);
        resp_arg(q, "LTRIM", 5);
        resp_arg(q, history_key, history_key_len);
        resp_int(q, -(long long)history);
        resp_arg(q, "-1", 2);
        quiet_done(pub, q);
    }
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

int publisher_command(struct publisher *pub, int argc, const char *const *argv,
                      const size_t *lens)
{
    int i;

    if (!can_send(pub, 1))
        return -1;
    quiet_close(pub); /* what came before goes first */
    resp_begin(&pub->cmd, argc);
    for (i = 0; i < argc; i++)
        resp_arg(&pub->cmd, argv[i], lens[i]);
    return send_cmd(pub);
}

int publisher_event(struct publisher *pub, const char *channel, size_t channel_len,
                    const char *log_key, size_t log_key_len, const char *msg, size_t msg_len,
                    int keep)
{
    if (!can_send(pub, 3))
        return -1;
    quiet_close(pub); /* what came before goes first */
    resp_begin(&pub->cmd, 3);
    resp_arg(&pub->cmd, "RPUSH", 5);
    resp_arg(&pub->cmd, log_key, log_key_len);
    resp_arg(&pub->cmd, msg, msg_len);
    send_cmd(pub);
    publisher_trim(pub, log_key, log_key_len, keep);
    resp_begin(&pub->cmd, 3);
    resp_arg(&pub->cmd, "PUBLISH", 7);
    resp_arg(&pub->cmd, channel, channel_len);
    resp_arg(&pub->cmd, msg, msg_len);
    return send_cmd(pub);
}

int publisher_trim(struct publisher *pub, const char *key, size_t key_len, int keep)
{
    if (!can_send(pub, 1))
        return -1;
    quiet_close(pub);
    if (keep <= 0) {
        resp_begin(&pub->cmd, 2);
        resp_arg(&pub->cmd, "DEL", 3);
        resp_arg(&pub->cmd, key, key_len);
        return send_cmd(pub);
    }
    resp_begin(&pub->cmd, 4);
    resp_arg(&pub->cmd, "LTRIM", 5);
    resp_arg(&pub->cmd, key, key_len);
    resp_int(&pub->cmd, -(long long)keep);
    resp_arg(&pub->cmd, "-1", 2);
    return send_cmd(pub);
}

int publisher_list_replace(struct publisher *pub, const char *key, size_t key_len,
                           const char *tmp_key, size_t tmp_key_len, const char *const *items,
                           const size_t *lens, size_t n)
{
    size_t i;

    if (n == 0)
        return publisher_trim(pub, key, key_len, 0);
    if (!can_send(pub, 3))
        return -1;
    quiet_close(pub);
    resp_begin(&pub->cmd, 2);
    resp_arg(&pub->cmd, "DEL", 3);
    resp_arg(&pub->cmd, tmp_key, tmp_key_len);
    send_cmd(pub);
    resp_begin(&pub->cmd, (int)(n + 2));
    resp_arg(&pub->cmd, "RPUSH", 5);
    resp_arg(&pub->cmd, tmp_key, tmp_key_len);
    for (i = 0; i < n; i++)
        resp_arg(&pub->cmd, items[i], lens[i]);
    send_cmd(pub);
    resp_begin(&pub->cmd, 3);
    resp_arg(&pub->cmd, "RENAME", 6);
    resp_arg(&pub->cmd, tmp_key, tmp_key_len);
    resp_arg(&pub->cmd, key, key_len);
    return send_cmd(pub);
}

/* A publisher_read_list() in flight. */
struct list_read {
    struct publisher *pub;
    publisher_list_fn fn;
    void *ctx;
};

static void on_list_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct list_read *rd = privdata;
    redisReply *reply = r;
    const char **items = NULL;
    size_t *lens = NULL, i, n = 0;
    int ok = reply && reply->type == REDIS_REPLY_ARRAY;

    (void)ac;
    if (rd->pub->pending)
        rd->pub->pending--;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        rd->pub->st.errors++;
        ifmon_redis_link_reply_error(&rd->pub->link, reply->str);
    }
    if (ok) {
        items = ifmon_xcalloc(reply->elements, sizeof(*items));
        lens = ifmon_xcalloc(reply->elements, sizeof(*lens));
        for (i = 0; i < reply->elements; i++) {
            const redisReply *e = reply->element[i];

            if (e->type != REDIS_REPLY_STRING)
                continue;
            items[n] = e->str;
            lens[n++] = e->len;
        }
    }
    rd->fn(rd->ctx, ok, n, items, lens);
    free(items);
    free(lens);
    free(rd);
}

int publisher_read_list(struct publisher *pub, const char *key, size_t key_len,
                        publisher_list_fn fn, void *ctx)
{
    struct list_read *rd;

    if (!can_send(pub, 1))
        return -1;
    quiet_close(pub);
    resp_begin(&pub->cmd, 4);
    resp_arg(&pub->cmd, "LRANGE", 6);
    resp_arg(&pub->cmd, key, key_len);
    resp_arg(&pub->cmd, "0", 1);
    resp_arg(&pub->cmd, "-1", 2);
    rd = ifmon_xcalloc(1, sizeof(*rd));
    rd->pub = pub;
    rd->fn = fn;
    rd->ctx = ctx;
    pub->st.commands++;
    if (redisAsyncFormattedCommand(pub->link.ac, on_list_reply, rd, pub->cmd.p, pub->cmd.len) !=
        REDIS_OK) {
        pub->cmd.len = 0;
        free(rd);
        return -1;
    }
    pub->cmd.len = 0;
    pub->pending++;
    return 0;
}

void publisher_stats(const struct publisher *pub, struct publisher_stats *out)
{
    *out = pub->st;
    out->reconnects = pub->link.reconnects;
    out->connected = publisher_ready(pub);
}

void publisher_close(struct publisher *pub)
{
    quiet_flush(&pub->quiet_check);
    uv_close((uv_handle_t *)&pub->quiet_check, NULL);
    /* Sends what is queued, then disconnects. */
    ifmon_redis_link_close(&pub->link);
}

void publisher_free(struct publisher *pub)
{
    if (pub == NULL)
        return;
    ifmon_redis_link_release(&pub->link);
    free(pub->cmd.p);
    free(pub->quiet.p);
    free(pub);
}
