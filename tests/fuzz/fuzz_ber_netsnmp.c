/* fuzz_ber_netsnmp.c -- libFuzzer target: collector/ber.c against
 * net-snmp's own parser on any bytes. The same datagram goes to ber.c
 * (ber_parse_answer, then ber_parse_varbinds against a prepared GET, as
 * direct_poll.c reads an answer) and to snmp_parse() on a v1/v2c session
 * (as net-snmp reads it for session.c's polls, then counters.c's
 * counters_vars_from_list()). Both must come to the same outcome: the
 * datagram refused by both (net-snmp: a parse error or a PDU that is not a
 * GetResponse; ber.c: -1, or a version that is not the session's), or
 * accepted by both with the same version, request-id, error-status and
 * error-index and the same varbinds in order (type, asked or not, number
 * or not, and the number).
 *
 * ber.c follows net-snmp 5.9 wherever that is harmless, non-canonical
 * encodings included (long-form lengths of up to 8 bytes, leading 0x00 or
 * 0xff on numbers, INTEGERs wider than 32 bits truncated to 32 as asn1.c's
 * CHECK_OVERFLOW_S does, unsigned types truncated to 32 bits, names with
 * padded subidentifiers compared by value, a community tagged IpAddress,
 * Opaque or NSAP, NULL or exceptions with content, Opaque-wrapped numbers).
 * It is stricter, and may refuse a datagram net-snmp accepts, in these
 * cases only (allowed_strictness() below finds them):
 *
 *   1. A varbind whose SEQUENCE holds more than its name and value, or an
 *      Opaque-wrapped number (net-snmp's 0x9f 0x76... encoding) followed
 *      by more bytes inside its Opaque. snmp_parse_var_op() resumes after
 *      the value it decoded, not after the varbind, so net-snmp reads the
 *      leftover bytes as further varbinds: varbinds that were never sent
 *      as such, at positions that would be taken as the answers to other
 *      names.
 *   2. A Counter64 with no content octets. asn_parse_unsigned_int64()
 *      takes it as 0, X.690 8.3.1 forbids it; a made-up reading of 0 on a
 *      64-bit counter would be a counter reset, then a jump.
 *
 * Input: one byte choosing the GET (bits 0-2: 1 to 8 interfaces; bit 3:
 * 32-bit counters; bit 4: SNMPv1 session, else v2c; bits 5-6: the first
 * ifIndex, 1, 200, 70000 or 4294967287, for subidentifiers of one to five
 * bytes; bit 7: packets, errors and discards polled too, else octets
 * alone), then the datagram. Seeds: corpus/ber_netsnmp/, answers as
 * agents send them and each difference this target found. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/device.h"
#include "log.h"

#define MAX_IFACES 8
#define MAX_VARS (1 + MAX_IFACES * COUNTERS_PER_IFACE_MAX)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long first_ifindex[] = {1, 200, 70000, 4294967287L};

static void differ(const char *what, long got, long want)
{
    fprintf(stderr, "fuzz_ber_netsnmp: ber.c and net-snmp differ: %s (ber.c %ld, net-snmp %ld)\n",
            what, got, want);
    abort();
}

/* ---------------------------------------- net-snmp's walk, for the cases */

/* A length at p (avail bytes from p on), as asn_parse_nlength() reads it;
 * returns where the content starts, or NULL. */
static const uint8_t *ns_length(const uint8_t *p, size_t avail, size_t *len)
{
    uint64_t l;
    size_t n, i;

    if (avail < 1)
        return NULL;
    if (p[0] & 0x80) {
        n = (size_t)(p[0] & 0x7f) + 1;
        if (n == 1 || n > 9 || avail < n)
            return NULL;
        for (l = 0, i = 1; i < n; i++)
            l = l << 8 | p[i];
        if (l >> 63)
            return NULL;
    } else {
        n = 1;
        l = p[0];
    }
    if (l + n > avail)
        return NULL;
    *len = (size_t)l;
    return p + n;
}

/* A TLV at p, as asn_parse_header() reads it before any Opaque
 * unwrapping; returns its content, or NULL. */
static const uint8_t *ns_tlv(const uint8_t *p, const uint8_t *end, uint8_t *tag, size_t *len)
{
    if (end - p < 2)
        return NULL;
    *tag = p[0];
    return ns_length(p + 1, (size_t)(end - p - 1), len);
}

static int opaque_wrapped(uint8_t t)
{
    return t == ASN_OPAQUE_COUNTER64 || t == ASN_OPAQUE_U64 || t == ASN_OPAQUE_FLOAT ||
           t == ASN_OPAQUE_DOUBLE || t == ASN_OPAQUE_I64;
}

/* 1 when a datagram net-snmp accepted holds one of the cases where ber.c
 * may refuse it (the list at the top), walking it as snmp_parse() does. */
