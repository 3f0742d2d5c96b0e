/* session.c -- see session.h. */

#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/library/snmpUDPIPv6Domain.h>

#include "device.h"
#include "log.h"
#include "poller.h"
#include "snmpv3.h"
#include "util.h"

/* Datagrams from anywhere but the agent dropped per read, at most: a
 * flood cannot keep the loop in one callback (the socket stays readable
 * and is read again on the next iteration). */
#define FOREIGN_MAX 64

/* Scratch for snmp_sess_read2(): one socket at a time. */
static netsnmp_large_fd_set read_fds;

/* --------------------------------------------------------- the library */

/* net-snmp's own messages (an agent's odd answer: "bad type returned",
 * ...) into our log at debug level, escaped like every line: with no
 * handler registered, net-snmp writes them to stderr raw. */
static int on_netsnmp_log(int major, int minor, void *server_arg, void *client_arg)
{
    const struct snmp_log_message *m = server_arg;
    size_t n;

    if (m == NULL || m->msg == NULL || !ifmon_log_enabled(LOG_LEVEL_DEBUG))
        return 0;
    n = strlen(m->msg);
    while (n > 0 && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
        n--;
    log_debug("net-snmp: %.*s", (int)n, m->msg);
    return 0;
}

void session_library_init(void)
{
    struct rlimit rl;

    /* Numeric OIDs only: no MIB files, no snmp.conf, no state written to
     * /var/lib/snmp. Must precede init_snmp(). */
    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
    snmp_disable_log();
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, on_netsnmp_log, NULL);
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_DEBUG);
    init_snmp("ifmon-collector");
    netsnmp_large_fd_set_init(&read_fds, FD_SETSIZE);

    /* One socket per device: make room for thousands. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void session_library_shutdown(void)
{
    /* The loop has run dry: no lookup or derivation is left. */
    IFMON_ASSERT(resolve_queued() == 0 && resolve_running() == 0);
    usm_keys_shutdown();
    netsnmp_large_fd_set_cleanup(&read_fds);
    snmp_shutdown("ifmon-collector");
}

/* ------------------------------------------------------------- opening */

/* The session transport's receive, without what only an agent needs, and
 * only from the agent. net-snmp's UDP receive asks IP_PKTINFO, calls
 * getsockname(2) on every datagram (the local address, to answer from
 * it) and allocates both addresses; a client matches responses by
 * request-id alone (snmp_api.c, _sess_process_packet_handle_pdu) and
 * never reads them, so any local process that guesses a request-id could
 * answer in the agent's place. A datagram is read here only when it comes
 * from the address the requests go to (t->data's remote address, the
 * numeric address the session was opened on); others are dropped, at
 * most FOREIGN_MAX a call. Returns the length, or -1 with errno (EAGAIN:
 * nothing from the agent waiting). */
static int session_recv(netsnmp_transport *t, void *buf, int size, void **opaque, int *olength)
{
    const netsnmp_indexed_addr_pair *pair = t->data;
    struct sockaddr_storage from;
    socklen_t from_len;
    ssize_t n;
    int dropped = 0;

    *opaque = NULL;
    *olength = 0;
    for (;;) {
        from_len = sizeof(from);
        n = recvfrom(t->sock, buf, (size_t)size, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || resolve_same_endpoint((const struct sockaddr *)&from, &pair->remote_addr.sa))
            return (int)n;
        if (ifmon_log_enabled(LOG_LEVEL_DEBUG)) {
            char a[INET6_ADDRSTRLEN];

            log_debug("session: dropped a datagram from %s, not the agent",
                      resolve_ntop((const struct sockaddr *)&from, a, sizeof(a)));
        }
        if (++dropped == FOREIGN_MAX) {
            errno = EAGAIN;
            return -1;
        }
    }
}

static void on_readable(uv_poll_t *h, int status, int events);
static void on_timer(uv_timer_t *t);

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void session_init(struct device *dev, uv_loop_t *loop)
{
    struct session *s = &dev->sess;

    s->sock = -1;
    s->numeric = resolve_numeric(dev->cfg->host, dev->cfg->port, &s->addr, &s->addr_len) == 0;
    uv_timer_init(loop, &s->timer);
    s->timer.data = dev;
    dev->open_handles++;
}

/* Open the session on s->addr (known) with the keys (ready): net-snmp
 * gets a numeric peer, so snmp_sess_open() looks nothing up. Returns 0,
 * or -1 with dev->error. */
