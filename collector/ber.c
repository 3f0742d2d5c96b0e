/* ber.c -- see ber.h. BER as in X.690: net-snmp writes definite,
 * shortest lengths and shortest two's-complement integers, and so does
 * this file. The messages are RFC 1157 / RFC 1901:
 *
 *   SEQUENCE { version INTEGER, community OCTET STRING,
 *              GetRequest-PDU [0] / GetResponse-PDU [2] {
 *                  request-id INTEGER, error-status INTEGER,
 *                  error-index INTEGER,
 *                  SEQUENCE OF SEQUENCE { name OID, value } } }
 *
 * Answers are read with lengths checked against what encloses them, as
 * they come from the network. */

#include "ber.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BER_INTEGER 0x02
#define BER_OCTET_STRING 0x04
#define BER_NULL 0x05
#define BER_OID 0x06
#define BER_SEQUENCE 0x30
#define BER_COUNTER32 0x41
#define BER_GAUGE32 0x42
#define BER_TIMETICKS 0x43
#define BER_COUNTER64 0x46
#define BER_UINTEGER32 0x47
#define BER_GET_REQUEST 0xa0
#define BER_GET_RESPONSE 0xa2
#define BER_VARBIND_MAX 72 /* BER_NAME_MAX subidentifiers of up to 5 bytes, and headers */
#define BER_HEADER_MAX 5   /* tag and a length below 2^32 */
#define BER_INT_MAX 9      /* a long: up to 8 bytes and a leading 0 */

/* ------------------------------------------------------------ encoding */

/* Bytes of a definite length's encoding. */
static size_t ber_len_size(size_t len)
{
    return len < 0x80 ? 1 : len <= 0xff ? 2 : len <= 0xffff ? 3 : len <= 0xffffff ? 4 : 5;
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
    p = ber_header(p, BER_SEQUENCE, 1 + ber_len_size((size_t)(b - body)) + (size_t)(b - body) + 2);
    p = ber_header(p, BER_OID, (size_t)(b - body));
    memcpy(p, body, (size_t)(b - body));
    p += b - body;
    *p++ = BER_NULL;
    *p++ = 0;
    return p;
}

/* Room for everything before the varbind list: the message, version,
 * community, PDU and request-id headers and error-status/index. */
static size_t head_room(size_t community_len)
{
    return 3 * BER_HEADER_MAX + 3 + community_len + 2 + BER_INT_MAX + 6;
}

int ber_get_prepare(struct ber_get *g, size_t plan, size_t community_len, size_t n,
                    ber_name_fn name_of, const void *ctx)
{
    size_t k, room = head_room(community_len), body_len;
    unsigned char *body, *p, *msg;
    oid name[BER_NAME_MAX];

    if (g->msg && g->plan == plan && g->head_room >= room)
        return 0;
    ber_get_free(g);
    body = malloc(n * BER_VARBIND_MAX);
    if (body == NULL)
        return -1;
    p = body;
    for (k = 0; k < n; k++) {
        size_t len = name_of(ctx, k, name);

        IFMON_ASSERT(len >= 2 && len <= BER_NAME_MAX);
        p = ber_null_varbind(p, name, len);
    }
    body_len = (size_t)(p - body);
    msg = malloc(room + BER_HEADER_MAX + body_len);
    if (msg == NULL) {
        free(body);
        return -1;
    }
    p = ber_header(msg + room, BER_SEQUENCE, body_len);
    memcpy(p, body, body_len);
    free(body);
    g->msg = msg;
    g->head_room = room;
    g->varbinds_len = (size_t)(p - (msg + room)) + body_len;
    g->plan = plan;
    return 0;
}

void ber_get_free(struct ber_get *g)
{
    free(g->msg);
    g->msg = NULL;
    g->head_room = 0;
    g->varbinds_len = 0;
}

