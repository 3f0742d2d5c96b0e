/* poller.c -- SNMP polling of every device on one libuv loop.
 *
 * A device goes through PROBE (SNMPv3 only: learn the agent's engineID
 * without blocking, RFC 3414 4), DISCOVER (walk ifName and ifDescr, map the
 * configured names to ifIndex) and then POLL on its schedule: one GET per
 * group of interfaces asking sysUpTime and, per interface, the octet
 * counters, the speed and ifOperStatus. Responses become rates in rate.c and
 * leave through the hooks. Re-discovery happens when the mapping may have
 * broken: the agent restarted, an ifIndex vanished, or the periodic timer.
 *
 * net-snmp does the probe, the walks and everything SNMPv3. The SNMPv1/v2c
 * poll GETs, which are nearly all the traffic, skip its PDU objects: each
 * chunk's message is encoded once (request.c), a device's GETs leave in one
 * sendmmsg(2) on the session's socket, answers are read with recvmmsg(2)
 * and decoded in place, and retransmissions and timeouts follow the
 * session's timeout and retries here. Request-ids come from net-snmp's
 * counter, so they never collide with its own requests on that socket. */

#include "poller.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/library/snmpUDPIPv6Domain.h>

#include <netinet/in.h>

#include <jansson.h>

#include "log.h"
#include "mib.h"
#include "request.h"
#include "response.h"

#define WALK_COLS 3
#define IFTYPE_SOFTWARE_LOOPBACK 24 /* IANAifType-MIB */
#define WALK_MAX_ROWS 100000
#define WALK_REPETITIONS 24
#define LATE_BUCKETS 20000 /* 50 us buckets: 0 .. 1 s */
#define LATE_BUCKET_NS 50000
#define RX_BATCH 8    /* datagrams per recvmmsg(2) */
#define RX_SIZE 65536 /* the largest UDP payload, and more */
#define TX_BATCH 16   /* GETs per sendmmsg(2) */

/* One column being walked. */
struct walk_col {
    const oid *prefix;
    size_t prefix_len;
    oid last[MAX_OID_LEN];
    size_t last_len;
    int done;
};

/* ifIndex -> names collected by the walk. */
struct walk_row {
    long ifindex;
    char *name;
    char *descr;
    long type; /* ifType (IANAifType), 0 when unknown */
};

struct walk {
    struct walk_col cols[WALK_COLS]; /* ifName, ifDescr, ifType */
    struct walk_row *rows;
    size_t nrows, cap;
};

struct poller {
    uv_loop_t *loop;
    struct poller_hooks hooks;
    struct config *cfg;
    struct device **devices;
    size_t ndevices;
    netsnmp_large_fd_set fdset; /* scratch for snmp_sess_read2 */
    unsigned char *rx;          /* RX_BATCH x RX_SIZE, for recvmmsg */
    struct response_var *vars;  /* the answer being read */
    size_t vars_cap;
    uint64_t now_ns; /* arrival of the response being processed */
    double now_wall;
    int closing;
    /* stats */
    uint64_t polls, skipped, timeouts, samples;
    uint32_t late_hist[LATE_BUCKETS + 1];
    uint64_t late_count;
    uint64_t late_max_ns;
};

static void device_tick(uv_timer_t *t);
static void device_start_phase(struct device *dev);
static void device_finish_phase(struct device *dev);

/* ---------------------------------------------------------------- utils */

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d == NULL)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xstrcat3(const char *a, const char *b, const char *c, size_t *len)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);

    if (s == NULL)
        abort();
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    if (len)
        *len = la + lb + lc;
    return s;
}

/* Why the device is failing, for its state message. Truncated if long. */
static void device_error(struct device *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void device_error(struct device *dev, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dev->error, sizeof(dev->error), fmt, ap);
    va_end(ap);
}

/* Set the published status and its reason; tells the hooks on a change. */
static void device_set_status(struct device *dev, enum device_status status, const char *error)
{
    struct poller *p = dev->poller;
    const char *err = status == DEVICE_UP || error == NULL ? "" : error;

    if (dev->status == status && strcmp(dev->status_error, err) == 0)
        return;
    if (status == DEVICE_DOWN)
        log_warn("device %s (%s): down: %s", dev->cfg->name, dev->cfg->address, err);
    else if (dev->status == DEVICE_DOWN)
        log_info("device %s (%s): up again", dev->cfg->name, dev->cfg->address);
    dev->status = status;
    if (err != dev->status_error)
        snprintf(dev->status_error, sizeof(dev->status_error), "%s", err);
    if (p->hooks.status)
        p->hooks.status(p->hooks.ctx, dev, p->now_wall > 0 ? p->now_wall : wall_now());
}

/* ------------------------------------------------------- net-snmp setup */

void poller_library_init(void)
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
    init_snmp("ifmon-collector");

    /* One socket per device: make room for thousands. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void poller_library_shutdown(void)
{
    snmp_shutdown("ifmon-collector");
}

static int set_auth(netsnmp_session *s, int proto)
{
    switch (proto) {
    case CONFIG_AUTH_MD5:
        s->securityAuthProto = usmHMACMD5AuthProtocol;
        break;
    case CONFIG_AUTH_SHA:
        s->securityAuthProto = usmHMACSHA1AuthProtocol;
        break;
    case CONFIG_AUTH_SHA224:
        s->securityAuthProto = usmHMAC128SHA224AuthProtocol;
        break;
    case CONFIG_AUTH_SHA256:
        s->securityAuthProto = usmHMAC192SHA256AuthProtocol;
        break;
    case CONFIG_AUTH_SHA384:
        s->securityAuthProto = usmHMAC256SHA384AuthProtocol;
        break;
    case CONFIG_AUTH_SHA512:
        s->securityAuthProto = usmHMAC384SHA512AuthProtocol;
        break;
    default:
        return -1;
    }
    s->securityAuthProtoLen = USM_AUTH_PROTO_SHA_LEN;
    return 0;
}

static int set_priv(netsnmp_session *s, int proto)
{
    switch (proto) {
    case CONFIG_PRIV_DES:
        s->securityPrivProto = usmDESPrivProtocol;
        s->securityPrivProtoLen = USM_PRIV_PROTO_DES_LEN;
        break;
    case CONFIG_PRIV_AES:
        s->securityPrivProto = usmAESPrivProtocol;
        s->securityPrivProtoLen = USM_PRIV_PROTO_AES_LEN;
        break;
    case CONFIG_PRIV_AES192:
        s->securityPrivProto = usmAES192PrivProtocol;
        s->securityPrivProtoLen = OID_LENGTH(usmAES192PrivProtocol);
        break;
    case CONFIG_PRIV_AES256:
        s->securityPrivProto = usmAES256PrivProtocol;
        s->securityPrivProtoLen = OID_LENGTH(usmAES256PrivProtocol);
        break;
    default:
        return -1;
    }
    return 0;
}

static void on_readable(uv_poll_t *h, int status, int events);

/* The session transport's receive, without what only an agent needs:
 * net-snmp's UDP receive asks IP_PKTINFO, calls getsockname(2) on every
 * datagram (the local address, to answer from it) and allocates both
 * addresses. A client matches responses by request-id alone (snmp_api.c,
 * _sess_process_packet_handle_pdu) and never reads them. */
