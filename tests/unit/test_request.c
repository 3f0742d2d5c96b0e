/* test_request.c -- collector/request.c: the pre-encoded poll GETs are the
 * bytes net-snmp's own encoder writes for the same PDU. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../collector/request.h"
#include "../../collector/response.h"

#define NIFACES 6

struct fixture {
    struct device dev;
    struct iface ifaces[NIFACES];
    struct chunk chunk;
    netsnmp_session sess;
};

static const long ifindexes[NIFACES] = {1, 127, 128, 70000, 2147483647L, 4294967295L};

static void fixture_init(struct fixture *f, long version, const char *community)
{
    size_t i;

    memset(f, 0, sizeof(*f));
    for (i = 0; i < NIFACES; i++) {
        f->ifaces[i].ifindex = ifindexes[i];
        f->ifaces[i].width = i % 3 == 2 ? 32 : 64;
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
    f->sess.callback_magic = &f->dev;
}

/* What snmp_build writes for the GET response_add_vars fills. */
static u_char *reference_packet(struct fixture *f, long reqid, size_t *len)
{
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
    size_t buf_len = 256, offset = 0;
    u_char *buf = malloc(buf_len), *out;

    response_add_vars(&f->dev, &f->chunk, pdu);
    pdu->reqid = reqid;
    pdu->version = f->sess.version;
    assert_int_equal(snmp_build(&buf, &buf_len, &offset, &f->sess, pdu), 0);
    out = malloc(offset);
    memcpy(out, buf + buf_len - offset, offset);
    *len = offset;
    free(buf);
    snmp_free_pdu(pdu);
    return out;
}

/* What request_build_hook writes for the chunk's varbind-less GET. */
static u_char *hook_packet(struct fixture *f, long reqid, size_t *len)
{
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
    size_t buf_len = 16, offset = 0;
    u_char *buf = malloc(buf_len);

    assert_int_equal(request_prepare(&f->dev, &f->chunk), 0);
    pdu->reqid = reqid;
    pdu->version = f->sess.version;
    f->chunk.reqid = reqid;
    assert_int_equal(request_build_hook(&f->sess, pdu, &buf, &buf_len, &offset), 0);
    *len = offset;
    snmp_free_pdu(pdu);
    return buf;
}

static void assert_same_packet(struct fixture *f, long reqid)
{
    size_t want_len, got_len;
    u_char *want = reference_packet(f, reqid, &want_len);
    u_char *got = hook_packet(f, reqid, &got_len);

    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(want);
    free(got);
}

static void encodes_the_bytes_net_snmp_writes(void **state)
{
    static const long reqids[] = {0, 1, 127, 128, 255, 256, 32767, 32768, 8388608, 2147483647L};
    struct fixture f;
    size_t i;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    for (i = 0; i < sizeof(reqids) / sizeof(reqids[0]); i++)
        assert_same_packet(&f, reqids[i]);
    request_free(&f.chunk);
    fixture_init(&f, SNMP_VERSION_1, "a-community-string-long-enough-for-no-reason");
    assert_same_packet(&f, 123456);
    request_free(&f.chunk);
}

static void encodes_a_full_chunk_with_long_lengths(void **state)
{
    struct fixture f;
    struct iface many[15];
    size_t i;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    for (i = 0; i < 15; i++) {
        many[i] = f.ifaces[0];
        many[i].ifindex = (long)(1000 * i + 1);
    }
    f.dev.ifaces = many;
    f.dev.nifaces = f.chunk.count = 15; /* 61 varbinds: lengths above 255 */
    assert_same_packet(&f, 99);
    request_free(&f.chunk);
}

static void follows_a_fall_back_to_32_bit_counters(void **state)
{
    struct fixture f;

    fixture_init(&f, SNMP_VERSION_2c, "public");
    assert_same_packet(&f, 7);
    f.ifaces[0].width = 32; /* as response_read does without ifHCInOctets */
    assert_same_packet(&f, 8);
    request_free(&f.chunk);
}

static void leaves_other_pdus_to_net_snmp(void **state)
{
    struct fixture f;
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GETBULK), *copy;
    size_t buf_len = 16, offset = 0, want_len = 256, want_off = 0;
    u_char *buf = malloc(buf_len), *want = malloc(want_len);

    fixture_init(&f, SNMP_VERSION_2c, "public");
    pdu->version = SNMP_VERSION_2c;
    pdu->non_repeaters = 0;
    pdu->max_repetitions = 24;
    snmp_add_null_var(pdu, (const oid[]){1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1}, 11);
    copy = snmp_clone_pdu(pdu);
    f.chunk.reqid = pdu->reqid; /* same request-id, but not a chunk's GET */
    assert_int_equal(request_build_hook(&f.sess, pdu, &buf, &buf_len, &offset), 0);
    assert_int_equal(snmp_build(&want, &want_len, &want_off, &f.sess, copy), 0);
    assert_int_equal(offset, want_off);
    assert_memory_equal(buf, want + want_len - want_off, offset);
    free(buf);
    free(want);
    snmp_free_pdu(pdu);
    snmp_free_pdu(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_the_bytes_net_snmp_writes),
        cmocka_unit_test(encodes_a_full_chunk_with_long_lengths),
        cmocka_unit_test(follows_a_fall_back_to_32_bit_counters),
        cmocka_unit_test(leaves_other_pdus_to_net_snmp),
    };
    int rc;

    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    snmp_disable_log();
    init_snmp("test_request");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snmp_shutdown("test_request");
    return rc;
}