const unsigned char *ber_get_message(struct ber_get *g, long version, const char *community,
                                     long reqid, size_t *len)
{
    size_t community_len = strlen(community), reqid_len, pdu_len, msg_len, head;
    unsigned char reqid_bytes[BER_INT_MAX], *start, *p;

    IFMON_ASSERT(head_room(community_len) <= g->head_room);
    reqid_len = ber_int(reqid_bytes, reqid);
    pdu_len = 1 + ber_len_size(reqid_len) + reqid_len + 6 + g->varbinds_len;
    msg_len =
        3 + 1 + ber_len_size(community_len) + community_len + 1 + ber_len_size(pdu_len) + pdu_len;
    head = 1 + ber_len_size(msg_len) + msg_len - g->varbinds_len;
    start = p = g->msg + g->head_room - head;
    p = ber_header(p, BER_SEQUENCE, msg_len);
    *p++ = BER_INTEGER;
    *p++ = 1;
    *p++ = (unsigned char)version;
    p = ber_header(p, BER_OCTET_STRING, community_len);
    memcpy(p, community, community_len);
    p += community_len;
    p = ber_header(p, BER_GET_REQUEST, pdu_len);
    p = ber_header(p, BER_INTEGER, reqid_len);
    memcpy(p, reqid_bytes, reqid_len);
    p += reqid_len;
    memcpy(p, "\x02\x01\x00\x02\x01\x00", 6); /* error-status, error-index */
    *len = head + g->varbinds_len;
    return start;
}

/* ------------------------------------------------------------ decoding */

/* An answer is read as net-snmp 5.9's snmp_parse() reads it (asn1.c,
 * snmp_api.c snmp_pdu_parse), non-canonical encodings included, since
 * real agents send them and the net-snmp path (SNMPv3, snmp_engine:
 * net-snmp) takes them: long-form lengths of up to 8 bytes, leading 0x00
 * or 0xff bytes on numbers, INTEGERs wider than 32 bits (truncated to 32,
 * as CHECK_OVERFLOW_S does), unsigned types wider than 32 bits (their low
 * 32 bits), subidentifiers padded with 0x80 (names are compared by value),
 * a community tagged IpAddress, Opaque or NSAP, NULL and the exceptions
 * with content. What net-snmp refuses is refused. Stricter than net-snmp,
 * on what is malformed beyond doubt (tests/fuzz/fuzz_ber_netsnmp.c lists
 * the same): a varbind with bytes after its value, or an Opaque-wrapped
 * number with bytes after it in its Opaque (net-snmp reads them as further
 * varbinds), and a Counter64 without content octets (net-snmp reads 0). */

#define BER_BIT_STRING 0x03
#define BER_IPADDRESS 0x40
#define BER_OPAQUE 0x44
#define BER_NSAP 0x45
#define BER_NOSUCHOBJECT 0x80
#define BER_NOSUCHINSTANCE 0x81
#define BER_ENDOFMIBVIEW 0x82
/* net-snmp's Opaque-wrapped types (draft-perkins-opaque-01): an Opaque
 * whose content starts with 0x9f, then one of these, then a length. */
#define BER_OPAQUE_TAG1 0x9f
#define BER_OPAQUE_COUNTER64 0x76
#define BER_OPAQUE_FLOAT 0x78
#define BER_OPAQUE_DOUBLE 0x79
#define BER_OPAQUE_I64 0x7a
#define BER_OPAQUE_U64 0x7b
#define BER_OPAQUE_WRAPPED_MAX 12 /* ASN_OPAQUE_COUNTER64_MX_BER_LEN */
#define BER_LENGTH_BYTES_MAX 8    /* long-form length bytes: a long's (asn_parse_length) */

/* A TLV being read: the bytes left in what encloses it. */
struct ber_reader {
    const unsigned char *p, *end;
};

/* A definite length at r->p, short or long form, as asn_parse_nlength()
 * takes it (the indefinite form refused); that many bytes must follow. */
