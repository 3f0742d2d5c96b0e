/* client_write.c -- the outgoing side of a WebSocket connection: its
 * bounded queue, frames (samples batched into one JSON array), writes, and
 * the closing of a reader that stopped. Requests and replies are
 * client.c's.
 *
 * Writes. Messages for a client are queued as they come (from Redis, or as
 * replies); at the end of the loop iteration (a uv_check handle, after all
 * I/O callbacks) each client with something queued is written at once, its
 * samples batched into one frame, without first asking libwebsockets for
 * writability. That round trip (lws_callback_on_writable, then the
 * WRITEABLE callback) costs libuv four epoll_ctl per delivery, as
 * uv_poll_start re-registers the descriptor each time: a third of the
 * gateway's CPU at 100,000 deliveries/s (docs/BENCHMARKS.md).
 *
 * Writing outside the WRITEABLE callback is safe for what this gateway
 * serves, HTTP/1.1 WebSocket without extensions or TLS, when lws holds no
 * unsent bytes for the connection (lws_partial_buffered() is 0): lws_write()
 * then frames the message and sends it; what the socket does not take lws
 * keeps and sends first, and asks for writability itself. Whenever lws holds
 * bytes, or the peer has started closing, we fall back to the lws rule:
 * request writability and write one frame per WRITEABLE callback, so lws
 * never has to append behind a partial frame (which 4.1 would mis-frame).
 *
 * With io_uring (sendbatch.h), the writes of a turn go out in one
 * submission. A connection whose queue holds one message, most often its
 * group's frame (client_group.c), is sent from that shared message itself,
 * its frame header in the headroom: no copy per connection (a group's
 * frame of 3 KB went into the batch buffer once per member, 1.11x the
 * deliveries per CPU second without it at gateway.flush_ms 50,
 * docs/BENCHMARKS.md).
 *
 * The flush window (gateway.flush_ms, 0 by default). With a window, live
 * data for a connection with nothing else due waits up to flush_ms for
 * what comes after it, and all of it goes out as one frame: fewer writes,
 * the system calls that are most of the gateway's cost, for up to flush_ms
 * more latency. The connections waiting are on a list in the order their
 * windows opened, with one uv_timer for the oldest. Replies and history
 * never wait: one queued behind waiting data takes it along at once. A
 * window also ends early when what waits fills a frame or half the queue,
 * so that it never drops what it would not have dropped without one.
 * */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "client_private.h"
#include "log.h"
#include "sendbatch.h"
#include "util.h"

#define STALL_CHECK_MS 1000
/* Connections told to close per turn of the loop (deadlines, readers
 * that stopped); past it, the check goes on at the next turn. */
#define CLIENT_KILLS_PER_TURN 64

_Static_assert(LWS_PRE <= OUTMSG_HEADROOM, "OUTMSG_HEADROOM must cover LWS_PRE");

/* -------------------------------------------------------------- output */

static void flush_clients(uv_check_t *h);

static void request_writable(struct client *c)
{
    c->want_writable = 1;
    lws_callback_on_writable(c->wsi);
}

/* Put c on the list written at the end of this loop iteration. */
static void flush_soon(struct client *c)
{
    struct client_set *cs = c->cs;

    c->flush_pending = 1;
    c->flush_prev = NULL;
    c->flush_next = cs->flush_head;
    if (cs->flush_head)
        cs->flush_head->flush_prev = c;
    else
        uv_check_start(&cs->flush_check, flush_clients);
    cs->flush_head = c;
}

static void window_unlink(struct client *c)
{
    struct client_set *cs = c->cs;

    if (c->flush_prev)
        c->flush_prev->flush_next = c->flush_next;
    else
        cs->window_head = c->flush_next;
    if (c->flush_next)
        c->flush_next->flush_prev = c->flush_prev;
    else
        cs->window_tail = c->flush_prev;
    c->flush_prev = c->flush_next = NULL;
    c->windowed = 0;
    if (cs->window_head == NULL)
        uv_timer_stop(&cs->window_timer);
}

