/* test_ber.c -- collector/ber.c: the poll GETs are the bytes
 * net-snmp's own encoder writes for the same PDU, and an answer decodes to
 * what net-snmp's parser reads from the same bytes, whatever counter groups
 * the device polls (collector/counters.c's layouts); and counters.c reads
 * such answers into each group's rates or gaps. */

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../collector/mib.h"
#include "../../collector/device.h"

#define NIFACES 6
#define MAX_VARS (1 + NIFACES * COUNTERS_PER_IFACE_MAX + 4)

struct fixture {
    struct config_device cfg;
    struct device dev;
    struct iface ifaces[NIFACES];
    struct chunk chunk;
    netsnmp_session sess;
    const char *community;
};

static const long ifindexes[NIFACES] = {1, 127, 128, 70000, 2147483647L, 4294967295L};

static void fixture_init(struct fixture *f, long version, const char *community)
{
    size_t i;

    memset(f, 0, sizeof(*f));
    f->cfg.name = "test";
    f->cfg.version = version == SNMP_VERSION_1 ? CONFIG_SNMP_V1 : CONFIG_SNMP_V2C;
    f->cfg.counters = CONFIG_COUNTERS_OCTETS;
    f->dev.cfg = &f->cfg;
    counters_layout(&f->dev, 1);
    for (i = 0; i < NIFACES; i++) {
        f->ifaces[i].name = "eth";
        f->ifaces[i].ifindex = ifindexes[i];
        f->ifaces[i].rd.width = i % 3 == 2 ? 32 : 64;
        f->ifaces[i].rd.packets_width = i % 2 ? 32 : 64;
    }
    f->dev.ifaces = f->ifaces;
    f->dev.nifaces = NIFACES;
    f->chunk.dev = &f->dev;
    f->chunk.first = 0;
    f->chunk.count = NIFACES;
    f->dev.chunks = &f->chunk;
    f->dev.nchunks = 1;
    snmp_sess_init(&f->sess);
    f->sess.version = version;
    f->sess.community = (u_char *)community;
    f->sess.community_len = strlen(community);
    f->community = community;
}

/* snmp_build's encoding of pdu, copied out. */
static u_char *build(struct fixture *f, netsnmp_pdu *pdu, size_t *len)
{
    size_t buf_len = 256, offset = 0;
    u_char *buf = malloc(buf_len), *out;

    assert_int_equal(snmp_build(&buf, &buf_len, &offset, &f->sess, pdu), 0);
    out = malloc(offset);
    memcpy(out, buf + buf_len - offset, offset);
    *len = offset;
    free(buf);
    return out;
}

/* What snmp_build writes for the GET counters_add_vars fills. */
static u_char *reference_get(struct fixture *f, long reqid, size_t *len)
{
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
    u_char *out;

    counters_add_vars(&f->dev, &f->chunk, pdu);
    pdu->reqid = reqid;
    pdu->version = f->sess.version;
    out = build(f, pdu, len);
    snmp_free_pdu(pdu);
    return out;
}

static void assert_same_get(struct fixture *f, long reqid)
{
    size_t want_len, got_len;
    u_char *want = reference_get(f, reqid, &want_len);
    const unsigned char *got;

    assert_int_equal(counters_prepare_get(&f->dev, &f->chunk, f->community), 0);
    got = ber_get_message(&f->chunk.get, f->sess.version, f->community, reqid, &got_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(want);
}

static void encodes_the_bytes_net_snmp_writes(void **state)
{
    static const long reqids[] = {0, 1, 127, 128, 255, 256, 32767, 32768, 8388608, 2147483647L};
    struct fixture f;
    size_t i;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    for (i = 0; i < sizeof(reqids) / sizeof(reqids[0]); i++)
        assert_same_get(&f, reqids[i]);
    ber_get_free(&f.chunk.get);
    fixture_init(&f, SNMP_VERSION_1,
                 "a-community-string-long-enough-for-no-reason-but-"
                 "that-goes-on-past-a-hundred-and-twenty-eight-bytes-to-need-a-long-form-length");
    assert_same_get(&f, 123456);
    ber_get_free(&f.chunk.get);
}

static void encodes_a_full_chunk_with_long_lengths(void **state)
{
    struct fixture f;
    struct iface many[70];
    size_t i;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    for (i = 0; i < 70; i++) {
        many[i] = f.ifaces[0];
        many[i].ifindex = (long)(1000 * i + 1);
    }
    f.dev.ifaces = many;
    f.dev.nifaces = f.chunk.count = 15; /* 61 varbinds: lengths above 255 */
    assert_same_get(&f, 99);
    ber_get_free(&f.chunk.get);
    f.dev.nifaces = f.chunk.count = 70; /* 281 varbinds: several kilobytes */
    assert_same_get(&f, 100);
    ber_get_free(&f.chunk.get);
}

static void follows_a_fall_back_to_32_bit_counters(void **state)
{
    struct fixture f;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    assert_same_get(&f, 7);
    f.ifaces[0].rd.width = 32; /* as counters_read does without ifHCInOctets */
    assert_same_get(&f, 8);
    ber_get_free(&f.chunk.get);
}

/* ------------------------------------------------------------ answers */

/* An answer to the fixture's GET, as an agent may give it: the names asked
 * with values of varied types, or spoilt ones, built by net-snmp. */
static u_char *make_answer(struct fixture *f, long reqid, long errstat, size_t nvars, int spoil,
                           size_t *len)
{
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);
    oid name[MAX_OID_LEN];
    size_t k;
    u_char *out;

    pdu->reqid = reqid;
    pdu->errstat = errstat;
    pdu->errindex = errstat ? 1 : 0;
    pdu->version = f->sess.version;
    pdu->community = (u_char *)strdup(f->community); /* an answer carries the request's */
    pdu->community_len = strlen(f->community);
    for (k = 0; k < nvars; k++) {
        size_t nlen = counters_var_name(&f->dev, &f->chunk, k % COUNTERS_VARBINDS(&f->chunk), name);
        long l = (spoil ? -1 : 1) * (long)(k * 1000003); /* negative: not a number */
        u_long ul = (u_long)(k * 2654435761u) & 0xffffffffu;
        struct counter64 c64 = {.high = (u_long)(k * 7) & 0xffffffffu,
                                .low = (u_long)(k * 2246822519u) & 0xffffffffu};

        if (spoil && k % 7 == 3)
            name[nlen - 1] += 1; /* another ifIndex */
        if (spoil && k == 9)
            nlen--; /* truncated name */
        switch ((k + (spoil ? 3 : 0)) % 11) {
        case 0:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_TIMETICKS, &ul, sizeof(ul));
            break;
        case 1:
        case 2:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_COUNTER64, &c64, sizeof(c64));
            break;
        case 3:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_GAUGE, &ul, sizeof(ul));
            break;
        case 4:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_INTEGER, &l, sizeof(l));
            break;
        case 5:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_COUNTER, &ul, sizeof(ul));
            break;
        case 6:
            snmp_pdu_add_variable(pdu, name, nlen, spoil ? SNMP_NOSUCHINSTANCE : ASN_UINTEGER,
                                  spoil ? NULL : &ul, spoil ? 0 : sizeof(ul));
            break;
        case 7:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_OCTET_STR, "eth0", 4);
            break;
        case 8:
            snmp_pdu_add_variable(pdu, name, nlen, SNMP_NOSUCHOBJECT, NULL, 0);
            break;
        case 9:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_IPADDRESS, "\x7f\0\0\1", 4);
            break;
        default:
            snmp_pdu_add_variable(pdu, name, nlen, ASN_NULL, NULL, 0);
            break;
        }
    }
    out = build(f, pdu, len);
    snmp_free_pdu(pdu);
    return out;
}