static int allowed_strictness(const uint8_t *pkt, size_t size)
{
    const uint8_t *p = pkt, *end = pkt + size, *c;
    uint8_t tag;
    size_t len;
    int i;

    /* Message, version, community; PDU, its three INTEGERs; the list. */
    if ((c = ns_tlv(p, end, &tag, &len)) == NULL)
        return 0;
    p = c;
    end = c + len;
    for (i = 0; i < 3; i++) {
        if ((c = ns_tlv(p, end, &tag, &len)) == NULL)
            return 0;
        p = i < 2 ? c + len : c;
    }
    end = p + len;
    for (i = 0; i < 4; i++) {
        if ((c = ns_tlv(p, end, &tag, &len)) == NULL)
            return 0;
        p = i < 3 ? c + len : c;
    }
    end = p + len;
    while (p < end) {
        const uint8_t *vb_end, *v, *value_end;
        size_t vlen;

        if ((c = ns_tlv(p, end, &tag, &len)) == NULL)
            return 0;
        vb_end = c + len;
        if ((c = ns_tlv(c, vb_end, &tag, &len)) == NULL) /* the name */
            return 0;
        v = c + len;
        if ((c = ns_tlv(v, vb_end, &tag, &vlen)) == NULL)
            return 0;
        value_end = c + vlen;
        if (tag == ASN_OPAQUE && vlen > 2 && c[0] == ASN_OPAQUE_TAG1 && opaque_wrapped(c[1])) {
            if ((c = ns_length(c + 2, vlen - 2, &len)) == NULL)
                return 0;
            value_end = c + len;
        }
        if (value_end != vb_end)
            return 1; /* case 1 */
        if (tag == ASN_COUNTER64 && vlen == 0)
            return 1; /* case 2 */
        p = value_end;
    }
    return 0;
}

/* ------------------------------------------------------------- the target */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ifmon_log_init("fuzz_ber_netsnmp", LOG_LEVEL_ERR);
    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    snmp_disable_log();
    init_snmp("fuzz_ber_netsnmp");
    /* With no handler at all net-snmp logs to stderr ("bad type
     * returned"): a handler that drops everything. */
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_DEBUG);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_device cfg;
    struct device dev;
    struct iface ifaces[MAX_IFACES];
    struct chunk ch;
    struct ber_answer a;
    struct ber_var got[MAX_VARS], want[MAX_VARS];
    netsnmp_session sess;
    netsnmp_pdu *pdu;
    unsigned char *pkt, *copy;
    size_t i, n = 0, wn = 0, max, len;
    int ber_ok, ns_ok;

    if (size < 1)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "fuzz";
    memset(&dev, 0, sizeof(dev));
    memset(&ch, 0, sizeof(ch));
    memset(ifaces, 0, sizeof(ifaces));
    cfg.version = (data[0] >> 4) & 1 ? CONFIG_SNMP_V1 : CONFIG_SNMP_V2C;
    cfg.counters = data[0] & 0x80
                       ? CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS
                       : CONFIG_COUNTERS_OCTETS;
    dev.cfg = &cfg;
    dev.ifaces = ifaces;
    dev.nifaces = 1 + data[0] % MAX_IFACES;
    counters_layout(&dev, 1);
    for (i = 0; i < dev.nifaces; i++) {
        ifaces[i].name = "eth";
        ifaces[i].ifindex = first_ifindex[(data[0] >> 5) & 3] + (long)i;
        ifaces[i].rd.width = (data[0] >> 3) & 1 ? 32 : 64;
        ifaces[i].rd.packets_width = i % 2 ? 32 : 64;
    }
    ch.dev = &dev;
    ch.count = dev.nifaces;
    if (counters_prepare_get(&dev, &ch, "public") < 0)
        abort();
    max = COUNTERS_VARBINDS(&ch);
    snmp_sess_init(&sess);
    sess.version = (data[0] >> 4) & 1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
    sess.community = (u_char *)"public";
    sess.community_len = 6;

    /* Each parser gets the datagram in a buffer of its own size, so that
     * ASan sees a read past its end. */
    len = size - 1;
    pkt = malloc(len ? len : 1);
    copy = malloc(len ? len : 1);
    if (pkt == NULL || copy == NULL)
        abort();
    memcpy(pkt, data + 1, len);
    memcpy(copy, data + 1, len);

    memset(got, 0xa5, sizeof(got));
    ber_ok = ber_parse_answer(pkt, len, &a) == 0 && a.version == sess.version &&
             ber_parse_varbinds(&ch.get, &a, got, max, &n) == 0;

    pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);
    ns_ok = snmp_parse(NULL, &sess, pdu, copy, len) == 0 && pdu->command == SNMP_MSG_RESPONSE;
    if (ns_ok)
        wn = counters_vars_from_list(&dev, &ch, pdu->variables, want, max);

    if (ber_ok && !ns_ok)
        differ("ber.c accepts what net-snmp refuses", 1, 0);
    if (!ber_ok && ns_ok && !allowed_strictness(pkt, len))
        differ("ber.c refuses what net-snmp accepts", 0, 1);
    if (ber_ok && ns_ok) {
        if (a.version != pdu->version)
            differ("version", a.version, pdu->version);
        if (a.reqid != pdu->reqid)
            differ("request-id", a.reqid, pdu->reqid);
        if (a.errstat != pdu->errstat)
            differ("error-status", a.errstat, pdu->errstat);
        if (a.errindex != pdu->errindex)
            differ("error-index", a.errindex, pdu->errindex);
        if (n > max || a.varbinds < pkt || a.varbinds + a.varbinds_len > pkt + len)
            differ("varbinds outside their room", (long)n, (long)max);
        if (n != wn)
            differ("varbind count", (long)n, (long)wn);
        for (i = 0; i < n; i++) {
            if (got[i].type != want[i].type)
                differ("varbind type", got[i].type, want[i].type);
            if (got[i].asked != want[i].asked)
                differ("varbind name asked", got[i].asked, want[i].asked);
            if (got[i].numeric != want[i].numeric)
                differ("varbind is a number", got[i].numeric, want[i].numeric);
            if (got[i].value != want[i].value)
                differ("varbind value", (long)got[i].value, (long)want[i].value);
        }
    }
    snmp_free_pdu(pdu);
    free(pkt);
    free(copy);
    ber_get_free(&ch.get);
    return 0;
}