/* The windows that have ended are written now. Not left to the uv_check:
 * it runs after this iteration's poll, which a pending check does not
 * shorten, so they would wait for the next I/O (a whole window more when
 * data comes in bursts as far apart as the window). Windows open in
 * order, so the list is in order of their ends; after a reload that
 * shortened flush_ms, a shorter one behind a longer one waits for it. */
static void on_window_timer(uv_timer_t *t)
{
    struct client_set *cs = t->data;
    uint64_t now = client_now_ms(cs);
    struct client *c;
    int due = 0;

    while ((c = cs->window_head) != NULL && c->flush_due <= now) {
        /* Connections lie all over the heap: fetch the next one's line
         * while this one is moved. */
        if (c->flush_next)
            __builtin_prefetch(&c->flush_next->flush_due);
        window_unlink(c);
        if (!c->flush_pending)
            flush_soon(c);
        due = 1;
    }
    if (c)
        uv_timer_start(t, on_window_timer, c->flush_due - now, 0);
    if (due)
        flush_clients(&cs->flush_check);
}

static void window_open(struct client *c, uint64_t now, unsigned ms)
{
    struct client_set *cs = c->cs;

    c->windowed = 1;
    c->flush_due = now + ms;
    c->flush_next = NULL;
    c->flush_prev = cs->window_tail;
    if (cs->window_tail) {
        cs->window_tail->flush_next = c;
    } else {
        cs->window_head = c;
        uv_timer_start(&cs->window_timer, on_window_timer, ms, 0);
    }
    cs->window_tail = c;
}

/* What waits fills a frame or half the queue: write it now rather than
 * let the queue drop any of it. */
static int window_full(const struct client *c)
{
    return c->queue.bytes + 2 >= CLIENT_BATCH_MAX_BYTES || c->queue.count >= CLIENT_QUEUE_MAX / 2;
}

/* Queue m; it is written when this loop iteration's I/O is done
 * (flush_clients), when c's flush window ends (live data, with
 * gateway.flush_ms), or in the WRITEABLE callback already asked for. */
static void enqueue(struct client *c, struct outmsg *m, unsigned window)
{
    struct client_set *cs = c->cs;
    uint64_t now;

    if (c->killed)
        return;
    cs->st.dropped += outqueue_push(&c->queue, m);
    now = client_now_ms(cs);
    if (c->waiting_since == 0)
        c->waiting_since = now;
    if (c->want_writable || c->flush_pending)
        return;
    if (window && m->kind == OUTMSG_DATA && !c->closing && !window_full(c)) {
        if (!c->windowed)
            window_open(c, now, window);
        return;
    }
    if (c->windowed)
        window_unlink(c);
    if (c->closing) {
        request_writable(c);
        return;
    }
    flush_soon(c);
}

void client_enqueue(struct client *c, struct outmsg *m)
{
    /* What its group gathered for it goes first (client_group.c). */
    if (c->group && m->kind != OUTMSG_DATA && m->kind != OUTMSG_BATCH)
        client_group_catch_up(c);
    enqueue(c, m, (unsigned)c->cs->gw->cfg->gateway.flush_ms);
}

void client_enqueue_now(struct client *c, struct outmsg *m)
{
    enqueue(c, m, 0);
}

/* --------------------------------------------------------------- write */

static int batchable(const struct outmsg *m, size_t used)
{
    return m && m->kind == OUTMSG_DATA && used + m->len + 2 <= CLIENT_BATCH_MAX_BYTES;
}

/* Write the frame at the head of c's queue: one message, or the samples
 * that follow each other up to CLIENT_BATCH_MAX_BYTES as a JSON array.
 * Returns 0, or -1 when the socket failed. */
static size_t frame_at(const struct outqueue *q, size_t i, size_t *len);
static unsigned char *put_array(struct outqueue *q, size_t count, unsigned char *p);

