/* floor -- the kernel's floor for the gateway's fan-out (make bench-compare).
 *
 * A bare C program (one epoll loop, no library) that does only what the
 * gateway cannot avoid under tests/bench/gwload's load: it accepts the same
 * WebSocket connections (RFC 6455 upgrade, Sec-WebSocket-Accept from an
 * inline SHA-1), reads their subscribe requests and answers "subscribed"
 * once Redis has confirmed, as the gateway does, subscribes to Redis itself
 * (a minimal RESP reader), and writes each published message as one
 * unmasked text frame {"channel":C,"data":PAYLOAD}, the bytes the gateway
 * sends for one message (docs/PROTOCOL.md part 2), to each subscribed
 * socket with one write() per message per socket. Its CPU per delivery is
 * what any relay pays the kernel on this machine: tests/bench/gateway.py
 * --compare reports the others as multiples of it.
 *
 * What it is not: a server. No history, no patterns, no unsubscribe, no
 * tokens, no limits, no JSON arrays, no check of the payload; a socket
 * that cannot take a frame whole gets the rest queued until it is
 * writable.
 * GET /healthz answers 200 once Redis is connected, GET /metrics gives
 * floor_connections, floor_redis_channels and floor_messages_out_total.
 *
 * With --coalesce, the frames due to one socket from one read of Redis are
 * written with one write() (the same bytes, frame after frame): the floor
 * of a server that writes what it has queued once per loop turn, as the
 * gateway and uWebSockets do. gwload publishes ten consecutive channels
 * per 10 ms slice in one pipelined burst and each client holds 20
 * consecutive channels, so most subscribers of a burst get all ten.
 *
 * With --window MS (implies --coalesce), a socket's frames wait up to MS
 * after the first of them and go out in one write: the floor of a server
 * with a flush window (the gateway's gateway.flush_ms). Windows open in
 * order, so the descriptors waiting are in the order their windows end.
 *
 * Usage: floor --port P --redis-port RP [--host 127.0.0.1] [--coalesce]
 *              [--window MS]
 * Build: make -C tests/bench floor
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef FLOOR_URING
#include <liburing.h>
#endif

#define HTTP_HEAD_MAX 8192
#define READ_CHUNK 65536
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum peer_state { PEER_FREE, PEER_HTTP, PEER_WS, PEER_CLOSING };

/* A reply that waits for Redis: sent when the PING queued behind the
 * request's SUBSCRIBE comes back (Redis answers in order). */
struct pending_reply {
    struct pending_reply *next;
    int *channels; /* indices into channels[] the peer joins then */
    size_t nchannels;
    size_t len;
    char text[];
};

/* One accepted connection, indexed by its descriptor. */
struct peer {
    enum peer_state state;
    unsigned gen;      /* bumped at each reuse of the descriptor */
    unsigned char *in; /* bytes read but not yet a whole request or frame */
    size_t in_len;
    unsigned char *out; /* bytes a write() could not take, sent on EPOLLOUT */
    size_t out_len, out_off, out_cap;
    int *channels; /* indices into channels[] this peer holds */
    size_t nchannels, channels_cap;
    struct pending_reply *replies, *replies_last; /* oldest first */
};

/* One Redis channel and the descriptors subscribed to it. */
struct channel {
    char *name;
    size_t len;
    int *fds;
    size_t nfds, fds_cap;
    int in_redis; /* SUBSCRIBE sent */
};

/* One RESP element of a pub/sub reply: a bulk string or an integer. */
struct resp_item {
    const char *p;
    size_t len;
    long long num;
};

static const char *listen_host = "127.0.0.1";
static int listen_port, redis_port;

static int ep, listen_fd, redis_fd = -1;
static struct peer *peers;
static size_t npeers;
static struct channel *channels;
static size_t nchannels, channels_cap;
static int *chan_index; /* open addressing: channel index + 1, 0 = empty */
static size_t chan_index_cap;
static unsigned char *redis_in, *redis_out;
static size_t redis_in_len, redis_in_cap, redis_out_len, redis_out_cap;
static int redis_ready;
static long connections, messages_out;
static volatile sig_atomic_t stopping;
/* --coalesce: the frames due to a socket from one read of Redis go out in
 * one write(), as the gateway's and uWebSockets' loops write what is queued
 * once per turn; the descriptors with frames waiting are listed here. */
static int coalesce;
#ifdef FLOOR_URING
/* --uring (built as floor-uring): those writes are submitted together,
 * one io_uring_enter() per read of Redis instead of one write() each. */
