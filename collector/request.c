/* request.c -- see request.h. BER as in X.690 with definite, shortest
 * lengths and shortest two's-complement integers, which is what net-snmp's
 * reverse encoder (snmp_build) writes; the message is RFC 1157 / RFC 1901:
 * SEQUENCE { version, community, GetRequest-PDU { request-id, 0, 0,
 * varbind list } }. */

#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "response.h"

#define BER_SEQUENCE 0x30
#define BER_INTEGER 0x02
#define BER_OCTET_STRING 0x04
#define BER_OID 0x06
#define BER_NULL 0x05
#define BER_GET_REQUEST 0xa0
#define BER_VARBIND_MAX 72 /* 12 subidentifiers of up to 5 bytes, and headers */
#define BER_HEADER_MAX 4   /* tag and a length below 2^16 */
#define BER_INT_MAX 9      /* a long: up to 8 bytes and a leading 0 */

/* Bytes of a definite length's encoding. */
static size_t ber_len_size(size_t len)
{
    return len < 0x80 ? 1 : len <= 0xff ? 2 : len <= 0xffff ? 3 : 4;
}

static unsigned char *ber_header(unsigned char *p, unsigned char tag, size_t len)
{
    size_t n = ber_len_size(len);

    *p++ = tag;
    if (n == 1) {
        *p++ = (unsigned char)len;
        return p;
    }
    *p++ = (unsigned char)(0x80 | (n - 1));
    while (--n)
        *p++ = (unsigned char)(len >> (8 * (n - 1)));
    return p;
}

/* Content bytes of INTEGER v, shortest two's complement, into out;
 * returns their count. */