/* The datagram decoded by request.c, and by net-snmp's parser then
 * counters_vars_from_list: the same header and the same varbinds. */
static void assert_decodes_as_net_snmp(struct fixture *f, const u_char *pkt, size_t len,
                                       size_t want_vars)
{
    struct ber_var got[MAX_VARS], want[MAX_VARS];
    struct ber_answer a;
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);
    u_char *copy = malloc(len);
    size_t n, wn, k;

    memset(got, 0xa5, sizeof(got));
    memset(want, 0x5a, sizeof(want));
    assert_int_equal(ber_parse_answer(pkt, len, &a), 0);
    assert_int_equal(ber_parse_varbinds(&f->chunk.get, &a, got, COUNTERS_VARBINDS(&f->chunk), &n),
                     0);
    memcpy(copy, pkt, len);
    assert_int_equal(snmp_parse(NULL, &f->sess, pdu, copy, len), 0);
    assert_int_equal(a.version, pdu->version);
    assert_int_equal(a.reqid, pdu->reqid);
    assert_int_equal(a.errstat, pdu->errstat);
    assert_int_equal(a.errindex, pdu->errindex);
    wn = counters_vars_from_list(&f->dev, &f->chunk, pdu->variables, want,
                                 COUNTERS_VARBINDS(&f->chunk));
    assert_int_equal(n, wn);
    assert_int_equal(n, want_vars);
    for (k = 0; k < n; k++) {
        assert_int_equal(got[k].type, want[k].type);
        assert_int_equal(got[k].asked, want[k].asked);
        assert_int_equal(got[k].numeric, want[k].numeric);
        assert_true(got[k].value == want[k].value);
    }
    snmp_free_pdu(pdu);
    free(copy);
}

static void decodes_answers_as_net_snmp_does(void **state)
{
    struct fixture f;
    size_t len, all;
    u_char *pkt;
    int spoil;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    f.ifaces[1].rd.width = 32;
    assert_int_equal(counters_prepare_get(&f.dev, &f.chunk, f.community), 0);
    all = COUNTERS_VARBINDS(&f.chunk);
    for (spoil = 0; spoil < 2; spoil++) {
        pkt = make_answer(&f, 4242, 0, all, spoil, &len);
        assert_decodes_as_net_snmp(&f, pkt, len, all);
        free(pkt);
        pkt = make_answer(&f, 2147483647L, 0, 7, spoil, &len); /* short */
        assert_decodes_as_net_snmp(&f, pkt, len, 7);
        free(pkt);
        pkt = make_answer(&f, 1, 0, all + 3, spoil, &len); /* more than asked */
        assert_decodes_as_net_snmp(&f, pkt, len, all);
        free(pkt);
    }
    pkt = make_answer(&f, 77, SNMP_ERR_TOOBIG, 0, 0, &len);
    assert_decodes_as_net_snmp(&f, pkt, len, 0);
    free(pkt);
    ber_get_free(&f.chunk.get);
    fixture_init(&f, SNMP_VERSION_1, "private");
    assert_int_equal(counters_prepare_get(&f.dev, &f.chunk, f.community), 0);
    pkt = make_answer(&f, 5, 0, COUNTERS_VARBINDS(&f.chunk), 0, &len);
    assert_decodes_as_net_snmp(&f, pkt, len, COUNTERS_VARBINDS(&f.chunk));
    free(pkt);
    ber_get_free(&f.chunk.get);
}

static int parses(struct fixture *f, const u_char *pkt, size_t len)
{
    struct ber_var vars[MAX_VARS];
    struct ber_answer a;
    size_t n;

    return ber_parse_answer(pkt, len, &a) == 0 &&
           ber_parse_varbinds(&f->chunk.get, &a, vars, COUNTERS_VARBINDS(&f->chunk), &n) == 0;
}