static int ber_length(struct ber_reader *r, size_t *len)
{
    size_t n, i;
    uint64_t l;

    if (r->p >= r->end)
        return -1;
    l = *r->p++;
    if (l & 0x80) {
        n = l & 0x7f;
        if (n == 0 || n > BER_LENGTH_BYTES_MAX || (size_t)(r->end - r->p) < n)
            return -1;
        for (l = 0, i = 0; i < n; i++)
            l = l << 8 | *r->p++;
    }
    if (l > (uint64_t)(r->end - r->p))
        return -1;
    *len = (size_t)l;
    return 0;
}

/* Read the next TLV's tag and content. Returns 0, or -1 when it does not
 * fit in what encloses it. */
static int ber_next(struct ber_reader *r, unsigned char *tag, const unsigned char **content,
                    size_t *len)
{
    if (r->end - r->p < 2)
        return -1;
    *tag = *r->p++;
    if (ber_length(r, len) < 0)
        return -1;
    *content = r->p;
    r->p += *len;
    return 0;
}

/* An INTEGER's content as a long, as asn_parse_int() takes it: at most 8
 * bytes, then, where a long is wider than 32 bits, truncated to 32 as
 * CHECK_OVERFLOW_S does (a value above INT32_MAX keeps its low 32 bits,
 * one below INT32_MIN becomes minus its low 32 bits). */
static int ber_get_long(const unsigned char *c, size_t len, long *out)
{
    uint64_t u;
    long l;
    size_t i;

    if (len == 0 || len > sizeof(long))
        return -1;
    u = (c[0] & 0x80) ? UINT64_MAX : 0;
    for (i = 0; i < len; i++)
        u = u << 8 | c[i];
    l = (long)u;
#if LONG_MAX > INT32_MAX
    if (l > INT32_MAX)
        l &= 0xffffffffL;
    else if (l < INT32_MIN)
        l = -(l & 0xffffffffL);
#endif
    *out = l;
    return 0;
}

/* An unsigned type's content: its low 64 bits, at most 8 bytes after a
 * leading 0 (asn_parse_unsigned_int, asn_parse_unsigned_int64). */
static int ber_get_unsigned(const unsigned char *c, size_t len, uint64_t *out)
{
    uint64_t u = 0;
    size_t i;

    if (len == 0 || len > 9 || (len == 9 && c[0] != 0))
        return -1;
    for (i = 0; i < len; i++)
        u = u << 8 | c[i];
    *out = u;
    return 0;
}

/* An OBJECT IDENTIFIER's content decoded as asn_parse_objid() does, into
 * name (room for MAX_OID_LEN subidentifiers; NULL to only check it):
 * the first subidentifier gives two, none may exceed 2^32 - 1 (each is
 * summed in 64 bits, as net-snmp's u_long), the last byte must end one,
 * and an empty content is the name "0". Returns the length, or 0 when
 * net-snmp refuses it. */
static size_t ber_oid_decode(const unsigned char *c, size_t len, uint32_t *name)
{
    size_t n = 1, i = 0;
    uint64_t first = 0;

    while (i < len) {
        uint64_t sub = 0;

        if (n == MAX_OID_LEN) /* no room left for another one */
            return 0;
        do
            sub = (sub << 7) + (c[i] & 0x7f);
        while ((c[i++] & 0x80) && i < len);
        if ((c[i - 1] & 0x80) || sub > 0xffffffffu)
            return 0;
        if (n == 1)
            first = sub;
        else if (name)
            name[n] = (uint32_t)sub;
        n++;
    }
    if (name) {
        /* X * 40 + Y; 0x2b is 1.3 */
        name[0] = first < 40 ? 0 : first < 80 ? 1 : 2;
        name[1] = (uint32_t)(first < 80 ? first % 40 : first - 80);
    }
    return n;
}

/* 1 when the names encoded as a (as the agent sent it) and b (as the GET
 * asked it) are the same; a has been checked by ber_oid_decode(). */
static int ber_oid_equal(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len)
{
    uint32_t x[MAX_OID_LEN], y[MAX_OID_LEN];
    size_t nx, ny;

    if (a_len == b_len && memcmp(a, b, a_len) == 0)
        return 1;
    /* Not the bytes asked: the same name, non-canonically encoded? */
    nx = ber_oid_decode(a, a_len, x);
    ny = ber_oid_decode(b, b_len, y);
    return nx == ny && memcmp(x, y, nx * sizeof(x[0])) == 0;
}