static int open_now(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    struct session *s = &dev->sess;
    netsnmp_session sess;
    netsnmp_transport *t;
    char host[NI_MAXHOST], peer[NI_MAXHOST + 16];
    char *errstr = NULL;

    if (getnameinfo((const struct sockaddr *)&s->addr, s->addr_len, host, sizeof(host), NULL, 0,
                    NI_NUMERICHOST) != 0) {
        device_error(dev, "cannot format the agent's address");
        return -1;
    }
    snmp_sess_init(&sess);
    snprintf(peer, sizeof(peer), s->addr.ss_family == AF_INET6 ? "udp6:[%s]:%d" : "udp:%s:%d", host,
             c->port);
    sess.peername = peer;
    sess.timeout = (long)c->timeout_ms * 1000;
    sess.retries = c->retries;
    if (c->version == CONFIG_SNMP_V3) {
        if (snmpv3_session_settings(dev, &sess) < 0)
            return -1;
    } else {
        sess.version = c->version == CONFIG_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
        sess.community = (u_char *)c->community;
        sess.community_len = strlen(c->community);
    }

    s->sessp = snmp_sess_open(&sess);
    explicit_bzero(sess.securityAuthKey, sizeof(sess.securityAuthKey));
    explicit_bzero(sess.securityPrivKey, sizeof(sess.securityPrivKey));
    if (s->sessp == NULL) {
        snmp_error(&sess, NULL, NULL, &errstr);
        device_error(dev, "cannot open session to %s: %s", peer, errstr ? errstr : "unknown error");
        free(errstr);
        return -1;
    }
    /* net-snmp clears SNMP_FLAGS_DONT_PROBE once the session is open
     * (snmp_api.c, snmp_sess_add_ex), and then snmp_sess_async_send() of
     * any SNMPv3 request while the engineID is unknown first probes the
     * agent synchronously ("delayed probe"): the loop would wait for
     * timeout x (retries + 1) on an agent that does not answer. The probe
     * is ours, asynchronous (snmpv3_probe_start()). */
    snmp_sess_session(s->sessp)->flags |= SNMP_FLAGS_DONT_PROBE;
    t = snmp_sess_transport(s->sessp);
    s->sock = t ? t->sock : -1;
    dev->direct.on = 0;
    if (t && (t->domain == netsnmpUDPDomain || t->domain == netsnmp_UDPIPv6Domain) &&
        t->data != NULL && t->data_length == sizeof(netsnmp_indexed_addr_pair)) {
        t->f_recv = session_recv;
        direct_poll_init(dev, t);
    }
    s->io = ifmon_xmalloc(sizeof(*s->io));
    if (s->sock < 0 || uv_poll_init_socket(dev->tick.loop, s->io, s->sock) != 0) {
        free(s->io);
        s->io = NULL;
        snmp_sess_close(s->sessp);
        s->sessp = NULL;
        s->sock = -1;
        device_error(dev, "cannot watch the session socket");
        return -1;
    }
    s->io->data = dev;
    uv_poll_start(s->io, UV_READABLE, on_readable);
    log_debug("device %s: session open to %s", c->name, peer);
    return 0;
}

/* Close the net-snmp session and its socket's watcher (freed when libuv
 * lets go of it); the device and its timer stay. */
static void session_detach(struct device *dev)
{
    struct session *s = &dev->sess;

    uv_timer_stop(&s->timer);
    if (s->sessp == NULL)
        return;
    uv_poll_stop(s->io);
    /* Pending requests are dropped without callbacks reaching a freed
     * device: dev->closing makes every callback path a no-op. */
    snmp_sess_close(s->sessp);
    s->sessp = NULL;
    s->sock = -1;
    uv_close((uv_handle_t *)s->io, free_handle);
    s->io = NULL;
    dev->direct.on = 0;
}

/* A key the open waited for is derived. The session itself is opened at
 * the device's next tick, not here: a hundred devices waiting for one
 * key would otherwise all open in this callback, while their ticks are
 * spread over the interval. A failure is the poller's to report (and to
 * retry after its backoff). */
static void on_key(struct usm_key_waiter *w, struct usm_key *key)
{
    struct device *dev = w->data;

    if (usm_key_state(key) != USM_KEY_FAILED || dev->closing || session_is_open(dev))
        return;
    device_error(dev, "SNMPv3: cannot derive a key");
    poller_session_failed(dev);
}

/* Find (or start) the derivation of one SNMPv3 key. Returns 0 when it is
 * ready, 1 while it is derived, -1 when it failed (dev->error). */