static void refuses_what_is_not_a_whole_answer(void **state)
{
    struct fixture f;
    size_t len, cut;
    u_char *pkt, *bad;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    assert_int_equal(counters_prepare_get(&f.dev, &f.chunk, f.community), 0);
    pkt = make_answer(&f, 9, 0, COUNTERS_VARBINDS(&f.chunk), 0, &len);
    assert_true(parses(&f, pkt, len));
    /* Every truncation: the enclosing lengths no longer fit. */
    for (cut = 0; cut < len; cut++)
        assert_false(parses(&f, pkt, cut));
    /* A length longer than the datagram, at each byte that holds one. */
    bad = malloc(len);
    memcpy(bad, pkt, len);
    bad[1] = 0x84;
    assert_false(parses(&f, bad, len));
    memcpy(bad, pkt, len);
    bad[1] = 0x80; /* indefinite form */
    assert_false(parses(&f, bad, len));
    /* Not a GetResponse: the GET itself, and a Report. */
    memcpy(bad, pkt, len);
    free(pkt);
    pkt = reference_get(&f, 9, &len);
    assert_false(parses(&f, pkt, len));
    free(pkt);
    pkt = make_answer(&f, 9, 0, 3, 0, &len);
    assert_int_equal(pkt[5 + 2 + 6], SNMP_MSG_RESPONSE); /* after version and "public" */
    pkt[5 + 2 + 6] = SNMP_MSG_REPORT;
    assert_false(parses(&f, pkt, len));
    free(pkt);
    /* SNMPv3 or an unknown version. */
    pkt = make_answer(&f, 9, 0, 3, 0, &len);
    assert_int_equal(pkt[2], 0x02);
    pkt[4] = 3;
    assert_false(parses(&f, pkt, len));
    pkt[4] = 0x7f;
    assert_false(parses(&f, pkt, len));
    free(pkt);
    free(bad);
    ber_get_free(&f.chunk.get);
}

/* ------------------------------------- encodings net-snmp reads its way */

/* One change to the fixture's answer, as agents (or the fuzzer,
 * tests/fuzz/fuzz_ber_netsnmp.c, whose corpus/ber_netsnmp/ holds the same
 * datagrams) make them. Unset fields leave the answer canonical: version
 * 2c, request-id 4242, community "public", every varbind the name asked
 * with a value of its usual type. */
struct tweak {
    const char *what;
    int length_bytes;    /* message, PDU and list lengths in long form of this many bytes */
    const char *version; /* INTEGER content */
    size_t version_len;
    const char *reqid; /* INTEGER content */
    size_t reqid_len;
    const char *errstat; /* INTEGER content, error-status then error-index */
    size_t errstat_len;
    const char *errindex;
    size_t errindex_len;
    unsigned char community_tag; /* with community_len bytes of 'c' */
    size_t community_len;
    size_t k;         /* the varbind changed by what follows */
    const char *name; /* its name's content */
    size_t name_len;
    unsigned char tag; /* its value's tag and content */
    const char *value;
    size_t value_len;
    const char *after; /* bytes after its value, inside its SEQUENCE */
    size_t after_len;
};

#define BYTES(s) s, sizeof(s) - 1
#define ONES8 "\x01\x01\x01\x01\x01\x01\x01\x01"
#define ONES64 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8

/* tag, a length (shortest, or long form of length_bytes bytes), content. */
static size_t put_tlv(unsigned char *out, unsigned char tag, const void *content, size_t len,
                      int length_bytes)
{
    size_t n = 0;
    int i;

    out[n++] = tag;
    if (length_bytes == 0 && len < 0x80) {
        out[n++] = (unsigned char)len;
    } else {
        if (length_bytes == 0)
            length_bytes = len <= 0xff ? 1 : len <= 0xffff ? 2 : 3;
        out[n++] = (unsigned char)(0x80 | length_bytes);
        for (i = length_bytes - 1; i >= 0; i--)
            out[n++] = i < 8 ? (unsigned char)(len >> (8 * i)) : 0;
    }
    memmove(out + n, content, len);
    return n + len;
}

/* An OID's content, canonical. */
static size_t put_oid(unsigned char *out, const oid *name, size_t len)
{
    size_t n = 0, i;

    for (i = 1; i < len; i++) { /* the first two subidentifiers make one */
        uint32_t v = (uint32_t)(i == 1 ? name[0] * 40 + name[1] : name[i]);
        int shift = 28;

        while (shift > 0 && (v >> shift) == 0)
            shift -= 7;
        for (; shift > 0; shift -= 7)
            out[n++] = (unsigned char)(0x80 | ((v >> shift) & 0x7f));
        out[n++] = (unsigned char)(v & 0x7f);
    }
    return n;
}

static u_char *tweaked_answer(struct fixture *f, const struct tweak *t, size_t *len)
{
    static unsigned char list[8192], pdu[8192], msg[8192];
    unsigned char body[512], value[64], community[512];
    size_t k, n = COUNTERS_VARBINDS(&f->chunk), nl = 0, np = 0, nm = 0;
    oid name[BER_NAME_MAX];
    u_char *out;

    for (k = 0; k < n; k++) {
        size_t nb = 0, p = (k - 1) % COUNTERS_BASE_VARS, vlen;
        unsigned char enc[64], vtag;

        if (k == 0) {
            vtag = ASN_TIMETICKS;
            vlen = 3;
            memcpy(value, "\x01\x02\x03", 3);
        } else if (p < 2) {
            vtag = f->ifaces[(k - 1) / COUNTERS_BASE_VARS].rd.width == 64 ? ASN_COUNTER64
                                                                          : ASN_COUNTER;
            vlen = 5;
            memcpy(value, "\x00\xf0\x00\x00\x01", 5);
            value[4] = (unsigned char)k;
        } else if (p == 2) {
            vtag = ASN_GAUGE;
            vlen = 2;
            memcpy(value, "\x03\xe8", 2);
        } else {
            vtag = ASN_INTEGER;
            vlen = 1;
            value[0] = 1;
        }
        if (k == t->k && t->name)
            nb += put_tlv(body, ASN_OBJECT_ID, t->name, t->name_len, 0);
        else
            nb += put_tlv(body, ASN_OBJECT_ID, enc,
                          put_oid(enc, name, counters_var_name(&f->dev, &f->chunk, k, name)), 0);
        if (k == t->k && t->tag)
            nb += put_tlv(body + nb, t->tag, t->value, t->value_len, 0);
        else
            nb += put_tlv(body + nb, vtag, value, vlen, 0);
        if (k == t->k && t->after) {
            memcpy(body + nb, t->after, t->after_len);
            nb += t->after_len;
        }
        nl += put_tlv(list + nl, ASN_SEQUENCE | ASN_CONSTRUCTOR, body, nb, 0);
    }
    np += put_tlv(pdu + np, ASN_INTEGER, t->reqid ? t->reqid : "\x10\x92",
                  t->reqid ? t->reqid_len : 2, 0);
    np += put_tlv(pdu + np, ASN_INTEGER, t->errstat ? t->errstat : "",
                  t->errstat ? t->errstat_len : 1, 0);
    np += put_tlv(pdu + np, ASN_INTEGER, t->errindex ? t->errindex : "",
                  t->errindex ? t->errindex_len : 1, 0);
    np += put_tlv(pdu + np, ASN_SEQUENCE | ASN_CONSTRUCTOR, list, nl, t->length_bytes);
    nm += put_tlv(msg + nm, ASN_INTEGER, t->version ? t->version : "\x01",
                  t->version ? t->version_len : 1, 0);
    if (t->community_tag) {
        memset(community, 'c', t->community_len);
        nm += put_tlv(msg + nm, t->community_tag, community, t->community_len, 0);
    } else {
        nm += put_tlv(msg + nm, ASN_OCTET_STR, "public", 6, 0);
    }
    nm += put_tlv(msg + nm, SNMP_MSG_RESPONSE, pdu, np, t->length_bytes);
    out = malloc(nm + 16);
    *len = put_tlv(out, ASN_SEQUENCE | ASN_CONSTRUCTOR, msg, nm, t->length_bytes);
    return out;
}