static int read_int(struct ber_reader *r, long *out)
{
    const unsigned char *c;
    unsigned char tag;
    size_t len;

    if (ber_next(r, &tag, &c, &len) < 0 || tag != BER_INTEGER)
        return -1;
    return ber_get_long(c, len, out);
}

int ber_parse_answer(const unsigned char *pkt, size_t len, struct ber_answer *a)
{
    struct ber_reader r = {pkt, pkt + len}, msg, pdu;
    const unsigned char *c;
    unsigned char tag;
    size_t clen;

    if (ber_next(&r, &tag, &c, &clen) < 0 || tag != BER_SEQUENCE)
        return -1;
    msg.p = c;
    msg.end = c + clen;
    if (read_int(&msg, &a->version) < 0 ||
        (a->version != SNMP_VERSION_1 && a->version != SNMP_VERSION_2c))
        return -1;
    /* The community: asn_parse_string() takes any of its string types,
     * into a buffer of COMMUNITY_MAX_LEN bytes. */
    if (ber_next(&msg, &tag, &c, &clen) < 0 ||
        (tag != BER_OCTET_STRING && tag != BER_IPADDRESS && tag != BER_OPAQUE && tag != BER_NSAP) ||
        clen > COMMUNITY_MAX_LEN)
        return -1;
    if (ber_next(&msg, &tag, &c, &clen) < 0 || tag != BER_GET_RESPONSE)
        return -1;
    pdu.p = c;
    pdu.end = c + clen;
    if (read_int(&pdu, &a->reqid) < 0 || read_int(&pdu, &a->errstat) < 0 ||
        read_int(&pdu, &a->errindex) < 0)
        return -1;
    if (ber_next(&pdu, &tag, &c, &clen) < 0 || tag != BER_SEQUENCE)
        return -1;
    a->varbinds = c;
    a->varbinds_len = clen;
    return 0;
}

/* An Opaque's content: net-snmp's wrapped types (asn_parse_header, then
 * asn_parse_unsigned_int64, asn_parse_signed_int64, asn_parse_float,
 * asn_parse_double) take the wrapped type, none of them a number here as
 * in counters.c; any other content is a plain Opaque. Returns -1 for what
 * net-snmp refuses, and for a wrapped value that does not end its Opaque
 * (net-snmp would read what follows as the next varbind). */
static int opaque_decode(const unsigned char *c, size_t len, struct ber_var *v)
{
    struct ber_reader r;
    size_t inner;
    unsigned char t;

    if (len <= 2 || c[0] != BER_OPAQUE_TAG1)
        return 0;
    t = c[1];
    if (t != BER_OPAQUE_COUNTER64 && t != BER_OPAQUE_U64 && t != BER_OPAQUE_I64 &&
        t != BER_OPAQUE_FLOAT && t != BER_OPAQUE_DOUBLE)
        return 0;
    r.p = c + 2;
    r.end = c + len;
    if (ber_length(&r, &inner) < 0 || r.p + inner != r.end)
        return -1;
    switch (t) {
    case BER_OPAQUE_FLOAT:
        if (len != 7 || inner != 4)
            return -1;
        break;
    case BER_OPAQUE_DOUBLE:
        if (len != 11 || inner != 8)
            return -1;
        break;
    default: /* 64-bit integers; no content is 0 */
        if (len > BER_OPAQUE_WRAPPED_MAX || inner > 9 || (inner == 9 && r.p[0] != 0))
            return -1;
        break;
    }
    v->type = t;
    return 0;
}

/* One varbind's value, tag and content, as a ber_var (asked is the
 * caller's). Returns -1 for what net-snmp's parser refuses: a number that
 * does not fit, a type it does not know, an IpAddress that is not 4
 * bytes... */
