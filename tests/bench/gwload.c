/* gwload -- WebSocket load generator for ifmon-gateway (make bench-gateway).
 *
 * One process, one epoll loop, non-blocking sockets, no threads:
 *
 *   - opens N WebSocket connections to ws://127.0.0.1:PORT/ws (a minimal
 *     RFC 6455 client: upgrade handshake with Sec-WebSocket-Key, masked
 *     client frames, server frames with 7/16/64-bit lengths, fragmentation,
 *     ping/pong, close; no TLS);
 *   - each subscribes to K of C channels <prefix>:bench:<i>: connection j
 *     takes channels (j*K + k) mod C, k < K, so every channel has N*K/C
 *     subscribers (exactly when C divides N*K);
 *   - once every connection is subscribed it prints {"event":"subscribed"}
 *     and (with --wait-stdin) waits for a line on stdin;
 *   - with --redis-port it is also the publisher: a plain TCP connection to
 *     Redis on which it pipelines hand-made RESP "PUBLISH <prefix>:bench:<i>
 *     {"t":<CLOCK_REALTIME us>,"seq":<round>}" for every channel --rate
 *     times a second, spread evenly in --slices slices a round (100 by
 *     default: 10 channels every 10 ms at 1,000 channels; 20 publishes
 *     50 consecutive channels, a device's worth, in one burst every 50 ms,
 *     as a collector does);
 *   - after --warmup seconds it measures for --duration seconds. A delivery
 *     belongs to the window when its publish time "t" does; latency is
 *     receipt time minus "t". Publishing stops at the end of the window and
 *     it waits --drain seconds for messages still in flight, then prints one
 *     JSON line {"event":"result",...} and exits.
 *
 *   - with --history-first the warm-up starts only once every channel's
 *     history object has arrived (bounded by --setup-timeout), so that a
 *     window measures the steady state, not the subscriptions' history.
 *
 *   - with --channel-list FILE the channels are the lines of FILE instead
 *     (real collector channels, for make bench-scale): connection j takes
 *     lines (j*K + k) mod C; with no "t" in a message, its "ts" (a
 *     collector sample's time, Unix seconds) is the publish time.
 *
 * One file on purpose: a measuring stick built with one cc command, whose
 * whole client is in view when judging what it measures.
 *
 * Build: cc -O2 -Wall -o tests/bench/gwload tests/bench/gwload.c
 * The stdout lines are JSON, one per line; tests/bench/gateway.py reads them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_HANDSHAKE, ST_SUBSCRIBING, ST_SUBSCRIBED, ST_CLOSED };

struct conn {
    int fd;
    int state;
    unsigned char *rbuf;
    size_t rlen, rcap;
    unsigned char *msg; /* a fragmented message being assembled */
    size_t mlen, mcap;
    int msg_op;
    unsigned char *wbuf; /* bytes not yet written */
    size_t wlen, woff;
};

/* options */
static const char *host = "127.0.0.1";
static int port = 8080, redis_port = 0;
static int nconn = 5000, per_conn = 20, nchan = 1000, concurrency = 100, nslices = 100;
static const char *prefix = "bench", *path = "/ws";
static char **chan_names; /* --channel-list: the channels, else NULL */
static double rate = 1.0, warmup = 5.0, duration = 30.0, drain = 2.0, setup_timeout = 180.0;
static int wait_stdin = 0;

static int ep;
static struct conn *conns;
static int *chan_subs; /* subscribed connections per channel */

/* counters */
static long n_open, n_connect_failed, n_handshake_failed, n_subscribed, n_sub_errors;
static long n_closed_by_server, n_eof, n_errors_after_setup, n_error_replies;
static long n_pending; /* connections still being set up */
static long dlv_total, dlv_window, dlv_before, dlv_after, history_objs, frames_in;
/* Frames, and data messages in them, received during the window (by
 * receipt time): the frames the server's live data came in. */
static long frames_win, dlv_rx_win;
static long published, published_window, expected_window;
static long pub_replies;
static int close_codes[8]; /* 1000..1011 roughly: index code-1000 when < 8, else 7 */
static char first_error[256];

/* latency histogram: 10 us buckets up to 10 s, and the exact max */
#define HBUCKETS 1000000
static uint32_t *hist;
static long hist_over;
static int64_t lat_max_us;
static int history_first;
/* The worst latency of the samples of each second of the window (by
 * their ts): one stall shows as one bad second, a load as many. */
