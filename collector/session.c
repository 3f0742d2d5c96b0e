/* session.c -- see session.h. */

#include "session.h"

#include <errno.h>
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

/* Scratch for snmp_sess_read2(): one socket at a time. */
static netsnmp_large_fd_set read_fds;

/* --------------------------------------------------------- the library */

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
    netsnmp_large_fd_set_cleanup(&read_fds);
    snmp_shutdown("ifmon-collector");
}

/* ------------------------------------------------------------- opening */

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

/* USM settings of an SNMPv3 session. Returns 0, or -1 with dev->error. */
static int set_usm(struct device *dev, netsnmp_session *sess)
{
    const struct config_device *c = dev->cfg;

    sess->version = SNMP_VERSION_3;
    sess->securityModel = SNMP_SEC_MODEL_USM;
    sess->securityName = c->user;
    sess->securityNameLen = strlen(c->user);
    sess->contextName = c->context;
    sess->contextNameLen = strlen(c->context);
    sess->flags |= SNMP_FLAGS_DONT_PROBE;
    sess->securityLevel = c->security_level == CONFIG_SEC_AUTH_PRIV     ? SNMP_SEC_LEVEL_AUTHPRIV
                          : c->security_level == CONFIG_SEC_AUTH_NOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                                                        : SNMP_SEC_LEVEL_NOAUTH;
    if (c->security_level != CONFIG_SEC_NOAUTH_NOPRIV) {
        sess->securityAuthKeyLen = USM_AUTH_KU_LEN;
        if (set_auth(sess, c->auth_protocol) < 0 ||
            generate_Ku(sess->securityAuthProto, sess->securityAuthProtoLen,
                        (const u_char *)c->auth_password, strlen(c->auth_password),
                        sess->securityAuthKey, &sess->securityAuthKeyLen) != SNMPERR_SUCCESS) {
            device_error(dev, "cannot derive the auth key");
            return -1;
        }
    }
    if (c->security_level == CONFIG_SEC_AUTH_PRIV) {
        sess->securityPrivKeyLen = USM_PRIV_KU_LEN;
        if (set_priv(sess, c->priv_protocol) < 0 ||
            generate_Ku(sess->securityAuthProto, sess->securityAuthProtoLen,
                        (const u_char *)c->priv_password, strlen(c->priv_password),
                        sess->securityPrivKey, &sess->securityPrivKeyLen) != SNMPERR_SUCCESS) {
            device_error(dev, "cannot derive the privacy key");
            return -1;
        }
    }
    dev->need_probe = 1;
    return 0;
}

static void on_readable(uv_poll_t *h, int status, int events);
static void on_timer(uv_timer_t *t);

void session_init(struct device *dev, uv_loop_t *loop)
{
    dev->sess.sock = -1;
    uv_timer_init(loop, &dev->sess.timer);
    dev->sess.timer.data = dev;
    dev->open_handles++;
}

int session_open(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    struct session *s = &dev->sess;
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
        if (set_usm(dev, &sess) < 0)
            return -1;
    } else {
        sess.version = c->version == CONFIG_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
        sess.community = (u_char *)c->community;
        sess.community_len = strlen(c->community);
    }

    s->sessp = snmp_sess_open(&sess);
    if (s->sessp == NULL) {
        snmp_error(&sess, NULL, NULL, &errstr);
        device_error(dev, "cannot open session to %s: %s", peer, errstr ? errstr : "unknown error");
        free(errstr);
        return -1;
    }
    t = snmp_sess_transport(s->sessp);
    s->sock = t ? t->sock : -1;
    dev->direct.on = 0;
    if (t && (t->domain == netsnmpUDPDomain || t->domain == netsnmp_UDPIPv6Domain)) {
        t->f_recv = session_recv;
        direct_poll_init(dev, t);
    }
    if (s->sock < 0 || uv_poll_init_socket(dev->tick.loop, &s->io, s->sock) != 0) {
        snmp_sess_close(s->sessp);
        s->sessp = NULL;
        s->sock = -1;
        device_error(dev, "cannot watch the session socket");
        return -1;
    }
    s->io.data = dev;
    dev->open_handles++;
    uv_poll_start(&s->io, UV_READABLE, on_readable);
    return 0;
}

int session_is_open(const struct device *dev)
{
    return dev->sess.sessp != NULL;
}

void session_close(struct device *dev, uv_close_cb on_closed)
{
    struct session *s = &dev->sess;

    uv_timer_stop(&s->timer);
    if (s->sessp) {
        uv_poll_stop(&s->io);
        /* Pending requests are dropped without callbacks reaching a freed
         * device: dev->closing makes every callback path a no-op. */
        snmp_sess_close(s->sessp);
        s->sessp = NULL;
        s->sock = -1;
        uv_close((uv_handle_t *)&s->io, on_closed);
    }
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
    if (snmp_sess_async_send(dev->sess.sessp, pdu, cb, magic) == 0) {
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

enum session_answer session_answer(struct device *dev, int op, netsnmp_pdu *pdu)
{
    dev->sess.events++;
    if (op == NETSNMP_CALLBACK_OP_RESEND)
        return SESSION_RESENT;
    dev->outstanding--;
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
    if (pdu->command == SNMP_MSG_REPORT) {
        /* USM report (unknown engineID, wrong digest, not in time window
         * after retries): learn the engine again. */
        dev->failures++;
        dev->need_probe = dev->cfg->version == CONFIG_SNMP_V3;
        device_error(dev, "SNMPv3: %s", snmp_api_errstring(snmpv3_get_report_type(pdu)));
        return SESSION_FAILED;
    }
    dev->answers++;
    return SESSION_USABLE;
}

/* ------------------------------------------------------ SNMPv3 probing */

static int on_probe(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct device *dev = magic;
    netsnmp_session *s;

    dev->sess.events++;
    if (op == NETSNMP_CALLBACK_OP_RESEND)
        return 1;
    dev->outstanding--;
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE) {
        if (op == NETSNMP_CALLBACK_OP_TIMED_OUT)
            poller_count_timeout(dev);
        dev->failures++;
        device_error(dev, "timeout (SNMPv3 engine discovery)");
    } else {
        s = snmp_sess_session(dev->sess.sessp);
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
        poller_phase_done(dev);
    return 1;
}

void session_probe_start(struct device *dev)
{
    netsnmp_session *s = snmp_sess_session(dev->sess.sessp);
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
    if (session_send(dev, pdu, on_probe, dev) < 0) {
        dev->failures++;
        poller_phase_done(dev);
    }
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

        poller_poll_answered(dev, ch, pdu->errstat, vars, n);
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