static int session_recv(netsnmp_transport *t, void *buf, int size, void **opaque, int *olength)
{
    ssize_t n;

    do
        n = recv(t->sock, buf, (size_t)size, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    *opaque = NULL;
    *olength = 0;
    return (int)n;
}

/* SNMPv1/v2c over a UDP transport t: take the agent's address from it, for
 * the poll GETs sent here (see the top of this file). */
static void device_init_direct(struct device *dev, const netsnmp_transport *t)
{
    const netsnmp_indexed_addr_pair *pair = t->data;

    dev->direct = 0;
    if (dev->cfg->version == CONFIG_SNMP_V3 || pair == NULL || t->data_length != sizeof(*pair))
        return;
    if (pair->remote_addr.sa.sa_family == AF_INET)
        dev->peer_len = sizeof(struct sockaddr_in);
    else if (pair->remote_addr.sa.sa_family == AF_INET6)
        dev->peer_len = sizeof(struct sockaddr_in6);
    else
        return;
    memcpy(&dev->peer, &pair->remote_addr, dev->peer_len);
    dev->direct = 1;
}

/* Open the device's session. Returns 0, or -1 with dev->error set. */
static int device_open(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    struct poller *p = dev->poller;
    netsnmp_session sess;
    netsnmp_transport *t;
    char peer[320];
    char *errstr = NULL;

    snmp_sess_init(&sess);
    snprintf(peer, sizeof(peer), strchr(c->host, ':') ? "udp6:[%s]:%d" : "udp:%s:%d", c->host,
             c->port);
    sess.peername = peer;
    sess.timeout = (long)c->timeout_ms * 1000;
    sess.retries = c->retries;
    if (c->version == CONFIG_SNMP_V3) {
        sess.version = SNMP_VERSION_3;
        sess.securityModel = SNMP_SEC_MODEL_USM;
        sess.securityName = c->user;
        sess.securityNameLen = strlen(c->user);
        sess.contextName = c->context;
        sess.contextNameLen = strlen(c->context);
        sess.flags |= SNMP_FLAGS_DONT_PROBE;
        sess.securityLevel = c->security_level == CONFIG_SEC_AUTH_PRIV ? SNMP_SEC_LEVEL_AUTHPRIV
                             : c->security_level == CONFIG_SEC_AUTH_NOPRIV
                                 ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                 : SNMP_SEC_LEVEL_NOAUTH;
        if (c->security_level != CONFIG_SEC_NOAUTH_NOPRIV) {
            sess.securityAuthKeyLen = USM_AUTH_KU_LEN;
            if (set_auth(&sess, c->auth_protocol) < 0 ||
                generate_Ku(sess.securityAuthProto, sess.securityAuthProtoLen,
                            (const u_char *)c->auth_password, strlen(c->auth_password),
                            sess.securityAuthKey, &sess.securityAuthKeyLen) != SNMPERR_SUCCESS) {
                device_error(dev, "cannot derive the auth key");
                return -1;
            }
        }
        if (c->security_level == CONFIG_SEC_AUTH_PRIV) {
            sess.securityPrivKeyLen = USM_PRIV_KU_LEN;
            if (set_priv(&sess, c->priv_protocol) < 0 ||
                generate_Ku(sess.securityAuthProto, sess.securityAuthProtoLen,
                            (const u_char *)c->priv_password, strlen(c->priv_password),
                            sess.securityPrivKey, &sess.securityPrivKeyLen) != SNMPERR_SUCCESS) {
                device_error(dev, "cannot derive the privacy key");
                return -1;
            }
        }
        dev->need_probe = 1;
    } else {
        sess.version = c->version == CONFIG_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
        sess.community = (u_char *)c->community;
        sess.community_len = strlen(c->community);
    }

    dev->sessp = snmp_sess_open(&sess);
    if (dev->sessp == NULL) {
        snmp_error(&sess, NULL, NULL, &errstr);
        device_error(dev, "cannot open session to %s: %s", peer, errstr ? errstr : "unknown error");
        free(errstr);
        return -1;
    }
    t = snmp_sess_transport(dev->sessp);
    dev->sock = t ? t->sock : -1;
    dev->direct = 0;
    if (t && (t->domain == netsnmpUDPDomain || t->domain == netsnmp_UDPIPv6Domain)) {
        t->f_recv = session_recv;
        device_init_direct(dev, t);
    }
    if (dev->sock < 0 || uv_poll_init_socket(p->loop, &dev->io, dev->sock) != 0) {
        snmp_sess_close(dev->sessp);
        dev->sessp = NULL;
        device_error(dev, "cannot watch the session socket");
        return -1;
    }
    dev->io.data = dev;
    dev->open_handles++;
    uv_poll_start(&dev->io, UV_READABLE, on_readable);
    return 0;
}

/* --------------------------------------------------------- I/O plumbing */

static void on_snmp_timer(uv_timer_t *t);
static void poll_expire_direct(struct device *dev);
static void poll_read_direct(struct device *dev);

/* Arm the retransmission timer for the requests in flight: net-snmp's
 * (it keeps the real deadlines; we only make sure snmp_sess_timeout() runs
 * just after the earliest one) or a direct poll's (poll_expire_direct). Loop time is refreshed
 * first so the timer cannot fire before a deadline computed from the real clock. */
static void device_arm_snmp_timer(struct device *dev, uint64_t delay_ms)
{
    if (dev->outstanding == 0) {
        uv_timer_stop(&dev->snmp_timer);
        return;
    }
    uv_update_time(dev->poller->loop);
    uv_timer_start(&dev->snmp_timer, on_snmp_timer, delay_ms, 0);
}

static void on_snmp_timer(uv_timer_t *t)
{
    struct device *dev = t->data;
    uint64_t before = dev->events;

    if (dev->sessp == NULL)
        return;
    if (dev->direct && dev->phase == PHASE_POLL) {
        poll_expire_direct(dev);
        return;
    }
    dev->poller->now_ns = uv_hrtime();
    dev->poller->now_wall = wall_now();
    snmp_sess_timeout(dev->sessp);
    if (dev->outstanding == 0)
        return;
    /* A retransmission went out (or a request expired): wait a full
     * timeout; if nothing was due yet, look again shortly. */
    if (before != dev->events)
        device_arm_snmp_timer(dev, (uint64_t)dev->cfg->timeout_ms + 1);
    else
        device_arm_snmp_timer(dev, 5);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct device *dev = h->data;
    struct poller *p = dev->poller;

    if (dev->sessp == NULL)
        return;
    if (dev->direct && dev->phase == PHASE_POLL) {
        poll_read_direct(dev);
        return;
    }
    p->now_ns = uv_hrtime();
    p->now_wall = wall_now();
    netsnmp_large_fd_setfd(dev->sock, &p->fdset);
    snmp_sess_read2(dev->sessp, &p->fdset);
    netsnmp_large_fd_clr(dev->sock, &p->fdset);
}

/* Send a PDU on the device's session; the PDU belongs to net-snmp from
 * here on, also on failure (freed here). Returns 0 or -1. */
static int device_send(struct device *dev, netsnmp_pdu *pdu, snmp_callback cb, void *magic)
{
    if (snmp_sess_async_send(dev->sessp, pdu, cb, magic) == 0) {
        char *errstr = NULL;

        snmp_sess_error(dev->sessp, NULL, NULL, &errstr);
        device_error(dev, "send failed: %s", errstr ? errstr : "?");
        free(errstr);
        snmp_free_pdu(pdu);
        return -1;
    }
    dev->outstanding++;
    device_arm_snmp_timer(dev, (uint64_t)dev->cfg->timeout_ms + 1);
    return 0;
}

/* Common accounting of a callback. Returns 1 when the PDU is a usable
 * response, 0 otherwise (timeout, error, report). */
static int response_usable(struct device *dev, int op, netsnmp_pdu *pdu)
{
    dev->events++;
    if (op == NETSNMP_CALLBACK_OP_RESEND)
        return -1; /* not an answer; the request is still in flight */
    dev->outstanding--;
    if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
        dev->timeouts++;
        dev->poller->timeouts++;
        dev->failures++;
        device_error(dev, "timeout");
        return 0;
    }
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || pdu == NULL) {
        dev->failures++;
        device_error(dev, "SNMP error (callback op %d)", op);
        return 0;
    }
    if (pdu->command == SNMP_MSG_REPORT) {
        /* USM report (unknown engineID, wrong digest, not in time window
         * after retries): learn the engine again. */
        dev->failures++;
        dev->need_probe = dev->cfg->version == CONFIG_SNMP_V3;
        device_error(dev, "SNMPv3: %s", snmp_api_errstring(snmpv3_get_report_type(pdu)));
        return 0;
    }
    dev->answers++;
    return 1;
}