#define SECONDS_MAX 3600
static int64_t sec_max_us[SECONDS_MAX];

/* timing */
static int64_t t_pub0, t_win0, t_win1; /* CLOCK_REALTIME us */
static int phase; /* 0 setup, 1 subscribed (waiting), 2 publishing, 3 draining */
static long slice_next; /* next 10 ms slice to publish */
static int64_t pub_late_max_us;
static double cpu_win0, cpu_win1;
static int started_event, ended_event;

/* redis */
static int rfd = -1;
static unsigned char *rw;
static size_t rwlen, rwoff, rwcap;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        perror("realloc");
        exit(2);
    }
    return p;
}

static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void note_error(const char *fmt, const char *a, long b)
{
    if (first_error[0] == 0)
        snprintf(first_error, sizeof first_error, fmt, a, b);
}

/* ------------------------------------------------------------ writing */

static void ep_mod(int fd, uint32_t events, int idx)
{
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)idx};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void conn_close(int idx, int counted);

static void conn_flush(int idx)
{
    struct conn *c = &conns[idx];
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            note_error("write: %s (%ld)", strerror(errno), idx);
            conn_close(idx, 1);
            return;
        }
        c->woff += (size_t)n;
    }
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
        ep_mod(c->fd, EPOLLIN, idx);
    } else {
        ep_mod(c->fd, EPOLLIN | EPOLLOUT, idx);
    }
}

static void conn_queue(int idx, const void *data, size_t len)
{
    struct conn *c = &conns[idx];
    c->wbuf = xrealloc(c->wbuf, c->wlen + len);
    memcpy(c->wbuf + c->wlen, data, len);
    c->wlen += len;
}