static int var_decode(unsigned char tag, const unsigned char *c, size_t len, struct ber_var *v)
{
    long l;

    v->type = tag;
    v->numeric = 0;
    v->value = 0;
    switch (tag) {
    case BER_COUNTER64:
        if (ber_get_unsigned(c, len, &v->value) < 0)
            return -1;
        v->numeric = 1;
        return 0;
    case BER_COUNTER32:
    case BER_GAUGE32:
    case BER_TIMETICKS:
    case BER_UINTEGER32:
        if (ber_get_unsigned(c, len, &v->value) < 0)
            return -1;
        v->value = (uint32_t)v->value;
        v->numeric = 1;
        return 0;
    case BER_INTEGER:
        if (ber_get_long(c, len, &l) < 0)
            return -1;
        v->numeric = l >= 0;
        v->value = l >= 0 ? (uint64_t)l : 0;
        return 0;
    case BER_IPADDRESS:
        return len == 4 ? 0 : -1;
    case BER_OID:
        return ber_oid_decode(c, len, NULL) ? 0 : -1;
    case BER_BIT_STRING:
        return len >= 1 ? 0 : -1;
    case BER_OPAQUE:
        return opaque_decode(c, len, v);
    case BER_OPAQUE_FLOAT: /* net-snmp takes these tags bare, too */
        return len == 4 ? 0 : -1;
    case BER_OPAQUE_DOUBLE:
        return len == 8 ? 0 : -1;
    case BER_OCTET_STRING:
    case BER_NSAP:
    case BER_NULL:
    case BER_NOSUCHOBJECT:
    case BER_NOSUCHINSTANCE:
    case BER_ENDOFMIBVIEW:
        return 0; /* not numbers; net-snmp ignores a NULL's content */
    default:
        return -1; /* snmp_pdu_parse: "bad type returned" */
    }
}

/* The next varbind of a list: its name's content and its value TLV. */
static int varbind_next(struct ber_reader *list, const unsigned char **name, size_t *name_len,
                        unsigned char *tag, const unsigned char **value, size_t *value_len)
{
    struct ber_reader vb;
    const unsigned char *c;
    unsigned char t;
    size_t clen;

    if (ber_next(list, &t, &c, &clen) < 0 || t != BER_SEQUENCE)
        return -1;
    vb.p = c;
    vb.end = c + clen;
    if (ber_next(&vb, &t, name, name_len) < 0 || t != BER_OID ||
        ber_next(&vb, tag, value, value_len) < 0 || vb.p != vb.end)
        return -1;
    return 0;
}

int ber_parse_varbinds(const struct ber_get *g, const struct ber_answer *a, struct ber_var *vars,
                       size_t max, size_t *n)
{
    struct ber_reader got = {a->varbinds, a->varbinds + a->varbinds_len}, asked;
    const unsigned char *c;
    unsigned char tag;
    size_t clen, k = 0;

    /* The list asked, read alongside: its SEQUENCE header, then varbinds. */
    asked.p = g->msg + g->head_room;
    asked.end = asked.p + g->varbinds_len;
    if (ber_next(&asked, &tag, &c, &clen) < 0)
        return -1;
    asked.p = c;
    asked.end = c + clen;
    while (got.p < got.end) {
        const unsigned char *name, *value, *want;
        size_t name_len, value_len, want_len;
        unsigned char vtag, wtag;
        struct ber_var extra;

        /* Beyond max (more than asked): checked, then ignored. */
        if (varbind_next(&got, &name, &name_len, &vtag, &value, &value_len) < 0 ||
            ber_oid_decode(name, name_len, NULL) == 0 ||
            var_decode(vtag, value, value_len, k < max ? &vars[k] : &extra) < 0)
            return -1;
        if (k >= max)
            continue;
        vars[k].asked = asked.p < asked.end &&
                        varbind_next(&asked, &want, &want_len, &wtag, &c, &clen) == 0 &&
                        ber_oid_equal(name, name_len, want, want_len);
        k++;
    }
    *n = k;
    return 0;
}