static int write_frame(struct client *c)
{
    struct client_set *cs = c->cs;
    struct outmsg *m = outqueue_peek(&c->queue, 0);
    unsigned char *out;
    size_t len, count = frame_at(&c->queue, 0, &len);
    int n;

    if (count == 1) {
        /* One message: written from the shared buffer itself; lws_write()
         * puts the frame header in the headroom before it and copies only
         * what the socket did not take. */
        out = (unsigned char *)outmsg_text(m);
        n = lws_write(c->wsi, out, len, LWS_WRITE_TEXT);
        count = m->count;
        outmsg_unref(outqueue_pop(&c->queue));
    } else {
        /* Several samples: one frame holding a JSON array of them. */
        out = cs->batch + LWS_PRE;
        put_array(&c->queue, count, out);
        n = lws_write(c->wsi, out, len, LWS_WRITE_TEXT);
    }
    if (n < (int)len) {
        log_debug("client: write failed (%d of %zu bytes)", n, len);
        return -1;
    }
    cs->st.messages_out += count;
    cs->st.frames_out++;
    c->waiting_since = c->queue.count ? client_now_ms(cs) : 0;
    return 0;
}

/* ---------------------------------------------------- batched writes */

/* The frame that starts at message i of q, as write_frame() would make
 * it: how many messages it holds (2 or more: a JSON array of samples) and
 * its payload's length. */
static size_t frame_at(const struct outqueue *q, size_t i, size_t *len)
{
    struct outmsg *m = outqueue_peek(q, i);
    size_t count = 0, used = 1;

    if (!batchable(m, 1) || !batchable(outqueue_peek(q, i + 1), 1 + m->len)) {
        *len = m->len;
        return 1;
    }
    while ((m = outqueue_peek(q, i + count)) != NULL && batchable(m, used)) {
        used += m->len + (count ? 1 : 0);
        count++;
    }
    *len = used + 1;
    return count;
}

/* Pop the first `count` messages of q into p as a JSON array; returns the
 * end of what was written. */
static unsigned char *put_array(struct outqueue *q, size_t count, unsigned char *p)
{
    size_t i;

    *p++ = '[';
    for (i = 0; i < count; i++) {
        struct outmsg *m = outqueue_pop(q);

        if (i)
            *p++ = ',';
        memcpy(p, outmsg_text(m), m->len);
        p += m->len;
        outmsg_unref(m);
    }
    *p++ = ']';
    return p;
}