/* A masked client frame. */
static void send_frame(int idx, int op, const void *payload, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0, i;
    uint32_t key = rnd();
    unsigned char *mk = (unsigned char *)&key;
    unsigned char *buf;

    hdr[h++] = (unsigned char)(0x80 | op);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (i = 0; i < 8; i++)
            hdr[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(hdr + h, mk, 4);
    h += 4;
    buf = malloc(h + len);
    memcpy(buf, hdr, h);
    for (i = 0; i < len; i++)
        buf[h + i] = ((const unsigned char *)payload)[i] ^ mk[i & 3];
    conn_queue(idx, buf, h + len);
    free(buf);
}

static void send_subscribe(int idx)
{
    size_t cap = 64 + (size_t)per_conn * (strlen(prefix) + 32), n;
    char *s;
    int k;

    if (chan_names)
        for (k = 0; k < per_conn; k++)
            cap += strlen(chan_names[((long)idx * per_conn + k) % nchan]) + 4;
    s = malloc(cap);
    n = (size_t)snprintf(s, cap, "{\"op\":\"subscribe\",\"id\":%d,\"channels\":[", idx);
    for (k = 0; k < per_conn; k++) {
        int ch = (int)(((long)idx * per_conn + k) % nchan);
        if (chan_names)
            n += (size_t)snprintf(s + n, cap - n, "%s\"%s\"", k ? "," : "", chan_names[ch]);
        else
            n += (size_t)snprintf(s + n, cap - n, "%s\"%s:bench:%d\"", k ? "," : "", prefix,
                                  ch);
    }
    n += (size_t)snprintf(s + n, cap - n, "]}");
    send_frame(idx, 1, s, n);
    free(s);
    conn_flush(idx);
}

/* ------------------------------------------------------------ reading */

static void setup_done(int idx)
{
    (void)idx;
    n_pending--;
}

static void conn_close(int idx, int counted)
{
    struct conn *c = &conns[idx];
    if (c->state == ST_CLOSED)
        return;
    if (c->state == ST_SUBSCRIBED) {
        int k;
        for (k = 0; k < per_conn; k++)
            chan_subs[((long)idx * per_conn + k) % nchan]--;
        n_subscribed--;
        if (phase >= 1)
            n_errors_after_setup += counted;
    } else if (c->state == ST_SUBSCRIBING) {
        n_sub_errors++;
        setup_done(idx);
    } else if (c->state == ST_CONNECTING) {
        n_connect_failed++;
        setup_done(idx);
    } else if (c->state == ST_HANDSHAKE) {
        n_handshake_failed++;
        setup_done(idx);
    }
    if (c->state >= ST_SUBSCRIBING)
        n_open--;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = ST_CLOSED;
    free(c->rbuf);
    free(c->msg);
    free(c->wbuf);
    c->rbuf = c->msg = c->wbuf = NULL;
    c->rlen = c->rcap = c->mlen = c->mcap = c->wlen = c->woff = 0;
}

static void record(int64_t t, int64_t now)
{
    if (t < t_win0 || t_win0 == 0) {
        dlv_before++;
        return;
    }
    if (t >= t_win1) {
        dlv_after++;
        return;
    }
    dlv_window++;
    int64_t lat = now - t;
    if (lat < 0)
        lat = 0;
    if (lat > lat_max_us)
        lat_max_us = lat;
    if ((t - t_win0) / 1000000 < SECONDS_MAX && lat > sec_max_us[(t - t_win0) / 1000000])
        sec_max_us[(t - t_win0) / 1000000] = lat;
    if (lat / 10 < HBUCKETS)
        hist[lat / 10]++;
    else
        hist_over++;
}

/* One text message: an object, or an array of data objects. */
static void on_message(int idx, const unsigned char *p, size_t len)
{
    struct conn *c = &conns[idx];
    const unsigned char *end = p + len, *q = p;
    int64_t now = now_us();

    if (c->state == ST_SUBSCRIBING) {
        if (memmem(p, len, "\"op\":\"subscribed\"", 17)) {
            int k;
            c->state = ST_SUBSCRIBED;
            n_subscribed++;
            for (k = 0; k < per_conn; k++)
                chan_subs[((long)idx * per_conn + k) % nchan]++;
            setup_done(idx);
            return;
        }
    }
    if (len > 6 && memmem(p, len < 64 ? len : 64, "\"op\":\"error\"", 12)) {
        n_error_replies++;
        if (first_error[0] == 0)
            snprintf(first_error, sizeof first_error, "error reply: %.*s",
                     (int)(len < 200 ? len : 200), p);
        if (c->state == ST_SUBSCRIBING) {
            conn_close(idx, 0);
        }
        return;
    }
    /* history objects: {"channel":C,"history":[...]} -- counted, skipped */
    while (q < end) {
        const unsigned char *d = memmem(q, (size_t)(end - q), "\"data\":", 7);
        const unsigned char *h;
        if (d == NULL)
            break;
        h = memmem(q, (size_t)(d - q), "\"history\":", 10);
        if (h)
            history_objs++;
        d += 7;
        dlv_total++;
        if (t_win0 && now >= t_win0 && now < t_win1)
            dlv_rx_win++;
        /* our payload is {"t":N,"seq":M}: "t" comes first */
        const unsigned char *t = memmem(d, (size_t)(end - d) < 32 ? (size_t)(end - d) : 32,
                                        "\"t\":", 4);
        if (t) {
            int64_t v = 0;
            t += 4;
            while (t < end && *t >= '0' && *t <= '9')
                v = v * 10 + (*t++ - '0');
            record(v, now);
            q = t;
        } else if ((t = memmem(d, (size_t)(end - d) < 2048 ? (size_t)(end - d) : 2048,
                               "\"ts\":", 5)) != NULL) {
            /* A collector's sample: "ts" in seconds, to the millisecond. */
            int64_t v = 0, frac = 0, scale = 1000000;
            t += 5;
            while (t < end && *t >= '0' && *t <= '9')
                v = v * 10 + (*t++ - '0');
            if (t < end && *t == '.')
                for (t++; t < end && *t >= '0' && *t <= '9'; t++)
                    if (scale > 1) {
                        scale /= 10;
                        frac += (*t - '0') * scale;
                    }
            record(v * 1000000 + frac, now);
            q = t;
        } else {
            q = d;
        }
    }
    if (q == p && memmem(p, len, "\"history\":", 10))
        history_objs++;
}

static void on_frames(int idx)
{
    struct conn *c = &conns[idx];
    size_t off = 0;

    while (c->state != ST_CLOSED) {
        unsigned char *b = c->rbuf + off;
        size_t avail = c->rlen - off, h = 2, i;
        uint64_t plen;
        int fin, op, masked;
        unsigned char mk[4] = {0};

        if (avail < 2)
            break;
        fin = b[0] & 0x80;
        op = b[0] & 0x0f;
        masked = b[1] & 0x80;
        plen = b[1] & 0x7f;
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = ((uint64_t)b[2] << 8) | b[3];
            h = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (i = 0; i < 8; i++)
                plen = (plen << 8) | b[2 + i];
            h = 10;
        }
        if (masked) {
            if (avail < h + 4)
                break;
            memcpy(mk, b + h, 4);
            h += 4;
        }
        if (avail < h + plen)
            break;
        unsigned char *pl = b + h;
        if (masked)
            for (i = 0; i < plen; i++)
                pl[i] ^= mk[i & 3];
        off += h + plen;
        frames_in++;
        if (t_win0) {
            int64_t tn = now_us();

            if (tn >= t_win0 && tn < t_win1)
                frames_win++;
        }
        switch (op) {
        case 0: /* continuation */
            c->msg = xrealloc(c->msg, c->mlen + plen + 1);
            memcpy(c->msg + c->mlen, pl, plen);
            c->mlen += plen;
            if (fin) {
                if (c->msg_op == 1)
                    on_message(idx, c->msg, c->mlen);
                c->mlen = 0;
            }
            break;
        case 1:
        case 2:
            if (fin) {
                if (op == 1)
                    on_message(idx, pl, plen);
            } else {
                c->msg_op = op;
                c->msg = xrealloc(c->msg, plen + 1);
                memcpy(c->msg, pl, plen);
                c->mlen = plen;
            }
            break;
        case 8: { /* close */
            int code = plen >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
            int slot = code >= 1000 && code < 1007 ? code - 1000 : 7;
            close_codes[slot]++;
            if (first_error[0] == 0)
                snprintf(first_error, sizeof first_error, "close frame code %d: %.*s", code,
                         (int)(plen > 2 ? plen - 2 : 0), pl + 2);
            n_closed_by_server++;
            conn_close(idx, 1);
            return;
        }
        case 9: /* ping */
            send_frame(idx, 10, pl, plen);
            conn_flush(idx);
            break;
        default:
            break;
        }
    }
    if (c->state == ST_CLOSED)
        return;
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

static void on_readable(int idx)
{
    struct conn *c = &conns[idx];
    for (;;) {
        if (c->rcap - c->rlen < 16384) {
            c->rcap = c->rcap ? c->rcap * 2 : 32768;
            c->rbuf = xrealloc(c->rbuf, c->rcap);
        }
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            note_error("read: %s (conn %ld)", strerror(errno), idx);
            conn_close(idx, 1);
            return;
        }
        if (n == 0) {
            if (c->state == ST_SUBSCRIBED)
                n_eof++;
            note_error("%sEOF from gateway (conn %ld)", "", idx);
            conn_close(idx, 1);
            return;
        }
        c->rlen += (size_t)n;
        if (c->state == ST_HANDSHAKE) {
            unsigned char *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
            if (e == NULL)
                continue;
            if (c->rlen < 12 || memcmp(c->rbuf + 9, "101", 3) != 0) {
                int l = (int)(e - c->rbuf);
                if (first_error[0] == 0)
                    snprintf(first_error, sizeof first_error, "handshake: %.*s",
                             l < 120 ? l : 120, c->rbuf);
                conn_close(idx, 0);
                return;
            }
            size_t hl = (size_t)(e + 4 - c->rbuf);
            memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
            c->rlen -= hl;
            c->state = ST_SUBSCRIBING;
            n_open++;
            send_subscribe(idx);
            if (c->state == ST_CLOSED)
                return;
        }
        if (c->state >= ST_SUBSCRIBING)
            on_frames(idx);
        if (c->state == ST_CLOSED)
            return;
        if ((size_t)n < 16384)
            break; /* likely drained; level-triggered epoll will call again */
    }
}