static int want_key(struct device *dev, struct usm_key **key, struct usm_key_waiter *w,
                    const char *password, const char *what)
{
    *key = usm_key_get(dev->tick.loop, dev->cfg->auth_protocol, password);
    switch (usm_key_state(*key)) {
    case USM_KEY_READY:
        return 0;
    case USM_KEY_PENDING:
        if (w->key == NULL)
            usm_key_wait(*key, w, on_key, dev);
        return 1;
    case USM_KEY_FAILED:
        break;
    }
    device_error(dev, "SNMPv3: cannot derive the %s key", what);
    return -1;
}

/* The keys dev's SNMPv3 session needs: 0 ready, 1 pending, -1 failed. */
static int want_keys(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    struct session *s = &dev->sess;
    int a = 0, p = 0;

    if (c->version != CONFIG_SNMP_V3)
        return 0;
    if (c->security_level != CONFIG_SEC_NOAUTH_NOPRIV)
        a = want_key(dev, &s->auth_key, &s->auth_wait, c->auth_password, "auth");
    if (a >= 0 && c->security_level == CONFIG_SEC_AUTH_PRIV)
        p = want_key(dev, &s->priv_key, &s->priv_wait, c->priv_password, "privacy");
    return a < 0 || p < 0 ? -1 : a || p;
}

/* res's address ai with the device's port, into out. */
static void with_port(const struct addrinfo *ai, int port, struct sockaddr_storage *out,
                      socklen_t *out_len)
{
    memset(out, 0, sizeof(*out));
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *out_len = ai->ai_addrlen;
    if (ai->ai_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
}

/* The address to use from a lookup's answer: the current one if the
 * answer still has it (a name with several addresses does not make the
 * session hop between them), else the first IPv4 one, else the first
 * IPv6 one. IPv4 first as before: net-snmp's "udp:NAME" asked for IPv4
 * only, and an agent listening on IPv4 alone must stay reachable when its
 * name gains an AAAA record. Returns &s->addr, out, or NULL when the
 * answer has no usable address. */
static const struct sockaddr *pick_address(const struct session *s, const struct addrinfo *res,
                                           int port, struct sockaddr_storage *out,
                                           socklen_t *out_len)
{
    const struct addrinfo *ai, *v4 = NULL, *v6 = NULL;

    for (ai = res; ai; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(*out))
            continue;
        with_port(ai, port, out, out_len);
        if (s->addr_len &&
            resolve_same_endpoint((const struct sockaddr *)out, (const struct sockaddr *)&s->addr))
            return (const struct sockaddr *)&s->addr;
        if (ai->ai_family == AF_INET && v4 == NULL)
            v4 = ai;
        if (ai->ai_family == AF_INET6 && v6 == NULL)
            v6 = ai;
    }
    if (v4 == NULL && v6 == NULL)
        return NULL;
    with_port(v4 ? v4 : v6, port, out, out_len);
    return (const struct sockaddr *)out;
}

static void on_resolved(struct resolve_waiter *w, int status, const struct addrinfo *res)
{
    struct device *dev = w->data;
    struct session *s = &dev->sess;
    const struct config_device *c = dev->cfg;
    struct sockaddr_storage next;
    socklen_t next_len = 0;
    const struct sockaddr *got = NULL;
    char was[INET6_ADDRSTRLEN], now[INET6_ADDRSTRLEN];

    s->resolved_ns = uv_hrtime();
    if (status == 0 && (got = pick_address(s, res, c->port, &next, &next_len)) == NULL)
        status = UV_EAI_NODATA;
    if (status != 0) {
        if (session_is_open(dev)) {
            log_warn("device %s: looking %s up again: %s; polling %s still", c->name, c->host,
                     resolve_strerror(status),
                     resolve_ntop((const struct sockaddr *)&s->addr, was, sizeof(was)));
            return;
        }
        device_error(dev, "dns: %s (%s)", resolve_strerror(status), c->host);
        s->lookup_failed = 1;
        if (!s->in_open)
            poller_session_failed(dev);
        return;
    }
    if (got != (const struct sockaddr *)&s->addr && session_is_open(dev)) {
        log_info("device %s: %s now resolves to %s (was %s): moving the session", c->name, c->host,
                 resolve_ntop(got, now, sizeof(now)),
                 resolve_ntop((const struct sockaddr *)&s->addr, was, sizeof(was)));
        memcpy(&s->addr, &next, sizeof(next));
        s->addr_len = next_len;
        s->moved = 1;
        if (dev->outstanding == 0 && dev->phase == PHASE_IDLE &&
            session_follow(dev) == SESSION_OPEN_FAILED)
            poller_session_failed(dev);
        return;
    }
    /* Not open: the device's next tick opens the session there (as in
     * on_key()). */
    if (got != (const struct sockaddr *)&s->addr) {
        memcpy(&s->addr, &next, sizeof(next));
        s->addr_len = next_len;
    }
}

