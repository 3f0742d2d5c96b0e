/* snmpv3.c -- see snmpv3.h. */

#include "snmpv3.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "log.h"
#include "poller.h"
#include "session.h"
#include "usm_keys.h"
#include "util.h"

/* ---------------------------------------------------- security settings */

static int set_auth(netsnmp_session *s, int proto)
{
    size_t len;

    s->securityAuthProto = usm_auth_protocol(proto, &len);
    if (s->securityAuthProto == NULL)
        return -1;
    s->securityAuthProtoLen = len;
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

/* USM settings of an SNMPv3 session, with the keys already derived
 * (want_keys()). Returns 0, or -1 with dev->error. */
int snmpv3_session_settings(struct device *dev, netsnmp_session *sess)
{
    const struct config_device *c = dev->cfg;
    const unsigned char *ku;
    size_t len;

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
        if (set_auth(sess, c->auth_protocol) < 0) {
            device_error(dev, "SNMPv3: unknown auth protocol");
            return -1;
        }
        ku = usm_key_bytes(dev->sess.auth_key, &len);
        IFMON_ASSERT(len <= sizeof(sess->securityAuthKey));
        memcpy(sess->securityAuthKey, ku, len);
        sess->securityAuthKeyLen = len;
    }
    if (c->security_level == CONFIG_SEC_AUTH_PRIV) {
        if (set_priv(sess, c->priv_protocol) < 0) {
            device_error(dev, "SNMPv3: unknown privacy protocol");
            return -1;
        }
        ku = usm_key_bytes(dev->sess.priv_key, &len);
        IFMON_ASSERT(len <= sizeof(sess->securityPrivKey));
        memcpy(sess->securityPrivKey, ku, len);
        sess->securityPrivKeyLen = len;
    }
    dev->need_probe = 1;
    return 0;
}

/* ------------------------------------------------------- engine probe */

/* The agent's engineID, from the REPORT answering the probe, into the
 * session (and as its context engine unless one is set). net-snmp would
 * do the same, but only after this callback has returned. Returns 0 or
 * -1 (out of memory). */
static int learn_engine(netsnmp_session *s, const netsnmp_pdu *pdu)
{
    u_char *id = malloc(pdu->securityEngineIDLen), *ctx = NULL;

    if (id == NULL)
        return -1;
    if (s->contextEngineIDLen == 0 && (ctx = malloc(pdu->securityEngineIDLen)) == NULL) {
        free(id);
        return -1;
    }
    memcpy(id, pdu->securityEngineID, pdu->securityEngineIDLen);
    s->securityEngineID = id;
    s->securityEngineIDLen = pdu->securityEngineIDLen;
    if (ctx) {
        memcpy(ctx, pdu->securityEngineID, pdu->securityEngineIDLen);
        s->contextEngineID = ctx;
        s->contextEngineIDLen = pdu->securityEngineIDLen;
    }
    return 0;
}

static int on_probe(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct device *dev = magic;
    netsnmp_session *s;

    if (!session_callback_ends(dev, op, pdu))
        return 1;
    dev->outstanding--;
    /* The answer to a probe is a REPORT (usmStatsUnknownEngineIDs,
     * RFC 3414 4), which may come as SEC_ERROR first. */
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && !session_is_report(op, pdu)) {
        if (op == NETSNMP_CALLBACK_OP_TIMED_OUT)
            poller_count_timeout(dev);
        dev->failures++;
        device_error(dev, "timeout (SNMPv3 engine discovery)");
    } else {
        s = snmp_sess_session(dev->sess.sessp);
        if (s->securityEngineIDLen == 0 && pdu && pdu->securityEngineIDLen > 0 &&
            learn_engine(s, pdu) < 0)
            device_error(dev, "SNMPv3: out of memory");
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

void snmpv3_probe_start(struct device *dev)
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