/* ------------------------------------------------------------ connecting */

static int next_to_open;

static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tb[v >> 18];
        out[o++] = tb[(v >> 12) & 63];
        out[o++] = tb[(v >> 6) & 63];
        out[o++] = tb[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tb[v >> 18];
        out[o++] = tb[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    }
    out[o] = 0;
}

static void open_one(int idx)
{
    struct conn *c = &conns[idx];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;

    inet_pton(AF_INET, host, &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    n_pending++;
    if (c->fd < 0) {
        note_error("socket: %s (%ld)", strerror(errno), idx);
        n_connect_failed++;
        n_pending--;
        c->state = ST_CLOSED;
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = ST_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)idx};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        note_error("connect: %s (%ld)", strerror(errno), idx);
        conn_close(idx, 0);
    }
}

static void on_connected(int idx)
{
    struct conn *c = &conns[idx];
    int err = 0;
    socklen_t l = sizeof err;
    unsigned char key[16];
    char k64[32], req[512];
    int i, n;

    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        note_error("connect: %s (conn %ld)", strerror(err), idx);
        conn_close(idx, 0);
        return;
    }
    for (i = 0; i < 16; i++)
        key[i] = (unsigned char)rnd();
    b64(key, 16, k64);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 path, host, port, k64);
    c->state = ST_HANDSHAKE;
    conn_queue(idx, req, (size_t)n);
    conn_flush(idx);
}

