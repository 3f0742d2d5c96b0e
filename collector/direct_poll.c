/* direct_poll.c -- see direct_poll.h. */

#include "direct_poll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include "device.h"
#include "log.h"
#include "poller.h"
#include "resolve.h"
#include "rxstamp.h"
#include "util.h"

#define RX_BATCH 8    /* datagrams per recvmmsg(2) */
#define RX_SIZE 65536 /* the largest UDP payload, and more */
#define TX_BATCH 16   /* GETs per sendmmsg(2) */
#define RX_ROUNDS 8   /* recvmmsg(2) calls per readable event, at most */

/* RX_BATCH x RX_SIZE for recvmmsg, allocated on the first poll. */
static unsigned char *rx_buf;

void direct_poll_init(struct device *dev, const netsnmp_transport *t)
{
    const netsnmp_indexed_addr_pair *pair = t->data;

    dev->direct.on = 0;
    if (dev->cfg->version == CONFIG_SNMP_V3)
        return;
    /* snmp_engine: net-snmp, the way around an agent ber.c reads badly:
     * session.c's net-snmp PDUs, as for SNMPv3. Said at info level, since
     * someone chose it; the usual way only at debug level. */
    if (dev->cfg->net_snmp_polls) {
        log_info("device %s: polls through net-snmp (snmp_engine: net-snmp)", dev->cfg->name);
        return;
    }
    if (pair == NULL || t->data_length != sizeof(*pair))
        return;
    if (pair->remote_addr.sa.sa_family == AF_INET)
        dev->direct.addr_len = sizeof(struct sockaddr_in);
    else if (pair->remote_addr.sa.sa_family == AF_INET6)
        dev->direct.addr_len = sizeof(struct sockaddr_in6);
    else
        return;
    memcpy(&dev->direct.addr, &pair->remote_addr, dev->direct.addr_len);
    dev->direct.on = 1;
    if (rxstamp_enable(t->sock) != 0)
        log_debug("device %s: no receive timestamps (%s): answers are timed when read",
                  dev->cfg->name, strerror(errno));
    log_debug("device %s: polls through the builtin codec (snmp_engine: builtin)", dev->cfg->name);
}

static long direct_version(const struct device *dev)
{
    return dev->cfg->version == CONFIG_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
}

/* Send the GETs of chunks[0 .. n-1] (n <= TX_BATCH, each counted in
 * dev->outstanding) in sendmmsg(2) calls. A GET that cannot leave is a
 * failed request, no longer in flight, and a gap. */