static int use_uring;
static struct io_uring ring;
#define URING_ENTRIES 4096
#endif
static int *waiting;
static size_t nwaiting, waiting_cap;
/* --window: when each waiting descriptor's window ends (ms, monotonic). */
static unsigned window_ms;
static uint64_t *waiting_due;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* How many of the waiting descriptors are due now: all of them without a
 * window. */
static size_t waiting_due_now(void)
{
    uint64_t now;
    size_t n = 0;

    if (window_ms == 0)
        return nwaiting;
    now = now_ms();
    while (n < nwaiting && waiting_due[n] <= now)
        n++;
    return n;
}

/* The first `done` waiting descriptors were written. */
static void waiting_drop(size_t done)
{
    memmove(waiting, waiting + done, (nwaiting - done) * sizeof *waiting);
    if (window_ms)
        memmove(waiting_due, waiting_due + done, (nwaiting - done) * sizeof *waiting_due);
    nwaiting -= done;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        perror("floor: realloc");
        exit(2);
    }
    return p;
}

static void append(unsigned char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

/* ------------------------------------------------------------ SHA-1, base64 */

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *b)
{
    uint32_t w[80], a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(bb, 30);
        bb = a;
        a = t;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* SHA-1 (FIPS 180-4) of len bytes, for Sec-WebSocket-Accept only. */
static void sha1(const unsigned char *data, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    unsigned char tail[128] = {0};
    size_t full = len / 64 * 64, rest = len - full, tail_len = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    size_t i;

    for (i = 0; i < full; i += 64)
        sha1_block(h, data + i);
    memcpy(tail, data + full, rest);
    tail[rest] = 0x80;
    for (i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (i = 0; i < tail_len; i += 64)
        sha1_block(h, tail + i);
    for (i = 0; i < 20; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* out gets 4 * ceil(n / 3) characters and a NUL. */
static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        *out++ = tb[v >> 18];
        *out++ = tb[(v >> 12) & 63];
        *out++ = i + 1 < n ? tb[(v >> 6) & 63] : '=';
        *out++ = i + 2 < n ? tb[v & 63] : '=';
    }
    *out = '\0';
}

/* ------------------------------------------------------------ channels */

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (n--)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static void index_insert(int idx)
{
    size_t mask = chan_index_cap - 1, i;
    i = hash_name(channels[idx].name, channels[idx].len) & mask;
    while (chan_index[i])
        i = (i + 1) & mask;
    chan_index[i] = idx + 1;
}

/* The index of channel name, created when create is set; -1 if absent. */
static int channel_find(const char *name, size_t len, int create)
{
    size_t mask, i;

    if (chan_index_cap) {
        mask = chan_index_cap - 1;
        for (i = hash_name(name, len) & mask; chan_index[i]; i = (i + 1) & mask) {
            struct channel *c = &channels[chan_index[i] - 1];
            if (c->len == len && memcmp(c->name, name, len) == 0)
                return chan_index[i] - 1;
        }
    }
    if (!create)
        return -1;
    if (nchannels == channels_cap) {
        channels_cap = channels_cap ? channels_cap * 2 : 1024;
        channels = xrealloc(channels, channels_cap * sizeof *channels);
    }
    channels[nchannels] = (struct channel){.name = xrealloc(NULL, len + 1), .len = len};
    memcpy(channels[nchannels].name, name, len);
    channels[nchannels].name[len] = '\0';
    nchannels++;
    if (nchannels * 2 > chan_index_cap) {
        free(chan_index);
        chan_index_cap = chan_index_cap ? chan_index_cap * 2 : 4096;
        chan_index = calloc(chan_index_cap, sizeof *chan_index);
        if (chan_index == NULL) {
            perror("floor: calloc");
            exit(2);
        }
        for (i = 0; i < nchannels; i++)
            index_insert((int)i);
    } else {
        index_insert((int)nchannels - 1);
    }
    return (int)nchannels - 1;
}

/* ------------------------------------------------------------ writing to peers */

/* One write() of a whole frame; what the socket does not take waits in the
 * peer's queue (and everything after it, in order) until EPOLLOUT. A peer
 * whose write fails is only marked: it is closed when its descriptor reports
 * the error, never while a channel's list of descriptors is being walked. */
static void peer_send(int fd, const void *data, size_t len)
{
    struct peer *p = &peers[fd];
    ssize_t n = 0;

    if (p->state == PEER_CLOSING)
        return;
    if (p->out_len == 0) {
        n = write(fd, data, len);
        if (n == (ssize_t)len)
            return;
        if (n < 0 && errno != EAGAIN) {
            p->state = PEER_CLOSING;
            shutdown(fd, SHUT_RDWR);
            return;
        }
        if (n < 0)
            n = 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    }
    append(&p->out, &p->out_len, &p->out_cap, (const unsigned char *)data + n, len - (size_t)n);
}

static void peer_flush(int fd)
{
    struct peer *p = &peers[fd];

    while (p->out_off < p->out_len) {
        ssize_t n = write(fd, p->out + p->out_off, p->out_len - p->out_off);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            p->state = PEER_CLOSING;
            shutdown(fd, SHUT_RDWR);
            return;
        }
        p->out_off += (size_t)n;
    }
    free(p->out);
    p->out = NULL;
    p->out_len = p->out_off = p->out_cap = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* An unmasked frame (RFC 6455 section 5.2) of opcode op around text. */
static size_t frame_header(unsigned char *h, int op, size_t len)
{
    size_t n = 0, i;

    h[n++] = (unsigned char)(0x80 | op);
    if (len < 126) {
        h[n++] = (unsigned char)len;
    } else if (len < 65536) {
        h[n++] = 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = 127;
        for (i = 0; i < 8; i++)
            h[n++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    return n;
}

static void peer_send_text(int fd, const char *text, size_t len)
{
    unsigned char *buf = xrealloc(NULL, len + 10);
    size_t h = frame_header(buf, 1, len);

    memcpy(buf + h, text, len);
    peer_send(fd, buf, h + len);
    free(buf);
}

static void peer_close(int fd)
{
    struct peer *p = &peers[fd];
    struct pending_reply *r, *next;
    size_t i, j;

    for (i = 0; i < p->nchannels; i++) {
        struct channel *c = &channels[p->channels[i]];
        for (j = 0; j < c->nfds; j++)
            if (c->fds[j] == fd) {
                c->fds[j] = c->fds[--c->nfds];
                break;
            }
    }
    for (r = p->replies; r; r = next) {
        next = r->next;
        free(r->channels);
        free(r);
    }
    if (p->state == PEER_WS || p->state == PEER_CLOSING)
        connections--;
    free(p->in);
    free(p->out);
    free(p->channels);
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    *p = (struct peer){.state = PEER_FREE, .gen = p->gen + 1};
}

/* --coalesce: one write() per socket of what the last read of Redis queued
 * for it; what the socket does not take waits for EPOLLOUT (peer_flush). A
 * socket that already had a backlog is not listed: EPOLLOUT writes it. */
static void wrote(int fd, ssize_t n);

#ifdef FLOOR_URING
static void write_waiting_uring(size_t due)
{
    size_t i = 0;

    while (i < due) {
        unsigned queued = 0, seen = 0, head;
        struct io_uring_cqe *cqe;

        for (; i < due && queued < URING_ENTRIES; i++) {
            int fd = waiting[i];
            struct peer *p = &peers[fd];
            struct io_uring_sqe *sqe;

            if (p->state == PEER_FREE || p->out_len == 0)
                continue;
            if (p->state == PEER_CLOSING) {
                p->out_len = 0;
                continue;
            }
            sqe = io_uring_get_sqe(&ring);
            io_uring_prep_send(sqe, fd, p->out, p->out_len, MSG_DONTWAIT);
            io_uring_sqe_set_data64(sqe, (unsigned)fd);
            queued++;
        }
        if (queued == 0)
            continue;
        io_uring_submit_and_wait(&ring, queued);
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            wrote((int)io_uring_cqe_get_data64(cqe), cqe->res < 0 ? (errno = -cqe->res, -1) : cqe->res);
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
    }
}
#endif

/* What a write of p->out to fd did: all taken, or the rest waits for
 * EPOLLOUT, or the socket failed. */
static void wrote(int fd, ssize_t n)
{
    struct peer *p = &peers[fd];

    if (n == (ssize_t)p->out_len || p->state == PEER_CLOSING) {
        p->out_len = 0; /* the buffer is kept for the next turn */
        return;
    }
    if (n < 0 && errno != EAGAIN) {
        p->state = PEER_CLOSING;
        shutdown(fd, SHUT_RDWR);
        p->out_len = 0;
        return;
    }
    p->out_off = n < 0 ? 0 : (size_t)n;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void write_waiting(void)
{
    size_t i, due = waiting_due_now();

#ifdef FLOOR_URING
    if (use_uring) {
        write_waiting_uring(due);
        waiting_drop(due);
        return;
    }
#endif

    for (i = 0; i < due; i++) {
        int fd = waiting[i];
        struct peer *p = &peers[fd];
        ssize_t n;

        if (p->state == PEER_FREE || p->out_len == 0)
            continue;
        n = p->state == PEER_CLOSING ? 0 : write(fd, p->out, p->out_len);
        wrote(fd, n);
    }
    waiting_drop(due);
}

/* ------------------------------------------------------------ Redis */

static void redis_flush(void)
{
    size_t off = 0;

    while (off < redis_out_len) {
        ssize_t n = write(redis_fd, redis_out + off, redis_out_len - off);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            fprintf(stderr, "floor: redis: write: %s\n", strerror(errno));
            exit(1);
        }
        off += (size_t)n;
    }
    memmove(redis_out, redis_out + off, redis_out_len - off);
    redis_out_len -= off;
    struct epoll_event ev = {.events = EPOLLIN | (redis_out_len ? EPOLLOUT : 0),
                             .data.fd = redis_fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, redis_fd, &ev);
}

/* Appends one command (RESP array of bulk strings) to the output. */
static void redis_command(int argc, const char *const *argv, const size_t *lens)
{
    char head[32];
    int i, n = snprintf(head, sizeof head, "*%d\r\n", argc);

    append(&redis_out, &redis_out_len, &redis_out_cap, head, (size_t)n);
    for (i = 0; i < argc; i++) {
        n = snprintf(head, sizeof head, "$%zu\r\n", lens[i]);
        append(&redis_out, &redis_out_len, &redis_out_cap, head, (size_t)n);
        append(&redis_out, &redis_out_len, &redis_out_cap, argv[i], lens[i]);
        append(&redis_out, &redis_out_len, &redis_out_cap, "\r\n", 2);
    }
}

/* The length of the line at p up to its CRLF, -1 when it is not whole. */
static long resp_line(const unsigned char *p, size_t n)
{
    const unsigned char *e = memchr(p, '\n', n);
    return e && e > p && e[-1] == '\r' ? (long)(e - p - 1) : -1;
}

/* One reply of a subscribed connection: an array of at most max bulk
 * strings and integers. Returns the bytes it takes, 0 when it is not yet
 * whole; exits on an error reply or anything else (the floor has no
 * recovery). */
static size_t resp_parse(const unsigned char *p, size_t n, struct resp_item *items, int max,
                         int *count)
{
    size_t off;
    long l = resp_line(p, n), i, k;

    if (l < 0)
        return 0;
    if (p[0] != '*' || (k = strtol((const char *)p + 1, NULL, 10)) < 1 || k > max) {
        fprintf(stderr, "floor: redis: unexpected reply: %.*s\n", (int)l, (const char *)p);
        exit(1);
    }
    off = (size_t)l + 2;
    for (i = 0; i < k; i++) {
        if (off >= n || (l = resp_line(p + off, n - off)) < 0)
            return 0;
        items[i].num = strtoll((const char *)p + off + 1, NULL, 10);
        if (p[off] == ':') {
            items[i].p = NULL;
            items[i].len = 0;
            off += (size_t)l + 2;
        } else if (p[off] == '$' && items[i].num >= 0) {
            off += (size_t)l + 2;
            if (n - off < (size_t)items[i].num + 2)
                return 0;
            items[i].p = (const char *)p + off;
            items[i].len = (size_t)items[i].num;
            off += items[i].len + 2;
        } else {
            fprintf(stderr, "floor: redis: unexpected element: %.*s\n", (int)l,
                    (const char *)p + off);
            exit(1);
        }
    }
    *count = (int)k;
    return off;
}

static int item_is(const struct resp_item *it, const char *s)
{
    return it->p && it->len == strlen(s) && memcmp(it->p, s, it->len) == 0;
}

/* A published message: one frame, built once, one write() per subscriber. */
static void deliver(const struct resp_item *chan, const struct resp_item *payload)
{
    static unsigned char *frame;
    static size_t frame_cap;
    static const char head[] = "{\"channel\":\"", mid[] = "\",\"data\":";
    int idx = channel_find(chan->p, chan->len, 0);
    size_t text_len, h, i;
    struct channel *c;
    unsigned char *t;

    if (idx < 0 || channels[idx].nfds == 0)
        return;
    c = &channels[idx];
    /* The benchmark's channel names need no escaping (gwload's, and the
     * gateway's ifmon_json_quote leaves them as they are). */
    text_len = sizeof head - 1 + chan->len + sizeof mid - 1 + payload->len + 1;
    if (text_len + 10 > frame_cap) {
        frame_cap = (text_len + 10) * 2;
        frame = xrealloc(frame, frame_cap);
    }
    h = frame_header(frame, 1, text_len);
    t = frame + h;
    memcpy(t, head, sizeof head - 1);
    t += sizeof head - 1;
    memcpy(t, chan->p, chan->len);
    t += chan->len;
    memcpy(t, mid, sizeof mid - 1);
    t += sizeof mid - 1;
    memcpy(t, payload->p, payload->len);
    t += payload->len;
    *t = '}';
    for (i = 0; i < c->nfds; i++) {
        struct peer *p = &peers[c->fds[i]];
        if (!coalesce) {
            peer_send(c->fds[i], frame, h + text_len);
            continue;
        }
        if (p->out_len == 0) {
            if (nwaiting == waiting_cap) {
                waiting_cap = waiting_cap ? waiting_cap * 2 : 1024;
                waiting = xrealloc(waiting, waiting_cap * sizeof *waiting);
                waiting_due = xrealloc(waiting_due, waiting_cap * sizeof *waiting_due);
            }
            if (window_ms)
                waiting_due[nwaiting] = now_ms() + window_ms;
            waiting[nwaiting++] = c->fds[i];
        }
        append(&p->out, &p->out_len, &p->out_cap, frame, h + text_len);
    }
    messages_out += (long)c->nfds;
}

/* The PING "fd:gen" queued behind a subscribe came back: Redis has
 * confirmed its channels, so the peer joins them and gets its reply. */
static void subscribe_confirmed(const struct resp_item *token)
{
    char buf[64];
    unsigned gen;
    int fd;
    struct peer *p;
    struct pending_reply *r;
    size_t i;

    if (token->len >= sizeof buf)
        return;
    memcpy(buf, token->p, token->len);
    buf[token->len] = '\0';
    if (sscanf(buf, "%d:%u", &fd, &gen) != 2 || fd < 0 || (size_t)fd >= npeers)
        return;
    p = &peers[fd];
    if (p->gen != gen || p->state != PEER_WS || (r = p->replies) == NULL)
        return;
    p->replies = r->next;
    for (i = 0; i < r->nchannels; i++) {
        struct channel *c = &channels[r->channels[i]];
        if (c->nfds == c->fds_cap) {
            c->fds_cap = c->fds_cap ? c->fds_cap * 2 : 8;
            c->fds = xrealloc(c->fds, c->fds_cap * sizeof *c->fds);
        }
        c->fds[c->nfds++] = fd;
    }
    peer_send_text(fd, r->text, r->len);
    free(r->channels);
    free(r);
}

static void redis_read(void)
{
    struct resp_item items[4];
    size_t off = 0, used;
    int count;

    for (;;) {
        if (redis_in_cap - redis_in_len < READ_CHUNK) {
            redis_in_cap = redis_in_len + READ_CHUNK * 4;
            redis_in = xrealloc(redis_in, redis_in_cap);
        }
        ssize_t n = read(redis_fd, redis_in + redis_in_len, redis_in_cap - redis_in_len);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            fprintf(stderr, "floor: redis: connection lost: %s\n", n ? strerror(errno) : "EOF");
            exit(1);
        }
        redis_in_len += (size_t)n;
    }
    while ((used = resp_parse(redis_in + off, redis_in_len - off, items, 4, &count)) > 0) {
        off += used;
        if (count == 3 && item_is(&items[0], "message"))
            deliver(&items[1], &items[2]);
        else if (count == 2 && item_is(&items[0], "pong"))
            subscribe_confirmed(&items[1]);
    }
    memmove(redis_in, redis_in + off, redis_in_len - off);
    redis_in_len -= off;
    write_waiting();
}

/* ------------------------------------------------------------ requests */

/* The raw JSON text of the value of key in the object text (a number or a
 * string, up to the next ',' or '}' outside quotes); "null" when absent. */
static void raw_value(const char *text, size_t len, const char *key, const char **v, size_t *vlen)
{
    const char *p = memmem(text, len, key, strlen(key)), *end = text + len, *q;
    int quoted = 0;

    *v = "null";
    *vlen = 4;
    if (p == NULL)
        return;
    p += strlen(key);
    for (q = p; q < end; q++) {
        if (*q == '"' && (q == p || q[-1] != '\\'))
            quoted = !quoted;
        else if (!quoted && (*q == ',' || *q == '}'))
            break;
    }
    *v = p;
    *vlen = (size_t)(q - p);
}

static void reply_error(int fd, const char *text, size_t len, const char *error)
{
    char buf[512];
    const char *id;
    size_t id_len;
    int n;

    raw_value(text, len, "\"id\":", &id, &id_len);
    n = snprintf(buf, sizeof buf, "{\"op\":\"error\",\"error\":\"%s\",\"id\":%.*s}", error,
                 (int)(id_len < 200 ? id_len : 200), id);
    peer_send_text(fd, buf, (size_t)n);
}

/* {"op":"subscribe","id":N,"channels":["a","b",...]}: SUBSCRIBE in Redis
 * the channels nobody asked for before, then PING "fd:gen"; its answer
 * comes after their confirmation and sends the reply. Channel names with
 * escapes are refused (the benchmark has none). */
static void on_request(int fd, const char *text, size_t len)
{
    struct peer *p = &peers[fd];
    const char *list = memmem(text, len, "\"channels\":[", 12), *end = text + len, *q, *id;
    const char **argv = NULL;
    size_t *lens = NULL, id_len, n = 0, list_len, i, j;
    struct pending_reply *r;
    char token[32];
    int argc = 1;

    if (memmem(text, len, "\"op\":\"subscribe\"", 16) == NULL || list == NULL) {
        reply_error(fd, text, len, "the floor only subscribes");
        return;
    }
    list += 11;
    q = memchr(list, ']', (size_t)(end - list));
    if (q == NULL || memchr(list, '\\', (size_t)(q - list))) {
        reply_error(fd, text, len, "channels must be a plain array of strings");
        return;
    }
    list_len = (size_t)(q + 1 - list);
    raw_value(text, len, "\"id\":", &id, &id_len);
    r = xrealloc(NULL, sizeof *r + list_len + id_len + 64);
    r->len = (size_t)sprintf(r->text, "{\"op\":\"subscribed\",\"channels\":%.*s,\"id\":%.*s}",
                             (int)list_len, list, (int)id_len, id);
    r->nchannels = 0;
    argv = xrealloc(NULL, (list_len / 2 + 2) * sizeof *argv);
    lens = xrealloc(NULL, (list_len / 2 + 2) * sizeof *lens);
    argv[0] = "SUBSCRIBE";
    lens[0] = 9;
    r->channels = xrealloc(NULL, (list_len / 2 + 1) * sizeof *r->channels);
    for (q = list + 1; (q = memchr(q, '"', (size_t)(list + list_len - q))) != NULL; q++) {
        const char *name = q + 1,
                   *close_quote = memchr(name, '"', (size_t)(list + list_len - name));
        int idx;

        if (close_quote == NULL)
            break;
        q = close_quote;
        idx = channel_find(name, (size_t)(close_quote - name), 1);
        for (j = 0; j < p->nchannels && p->channels[j] != idx; j++)
            ;
        for (i = 0; i < r->nchannels && r->channels[i] != idx; i++)
            ;
        if (j < p->nchannels || i < r->nchannels)
            continue; /* held already, or twice in the request */
        r->channels[r->nchannels++] = idx;
        if (!channels[idx].in_redis) {
            channels[idx].in_redis = 1;
            argv[argc] = channels[idx].name;
            lens[argc++] = channels[idx].len;
        }
        n++;
    }
    if (p->nchannels + n > p->channels_cap) {
        p->channels_cap = p->nchannels + n + 8;
        p->channels = xrealloc(p->channels, p->channels_cap * sizeof *p->channels);
    }
    for (i = 0; i < r->nchannels; i++)
        p->channels[p->nchannels++] = r->channels[i];
    if (argc > 1)
        redis_command(argc, argv, lens);
    argv[0] = "PING";
    lens[0] = 4;
    argv[1] = token;
    lens[1] = (size_t)snprintf(token, sizeof token, "%d:%u", fd, p->gen);
    redis_command(2, argv, lens);
    redis_flush();
    r->next = NULL;
    if (p->replies)
        p->replies_last->next = r;
    else
        p->replies = r;
    p->replies_last = r;
    free(argv);
    free(lens);
}

/* Client frames (RFC 6455 section 5): masked, whole messages in one
 * frame (gwload's). Returns the bytes used; closes the peer on a close
 * frame or an unmasked one. */
static size_t on_frames(int fd, unsigned char *b, size_t n)
{
    size_t off = 0, h, i;
    uint64_t len;

    while (peers[fd].state == PEER_WS && n - off >= 2) {
        unsigned char *f = b + off, *mask, *payload;
        int op = f[0] & 0x0f;

        len = f[1] & 0x7f;
        h = 2;
        if (len == 126) {
            if (n - off < 4)
                break;
            len = (uint64_t)f[2] << 8 | f[3];
            h = 4;
        } else if (len == 127) {
            if (n - off < 10)
                break;
            for (len = 0, i = 0; i < 8; i++)
                len = len << 8 | f[2 + i];
            h = 10;
        }
        if (!(f[1] & 0x80) || len > (1u << 20)) {
            peer_close(fd);
            return n;
        }
        if (n - off < h + 4 + len)
            break;
        mask = f + h;
        payload = f + h + 4;
        for (i = 0; i < len; i++)
            payload[i] ^= mask[i & 3];
        off += h + 4 + len;
        if (op == 1) {
            on_request(fd, (const char *)payload, (size_t)len);
        } else if (op == 8) {
            static const unsigned char close_frame[] = {0x88, 0x00};
            peer_send(fd, close_frame, sizeof close_frame);
            peer_close(fd);
            return n;
        } else if (op == 9) {
            unsigned char pong[10 + 125];
            size_t ph = frame_header(pong, 10, len < 125 ? len : 125);
            memcpy(pong + ph, payload, len < 125 ? len : 125);
            peer_send(fd, pong, ph + (len < 125 ? len : 125));
        }
    }
    return off;
}

static void http_answer(int fd, const char *status, const char *body)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, strlen(body), body);

    peer_send(fd, buf, (size_t)n);
    peer_close(fd);
}

/* The request head (up to its blank line): /healthz, /metrics, or the
 * WebSocket upgrade (RFC 6455 section 4.2.2). */
static void on_http(int fd, const char *head, size_t len)
{
    static const char key_name[] = "\r\nSec-WebSocket-Key:";
    char body[256], accept_key[32], buf[256];
    unsigned char digest[20];
    const char *k = NULL;
    size_t i, key_len;
    int n;

    if (len > 13 && memcmp(head, "GET /healthz ", 13) == 0) {
        http_answer(fd, redis_ready ? "200 OK" : "503 Service Unavailable", "ok\n");
        return;
    }
    if (len > 13 && memcmp(head, "GET /metrics ", 13) == 0) {
        snprintf(body, sizeof body,
                 "floor_connections %ld\nfloor_redis_channels %zu\nfloor_messages_out_total %ld\n",
                 connections, nchannels, messages_out);
        http_answer(fd, "200 OK", body);
        return;
    }
    for (i = 0; i + sizeof key_name - 1 < len; i++)
        if (strncasecmp(head + i, key_name, sizeof key_name - 1) == 0) {
            k = head + i + sizeof key_name - 1;
            break;
        }
    if (k == NULL) {
        http_answer(fd, "404 Not Found", "not found\n");
        return;
    }
    while (*k == ' ')
        k++;
    key_len = strcspn(k, " \r\n");
    if (key_len == 0 || key_len > 64) {
        http_answer(fd, "400 Bad Request", "bad key\n");
        return;
    }
    n = snprintf(buf, sizeof buf, "%.*s%s", (int)key_len, k, WS_GUID);
    sha1((const unsigned char *)buf, (size_t)n, digest);
    base64(digest, sizeof digest, accept_key);
    n = snprintf(buf, sizeof buf,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 accept_key);
    peers[fd].state = PEER_WS;
    connections++;
    peer_send(fd, buf, (size_t)n);
}

/* What is in b: a request head, then frames. Returns the bytes used. */
static size_t on_input(int fd, unsigned char *b, size_t n)
{
    size_t off = 0;

    if (peers[fd].state == PEER_HTTP) {
        unsigned char *e = memmem(b, n, "\r\n\r\n", 4);
        if (e == NULL) {
            if (n > HTTP_HEAD_MAX)
                peer_close(fd);
            return n > HTTP_HEAD_MAX ? n : 0;
        }
        *e = '\0'; /* the head is read as a string from here on */
        off = (size_t)(e + 4 - b);
        on_http(fd, (const char *)b, (size_t)(e - b));
    }
    if (peers[fd].state == PEER_WS)
        off += on_frames(fd, b + off, n - off);
    return peers[fd].state == PEER_FREE ? n : off;
}

static void peer_readable(int fd)
{
    static unsigned char buf[READ_CHUNK];
    struct peer *p = &peers[fd];

    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        size_t used;

        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0 || p->state == PEER_CLOSING) {
            peer_close(fd);
            return;
        }
        if (p->in_len) {
            size_t cap = p->in_len;
            append(&p->in, &p->in_len, &cap, buf, (size_t)n);
            used = on_input(fd, p->in, p->in_len);
            if (p->state == PEER_FREE)
                return;
            memmove(p->in, p->in + used, p->in_len - used);
            p->in_len -= used;
        } else {
            used = on_input(fd, buf, (size_t)n);
            if (p->state == PEER_FREE)
                return;
            if (used < (size_t)n) {
                size_t cap = 0;
                append(&p->in, &p->in_len, &cap, buf + used, (size_t)n - used);
            }
        }
        if (p->in_len == 0) {
            free(p->in);
            p->in = NULL;
        }
    }
}