/* ------------------------------------------------------- SNMPv3 probing */

static int on_probe(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct device *dev = magic;
    netsnmp_session *s;

    dev->events++;
    if (op == NETSNMP_CALLBACK_OP_RESEND)
        return 1;
    dev->outstanding--;
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE) {
        if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
            dev->timeouts++;
            dev->poller->timeouts++;
        }
        dev->failures++;
        device_error(dev, "timeout (SNMPv3 engine discovery)");
    } else {
        s = snmp_sess_session(dev->sessp);
        if (s->securityEngineIDLen == 0) {
            dev->failures++;
            device_error(dev, "SNMPv3 engine discovery: no engineID");
        } else {
            if (s->engineBoots || s->engineTime)
                set_enginetime(s->securityEngineID, (u_int)s->securityEngineIDLen, s->engineBoots,
                               s->engineTime, TRUE);
            if (create_user_from_session(s) != SNMPERR_SUCCESS) {
                dev->failures++;
                device_error(dev, "SNMPv3: cannot create the USM user");
            } else {
                dev->answers++;
                dev->need_probe = 0;
            }
        }
    }
    if (dev->outstanding == 0)
        device_finish_phase(dev);
    return 1;
}

static void probe_start(struct device *dev)
{
    netsnmp_session *s = snmp_sess_session(dev->sessp);
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

    /* Forget a previous engine so the agent's report teaches the new one. */
    if (s->securityEngineIDLen) {
        SNMP_FREE(s->securityEngineID);
        s->securityEngineIDLen = 0;
        SNMP_FREE(s->contextEngineID);
        s->contextEngineIDLen = 0;
    }
    pdu->version = SNMP_VERSION_3;
    pdu->securityName = strdup("");
    pdu->securityNameLen = 0;
    pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    pdu->securityModel = SNMP_SEC_MODEL_USM;
    if (device_send(dev, pdu, on_probe, dev) < 0) {
        dev->failures++;
        device_finish_phase(dev);
    }
}

/* ------------------------------------------------------------ discovery */

static struct walk_row *walk_row(struct walk *w, long ifindex)
{
    size_t i;

    /* Agents return rows in ifIndex order: the row is nearly always last. */
    for (i = w->nrows; i > 0; i--)
        if (w->rows[i - 1].ifindex == ifindex)
            return &w->rows[i - 1];
    if (w->nrows == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->rows = realloc(w->rows, w->cap * sizeof(*w->rows));
        if (w->rows == NULL)
            abort();
    }
    w->rows[w->nrows].ifindex = ifindex;
    w->rows[w->nrows].name = NULL;
    w->rows[w->nrows].descr = NULL;
    w->rows[w->nrows].type = 0;
    return &w->rows[w->nrows++];
}

static void walk_free(struct walk *w)
{
    size_t i;

    if (w == NULL)
        return;
    for (i = 0; i < w->nrows; i++) {
        free(w->rows[i].name);
        free(w->rows[i].descr);
    }
    free(w->rows);
    free(w);
}

static int walk_send(struct device *dev);

/* Take one varbind of a walk response for column c. Returns 1 when the
 * column goes on, 0 when it is finished. */