static void send_batch(struct device *dev, struct chunk **chunks, size_t n)
{
    struct mmsghdr msgs[TX_BATCH];
    struct iovec iov[TX_BATCH];
    size_t k, done = 0;

    IFMON_ASSERT(n <= TX_BATCH);
    for (k = 0; k < n; k++) {
        struct chunk *ch = chunks[k];

        iov[k].iov_base =
            (void *)ber_get_message(&ch->get, direct_version(dev), dev->cfg->community,
                                    ch->inflight.reqid, &iov[k].iov_len);
        memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
        msgs[k].msg_hdr.msg_name = &dev->direct.addr;
        msgs[k].msg_hdr.msg_namelen = dev->direct.addr_len;
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    while (done < n) {
        int r = sendmmsg(dev->sess.sock, msgs + done, (unsigned)(n - done), 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* the first of the rest failed: skip it */
            device_error(dev, "send failed: %s", strerror(errno));
            dev->failures++;
            dev->outstanding--;
            chunks[done]->inflight.tries = 0;
            poller_poll_failed(dev, chunks[done], RATE_GAP_NO_DATA);
            done++;
            continue;
        }
        done += (size_t)r;
    }
}

/* Send GETs of the chunks not sent yet in this poll while fewer than
 * DIRECT_POLL_WINDOW are in flight. Not once the poll is to be replanned
 * (an agent's tooBig): the rest would be refused too. Returns how many
 * were sent. */
static size_t send_more(struct device *dev)
{
    struct chunk *batch[TX_BATCH];
    uint64_t deadline = uv_hrtime() + (uint64_t)dev->cfg->timeout_ms * 1000000u;
    size_t n = 0, sent = 0;

    while (dev->direct.next_chunk < dev->nchunks && dev->outstanding < DIRECT_POLL_WINDOW &&
           !dev->replan) {
        struct chunk *ch = &dev->chunks[dev->direct.next_chunk++];

        if (counters_prepare_get(dev, ch, dev->cfg->community) < 0) {
            device_error(dev, "out of memory");
            dev->failures++;
            continue;
        }
        ch->inflight.tries = 1;
        ch->inflight.deadline_ns = deadline;
        dev->outstanding++;
        batch[n++] = ch;
        if (n == TX_BATCH) {
            send_batch(dev, batch, n);
            sent += n;
            n = 0;
        }
    }
    if (n)
        send_batch(dev, batch, n);
    return sent + n;
}

void direct_poll_start(struct device *dev)
{
    size_t i;

    /* One request-id per chunk, taken together from net-snmp's counter
     * (walks on the same socket use it too): consecutive, so an answer
     * finds its chunk at once (chunk_of). */
    for (i = 0; i < dev->nchunks; i++) {
        dev->chunks[i].inflight.reqid = snmp_get_next_reqid();
        dev->chunks[i].inflight.tries = 0;
    }
    dev->direct.reqid_base = dev->nchunks ? dev->chunks[0].inflight.reqid : 0;
    dev->direct.next_chunk = 0;
    send_more(dev);
}

/* The in-flight chunk whose GET has request-id reqid, or NULL. */
static struct chunk *chunk_of(struct device *dev, long reqid)
{
    unsigned long i = ((unsigned long)reqid - (unsigned long)dev->direct.reqid_base) & 0x7fffffffUL;
    size_t k;

    if (i < dev->nchunks && dev->chunks[i].inflight.reqid == reqid)
        return dev->chunks[i].inflight.tries ? &dev->chunks[i] : NULL;
    /* The counter wrapped within the block (it skips 0): look. */
    for (k = 0; k < dev->nchunks; k++)
        if (dev->chunks[k].inflight.tries && dev->chunks[k].inflight.reqid == reqid)
            return &dev->chunks[k];
    return NULL;
}

/* One datagram on the device's socket during its poll. What is not the
 * answer to a GET in flight (a late or repeated answer, one to an earlier
 * walk, anything malformed) is dropped, as net-snmp drops it. */
static void take_datagram(struct device *dev, const unsigned char *pkt, size_t len)
{
    struct ber_answer a;
    struct ber_var *vars;
    struct chunk *ch;
    size_t n;

    if (ber_parse_answer(pkt, len, &a) < 0 || a.version != direct_version(dev) ||
        (ch = chunk_of(dev, a.reqid)) == NULL)
        return;
    vars = poller_vars(dev->poller, COUNTERS_VARBINDS(ch));
    if (ber_parse_varbinds(&ch->get, &a, vars, COUNTERS_VARBINDS(ch), &n) < 0)
        return;
    ch->inflight.tries = 0;
    dev->outstanding--;
    dev->answers++;
    poller_poll_answered(dev, ch, a.errstat, a.errindex, vars, n);
    send_more(dev);
    if (dev->outstanding == 0)
        poller_phase_done(dev);
}

void direct_poll_read(struct device *dev)
{
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_storage from[RX_BATCH];
    union { /* aligned for struct cmsghdr */
        struct cmsghdr align;
        char buf[RXSTAMP_CONTROL_LEN];
    } control[RX_BATCH];
    struct rxstamp_clock now;
    int i, r, rounds = 0;

    if (rx_buf == NULL)
        rx_buf = ifmon_xmalloc((size_t)RX_BATCH * RX_SIZE);
    do {
        for (i = 0; i < RX_BATCH; i++) {
            iov[i].iov_base = rx_buf + (size_t)i * RX_SIZE;
            iov[i].iov_len = RX_SIZE;
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = control[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof(control[i].buf);
        }
        do
            r = recvmmsg(dev->sess.sock, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        while (r < 0 && errno == EINTR);
        rxstamp_clock_now(&now);
        /* The device may finish its poll (and replan its chunks) on any
         * of them; the rest then match no GET in flight. Only the agent's
         * address may answer: the socket is not connected, and anyone who
         * guesses a request-id could otherwise feed us counters. */
        for (i = 0; i < r && dev->phase == PHASE_POLL; i++)
            if (!(msgs[i].msg_hdr.msg_flags & MSG_TRUNC) &&
                resolve_same_endpoint((const struct sockaddr *)&from[i],
                                      (const struct sockaddr *)&dev->direct.addr)) {
                double wall;
                uint64_t at = rxstamp_arrival(&msgs[i].msg_hdr, &now, &wall);

                poller_set_arrival(dev->poller, at, wall);
                take_datagram(dev, iov[i].iov_base, msgs[i].msg_len);
            }
        /* At most RX_ROUNDS batches per wake-up: a flood waits for the
         * next loop iteration instead of holding this one. */
    } while (r == RX_BATCH && dev->phase == PHASE_POLL && ++rounds < RX_ROUNDS);
}

void direct_poll_expire(struct device *dev)
{
    struct chunk *resend[TX_BATCH];
    uint64_t now = uv_hrtime(), next = UINT64_MAX;
    size_t i, n = 0;

    poller_mark_arrival(dev->poller);
    for (i = 0; i < dev->nchunks; i++) {
        struct chunk *ch = &dev->chunks[i];
        struct direct_inflight *f = &ch->inflight;

        if (f->tries == 0)
            continue;
        if (f->deadline_ns > now + 500000) { /* not due (timers are in ms) */
            if (f->deadline_ns < next)
                next = f->deadline_ns;
            continue;
        }
        if (f->tries <= dev->cfg->retries) {
            f->tries++;
            f->deadline_ns = now + (uint64_t)dev->cfg->timeout_ms * 1000000u;
            if (f->deadline_ns < next)
                next = f->deadline_ns;
            resend[n++] = ch;
            if (n == TX_BATCH) {
                send_batch(dev, resend, n);
                n = 0;
            }
            continue;
        }
        f->tries = 0;
        dev->outstanding--;
        poller_count_timeout(dev);
        dev->failures++;
        device_error(dev, "timeout");
        poller_poll_failed(dev, ch, RATE_GAP_TIMEOUT);
    }
    if (n)
        send_batch(dev, resend, n);
    /* Timeouts freed room in the window. */
    if (send_more(dev) > 0 && now + (uint64_t)dev->cfg->timeout_ms * 1000000u < next)
        next = now + (uint64_t)dev->cfg->timeout_ms * 1000000u;
    if (dev->outstanding == 0)
        poller_phase_done(dev);
    else if (next != UINT64_MAX)
        session_arm_timer(dev, next > now ? (next - now + 999999) / 1000000 : 0);
}

void direct_poll_cleanup(void)
{
    free(rx_buf);
    rx_buf = NULL;
}