/* ------------------------------------------------------------ main */

static int set_nonblock(int fd)
{
    int one = 1, flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fprintf(stderr, "floor: accept: %s\n", strerror(errno));
            return;
        }
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= npeers) {
            size_t old = npeers;
            npeers = (size_t)fd * 2 + 64;
            peers = xrealloc(peers, npeers * sizeof *peers);
            memset(peers + old, 0, (npeers - old) * sizeof *peers);
        }
        peers[fd].state = PEER_HTTP;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static int open_sockets(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
    struct sockaddr_in ra = {.sin_family = AF_INET, .sin_port = htons((uint16_t)redis_port)};
    struct epoll_event ev = {.events = EPOLLIN};
    int one = 1;

    inet_pton(AF_INET, listen_host, &sa.sin_addr);
    inet_pton(AF_INET, listen_host, &ra.sin_addr);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(listen_fd, 4096) < 0) {
        fprintf(stderr, "floor: listen %s:%d: %s\n", listen_host, listen_port, strerror(errno));
        return -1;
    }
    redis_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (redis_fd < 0 || connect(redis_fd, (struct sockaddr *)&ra, sizeof ra) < 0 ||
        set_nonblock(redis_fd) < 0) {
        fprintf(stderr, "floor: redis %s:%d: connect: %s\n", listen_host, redis_port,
                strerror(errno));
        return -1;
    }
    redis_ready = 1;
    ev.data.fd = listen_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.fd = redis_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, redis_fd, &ev);
    return 0;
}