static enum session_open_result open_steps(struct device *dev)
{
    struct session *s = &dev->sess;
    int keys;

    if (s->addr_len == 0 && !resolve_waiting(&s->dns)) {
        s->lookup_failed = 0;
        resolve_start(dev->tick.loop, &s->dns, dev->cfg->host, on_resolved, dev);
        if (s->lookup_failed) /* refused on the spot */
            return SESSION_OPEN_FAILED;
    }
    keys = want_keys(dev);
    if (keys < 0)
        return SESSION_OPEN_FAILED;
    if (keys > 0 || s->addr_len == 0)
        return SESSION_OPEN_PENDING;
    if (open_now(dev) < 0) {
        if (!s->numeric)
            s->addr_len = 0; /* the next try looks the name up again */
        return SESSION_OPEN_FAILED;
    }
    return SESSION_OPEN_DONE;
}

enum session_open_result session_open(struct device *dev)
{
    struct session *s = &dev->sess;
    enum session_open_result rc;

    if (s->sessp)
        return SESSION_OPEN_DONE;
    s->in_open = 1;
    rc = open_steps(dev);
    s->in_open = 0;
    return rc;
}

int session_is_open(const struct device *dev)
{
    return dev->sess.sessp != NULL;
}

int session_opening(const struct device *dev)
{
    const struct session *s = &dev->sess;

    return s->sessp == NULL &&
           (resolve_waiting(&s->dns) || s->auth_wait.key != NULL || s->priv_wait.key != NULL);
}

void session_refresh_address(struct device *dev)
{
    struct session *s = &dev->sess;

    if (s->numeric || !session_is_open(dev) || resolve_waiting(&s->dns))
        return;
    resolve_start(dev->tick.loop, &s->dns, dev->cfg->host, on_resolved, dev);
}

enum session_open_result session_follow(struct device *dev)
{
    struct session *s = &dev->sess;

    if (!s->moved || !session_is_open(dev))
        return SESSION_OPEN_DONE;
    IFMON_ASSERT(dev->outstanding == 0);
    s->moved = 0;
    session_detach(dev);
    dev->need_discovery = 1;
    return session_open(dev);
}

void session_close(struct device *dev, uv_close_cb on_closed)
{
    struct session *s = &dev->sess;

    resolve_cancel(&s->dns);
    usm_key_cancel(&s->auth_wait);
    usm_key_cancel(&s->priv_wait);
    session_detach(dev);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

/* ----------------------------------------------------------- I/O paths */

void session_arm_timer(struct device *dev, uint64_t delay_ms)
{
    if (dev->outstanding == 0) {
        uv_timer_stop(&dev->sess.timer);
        return;
    }
    uv_update_time(dev->tick.loop);
    uv_timer_start(&dev->sess.timer, on_timer, delay_ms, 0);
}

/* net-snmp keeps the real deadlines of what it sent; this timer only makes
 * sure snmp_sess_timeout() runs just after the earliest one. */
static void on_timer(uv_timer_t *t)
{
    struct device *dev = t->data;
    uint64_t before = dev->sess.events;

    if (dev->sess.sessp == NULL)
        return;
    if (dev->direct.on && dev->phase == PHASE_POLL) {
        direct_poll_expire(dev);
        return;
    }
    poller_mark_arrival(dev->poller);
    snmp_sess_timeout(dev->sess.sessp);
    if (dev->outstanding == 0)
        return;
    /* A retransmission went out (or a request expired): wait a full
     * timeout; if nothing was due yet, look again shortly. */
    if (before != dev->sess.events)
        session_arm_timer(dev, (uint64_t)dev->cfg->timeout_ms + 1);
    else
        session_arm_timer(dev, 5);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct device *dev = h->data;
    struct session *s = &dev->sess;

    if (s->sessp == NULL)
        return;
    if (dev->direct.on && dev->phase == PHASE_POLL) {
        direct_poll_read(dev);
        return;
    }
    poller_mark_arrival(dev->poller);
    netsnmp_large_fd_setfd(s->sock, &read_fds);
    snmp_sess_read2(s->sessp, &read_fds);
    netsnmp_large_fd_clr(s->sock, &read_fds);
}

int session_send(struct device *dev, netsnmp_pdu *pdu, snmp_callback cb, void *magic)
{
    int sent;

    /* When it cannot build the message, snmp_sess_async_send() calls cb
     * (SEC_ERROR, TIMED_OUT or SEND_FAILED) and then returns 0: the
     * failure is accounted here, once, and the callback ignores it. */
    dev->sess.in_send = 1;
    sent = snmp_sess_async_send(dev->sess.sessp, pdu, cb, magic) != 0;
    dev->sess.in_send = 0;
    if (!sent) {
        char *errstr = NULL;

        snmp_sess_error(dev->sess.sessp, NULL, NULL, &errstr);
        device_error(dev, "send failed: %s", errstr ? errstr : "?");
        free(errstr);
        snmp_free_pdu(pdu);
        return -1;
    }
    dev->outstanding++;
    session_arm_timer(dev, (uint64_t)dev->cfg->timeout_ms + 1);
    return 0;
}

int session_is_report(int op, const netsnmp_pdu *pdu)
{
    return pdu && pdu->command == SNMP_MSG_REPORT &&
           (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || op == NETSNMP_CALLBACK_OP_SEC_ERROR);
}

/* Whether a net-snmp callback ends a request of ours, so is to be
 * accounted, once. Not a retransmission; not a failure reported from
 * inside session_send() (which accounts it); and a REPORT only once:
 * net-snmp hands a REPORT to the callback twice, as RECEIVED_MESSAGE and
 * as SEC_ERROR, in that order upstream (snmp_api.c,
 * _sess_process_packet_handle_pdu) and the other way round in Debian's
 * 5.9.3 (do_not_callback_for_failed_reports.diff). A notInTimeWindow
 * REPORT is not the end while net-snmp resends the request with the time
 * it taught (upstream still calls RECEIVED_MESSAGE then; Debian nothing);
 * out of retries, it comes as the usual pair. */
int session_callback_ends(struct device *dev, int op, const netsnmp_pdu *pdu)
{
    struct session *s = &dev->sess;

    s->events++;
    if (op == NETSNMP_CALLBACK_OP_RESEND || s->in_send)
        return 0;
    if (!session_is_report(op, pdu))
        return 1;
    if (s->report_pending && pdu->reqid == s->report_reqid) {
        s->report_pending = 0; /* the second of the pair */
        return 0;
    }
    if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE &&
        snmpv3_get_report_type((netsnmp_pdu *)pdu) == SNMPERR_NOT_IN_TIME_WINDOW)
        return 0; /* upstream, before a resend or before its SEC_ERROR */
    s->report_pending = 1;
    s->report_reqid = pdu->reqid;
    return 1;
}