static int walk_take(struct walk *w, int c, const netsnmp_variable_list *v)
{
    struct walk_col *col = &w->cols[c];
    struct walk_row *row;
    char **slot;

    if (v->type == SNMP_ENDOFMIBVIEW || v->type == SNMP_NOSUCHOBJECT ||
        v->type == SNMP_NOSUCHINSTANCE || v->name_length != col->prefix_len + 1 ||
        snmp_oid_ncompare(v->name, v->name_length, col->prefix, col->prefix_len, col->prefix_len) !=
            0)
        return 0;
    /* The agent must move forward, or we would walk forever. */
    if (snmp_oid_compare(v->name, v->name_length, col->last, col->last_len) <= 0 ||
        w->nrows >= WALK_MAX_ROWS)
        return 0;
    memcpy(col->last, v->name, v->name_length * sizeof(oid));
    col->last_len = v->name_length;
    if (c == 2) {
        if (v->type == ASN_INTEGER)
            walk_row(w, (long)v->name[v->name_length - 1])->type = *v->val.integer;
        return 1;
    }
    if (v->type != ASN_OCTET_STR)
        return 1;
    row = walk_row(w, (long)v->name[v->name_length - 1]);
    slot = c == 0 ? &row->name : &row->descr;
    free(*slot);
    *slot = xstrndup((const char *)v->val.string, v->val_len);
    return 1;
}

static int on_walk(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct device *dev = magic;
    struct walk *w = dev->walk;
    netsnmp_variable_list *v;
    int active[WALK_COLS], nactive = 0, i = 0, c, usable;

    usable = response_usable(dev, op, pdu);
    if (usable < 0)
        return 1;
    if (usable && w != NULL) {
        for (c = 0; c < WALK_COLS; c++)
            if (!w->cols[c].done)
                active[nactive++] = c;
        if (pdu->errstat == SNMP_ERR_NOSUCHNAME && pdu->errindex >= 1 && pdu->errindex <= nactive) {
            /* SNMPv1 end of column. */
            w->cols[active[pdu->errindex - 1]].done = 1;
        } else if (pdu->errstat != SNMP_ERR_NOERROR) {
            dev->failures++;
            device_error(dev, "discovery: %s", snmp_errstring((int)pdu->errstat));
        } else {
            int going[WALK_COLS] = {0};

            for (v = pdu->variables; v != NULL && nactive > 0; v = v->next_variable, i++) {
                c = active[i % nactive];
                if (!w->cols[c].done && walk_take(w, c, v))
                    going[c] = 1;
                else
                    w->cols[c].done = 1;
            }
            /* A column that got no varbind at all is finished too. */
            for (c = 0; c < nactive; c++)
                if (!going[active[c]])
                    w->cols[active[c]].done = 1;
        }
        for (c = 0; c < WALK_COLS && w->cols[c].done; c++)
            ;
        if (dev->failures == 0 && c < WALK_COLS) {
            if (walk_send(dev) == 0)
                return 1;
            dev->failures++;
        }
    }
    if (dev->outstanding == 0)
        device_finish_phase(dev);
    return 1;
}

static int walk_send(struct device *dev)
{
    struct walk *w = dev->walk;
    netsnmp_pdu *pdu;
    int c;

    if (dev->cfg->version == CONFIG_SNMP_V1) {
        pdu = snmp_pdu_create(SNMP_MSG_GETNEXT);
    } else {
        pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
        pdu->non_repeaters = 0;
        pdu->max_repetitions = WALK_REPETITIONS;
    }
    for (c = 0; c < WALK_COLS; c++)
        if (!w->cols[c].done)
            snmp_add_null_var(pdu, w->cols[c].last, w->cols[c].last_len);
    return device_send(dev, pdu, on_walk, dev);
}

static void discover_start(struct device *dev)
{
    struct walk *w = calloc(1, sizeof(*w));
    int c;

    if (w == NULL)
        abort();
    w->cols[0].prefix = oid_if_name;
    w->cols[0].prefix_len = OID_LENGTH(oid_if_name);
    w->cols[1].prefix = oid_if_descr;
    w->cols[1].prefix_len = OID_LENGTH(oid_if_descr);
    w->cols[2].prefix = oid_if_type;
    w->cols[2].prefix_len = OID_LENGTH(oid_if_type);
    for (c = 0; c < WALK_COLS; c++) {
        memcpy(w->cols[c].last, w->cols[c].prefix, w->cols[c].prefix_len * sizeof(oid));
        w->cols[c].last_len = w->cols[c].prefix_len;
    }
    dev->walk = w;
    if (walk_send(dev) < 0) {
        dev->failures++;
        device_finish_phase(dev);
    }
}

static int name_wanted(const struct config_device *c, const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return 0;
    for (i = 0; i < c->ninterfaces; i++)
        if (fnmatch(c->interfaces[i], name, 0) == 0)
            return 1;
    return 0;
}

static char *json_quote(const char *s)
{
    json_t *j = json_string(s);
    char *out;

    /* Agent strings need not be UTF-8; keep what can be shown. */
    if (j == NULL) {
        char *copy = strdup(s);
        size_t k;

        if (copy == NULL)
            abort();
        for (k = 0; copy[k]; k++)
            if ((unsigned char)copy[k] >= 0x80)
                copy[k] = '?';
        j = json_string(copy);
        free(copy);
    }
    out = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    if (out == NULL)
        abort();
    return out;
}

/* Build the constant parts of an interface's messages. */
static void iface_init_strings(struct device *dev, struct iface *ifc)
{
    const char *prefix = dev->poller->cfg->redis.prefix;
    char *qdev = json_quote(dev->cfg->name), *qsite = json_quote(dev->cfg->site);
    char *qname = json_quote(ifc->name), *pre;
    size_t n;

    ifc->channel = xstrcat3(dev->channel, ":", ifc->name, &ifc->channel_len);
    pre = xstrcat3(prefix, ":history:", dev->cfg->name, NULL);
    ifc->history_key = xstrcat3(pre, ":", ifc->name, &ifc->history_key_len);
    free(pre);
    n = strlen(qdev) + strlen(qsite) + strlen(qname) + 96;
    ifc->json_head = malloc(n);
    if (ifc->json_head == NULL)
        abort();
    ifc->json_head_len = (size_t)snprintf(ifc->json_head, n,
                                          "{\"device\":%s,\"site\":%s,\"interface\":%s,"
                                          "\"ifindex\":%ld,",
                                          qdev, qsite, qname, ifc->ifindex);
    free(qdev);
    free(qsite);
    free(qname);
}