static void open_more(void)
{
    while (next_to_open < nconn && n_pending < concurrency)
        open_one(next_to_open++);
}

/* ------------------------------------------------------------ publisher */

static void redis_flush(void)
{
    while (rwoff < rwlen) {
        ssize_t n = write(rfd, rw + rwoff, rwlen - rwoff);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            fprintf(stderr, "gwload: redis write: %s\n", strerror(errno));
            exit(2);
        }
        rwoff += (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN | (rwoff < rwlen ? EPOLLOUT : 0),
                             .data.u64 = (uint64_t)-2};
    epoll_ctl(ep, EPOLL_CTL_MOD, rfd, &ev);
    if (rwoff == rwlen)
        rwoff = rwlen = 0;
}

static void redis_append(const char *s, size_t n)
{
    if (rwlen + n > rwcap) {
        rwcap = (rwlen + n) * 2;
        rw = xrealloc(rw, rwcap);
    }
    memcpy(rw + rwlen, s, n);
    rwlen += n;
}

static void redis_connect(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)redis_port)};
    int one = 1;
    inet_pton(AF_INET, host, &sa.sin_addr);
    rfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rfd < 0 || connect(rfd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "gwload: redis connect: %s\n", strerror(errno));
        exit(2);
    }
    setsockopt(rfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(rfd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)-2};
    epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev);
}

static void redis_read(void)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(rfd, buf, sizeof buf), i;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            fprintf(stderr, "gwload: redis connection lost\n");
            exit(2);
        }
        for (i = 0; i < n; i++)
            if (buf[i] == '\n')
                pub_replies++;
        if (n < (ssize_t)sizeof buf)
            return;
    }
}

/* Publish the slices that are due. Slice s covers channels
 * [s%S * C/S, (s%S+1) * C/S) of round s/S (S = --slices, with rate 1). */