enum session_answer session_answer(struct device *dev, int op, netsnmp_pdu *pdu)
{
    if (!session_callback_ends(dev, op, pdu))
        return SESSION_RESENT;
    dev->outstanding--;
    if (session_is_report(op, pdu)) {
        /* USM report (unknown engineID, wrong digest, not in time window
         * after retries): learn the engine again. */
        dev->failures++;
        dev->need_probe = dev->cfg->version == CONFIG_SNMP_V3;
        device_error(dev, "SNMPv3: %s", snmp_api_errstring(snmpv3_get_report_type(pdu)));
        return SESSION_FAILED;
    }
    if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
        poller_count_timeout(dev);
        dev->failures++;
        device_error(dev, "timeout");
        return SESSION_FAILED;
    }
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || pdu == NULL) {
        dev->failures++;
        device_error(dev, "SNMP error (callback op %d)", op);
        return SESSION_FAILED;
    }
    dev->answers++;
    return SESSION_USABLE;
}

/* -------------------------------------------------------- SNMPv3 polls */

/* net-snmp's callback for a chunk's poll GET. */
static int on_poll(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct chunk *ch = magic;
    struct device *dev = ch->dev;
    enum session_answer got = session_answer(dev, op, pdu);

    if (got == SESSION_RESENT)
        return 1;
    if (got == SESSION_USABLE) {
        struct ber_var *vars = poller_vars(dev->poller, COUNTERS_VARBINDS(ch));
        size_t n = counters_vars_from_list(dev, ch, pdu->variables, vars, COUNTERS_VARBINDS(ch));

        poller_poll_answered(dev, ch, pdu->errstat, pdu->errindex, vars, n);
    } else {
        poller_poll_failed(
            dev, ch, op == NETSNMP_CALLBACK_OP_TIMED_OUT ? RATE_GAP_TIMEOUT : RATE_GAP_NO_DATA);
    }
    if (dev->outstanding == 0)
        poller_phase_done(dev);
    return 1;
}

void session_poll_start(struct device *dev)
{
    size_t i;

    for (i = 0; i < dev->nchunks; i++) {
        struct chunk *ch = &dev->chunks[i];
        netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

        counters_add_vars(dev, ch, pdu);
        if (session_send(dev, pdu, on_poll, ch) < 0)
            dev->failures++;
    }
}