static void on_sigterm(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"host", 1, 0, 'H'},
                                            {"port", 1, 0, 'p'},
                                            {"redis-port", 1, 0, 'r'},
                                            {"coalesce", 0, 0, 'c'},
                                            {"uring", 0, 0, 'u'},
                                            {"window", 1, 0, 'w'},
                                            {0, 0, 0, 0}};
    struct sigaction sa = {.sa_handler = on_sigterm};
    struct epoll_event evs[256];
    struct rlimit rl;
    int o, i, n;

    while ((o = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (o) {
        case 'H':
            listen_host = optarg;
            break;
        case 'p':
            listen_port = atoi(optarg);
            break;
        case 'r':
            redis_port = atoi(optarg);
            break;
        case 'c':
            coalesce = 1;
            break;
        case 'w':
            window_ms = (unsigned)atoi(optarg);
            coalesce = 1;
            break;
        case 'u':
#ifdef FLOOR_URING
            coalesce = use_uring = 1;
            break;
#else
            fprintf(stderr, "floor: --uring needs the floor-uring build (liburing)\n");
            return 2;
#endif
        default:
            fprintf(stderr,
                    "usage: floor --port P --redis-port RP [--host 127.0.0.1] [--coalesce] [--window MS]\n");
            return 2;
        }
    }
    if (listen_port <= 0 || redis_port <= 0) {
        fprintf(stderr, "usage: floor --port P --redis-port RP [--host 127.0.0.1] [--coalesce] [--window MS]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
#ifdef FLOOR_URING
    if (use_uring && io_uring_queue_init(URING_ENTRIES, &ring, 0) < 0) {
        fprintf(stderr, "floor: io_uring_queue_init failed\n");
        return 1;
    }
#endif
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || open_sockets() < 0)
        return 1;
    fprintf(stderr, "floor listening on %s:%d, redis %s:%d\n", listen_host, listen_port,
            listen_host, redis_port);
    while (!stopping) {
        int timeout = -1;

        if (window_ms && nwaiting) {
            uint64_t now = now_ms();
            timeout = waiting_due[0] > now ? (int)(waiting_due[0] - now) : 0;
        }
        n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "floor: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == listen_fd) {
                accept_all();
            } else if (fd == redis_fd) {
                if (evs[i].events & EPOLLOUT)
                    redis_flush();
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    redis_read();
            } else if (peers[fd].state != PEER_FREE) {
                if (evs[i].events & EPOLLOUT)
                    peer_flush(fd);
                if (peers[fd].state != PEER_FREE &&
                    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    peer_readable(fd);
            }
        }
        if (window_ms && nwaiting)
            write_waiting();
    }
    return 0;
}