static void iface_free_strings(struct iface *ifc)
{
    free(ifc->name);
    free(ifc->descr);
    free(ifc->channel);
    free(ifc->history_key);
    free(ifc->json_head);
}

static int iface_cmp_index(const void *a, const void *b)
{
    const struct iface *x = a, *y = b;

    return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

static void device_free_chunks(struct device *dev)
{
    size_t i;

    for (i = 0; i < dev->nchunks; i++)
        request_free(&dev->chunks[i]);
    free(dev->chunks);
    dev->chunks = NULL;
    dev->nchunks = 0;
}

/* Split the interfaces into GET PDUs of at most max_varbinds varbinds. */
static void device_plan_chunks(struct device *dev)
{
    size_t per = (size_t)(dev->max_varbinds - 1) / RESPONSE_VARBINDS_PER_IFACE, i;

    if (per == 0)
        per = 1;
    device_free_chunks(dev);
    dev->nchunks = dev->nifaces ? (dev->nifaces + per - 1) / per : 0;
    dev->chunks = calloc(dev->nchunks ? dev->nchunks : 1, sizeof(*dev->chunks));
    if (dev->chunks == NULL)
        abort();
    for (i = 0; i < dev->nchunks; i++) {
        dev->chunks[i].dev = dev;
        dev->chunks[i].first = i * per;
        dev->chunks[i].count = dev->nifaces - i * per < per ? dev->nifaces - i * per : per;
    }
}

/* Turn the walk into the interface list, keeping the rate state of every
 * interface whose name and ifIndex did not change. */
static void discover_apply(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    struct walk *w = dev->walk;
    struct iface *list = NULL;
    size_t n = 0, i, j;
    int has_ifx = 0, changed = 0;

    for (i = 0; i < w->nrows; i++)
        if (w->rows[i].name && w->rows[i].name[0])
            has_ifx = 1;
    list = calloc(w->nrows ? w->nrows : 1, sizeof(*list));
    if (list == NULL)
        abort();
    for (i = 0; i < w->nrows; i++) {
        struct walk_row *r = &w->rows[i];
        const char *name = NULL;

        if (c->ninterfaces == 0)
            name = r->name && r->name[0] ? r->name : r->descr;
        else if (name_wanted(c, r->name))
            name = r->name;
        else if (name_wanted(c, r->descr))
            name = r->descr;
        if (name == NULL || name[0] == '\0')
            continue;
        for (j = 0; j < n && strcmp(list[j].name, name) != 0; j++)
            ;
        if (j < n) {
            log_warn("device %s: interfaces %ld and %ld are both named \"%s\"; polling %ld",
                     c->name, list[j].ifindex, r->ifindex, name, list[j].ifindex);
            continue;
        }
        list[n].name = strdup(name);
        list[n].descr = strdup(r->descr ? r->descr : "");
        list[n].ifindex = r->ifindex;
        list[n].loopback = r->type == IFTYPE_SOFTWARE_LOOPBACK;
        list[n].width = has_ifx && c->version != CONFIG_SNMP_V1 ? 64 : 32;
        if (list[n].name == NULL || list[n].descr == NULL)
            abort();
        n++;
    }
    qsort(list, n, sizeof(*list), iface_cmp_index);

    changed = n != dev->nifaces;
    for (i = 0; i < n; i++) {
        struct iface *ifc = &list[i];

        for (j = 0; j < dev->nifaces; j++)
            if (strcmp(dev->ifaces[j].name, ifc->name) == 0)
                break;
        if (j < dev->nifaces && dev->ifaces[j].ifindex == ifc->ifindex) {
            ifc->rate = dev->ifaces[j].rate;
            ifc->seq = dev->ifaces[j].seq;
            ifc->oper = dev->ifaces[j].oper;
            ifc->speed_bps = dev->ifaces[j].speed_bps;
            ifc->width = dev->ifaces[j].width;
            ifc->loopback = dev->ifaces[j].loopback;
        } else {
            changed = 1;
            if (j < dev->nifaces) {
                ifc->seq = dev->ifaces[j].seq;
                log_info("device %s: interface \"%s\" moved from ifIndex %ld to %ld", c->name,
                         ifc->name, dev->ifaces[j].ifindex, ifc->ifindex);
            }
        }
        iface_init_strings(dev, ifc);
    }
    for (j = 0; j < dev->nifaces; j++)
        iface_free_strings(&dev->ifaces[j]);
    free(dev->ifaces);
    dev->ifaces = list;
    dev->nifaces = n;
    device_plan_chunks(dev);
    dev->need_discovery = 0;
    dev->discovered_ns = uv_hrtime();
    if (n == 0)
        log_warn("device %s: no interface matches (the agent has %zu)", c->name, w->nrows);
    else
        log_debug("device %s: %zu interfaces, %zu per request", c->name, n, dev->chunks[0].count);
    if (changed && dev->poller->hooks.inventory)
        dev->poller->hooks.inventory(dev->poller->hooks.ctx);
}

/* ---------------------------------------------------------------- polls */

/* response_sample_fn of the poll: count the reading and hand it on. */
static void on_sample(void *ctx, struct device *dev, struct iface *ifc,
                      const struct rate_result *res)
{
    struct poller *p = ctx;

    p->samples++;
    if (p->hooks.sample)
        p->hooks.sample(p->hooks.ctx, dev, ifc, res, p->now_wall > 0 ? p->now_wall : wall_now());
}

static void publish_gap(struct device *dev, struct iface *ifc, enum rate_gap gap)
{
    struct rate_result res = {.status = RATE_GAP, .gap = gap};

    on_sample(dev->poller, dev, ifc, &res);
}

/* The vars scratch for an answer to ch. */
static struct response_var *poll_vars(struct poller *p, const struct chunk *ch)
{
    size_t need = RESPONSE_VARBINDS(ch);

    if (p->vars_cap < need) {
        struct response_var *v = realloc(p->vars, need * sizeof(*v));

        if (v == NULL)
            abort();
        p->vars = v;
        p->vars_cap = need;
    }
    return p->vars;
}

/* An answer to chunk ch's GET with error-status errstat: the rates, or
 * what the error means. The request is no longer in flight. */
static void poll_answered(struct device *dev, struct chunk *ch, long errstat,
                          const struct response_var *vars, size_t n)
{
    struct poller *p = dev->poller;
    size_t i;

    if (errstat != SNMP_ERR_NOERROR) {
        dev->failures++;
        if (errstat == SNMP_ERR_TOOBIG && dev->max_varbinds > RESPONSE_VARBINDS_PER_IFACE + 1) {
            dev->max_varbinds = (dev->max_varbinds + 1) / 2;
            log_info("device %s: agent says tooBig; asking %d varbinds per request", dev->cfg->name,
                     dev->max_varbinds);
            dev->replan = 1; /* once no request of this plan is in flight */
        } else if (errstat == SNMP_ERR_NOSUCHNAME) {
            dev->need_discovery = 1; /* SNMPv1: an ifIndex vanished */
        }
        device_error(dev, "%s", snmp_errstring((int)errstat));
        if (!dev->closing && !dev->replan)
            for (i = ch->first; i < ch->first + ch->count; i++)
                publish_gap(dev, &dev->ifaces[i], RATE_GAP_NO_DATA);
        return;
    }
    response_read(dev, ch, vars, n, p->now_ns, on_sample, p);
}

/* No usable answer to chunk ch's GET (gap says why): still one message per
 * interface per poll, an explicit gap. The rate state is kept, so the next
 * answer gives the average over the whole outage. */
static void poll_failed(struct device *dev, struct chunk *ch, enum rate_gap gap)
{
    size_t i;

    if (dev->closing || dev->replan)
        return;
    for (i = ch->first; i < ch->first + ch->count; i++)
        publish_gap(dev, &dev->ifaces[i], gap);
}

/* net-snmp's callback for the poll GETs it sends (SNMPv3). */
static int on_poll(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct chunk *ch = magic;
    struct device *dev = ch->dev;
    struct poller *p = dev->poller;
    int usable;

    usable = response_usable(dev, op, pdu);
    if (usable < 0)
        return 1;
    if (usable) {
        struct response_var *vars = poll_vars(p, ch);
        size_t n = response_vars_from_list(dev, ch, pdu->variables, vars, RESPONSE_VARBINDS(ch));

        poll_answered(dev, ch, pdu->errstat, vars, n);
    } else {
        poll_failed(dev, ch,
                    op == NETSNMP_CALLBACK_OP_TIMED_OUT ? RATE_GAP_TIMEOUT : RATE_GAP_NO_DATA);
    }
    if (dev->outstanding == 0)
        device_finish_phase(dev);
    return 1;
}

static long direct_version(const struct device *dev)
{
    return dev->cfg->version == CONFIG_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
}

/* Send the GETs of chunks[0 .. n-1] (n <= TX_BATCH, each counted in
 * dev->outstanding) in sendmmsg(2) calls. A GET that cannot leave is a
 * failed request, no longer in flight, and a gap. */
static void poll_send_direct(struct device *dev, struct chunk **chunks, size_t n)
{
    struct mmsghdr msgs[TX_BATCH];
    struct iovec iov[TX_BATCH];
    size_t k, done = 0;

    for (k = 0; k < n; k++) {
        struct chunk *ch = chunks[k];

        iov[k].iov_base = (void *)request_message(ch, direct_version(dev), dev->cfg->community,
                                                  ch->reqid, &iov[k].iov_len);
        memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
        msgs[k].msg_hdr.msg_name = &dev->peer;
        msgs[k].msg_hdr.msg_namelen = dev->peer_len;
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    while (done < n) {
        int r = sendmmsg(dev->sock, msgs + done, (unsigned)(n - done), 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* the first of the rest failed: skip it */
            device_error(dev, "send failed: %s", strerror(errno));
            dev->failures++;
            dev->outstanding--;
            chunks[done]->tries = 0;
            poll_failed(dev, chunks[done], RATE_GAP_NO_DATA);
            done++;
            continue;
        }
        done += (size_t)r;
    }
}

/* Start the GETs of every chunk, by net-snmp (SNMPv3) or directly. */
static void poll_start(struct device *dev)
{
    struct chunk *batch[TX_BATCH];
    uint64_t deadline = uv_hrtime() + (uint64_t)dev->cfg->timeout_ms * 1000000u;
    size_t i, n = 0;

    for (i = 0; i < dev->nchunks; i++) {
        struct chunk *ch = &dev->chunks[i];

        if (dev->direct) {
            if (request_prepare(dev, ch, dev->cfg->community) < 0) {
                device_error(dev, "out of memory");
                dev->failures++;
                continue;
            }
            ch->reqid = snmp_get_next_reqid();
            ch->tries = 1;
            ch->deadline_ns = deadline;
            dev->outstanding++;
            batch[n++] = ch;
            if (n == TX_BATCH) {
                poll_send_direct(dev, batch, n);
                n = 0;
            }
        } else {
            netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);

            response_add_vars(dev, ch, pdu);
            if (device_send(dev, pdu, on_poll, ch) < 0)
                dev->failures++;
        }
    }
    if (n)
        poll_send_direct(dev, batch, n);
    if (dev->outstanding == 0)
        device_finish_phase(dev);
    else if (dev->direct)
        device_arm_snmp_timer(dev, (uint64_t)dev->cfg->timeout_ms + 1);
}

/* The in-flight chunk whose GET has request-id reqid, or NULL. */
static struct chunk *poll_chunk(struct device *dev, long reqid)
{
    size_t i;

    for (i = 0; i < dev->nchunks; i++)
        if (dev->chunks[i].tries && dev->chunks[i].reqid == reqid)
            return &dev->chunks[i];
    return NULL;
}

/* One datagram on a direct device's socket during its poll. What is not
 * the answer to a GET in flight (a late or repeated answer, one to an
 * earlier walk, anything malformed) is dropped, as net-snmp drops it. */
static void poll_datagram(struct device *dev, const unsigned char *pkt, size_t len)
{
    struct request_answer a;
    struct response_var *vars;
    struct chunk *ch;
    size_t n;

    if (request_parse_answer(pkt, len, &a) < 0 || a.version != direct_version(dev) ||
        (ch = poll_chunk(dev, a.reqid)) == NULL)
        return;
    vars = poll_vars(dev->poller, ch);
    if (request_parse_varbinds(ch, &a, vars, RESPONSE_VARBINDS(ch), &n) < 0)
        return;
    ch->tries = 0;
    dev->outstanding--;
    dev->answers++;
    poll_answered(dev, ch, a.errstat, vars, n);
    if (dev->outstanding == 0)
        device_finish_phase(dev);
}

/* Readable during a direct poll: every datagram queued, RX_BATCH per
 * system call. */
static void poll_read_direct(struct device *dev)
{
    struct poller *p = dev->poller;
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    int i, r;

    if (p->rx == NULL && (p->rx = malloc((size_t)RX_BATCH * RX_SIZE)) == NULL)
        abort();
    do {
        for (i = 0; i < RX_BATCH; i++) {
            iov[i].iov_base = p->rx + (size_t)i * RX_SIZE;
            iov[i].iov_len = RX_SIZE;
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        do
            r = recvmmsg(dev->sock, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        while (r < 0 && errno == EINTR);
        p->now_ns = uv_hrtime();
        p->now_wall = wall_now();
        /* The device may finish its poll (and replan its chunks) on any
         * of them; the rest then match no GET in flight. */
        for (i = 0; i < r && dev->phase == PHASE_POLL; i++)
            if (!(msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
                poll_datagram(dev, iov[i].iov_base, msgs[i].msg_len);
    } while (r == RX_BATCH && dev->phase == PHASE_POLL);
}

/* The retransmission timer of a direct poll: resend the GETs whose try
 * timed out while retries are left, give up on the others, and wait for
 * the next deadline. */
static void poll_expire_direct(struct device *dev)
{
    struct poller *p = dev->poller;
    struct chunk *resend[TX_BATCH];
    uint64_t now = uv_hrtime(), next = UINT64_MAX;
    size_t i, n = 0;

    p->now_ns = now;
    p->now_wall = wall_now();
    for (i = 0; i < dev->nchunks; i++) {
        struct chunk *ch = &dev->chunks[i];

        if (ch->tries == 0)
            continue;
        if (ch->deadline_ns > now + 500000) { /* not due (timers are in ms) */
            if (ch->deadline_ns < next)
                next = ch->deadline_ns;
            continue;
        }
        if (ch->tries <= dev->cfg->retries) {
            ch->tries++;
            ch->deadline_ns = now + (uint64_t)dev->cfg->timeout_ms * 1000000u;
            if (ch->deadline_ns < next)
                next = ch->deadline_ns;
            resend[n++] = ch;
            if (n == TX_BATCH) {
                poll_send_direct(dev, resend, n);
                n = 0;
            }
            continue;
        }
        ch->tries = 0;
        dev->outstanding--;
        dev->timeouts++;
        p->timeouts++;
        dev->failures++;
        device_error(dev, "timeout");
        poll_failed(dev, ch, RATE_GAP_TIMEOUT);
    }
    if (n)
        poll_send_direct(dev, resend, n);
    if (dev->outstanding == 0)
        device_finish_phase(dev);
    else if (next != UINT64_MAX)
        device_arm_snmp_timer(dev, next > now ? (next - now + 999999) / 1000000 : 0);
}

/* ------------------------------------------------------------ lifecycle */

/* Begin the work the device needs now: engine probe, discovery or poll. */
static void device_start_phase(struct device *dev)
{
    dev->failures = 0;
    dev->answers = 0;
    if (dev->need_probe) {
        dev->phase = PHASE_PROBE;
        probe_start(dev);
    } else if (dev->need_discovery) {
        dev->phase = PHASE_DISCOVER;
        discover_start(dev);
    } else {
        dev->phase = PHASE_POLL;
        poll_start(dev);
    }
}

/* All requests of the current phase are answered or timed out. */
static void device_finish_phase(struct device *dev)
{
    enum device_phase phase = dev->phase;
    int ok = dev->failures == 0, any = dev->answers > 0;

    dev->phase = PHASE_IDLE;
    uv_timer_stop(&dev->snmp_timer);
    if (dev->closing)
        return;
    if (dev->replan) {
        dev->replan = 0;
        device_plan_chunks(dev);
    }
    switch (phase) {
    case PHASE_PROBE:
        if (ok) {
            device_start_phase(dev); /* straight on to discovery */
            return;
        }
        device_set_status(dev, DEVICE_DOWN, dev->error);
        break;
    case PHASE_DISCOVER:
        if (ok) {
            discover_apply(dev);
            device_set_status(dev, DEVICE_UP, NULL);
        } else {
            char why[sizeof(dev->error)];

            memcpy(why, dev->error, sizeof(why));
            device_error(dev, "discovery failed: %s", why);
            device_set_status(dev, DEVICE_DOWN, dev->error);
        }
        walk_free(dev->walk);
        dev->walk = NULL;
        break;
    case PHASE_POLL:
        if (any)
            device_set_status(dev, DEVICE_UP, NULL);
        else if (dev->nchunks > 0)
            device_set_status(dev, DEVICE_DOWN, dev->error);
        break;
    case PHASE_IDLE:
        break;
    }
}

/* Arm the schedule timer for dev->due_ns. libuv timers have millisecond
 * resolution and epoll_wait(2) rounds its timeout up, so aiming at the
 * millisecond after due makes polls about a millisecond late; aiming at
 * the millisecond before makes them start within a millisecond of due,
 * sometimes a fraction early, which no agent can tell apart. */
static void device_arm_tick(struct device *dev)
{
    uint64_t now;

    uv_update_time(dev->poller->loop);
    now = uv_hrtime();
    uv_timer_start(&dev->tick, device_tick, dev->due_ns > now ? (dev->due_ns - now) / 1000000 : 0,
                   0);
}

static void late_record(struct poller *p, uint64_t late_ns)
{
    uint64_t b = late_ns / LATE_BUCKET_NS;

    p->late_hist[b < LATE_BUCKETS ? b : LATE_BUCKETS]++;
    p->late_count++;
    if (late_ns > p->late_max_ns)
        p->late_max_ns = late_ns;
}

/* The schedule: fire at due_ns, then every interval. A tick that finds
 * the previous work still in flight skips this poll; no other device is
 * affected by a slow one. */
static void device_tick(uv_timer_t *t)
{
    struct device *dev = t->data;
    struct poller *p = dev->poller;
    uint64_t now = uv_hrtime(), next;

    late_record(p, now > dev->due_ns ? now - dev->due_ns : 0);
    next = dev->due_ns + dev->interval_ns;
    if (next <= now) /* fell behind by whole intervals: realign */
        next = now + dev->interval_ns - (now - dev->due_ns) % dev->interval_ns;
    dev->due_ns = next;
    device_arm_tick(dev);

    if (dev->sessp == NULL && device_open(dev) < 0) {
        device_set_status(dev, DEVICE_DOWN, dev->error);
        return;
    }
    if (dev->phase != PHASE_IDLE) {
        dev->polls_skipped++;
        p->skipped++;
        return;
    }
    if (dev->cfg->rediscover_ms > 0 && dev->discovered_ns &&
        now - dev->discovered_ns >= (uint64_t)dev->cfg->rediscover_ms * 1000000u)
        dev->need_discovery = 1;
    dev->polls++;
    p->polls++;
    p->now_wall = 0;
    device_start_phase(dev);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct device *dev = h->data;
    size_t i;

    if (--dev->open_handles > 0)
        return;
    for (i = 0; i < dev->nifaces; i++)
        iface_free_strings(&dev->ifaces[i]);
    free(dev->ifaces);
    device_free_chunks(dev);
    walk_free(dev->walk);
    free(dev->channel);
    free(dev);
}

/* Stop polling a device and free it once libuv has let go of it. */
static void device_close(struct device *dev)
{
    dev->closing = 1;
    uv_timer_stop(&dev->tick);
    uv_timer_stop(&dev->snmp_timer);
    if (dev->sessp) {
        uv_poll_stop(&dev->io);
        /* Pending requests are dropped without callbacks reaching a freed
         * device: closing flags every callback path as a no-op. */
        snmp_sess_close(dev->sessp);
        dev->sessp = NULL;
        uv_close((uv_handle_t *)&dev->io, on_handle_closed);
    }
    uv_close((uv_handle_t *)&dev->tick, on_handle_closed);
    uv_close((uv_handle_t *)&dev->snmp_timer, on_handle_closed);
}

static struct device *device_create(struct poller *p, const struct config_device *c,
                                    uint64_t first_delay_ns)
{
    struct device *dev = calloc(1, sizeof(*dev));

    if (dev == NULL)
        abort();
    dev->poller = p;
    dev->cfg = c;
    dev->sock = -1;
    dev->need_discovery = 1;
    dev->max_varbinds = c->max_varbinds;
    dev->interval_ns = (uint64_t)c->interval_ms * 1000000u;
    dev->channel = xstrcat3(p->cfg->redis.prefix, ":", c->name, NULL);
    uv_timer_init(p->loop, &dev->tick);
    uv_timer_init(p->loop, &dev->snmp_timer);
    dev->tick.data = dev->snmp_timer.data = dev;
    dev->open_handles = 2;
    if (device_open(dev) < 0)
        log_warn("device %s: %s (will retry)", c->name, dev->error);
    dev->due_ns = uv_hrtime() + first_delay_ns;
    device_arm_tick(dev);
    return dev;
}

/* ------------------------------------------------------------------ API */

struct poller *poller_create(uv_loop_t *loop, const struct poller_hooks *hooks)
{
    struct poller *p = calloc(1, sizeof(*p));

    if (p == NULL)
        abort();
    p->loop = loop;
    p->hooks = *hooks;
    netsnmp_large_fd_set_init(&p->fdset, FD_SETSIZE);
    return p;
}

int poller_apply(struct poller *p, struct config *cfg)
{
    struct device **next = calloc(cfg->ndevices ? cfg->ndevices : 1, sizeof(*next));
    size_t i, j, added = 0, kept = 0, removed = 0;
    int prefix_changed = p->cfg == NULL || strcmp(p->cfg->redis.prefix, cfg->redis.prefix) != 0;
    struct config *old = p->cfg;

    if (next == NULL)
        abort();
    /* Keep what did not change; the old entries are re-pointed at the new
     * config before the old one is freed. */
    for (i = 0; i < cfg->ndevices; i++) {
        for (j = 0; !prefix_changed && j < p->ndevices; j++) {
            struct device *d = p->devices[j];

            if (d && strcmp(d->cfg->name, cfg->devices[i].name) == 0 &&
                config_device_equal(d->cfg, &cfg->devices[i])) {
                d->cfg = &cfg->devices[i];
                next[i] = d;
                p->devices[j] = NULL;
                kept++;
                break;
            }
        }
    }
    for (j = 0; j < p->ndevices; j++)
        if (p->devices[j]) {
            device_close(p->devices[j]);
            removed++;
        }
    free(p->devices);
    p->cfg = cfg;
    for (i = 0; i < cfg->ndevices; i++) {
        if (next[i])
            continue;
        /* Spread first polls evenly over the interval (by position), so a
         * thousand devices never fire in the same millisecond. */
        next[i] =
            device_create(p, &cfg->devices[i],
                          (uint64_t)cfg->devices[i].interval_ms * 1000000u * i / cfg->ndevices);
        added++;
    }
    p->devices = next;
    p->ndevices = cfg->ndevices;
    config_free(old);
    log_info("inventory %s: %zu devices (%zu new, %zu unchanged, %zu removed)", cfg->path,
             cfg->ndevices, added, kept, removed);
    if (p->hooks.inventory)
        p->hooks.inventory(p->hooks.ctx);
    return 0;
}

struct device **poller_devices(struct poller *p, size_t *count)
{
    *count = p->ndevices;
    return p->devices;
}

const struct config *poller_config(struct poller *p)
{
    return p->cfg;
}

static double late_percentile(const struct poller *p, double q)
{
    uint64_t want = (uint64_t)(q * (double)p->late_count), seen = 0;
    size_t b;

    if (p->late_count == 0)
        return 0;
    for (b = 0; b <= LATE_BUCKETS; b++) {
        seen += p->late_hist[b];
        if (seen > want)
            return (double)(b * LATE_BUCKET_NS + LATE_BUCKET_NS / 2) / 1e6;
    }
    return (double)p->late_max_ns / 1e6;
}

void poller_stats(struct poller *p, struct poller_stats *out, int reset_window)
{
    out->polls = p->polls;
    out->skipped = p->skipped;
    out->timeouts = p->timeouts;
    out->samples = p->samples;
    out->late_p50_ms = late_percentile(p, 0.50);
    out->late_p99_ms = late_percentile(p, 0.99);
    out->late_max_ms = (double)p->late_max_ns / 1e6;
    if (reset_window) {
        memset(p->late_hist, 0, sizeof(p->late_hist));
        p->late_count = 0;
        p->late_max_ns = 0;
    }
}

void poller_close(struct poller *p)
{
    size_t i;

    p->closing = 1;
    for (i = 0; i < p->ndevices; i++)
        device_close(p->devices[i]);
    p->ndevices = 0;
}

void poller_free(struct poller *p)
{
    if (p == NULL)
        return;
    free(p->devices);
    config_free(p->cfg);
    netsnmp_large_fd_set_cleanup(&p->fdset);
    free(p->rx);
    free(p->vars);
    free(p);
}
