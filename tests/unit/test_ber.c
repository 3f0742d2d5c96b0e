/* test_ber.c -- collector/ber.c: the poll GETs are the bytes
 * net-snmp's own encoder writes for the same PDU, and an answer decodes to
 * what net-snmp's parser reads from the same bytes. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../collector/mib.h"
#include "../../collector/device.h"

#define NIFACES 6
#define MAX_VARS (1 + NIFACES * COUNTERS_PER_IFACE + 4)

struct fixture {
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
    for (i = 0; i < NIFACES; i++) {
        f->ifaces[i].ifindex = ifindexes[i];
        f->ifaces[i].rd.width = i % 3 == 2 ? 32 : 64;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_the_bytes_net_snmp_writes),
        cmocka_unit_test(encodes_a_full_chunk_with_long_lengths),
        cmocka_unit_test(follows_a_fall_back_to_32_bit_counters),
        cmocka_unit_test(decodes_answers_as_net_snmp_does),
        cmocka_unit_test(refuses_what_is_not_a_whole_answer),
    };
    int rc;

    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    snmp_disable_log();
    init_snmp("test_ber");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snmp_shutdown("test_ber");
    return rc;
}