/* 0 when ber.c comes to net-snmp's outcome on t's answer (or, when
 * !same, refuses what net-snmp accepts); else 1, saying why. */
static int differs_from_net_snmp(struct fixture *f, const struct tweak *t, int same)
{
    struct ber_var got[MAX_VARS], want[MAX_VARS];
    struct ber_answer a;
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_RESPONSE);
    size_t len, n = 0, wn = 0, k;
    u_char *pkt = tweaked_answer(f, t, &len), *copy = malloc(len);
    int ber_ok, ns_ok, bad = 0;

    memcpy(copy, pkt, len);
    ber_ok = ber_parse_answer(pkt, len, &a) == 0 && a.version == f->sess.version &&
             ber_parse_varbinds(&f->chunk.get, &a, got, COUNTERS_VARBINDS(&f->chunk), &n) == 0;
    ns_ok = snmp_parse(NULL, &f->sess, pdu, copy, len) == 0 && pdu->command == SNMP_MSG_RESPONSE;
    if (!same) {
        bad = !ns_ok || ber_ok;
    } else if (ber_ok != ns_ok) {
        bad = 1;
    } else if (ber_ok) {
        wn = counters_vars_from_list(&f->dev, &f->chunk, pdu->variables, want,
                                     COUNTERS_VARBINDS(&f->chunk));
        bad = a.version != pdu->version || a.reqid != pdu->reqid || a.errstat != pdu->errstat ||
              a.errindex != pdu->errindex || n != wn;
        for (k = 0; !bad && k < n; k++)
            bad = got[k].type != want[k].type || got[k].asked != want[k].asked ||
                  got[k].numeric != want[k].numeric || got[k].value != want[k].value;
    }
    if (bad)
        print_message("differs: %s (%s)\n", t->what,
                      ber_ok && ns_ok ? "both read it, not alike"
                      : ber_ok        ? "ber.c reads it, net-snmp refuses it"
                      : ns_ok         ? "ber.c refuses it, net-snmp reads it"
                                      : "both refuse it");
    snmp_free_pdu(pdu);
    free(copy);
    free(pkt);
    return bad;
}

/* Every tweak of the table, checked: each one that differs is named. */
static void check_tweaks(const struct tweak *tweaks, size_t n, int same)
{
    struct fixture f;
    size_t i, bad = 0;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    assert_int_equal(counters_prepare_get(&f.dev, &f.chunk, f.community), 0);
    for (i = 0; i < n; i++)
        bad += (size_t)differs_from_net_snmp(&f, &tweaks[i], same);
    ber_get_free(&f.chunk.get);
    assert_int_equal(bad, 0);
}

/* Fixture varbinds: 1 ifHCInOctets.1, 2 ifHCOutOctets.1, 3 ifHighSpeed.1,
 * 4 ifOperStatus.1. */
static const struct tweak non_canonical[] = {
    {.what = "lengths in long form of 8 bytes", .length_bytes = 8},
    {.what = "lengths in long form of 2 bytes", .length_bytes = 2},
    {.what = "an ifOperStatus INTEGER of 5 bytes (its low 32 bits)",
     .k = 4,
     .tag = ASN_INTEGER,
     .value = BYTES("\x01\x00\x00\x00\x01")},
    {.what = "an ifOperStatus INTEGER of 8 bytes above INT32_MAX",
     .k = 4,
     .tag = ASN_INTEGER,
     .value = BYTES("\x00\x00\x00\x01\x80\x00\x00\x02")},
    {.what = "a request-id of 5 bytes (truncated to 32 bits)",
     .reqid = BYTES("\x7f\x00\x00\x10\x92")},
    {.what = "a request-id below INT32_MIN", .reqid = BYTES("\xff\x7f\xff\xff\xff")},
    {.what = "a version of 5 bytes (1 once truncated)", .version = BYTES("\x01\x00\x00\x00\x01")},
    {.what = "an error-status of 5 bytes (0 once truncated)",
     .errstat = BYTES("\x01\x00\x00\x00\x00")},
    {.what = "an error-index of 6 bytes (1 once truncated)",
     .errindex = BYTES("\x00\xff\x00\x00\x00\x01")},
    {.what = "a community tagged IpAddress", .community_tag = ASN_IPADDRESS, .community_len = 6},
    {.what = "a community tagged Opaque", .community_tag = ASN_OPAQUE, .community_len = 6},
    {.what = "a community tagged NSAP", .community_tag = ASN_NSAP, .community_len = 6},
    {.what = "a community of 256 bytes", .community_tag = ASN_OCTET_STR, .community_len = 256},
    {.what = "a Counter64 of 9 bytes",
     .k = 1,
     .tag = ASN_COUNTER64,
     .value = BYTES("\x00\xff\xff\xff\xff\xff\xff\xff\xf0")},
    {.what = "a Gauge32 of 5 bytes with a leading 0xff (its low 32 bits)",
     .k = 3,
     .tag = ASN_GAUGE,
     .value = BYTES("\xff\xff\xff\xff\xfe")},
    {.what = "a NULL with content", .k = 3, .tag = ASN_NULL, .value = BYTES("\x01\x02")},
    {.what = "an empty OBJECT IDENTIFIER value", .k = 3, .tag = ASN_OBJECT_ID, .value = BYTES("")},
    {.what = "an OBJECT IDENTIFIER value of 128 subidentifiers",
     .k = 3,
     .tag = ASN_OBJECT_ID,
     .value = BYTES("\x2b" ONES64 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 "\x01\x01\x01\x01\x01"
                    "\x01")},
    {.what = "an OBJECT IDENTIFIER value whose subidentifier wraps 64 bits to 0",
     .k = 3,
     .tag = ASN_OBJECT_ID,
     .value = BYTES("\x2b\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00")},
};