static size_t ber_int(unsigned char *out, long v)
{
    unsigned char tmp[BER_INT_MAX];
    size_t n = 0, i;
    long sign = v < 0 ? -1 : 0;

    do {
        tmp[n++] = (unsigned char)v;
        v >>= 8;
    } while (v != sign);
    if ((tmp[n - 1] & 0x80) != (sign & 0x80))
        tmp[n++] = (unsigned char)sign;
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static unsigned char *ber_subid(unsigned char *p, uint32_t v)
{
    int shift = 28;

    while (shift > 0 && (v >> shift) == 0)
        shift -= 7;
    for (; shift > 0; shift -= 7)
        *p++ = (unsigned char)(0x80 | ((v >> shift) & 0x7f));
    *p++ = (unsigned char)(v & 0x7f);
    return p;
}

/* One varbind asking name (NULL value); returns its end. */
static unsigned char *ber_null_varbind(unsigned char *p, const oid *name, size_t len)
{
    unsigned char body[BER_VARBIND_MAX], *b = body;
    size_t i;

    b = ber_subid(b, (uint32_t)(name[0] * 40 + name[1]));
    for (i = 2; i < len; i++)
        b = ber_subid(b, (uint32_t)name[i]);
    p = ber_header(p, BER_SEQUENCE,
                   1 + ber_len_size((size_t)(b - body)) + (size_t)(b - body) + 2);
    p = ber_header(p, BER_OID, (size_t)(b - body));
    memcpy(p, body, (size_t)(b - body));
    p += b - body;
    *p++ = BER_NULL;
    *p++ = 0;
    return p;
}

static size_t chunk_wide(const struct device *dev, const struct chunk *ch)
{
    size_t i, wide = 0;

    for (i = ch->first; i < ch->first + ch->count; i++)
        wide += dev->ifaces[i].width == 64;
    return wide;
}

int request_prepare(const struct device *dev, struct chunk *ch)
{
    size_t n = RESPONSE_VARBINDS(ch), k, wide = chunk_wide(dev, ch), body_len;
    unsigned char *body, *p, *list;
    oid name[MAX_OID_LEN];

    /* A width only ever drops from 64 to 32 until the next discovery,
     * which plans new chunks: counting the wide ones tells a change. */
    if (ch->varbinds && ch->wide == wide)
        return 0;
    request_free(ch);
    body = malloc(n * BER_VARBIND_MAX);
    if (body == NULL)
        return -1;
    p = body;
    for (k = 0; k < n; k++) {
        size_t len = response_var_name(dev, ch, k, name);

        p = ber_null_varbind(p, name, len);
    }
    body_len = (size_t)(p - body);
    list = malloc(BER_HEADER_MAX + body_len);
    if (list == NULL || body_len > 0xffff) {
        free(list);
        free(body);
        return -1;
    }
    p = ber_header(list, BER_SEQUENCE, body_len);
    memcpy(p, body, body_len);
    free(body);
    ch->varbinds = list;
    ch->varbinds_len = (size_t)(p - list) + body_len;
    ch->wide = wide;
    return 0;
}

void request_free(struct chunk *ch)
{
    free(ch->varbinds);
    ch->varbinds = NULL;
    ch->varbinds_len = 0;
}

/* The chunk whose pre-encoded GET pdu stands for, or NULL. */
static const struct chunk *request_chunk(const netsnmp_session *sp, const netsnmp_pdu *pdu)
{
    const struct device *dev = sp->callback_magic;
    size_t i;

    if (dev == NULL || pdu->command != SNMP_MSG_GET || pdu->variables != NULL ||
        (pdu->version != SNMP_VERSION_1 && pdu->version != SNMP_VERSION_2c))
        return NULL;
    for (i = 0; i < dev->nchunks; i++)
        if (dev->chunks[i].reqid == pdu->reqid && dev->chunks[i].varbinds)
            return &dev->chunks[i];
    return NULL;
}

/* Room for need bytes in *buf. Returns 0 or -1. */
static int buf_reserve(u_char **buf, size_t *buf_len, size_t need)
{
    u_char *b;

    if (*buf_len >= need)
        return 0;
    b = realloc(*buf, need);
    if (b == NULL)
        return -1;
    *buf = b;
    *buf_len = need;
    return 0;
}

int request_build_hook(netsnmp_session *sp, netsnmp_pdu *pdu, u_char **buf, size_t *buf_len,
                       size_t *offset)
{
    const struct chunk *ch = request_chunk(sp, pdu);
    unsigned char reqid[BER_INT_MAX], *p;
    size_t reqid_len, pdu_len, msg_len, total;

    if (ch == NULL) {
        /* net-snmp's own encoder, as netsnmp_build_packet() calls it: it
         * writes backwards from the end of the buffer, or forwards from
         * its start when so configured (its length is then in len). */
        size_t len = *buf_len;

        *offset = 0;
        if ((pdu->flags & UCD_MSG_FLAG_FORWARD_ENCODE) ||
            !netsnmp_ds_get_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_REVERSE_ENCODE)) {
            if (snmp_build(buf, &len, offset, sp, pdu) != SNMPERR_SUCCESS)
                return -1;
            *offset = len;
            return 0;
        }
        if (snmp_build(buf, buf_len, offset, sp, pdu) != SNMPERR_SUCCESS)
            return -1;
        memmove(*buf, *buf + *buf_len - *offset, *offset);
        return 0;
    }
    reqid_len = ber_int(reqid, pdu->reqid);
    pdu_len = 2 + reqid_len + 3 + 3 + ch->varbinds_len;
    msg_len = 3 + 1 + ber_len_size(sp->community_len) + sp->community_len + 1 +
              ber_len_size(pdu_len) + pdu_len;
    total = 1 + ber_len_size(msg_len) + msg_len;
    if (msg_len > 0xffff || buf_reserve(buf, buf_len, total) < 0)
        return -1;
    p = ber_header(*buf, BER_SEQUENCE, msg_len);
    *p++ = BER_INTEGER;
    *p++ = 1;
    *p++ = (unsigned char)pdu->version;
    p = ber_header(p, BER_OCTET_STRING, sp->community_len);
    memcpy(p, sp->community, sp->community_len);
    p += sp->community_len;
    p = ber_header(p, BER_GET_REQUEST, pdu_len);
    p = ber_header(p, BER_INTEGER, reqid_len);
    memcpy(p, reqid, reqid_len);
    p += reqid_len;
    memcpy(p, "\x02\x01\x00\x02\x01\x00", 6); /* error-status, error-index */
    p += 6;
    memcpy(p, ch->varbinds, ch->varbinds_len);
    p += ch->varbinds_len;
    *offset = (size_t)(p - *buf);
    return 0;
}