/* RFC 6455 5.2: a server's frame header, FIN and text, unmasked. */
static size_t frame_header(unsigned char *h, size_t len)
{
    int i;

    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static size_t frame_header_size(size_t len)
{
    return len < 126 ? 2 : len <= 0xffff ? 4 : 10;
}

static void kill_after_failed_write(struct client *c)
{
    /* lws closes a connection only from its own callbacks: let the next
     * one do it. */
    c->killed = 1;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* sendbatch: what became of c's send. What the socket did not take goes
 * to lws, raw (the frames are whole in it), which sends it before
 * anything else once the socket is writable, and asks for that itself. */
static void batch_sent(void *owner, const unsigned char *data, size_t len, ssize_t sent,
                       void *arg)
{
    struct client *c = owner;
    struct client_set *cs = arg;
    size_t taken = sent > 0 ? (size_t)sent : 0;

    if (taken != len && !c->killed) {
        if (sent < 0 && sent != -EAGAIN && sent != -EWOULDBLOCK) {
            log_debug("client: send failed: %s", strerror((int)-sent));
            kill_after_failed_write(c);
            cs->batch_failed++;
        } else if (lws_write(c->wsi, (unsigned char *)data + taken, len - taken,
                             LWS_WRITE_HTTP) < 0) {
            kill_after_failed_write(c);
            cs->batch_failed++;
        }
    }
    /* lws copied what it keeps: the shared frame can go. */
    outmsg_unref(c->sending);
    c->sending = NULL;
}

/* A queue of one message (a group's frame, most often, or one sample):
 * sent from the shared message itself, its frame header written in the
 * headroom before its text (the same bytes for everyone who gets it, as
 * lws_write() puts there). Returns 1 when queued in the batch, 0 when not
 * (then it is copied like any other). */
static int batch_shared(struct client_set *cs, struct client *c)
{
    struct outmsg *m = outqueue_peek(&c->queue, 0);
    size_t hlen = frame_header_size(m->len);
    unsigned char *p = (unsigned char *)outmsg_text(m) - hlen;

    _Static_assert(OUTMSG_HEADROOM >= 10, "the headroom must hold any frame header");
    if (c->queue.count != 1 || c->sending)
        return 0;
    frame_header(p, m->len);
    if (sendbatch_add_shared(cs->sends, c->fd, p, hlen + m->len, c) < 0) {
        sendbatch_submit(cs->sends, batch_sent, cs);
        if (sendbatch_add_shared(cs->sends, c->fd, p, hlen + m->len, c) < 0)
            return 0;
    }
    c->sending = outqueue_pop(&c->queue); /* the queue's reference */
    cs->st.messages_out += m->count;
    cs->st.frames_out++;
    c->waiting_since = 0;
    return 1;
}

/* Put c's queue, framed, in the send batch. Returns 1 when done, 0 when
 * it does not fit in a batch at all (then lws_write() sends it). */
static int batch_frames(struct client_set *cs, struct client *c)
{
    size_t i, n, len, need = 0, count;
    unsigned char *p;

    if (batch_shared(cs, c))
        return 1;
    for (i = 0; i < c->queue.count; i += n) {
        n = frame_at(&c->queue, i, &len);
        need += frame_header_size(len) + len;
    }
    if (need > SENDBATCH_BYTES)
        return 0;
    p = sendbatch_room(cs->sends, need);
    if (p == NULL) {
        sendbatch_submit(cs->sends, batch_sent, cs);
        p = sendbatch_room(cs->sends, need);
        if (p == NULL)
            return 0;
    }
    sendbatch_add(cs->sends, c->fd, need, c);
    while (c->queue.count) {
        struct outmsg *m;

        count = frame_at(&c->queue, 0, &len);
        p += frame_header(p, len);
        if (count == 1) {
            m = outqueue_pop(&c->queue);
            memcpy(p, outmsg_text(m), m->len);
            p += m->len;
            count = m->count;
            outmsg_unref(m);
        } else {
            p = put_array(&c->queue, count, p);
        }
        cs->st.messages_out += count;
        cs->st.frames_out++;
    }
    c->waiting_since = 0;
    return 1;
}

int client_writeable(struct client *c)
{
    c->want_writable = 0;
    if (c->killed)
        return -1;
    if (c->queue.count == 0)
        return 0;
    if (write_frame(c) < 0)
        return -1;
    if (c->queue.count)
        request_writable(c);
    return 0;
}

/* uv_check: after this iteration's I/O callbacks, write what was queued
 * for each client while lws holds nothing unsent for it (see the top of
 * this file); leave the rest to the WRITEABLE callback. */
static void flush_clients(uv_check_t *h)
{
    struct client_set *cs = h->data;
    struct client *c;
    int failed = 0;

    client_groups_due(cs);
    while ((c = cs->flush_head) != NULL) {
        if (c->flush_next) {
            __builtin_prefetch(c->flush_next);
            __builtin_prefetch(&c->flush_next->flush_due);
        }
        cs->flush_head = c->flush_next;
        if (cs->flush_head)
            cs->flush_head->flush_prev = NULL;
        c->flush_next = NULL;
        c->flush_pending = 0;
        if (c->killed || c->want_writable)
            continue;
        if (cs->sends && c->queue.count && !c->closing && !lws_partial_buffered(c->wsi) &&
            batch_frames(cs, c))
            continue;
        while (c->queue.count && !c->closing && !lws_partial_buffered(c->wsi)) {
            if (write_frame(c) < 0) {
                kill_after_failed_write(c);
                failed++;
                break;
            }
        }
        if (c->queue.count && !c->killed)
            request_writable(c);
    }
    if (cs->sends)
        sendbatch_submit(cs->sends, batch_sent, cs);
    uv_check_stop(h);
    if ((failed || cs->batch_failed) && cs->gw->lws)
        lws_cancel_service(cs->gw->lws);
    cs->batch_failed = 0;
}

/* A reader that stopped: its socket buffer and queue are full and lws has
 * not let us write for CLIENT_STALL_MS. Waiting longer only delays its
 * data further; close it so that it reconnects and starts afresh. */
static void on_stall_timer(uv_timer_t *t)
{
    struct client_set *cs = t->data;
    uint64_t now = client_now_ms(cs);
    struct client *c, *next;
    int killed = 0;

    for (c = cs->head; c; c = next) {
        static const char reason[] = "not reading";

        if (killed >= CLIENT_KILLS_PER_TURN) {
            /* The rest on the next turn: lws closes every connection
             * told to go in one pass (1,000 whose messages passed their
             * deadline together held the loop 45 to 140 ms under ASan). */
            uv_timer_start(t, on_stall_timer, 1, STALL_CHECK_MS);
            break;
        }
        next = c->next; /* client_check_deadlines() may free c */
        /* Every connection, once a second, all over the heap: fetch the
         * one after next and the next one's peer while this one is checked. */
        if (next) {
            __builtin_prefetch(next->next);
            __builtin_prefetch(next->peer);
        }
        if (client_check_deadlines(c, now) < 0) {
            killed++;
            continue;
        }
        client_group_check(c);
        if (c->killed || c->waiting_since == 0 || now - c->waiting_since < CLIENT_STALL_MS)
            continue;
        log_info("closing a client that has not read for %llu ms (%zu messages queued)",
                 (unsigned long long)(now - c->waiting_since), c->queue.count);
        c->killed = 1;
        killed++;
        cs->st.stalled++;
        /* RFC 6455 7.4.1: 1008 policy violation, though the close frame
         * rarely gets through a socket that is full: the TCP connection is
         * dropped at once (an lws timeout closes without flushing). */
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                         sizeof(reason) - 1);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    /* lws runs its timers only after servicing a socket: wake it up, or an
     * otherwise idle gateway would keep the connection. */
    if (killed && cs->gw->lws)
        lws_cancel_service(cs->gw->lws);
}

void client_write_soon(struct client_set *cs)
{
    uv_check_start(&cs->flush_check, flush_clients);
}

void client_write_flush(struct client_set *cs)
{
    flush_clients(&cs->flush_check);
}

void client_unlink_flush(struct client *c)
{
    struct client_set *cs = c->cs;

    if (c->windowed)
        window_unlink(c);
    if (!c->flush_pending)
        return;
    if (c->flush_prev)
        c->flush_prev->flush_next = c->flush_next;
    else
        cs->flush_head = c->flush_next;
    if (c->flush_next)
        c->flush_next->flush_prev = c->flush_prev;
    c->flush_pending = 0;
}

void client_write_init(struct client_set *cs)
{
    cs->batch = ifmon_xcalloc(1, LWS_PRE + CLIENT_BATCH_MAX_BYTES);
    uv_timer_init(cs->gw->loop, &cs->stall_timer);
    cs->stall_timer.data = cs;
    uv_timer_start(&cs->stall_timer, on_stall_timer, STALL_CHECK_MS, STALL_CHECK_MS);
    uv_check_init(cs->gw->loop, &cs->flush_check);
    cs->flush_check.data = cs;
    uv_timer_init(cs->gw->loop, &cs->window_timer);
    cs->window_timer.data = cs;
    if (cs->gw->cfg->gateway.io_uring) {
        int why = 0;

        cs->sends = sendbatch_new(&why);
        if (cs->sends == NULL)
            log_warn("io_uring is not available here (%s): writing with a system call per "
                     "connection (gateway.io_uring: false says so without trying)",
                     strerror(why));
    }
}

void client_write_close(struct client_set *cs)
{
    uv_timer_stop(&cs->stall_timer);
    uv_close((uv_handle_t *)&cs->stall_timer, NULL);
    uv_check_stop(&cs->flush_check);
    uv_close((uv_handle_t *)&cs->flush_check, NULL);
    uv_timer_stop(&cs->window_timer);
    uv_close((uv_handle_t *)&cs->window_timer, NULL);
}

void client_write_free(struct client_set *cs)
{
    free(cs->batch);
    cs->batch = NULL;
    sendbatch_free(cs->sends);
    cs->sends = NULL;
}