static void reads_non_canonical_encodings_as_net_snmp_does(void **state)
{
    check_tweaks(non_canonical, sizeof(non_canonical) / sizeof(non_canonical[0]), 1);
}

static const struct tweak refused_by_net_snmp[] = {
    {.what = "a community of 257 bytes (net-snmp's buffer holds 256)",
     .community_tag = ASN_OCTET_STR,
     .community_len = 257},
    {.what = "a BOOLEAN value", .k = 3, .tag = 0x01, .value = BYTES("\xff")},
    {.what = "a value of an unknown application type", .k = 3, .tag = 0x48, .value = BYTES("\x01")},
    {.what = "a bare 0x76 tag (net-snmp's Opaque Counter64, unwrapped)",
     .k = 1,
     .tag = 0x76,
     .value = BYTES("\x01")},
    {.what = "an IpAddress of 2 bytes", .k = 3, .tag = ASN_IPADDRESS, .value = BYTES("\x03\xe8")},
    {.what = "an empty BIT STRING", .k = 3, .tag = ASN_BIT_STR, .value = BYTES("")},
    {.what = "an OBJECT IDENTIFIER value ending inside a subidentifier",
     .k = 3,
     .tag = ASN_OBJECT_ID,
     .value = BYTES("\x2b\x06\x81")},
    {.what = "an OBJECT IDENTIFIER value with a subidentifier above 2^32 - 1",
     .k = 3,
     .tag = ASN_OBJECT_ID,
     .value = BYTES("\x2b\x90\x80\x80\x80\x00")},
    {.what = "an OBJECT IDENTIFIER value of 129 subidentifiers",
     .k = 3,
     .tag = ASN_OBJECT_ID,
     .value = BYTES("\x2b" ONES64 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 "\x01\x01\x01\x01\x01"
                    "\x01\x01")},
    {.what = "a name with a subidentifier above 2^32 - 1",
     .k = 2,
     .name = BYTES("\x2b\x06\x01\x02\x01\x1f\x01\x01\x01\x0a\x90\x80\x80\x80\x01")},
    {.what = "a name ending inside a subidentifier",
     .k = 2,
     .name = BYTES("\x2b\x06\x01\x02\x01\x1f\x01\x01\x01\x0a\x01\x81")},
    {.what = "an Opaque-wrapped Float of 3 bytes",
     .k = 3,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x78\x03\x3f\x80\x00")},
    {.what = "an Opaque-wrapped Counter64 of 13 bytes",
     .k = 1,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x76\x81\x09\x00\x01\x02\x03\x04\x05\x06\x07\x08")},
    {.what = "an Opaque whose wrapped length runs past it",
     .k = 1,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x76\x09\x01")},
    {.what = "a bare Float tag of 3 bytes", .k = 3, .tag = 0x78, .value = BYTES("\x3f\x80\x00")},
    {.what = "a bare Double tag of 7 bytes",
     .k = 3,
     .tag = 0x79,
     .value = BYTES("\x3f\xf0\x00\x00\x00\x00\x00")},
};

static void refuses_what_net_snmp_refuses(void **state)
{
    check_tweaks(refused_by_net_snmp, sizeof(refused_by_net_snmp) / sizeof(refused_by_net_snmp[0]),
                 1);
}

static const struct tweak names_by_value[] = {
    {.what = "the name asked with a padded last subidentifier (0x80 0x01 for 1)",
     .k = 1,
     .name = BYTES("\x2b\x06\x01\x02\x01\x1f\x01\x01\x01\x06\x80\x01")},
    {.what = "the name asked with a padded first subidentifier (0x80 0x2b for 1.3)",
     .k = 1,
     .name = BYTES("\x80\x2b\x06\x01\x02\x01\x1f\x01\x01\x01\x06\x01")},
    {.what = "an empty name (net-snmp's \"0\")", .k = 3, .name = BYTES("")},
};

static void compares_names_by_value_as_net_snmp_does(void **state)
{
    check_tweaks(names_by_value, sizeof(names_by_value) / sizeof(names_by_value[0]), 1);
}

static const struct tweak opaque_types[] = {
    {.what = "an Opaque-wrapped Counter64 (type 0x76, not a number)",
     .k = 1,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x76\x05\x01\x00\x00\x00\x00")},
    {.what = "an empty Opaque-wrapped U64",
     .k = 2,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x7b\x00")},
    {.what = "an Opaque-wrapped I64",
     .k = 2,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x7a\x02\xff\x00")},
    {.what = "an Opaque-wrapped Float",
     .k = 3,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x78\x04\x3f\x80\x00\x00")},
    {.what = "an Opaque-wrapped Double",
     .k = 3,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x79\x08\x3f\xf0\x00\x00\x00\x00\x00\x00")},
    {.what = "a plain Opaque", .k = 1, .tag = ASN_OPAQUE, .value = BYTES("\x9f\x30\x01\x02")},
    {.what = "a bare Float tag", .k = 3, .tag = 0x78, .value = BYTES("\x3f\x80\x00\x00")},
};

static void reads_net_snmp_opaque_types_as_net_snmp_does(void **state)
{
    check_tweaks(opaque_types, sizeof(opaque_types) / sizeof(opaque_types[0]), 1);
}

/* tests/fuzz/fuzz_ber_netsnmp.c's list of what ber.c may refuse though
 * net-snmp reads it. */
static const struct tweak stricter[] = {
    {.what = "a Counter64 without content octets (net-snmp: 0)",
     .k = 1,
     .tag = ASN_COUNTER64,
     .value = BYTES("")},
    {.what = "a varbind with a varbind after its value, inside its SEQUENCE",
     .k = 2,
     .after = BYTES("\x30\x04\x06\x00\x05\x00")},
    {.what = "an Opaque-wrapped Counter64 followed by a varbind inside its Opaque",
     .k = 1,
     .tag = ASN_OPAQUE,
     .value = BYTES("\x9f\x76\x01\x05\x30\x04\x06\x00\x05\x00")},
};

static void is_stricter_only_on_what_is_malformed_beyond_doubt(void **state)
{
    check_tweaks(stricter, sizeof(stricter) / sizeof(stricter[0]), 0);
}

/* --------------------------------------------- every layout of counters */

/* The fixture's device polling `counters` (CONFIG_COUNTERS_* bits) on an
 * agent with or without ifXTable. */
static void fixture_layout(struct fixture *f, int counters, int has_ifx)
{
    f->cfg.counters = counters | CONFIG_COUNTERS_OCTETS;
    counters_layout(&f->dev, has_ifx);
    ber_get_free(&f->chunk.get);
}

static const int every_counters[] = {
    CONFIG_COUNTERS_OCTETS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_ERRORS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS,
};

static void encodes_every_layout_as_net_snmp_writes(void **state)
{
    static const long versions[] = {SNMP_VERSION_2c, SNMP_VERSION_1};
    size_t v, c;
    int ifx;

    for (v = 0; v < 2; v++)
        for (c = 0; c < sizeof(every_counters) / sizeof(every_counters[0]); c++)
            for (ifx = 0; ifx < 2; ifx++) {
                struct fixture f;
                u_char *pkt;
                size_t len;

                fixture_init(&f, versions[v], "public");
                fixture_layout(&f, every_counters[c], ifx);
                assert_int_equal(COUNTERS_VARBINDS(&f.chunk), 1 + NIFACES * f.dev.layout.vars);
                assert_same_get(&f, 1000 + (long)c);
                pkt = make_answer(&f, 77, 0, COUNTERS_VARBINDS(&f.chunk), (int)c % 2, &len);
                assert_decodes_as_net_snmp(&f, pkt, len, COUNTERS_VARBINDS(&f.chunk));
                free(pkt);
                ber_get_free(&f.chunk.get);
            }
}

/* The name of varbind k as text, "1.3.6..." */
static const char *name_text(struct fixture *f, size_t k)
{
    static char text[256];
    oid name[BER_NAME_MAX];
    size_t n = counters_var_name(&f->dev, &f->chunk, k, name), i, at = 0;

    for (i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, i ? ".%lu" : "%lu",
                               (unsigned long)name[i]);
    return text;
}

/* What is asked, and in which order: sysUpTime, then each interface's
 * packets (RFC 2863 ifXTable, 64-bit or 32-bit) and errors and discards,
 * then each interface's octets, speed and status. */
static void asks_the_rfc_2863_objects_octets_last(void **state)
{
    struct fixture f;
    size_t last;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS, 1);
    assert_int_equal(f.dev.layout.vars, 14);
    last = COUNTERS_VARBINDS(&f.chunk) - 1;
    assert_string_equal(name_text(&f, 0), "1.3.6.1.2.1.1.3.0");
    /* Interface 0 (ifIndex 1), packets 64-bit: HC unicast, multicast... */
    assert_string_equal(name_text(&f, 1), "1.3.6.1.2.1.31.1.1.1.7.1");
    assert_string_equal(name_text(&f, 2), "1.3.6.1.2.1.31.1.1.1.8.1");
    assert_string_equal(name_text(&f, 3), "1.3.6.1.2.1.31.1.1.1.9.1");
    assert_string_equal(name_text(&f, 4), "1.3.6.1.2.1.31.1.1.1.11.1");
    assert_string_equal(name_text(&f, 7), "1.3.6.1.2.1.2.2.1.14.1");  /* ifInErrors */
    assert_string_equal(name_text(&f, 8), "1.3.6.1.2.1.2.2.1.20.1");  /* ifOutErrors */
    assert_string_equal(name_text(&f, 9), "1.3.6.1.2.1.2.2.1.13.1");  /* ifInDiscards */
    assert_string_equal(name_text(&f, 10), "1.3.6.1.2.1.2.2.1.19.1"); /* ifOutDiscards */
    /* Interface 1 (ifIndex 127), packets 32-bit: ifTable unicast, ifXTable
     * Counter32 multicast and broadcast. */
    assert_string_equal(name_text(&f, 11), "1.3.6.1.2.1.2.2.1.11.127");
    assert_string_equal(name_text(&f, 12), "1.3.6.1.2.1.31.1.1.1.2.127");
    assert_string_equal(name_text(&f, 13), "1.3.6.1.2.1.31.1.1.1.3.127");
    assert_string_equal(name_text(&f, 14), "1.3.6.1.2.1.2.2.1.17.127");
    /* The octets of every interface last: the last is ifOperStatus of the
     * last interface; interface 0's four come first. */
    assert_string_equal(name_text(&f, last), "1.3.6.1.2.1.2.2.1.8.4294967295");
    assert_string_equal(name_text(&f, last - 4 * NIFACES + 1), "1.3.6.1.2.1.31.1.1.1.6.1");
    assert_string_equal(name_text(&f, last - 4 * NIFACES + 3), "1.3.6.1.2.1.31.1.1.1.15.1");
    /* No ifXTable (or SNMPv1): ifIn/OutUcastPkts + ifIn/OutNUcastPkts. */
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS, 0);
    assert_int_equal(f.dev.layout.vars, 8);
    assert_true(f.dev.layout.packets_nucast);
    assert_string_equal(name_text(&f, 1), "1.3.6.1.2.1.2.2.1.11.1");
    assert_string_equal(name_text(&f, 2), "1.3.6.1.2.1.2.2.1.12.1");
    assert_string_equal(name_text(&f, 3), "1.3.6.1.2.1.2.2.1.17.1");
    assert_string_equal(name_text(&f, 4), "1.3.6.1.2.1.2.2.1.18.1");
    fixture_init(&f, SNMP_VERSION_1, "public");
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS, 1);
    assert_true(f.dev.layout.packets_nucast);
}

/* ---------------------------------------- what counters.c reads of them */

/* Per second, per object (its column): the simulated agent's rates. */
static uint64_t rate_of(int ifx_table, oid col)
{
    if (ifx_table)
        switch (col) {
        case 6: /* ifHCInOctets */
            return 125000;
        case 10:
            return 62500;
        case 7: /* unicast, multicast, broadcast */
        case 11:
            return 1000;
        case 2: /* ifInMulticastPkts (Counter32) */
        case 4:
        case 8:
        case 12:
            return 100;
        case 3: /* ifInBroadcastPkts (Counter32) */
        case 5:
        case 9:
        case 13:
            return 10;
        default:
            return 0;
        }
    switch (col) {
    case 10:
        return 125000;
    case 16:
        return 62500;
    case 11:
    case 17:
        return 1000;
    case 12: /* NUcast: multicast + broadcast */
    case 18:
        return 110;
    case 14: /* ifInErrors */
        return 3;
    case 20:
        return 2;
    case 13: /* ifInDiscards */
        return 7;
    case 19:
        return 5;
    default:
        return 0;
    }
}

/* An answer of the simulated agent at t seconds to the chunk's GET as
 * decoded varbinds: every counter at its rate (Counter32s near their
 * wrap), the speed 1 Gb/s, up; the objects of column `lacking` (in ifTable,
 * or in ifXTable when lacking_ifx) noSuchObject. */
static size_t answer_vars(struct fixture *f, double t, oid lacking, int lacking_ifx,
                          struct ber_var *vars)
{
    size_t k, n = COUNTERS_VARBINDS(&f->chunk);
    oid name[BER_NAME_MAX];

    for (k = 0; k < n; k++) {
        size_t len = counters_var_name(&f->dev, &f->chunk, k, name);
        int ifx = len == IFX_TABLE_COL_LEN + 1;
        oid col = name[len - 2];

        memset(&vars[k], 0, sizeof(vars[k]));
        vars[k].asked = 1;
        vars[k].numeric = 1;
        if (k == 0) {
            vars[k].type = ASN_TIMETICKS;
            vars[k].value = (uint64_t)(t * 100) + 1000;
        } else if (col == lacking && ifx == lacking_ifx) {
            vars[k].type = SNMP_NOSUCHOBJECT;
            vars[k].numeric = 0;
        } else if (ifx && col == 15) {
            vars[k].type = ASN_GAUGE;
            vars[k].value = 1000;
        } else if (!ifx && col == 5) {
            vars[k].type = ASN_GAUGE;
            vars[k].value = 1000000000;
        } else if (!ifx && col == 8) {
            vars[k].type = ASN_INTEGER;
            vars[k].value = 1;
        } else if (ifx && col >= 6) {
            vars[k].type = ASN_COUNTER64;
            vars[k].value = (uint64_t)(rate_of(1, col) * t) + (1ULL << 40);
        } else {
            vars[k].type = ASN_COUNTER;
            vars[k].value = ((uint64_t)(rate_of(ifx, col) * t) + 4294960000ULL) & 0xffffffff;
        }
    }
    return n;
}

/* What counters_read gave each interface of the fixture. */
struct read_results {
    struct rate_result res[NIFACES];
    int calls;
};

static void keep_result(void *ctx, struct device *dev, struct iface *ifc,
                        const struct rate_result *res)
{
    struct read_results *r = ctx;

    r->res[ifc - dev->ifaces] = *res;
    r->calls++;
}

/* Polls at t = 0, 1, 2 ... until `upto`, the last one's results in r. */
static void poll_until(struct fixture *f, int from, int upto, oid lacking, int lacking_ifx,
                       struct read_results *r)
{
    struct ber_var vars[MAX_VARS];
    int t;

    for (t = from; t <= upto; t++) {
        size_t n = answer_vars(f, t, lacking, lacking_ifx, vars);

        memset(r, 0, sizeof(*r));
        counters_read(&f->dev, &f->chunk, vars, n, 5 * 1000000000ULL + (uint64_t)t * 1000000000ULL,
                      keep_result, r);
        assert_int_equal(r->calls, NIFACES);
    }
}

static void reads_every_group_into_its_rates(void **state)
{
    struct read_results r;
    struct fixture f;
    size_t i;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS, 1);
    f.dev.interval_ns = 1000000000ULL;
    poll_until(&f, 0, 3, 0, 0, &r);
    for (i = 0; i < NIFACES; i++) {
        const struct rate_result *x = &r.res[i];

        assert_int_equal(x->group[COUNTERS_OCTETS].status, RATE_OK);
        assert_true(fabs(x->group[COUNTERS_OCTETS].in - 1e6) < 1);
        assert_true(fabs(x->group[COUNTERS_OCTETS].out - 5e5) < 1);
        assert_int_equal(x->group[COUNTERS_PACKETS].status, RATE_OK);
        assert_true(fabs(x->group[COUNTERS_PACKETS].in - 1110) < 1e-6);
        assert_true(fabs(x->group[COUNTERS_PACKETS].out - 1110) < 1e-6);
        assert_true(fabs(x->group[COUNTERS_ERRORS].in - 3) < 1e-6);
        assert_true(fabs(x->group[COUNTERS_ERRORS].out - 2) < 1e-6);
        assert_true(fabs(x->group[COUNTERS_DISCARDS].in - 7) < 1e-6);
        assert_true(fabs(x->group[COUNTERS_DISCARDS].out - 5) < 1e-6);
        assert_true(fabs(x->interval - 1.0) < 1e-9);
        assert_int_equal(f.ifaces[i].rd.oper, 1);
    }
    ber_get_free(&f.chunk.get);
}

/* noSuchObject for ifInErrors: errors are a no_data gap, discards and
 * octets have their rates; the agent has no HC packet counters for an
 * interface: packets are a gap once, then its 32-bit ones are asked. */
static void a_group_the_agent_lacks_is_null_alone(void **state)
{
    struct read_results r;
    struct fixture f;
    size_t i;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS, 1);
    f.dev.interval_ns = 1000000000ULL;
    poll_until(&f, 0, 3, 14, 0, &r);
    for (i = 0; i < NIFACES; i++) {
        assert_int_equal(r.res[i].group[COUNTERS_ERRORS].gap, RATE_GAP_NO_DATA);
        assert_int_equal(r.res[i].group[COUNTERS_DISCARDS].status, RATE_OK);
        assert_int_equal(r.res[i].group[COUNTERS_OCTETS].status, RATE_OK);
        assert_int_equal(r.res[i].group[COUNTERS_PACKETS].status, RATE_OK);
    }
    /* ifHCInMulticastPkts missing: the 64-bit interfaces fall back. */
    fixture_init(&f, SNMP_VERSION_2c, "public");
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS, 1);
    f.dev.interval_ns = 1000000000ULL;
    poll_until(&f, 0, 0, 8, 1, &r);
    for (i = 0; i < NIFACES; i++) {
        assert_int_equal(f.ifaces[i].rd.packets_width, 32);
        assert_int_equal(r.res[i].group[COUNTERS_PACKETS].gap,
                         i % 2 ? RATE_GAP_FIRST : RATE_GAP_NO_DATA);
        assert_int_equal(r.res[i].group[COUNTERS_ERRORS].gap, RATE_GAP_NOT_POLLED);
    }
    assert_int_equal(counters_prepare_get(&f.dev, &f.chunk, f.community), 0);
    assert_string_equal(name_text(&f, 1), "1.3.6.1.2.1.2.2.1.11.1");
    poll_until(&f, 1, 3, 8, 1, &r);
    for (i = 0; i < NIFACES; i++) {
        assert_int_equal(r.res[i].group[COUNTERS_PACKETS].status, RATE_OK);
        assert_true(fabs(r.res[i].group[COUNTERS_PACKETS].in - 1110) < 1e-6);
        assert_int_equal(r.res[i].group[COUNTERS_OCTETS].status, RATE_OK);
    }
    ber_get_free(&f.chunk.get);
}

/* SNMPv1: one object the agent lacks fails the whole GET (noSuchName at
 * its varbind). On an error counter: errors and discards are no longer
 * asked, and are no_data gaps; on an octet counter: not a group to drop. */
static void an_snmpv1_agent_without_error_counters_is_asked_without_them(void **state)
{
    struct rate_result gap;
    struct fixture f;

    fixture_init(&f, SNMP_VERSION_1, "public");
    fixture_layout(&f, CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS, 1);
    assert_int_equal(f.dev.layout.vars, 12);                        /* 4 + NUcast 4 + errors 4 */
    assert_int_equal(counters_agent_lacks(&f.dev, &f.chunk, 1), 0); /* sysUpTime */
    /* The last varbind: an ifOperStatus. */
    assert_int_equal(counters_agent_lacks(&f.dev, &f.chunk, (long)COUNTERS_VARBINDS(&f.chunk)), 0);
    assert_int_equal(counters_agent_lacks(&f.dev, &f.chunk, 6), 1); /* ifInErrors.1 */
    assert_int_equal(f.dev.layout.vars, 12);                        /* not before the plan */
    counters_replan(&f.dev);
    assert_int_equal(f.dev.layout.vars, 8);
    counters_gap_result(&f.dev, RATE_GAP_TIMEOUT, &gap);
    assert_int_equal(gap.group[COUNTERS_OCTETS].gap, RATE_GAP_TIMEOUT);
    assert_int_equal(gap.group[COUNTERS_PACKETS].gap, RATE_GAP_TIMEOUT);
    assert_int_equal(gap.group[COUNTERS_ERRORS].gap, RATE_GAP_NO_DATA);
    assert_int_equal(gap.group[COUNTERS_DISCARDS].gap, RATE_GAP_NO_DATA);
    assert_same_get(&f, 5);
    ber_get_free(&f.chunk.get);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_the_bytes_net_snmp_writes),
        cmocka_unit_test(encodes_a_full_chunk_with_long_lengths),
        cmocka_unit_test(follows_a_fall_back_to_32_bit_counters),
        cmocka_unit_test(decodes_answers_as_net_snmp_does),
        cmocka_unit_test(refuses_what_is_not_a_whole_answer),
        cmocka_unit_test(reads_non_canonical_encodings_as_net_snmp_does),
        cmocka_unit_test(refuses_what_net_snmp_refuses),
        cmocka_unit_test(compares_names_by_value_as_net_snmp_does),
        cmocka_unit_test(reads_net_snmp_opaque_types_as_net_snmp_does),
        cmocka_unit_test(is_stricter_only_on_what_is_malformed_beyond_doubt),
        cmocka_unit_test(encodes_every_layout_as_net_snmp_writes),
        cmocka_unit_test(asks_the_rfc_2863_objects_octets_last),
        cmocka_unit_test(reads_every_group_into_its_rates),
        cmocka_unit_test(a_group_the_agent_lacks_is_null_alone),
        cmocka_unit_test(an_snmpv1_agent_without_error_counters_is_asked_without_them),
    };
    int rc;

    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    snmp_disable_log();
    init_snmp("test_ber");
    /* With no handler at all net-snmp logs to stderr ("bad type returned"
     * for the answers refused below): a handler that drops everything. */
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_DEBUG);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snmp_shutdown("test_ber");
    return rc;
}