static void publish_due(int64_t now)
{
    const int slices = nslices;
    const double slice_us = 1e6 / rate / slices;
    char cmd[256], chan[128], payload[96];

    for (;;) {
        int64_t due = t_pub0 + (int64_t)(slice_next * slice_us);
        if (due > now || due >= t_win1)
            break;
        if (now - due > pub_late_max_us)
            pub_late_max_us = now - due;
        long round = slice_next / slices;
        int s = (int)(slice_next % slices);
        int lo = (int)((long)s * nchan / slices), hi = (int)((long)(s + 1) * nchan / slices);
        for (int ch = lo; ch < hi; ch++) {
            int64_t t = now_us();
            int cl = snprintf(chan, sizeof chan, "%s:bench:%d", prefix, ch);
            int pl = snprintf(payload, sizeof payload, "{\"t\":%lld,\"seq\":%ld}", (long long)t,
                              round + 1);
            int n = snprintf(cmd, sizeof cmd, "*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                             cl, chan, pl, payload);
            redis_append(cmd, (size_t)n);
            published++;
            if (t >= t_win0 && t < t_win1) {
                published_window++;
                expected_window += chan_subs[ch];
            }
        }
        slice_next++;
    }
    if (rwlen > rwoff)
        redis_flush();
}

/* ------------------------------------------------------------ main */

static void emit(const char *ev)
{
    printf("{\"event\":\"%s\",\"open\":%ld,\"subscribed\":%ld,\"t\":%lld}\n", ev, n_open,
           n_subscribed, (long long)now_us());
    fflush(stdout);
}

static double pct(double q)
{
    long total = dlv_window, want, acc = 0;
    long i;
    if (total == 0)
        return -1;
    want = (long)(q * (double)total);
    if (want >= total)
        want = total - 1;
    for (i = 0; i < HBUCKETS; i++) {
        acc += hist[i];
        if (acc > want)
            return (i * 10 + 5) / 1000.0;
    }
    return lat_max_us / 1000.0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gwload --port P [--host 127.0.0.1] [--path /ws] [--connections 5000]\n"
            "  [--per-conn 20] [--channels 1000] [--prefix bench] [--redis-port RP]\n"
            "  [--rate 1] [--warmup 5] [--duration 30] [--drain 2] [--concurrency 100]\n"
            "  [--wait-stdin] [--setup-timeout 180] [--channel-list FILE] [--slices 100]\n"
            "  [--history-first]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'H'},        {"port", 1, 0, 'p'},         {"path", 1, 0, 'P'},
        {"connections", 1, 0, 'n'}, {"per-conn", 1, 0, 'k'},     {"channels", 1, 0, 'c'},
        {"prefix", 1, 0, 'x'},      {"redis-port", 1, 0, 'r'},   {"rate", 1, 0, 'R'},
        {"warmup", 1, 0, 'w'},      {"duration", 1, 0, 'd'},     {"drain", 1, 0, 'D'},
        {"concurrency", 1, 0, 'C'}, {"wait-stdin", 0, 0, 'S'},   {"setup-timeout", 1, 0, 'T'},
        {"channel-list", 1, 0, 'L'}, {"slices", 1, 0, 'l'},      {"help", 0, 0, 'h'},
        {"history-first", 0, 0, 'Y'},
        {0, 0, 0, 0}};
    const char *list_path = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'P': path = optarg; break;
        case 'n': nconn = atoi(optarg); break;
        case 'k': per_conn = atoi(optarg); break;
        case 'c': nchan = atoi(optarg); break;
        case 'x': prefix = optarg; break;
        case 'r': redis_port = atoi(optarg); break;
        case 'R': rate = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'D': drain = atof(optarg); break;
        case 'C': concurrency = atoi(optarg); break;
        case 'S': wait_stdin = 1; break;
        case 'T': setup_timeout = atof(optarg); break;
        case 'L': list_path = optarg; break;
        case 'l': nslices = atoi(optarg); break;
        case 'Y': history_first = 1; break;
        default: usage();
        }
    }
    if (nslices < 1) {
        fprintf(stderr, "gwload: --slices must be at least 1\n");
        return 2;
    }
    if (list_path) {
        FILE *f = fopen(list_path, "r");
        char line[2048];
        int cap = 0;

        if (f == NULL) {
            fprintf(stderr, "gwload: %s: %s\n", list_path, strerror(errno));
            return 2;
        }
        nchan = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (line[0] == 0)
                continue;
            if (nchan == cap) {
                cap = cap ? cap * 2 : 1024;
                chan_names = realloc(chan_names, (size_t)cap * sizeof *chan_names);
            }
            chan_names[nchan++] = strdup(line);
        }
        fclose(f);
    }
    if (nconn < 1 || per_conn < 1 || nchan < 1 || per_conn > nchan || rate <= 0)
        usage();

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)nconn + 64) {
        rl.rlim_cur = (rlim_t)nconn + 64;
        if (rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur; /* works as root */
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            fprintf(stderr, "gwload: cannot raise RLIMIT_NOFILE to %d: %s\n", nconn + 64,
                    strerror(errno));
            return 2;
        }
    }
    rnd_state ^= (uint32_t)now_us() | 1;

    conns = calloc((size_t)nconn, sizeof *conns);
    chan_subs = calloc((size_t)nchan, sizeof *chan_subs);
    hist = calloc(HBUCKETS, sizeof *hist);
    ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {.it_interval = {0, 2000000}, .it_value = {0, 2000000}};
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    if (wait_stdin) {
        ev.data.u64 = (uint64_t)-3;
        epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    }
    if (redis_port)
        redis_connect();

    int64_t t_start = now_us(), t_setup_end = 0;
    struct epoll_event evs[512];
    open_more();
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1), i;
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 2;
        }
        for (i = 0; i < n; i++) {
            uint64_t id = evs[i].data.u64;
            if (id == (uint64_t)-1) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0) { /* nothing */
                }
            } else if (id == (uint64_t)-2) {
                if (evs[i].events & EPOLLIN)
                    redis_read();
                if (evs[i].events & EPOLLOUT)
                    redis_flush();
            } else if (id == (uint64_t)-3) {
                char b[64];
                ssize_t r = read(0, b, sizeof b);
                epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                if (phase == 1 || r <= 0) {
                    wait_stdin = 0;
                }
                wait_stdin = 0;
            } else {
                int idx = (int)id;
                struct conn *c = &conns[idx];
                if (c->state == ST_CLOSED)
                    continue;
                if (c->state == ST_CONNECTING) {
                    on_connected(idx);
                    continue;
                }
                if (evs[i].events & EPOLLOUT)
                    conn_flush(idx);
                if (c->state != ST_CLOSED && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    on_readable(idx);
            }
        }
        open_more();
        int64_t now = now_us();
        if (phase == 0 && (next_to_open >= nconn && n_pending == 0)) {
            phase = 1;
            t_setup_end = now;
            emit("subscribed");
        } else if (phase == 0 && now - t_start > (int64_t)(setup_timeout * 1e6)) {
            fprintf(stderr, "gwload: setup timed out with %ld connections pending\n", n_pending);
            phase = 1;
            t_setup_end = now;
            emit("subscribed");
        }
        /* --history-first: the warm-up starts once every channel's history
         * has arrived (the subscription storm is not the steady state). */
        if (phase == 1 && history_first && history_objs < n_subscribed * per_conn &&
            now - t_start <= (int64_t)(setup_timeout * 1e6))
            continue;
        if (phase == 1 && !wait_stdin) {
            phase = 2;
            t_pub0 = now_us();
            t_win0 = t_pub0 + (int64_t)(warmup * 1e6);
            t_win1 = t_win0 + (int64_t)(duration * 1e6);
            if (!redis_port)
                emit("waiting"); /* someone else publishes */
        }
        if (phase == 2) {
            if (redis_port)
                publish_due(now);
            if (!started_event && now >= t_win0) {
                started_event = 1;
                cpu_win0 = cpu_self();
                emit("window_start");
            }
            if (!ended_event && now >= t_win1) {
                ended_event = 1;
                cpu_win1 = cpu_self();
                emit("window_end");
                phase = 3;
            }
        }
        if (phase == 3 && now >= t_win1 + (int64_t)(drain * 1e6))
            break;
    }

    double win = (t_win1 - t_win0) / 1e6;
    printf("{\"event\":\"result\",\"connections\":%d,\"open\":%ld,\"connect_failed\":%ld,"
           "\"handshake_failed\":%ld,\"subscribed\":%ld,\"subscribe_failed\":%ld,"
           "\"error_replies\":%ld,\"closed_by_server\":%ld,\"eof\":%ld,"
           "\"lost_after_setup\":%ld,\"close_codes\":{\"1000\":%d,\"1001\":%d,\"1006\":%d,"
           "\"other\":%d},\"setup_s\":%.3f,\"window_s\":%.3f,\"published\":%ld,"
           "\"published_window\":%ld,\"redis_replies\":%ld,\"deliveries\":%ld,"
           "\"expected\":%ld,\"deliveries_total\":%ld,\"history_objects\":%ld,"
           "\"frames\":%ld,\"frames_window\":%ld,\"received_window\":%ld,\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_p999_ms\":%.3f,"
           "\"lat_max_ms\":%.3f,\"lat_over_10s\":%ld,\"pub_late_max_ms\":%.3f,"
           "\"cpu_s\":%.3f,\"cpu_share\":%.4f,\"first_error\":\"",
           nconn, n_open, n_connect_failed, n_handshake_failed, n_subscribed, n_sub_errors,
           n_error_replies, n_closed_by_server, n_eof, n_errors_after_setup, close_codes[0],
           close_codes[1], close_codes[6], close_codes[7] + close_codes[2] + close_codes[3] +
           close_codes[4] + close_codes[5],
           (t_setup_end - t_start) / 1e6, win, published, published_window, pub_replies,
           dlv_window, expected_window, dlv_total, history_objs, frames_in, frames_win, dlv_rx_win,
           pct(0.50),
           pct(0.99), pct(0.999), lat_max_us / 1000.0, hist_over, pub_late_max_us / 1000.0,
           cpu_win1 - cpu_win0, win > 0 ? (cpu_win1 - cpu_win0) / win : 0.0);
    for (const char *s = first_error; *s; s++)
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s >= 32)
            putchar(*s);
    printf("\",\"lat_max_by_second_ms\":[");
    for (int i = 0; i < (int)win && i < SECONDS_MAX; i++)
        printf("%s%.1f", i ? "," : "", sec_max_us[i] / 1000.0);
    printf("]}\n");
    fflush(stdout);
    return 0;
}
