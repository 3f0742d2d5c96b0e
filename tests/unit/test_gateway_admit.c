/* test_gateway_admit.c -- unit tests of what decides whose connection a
 * connection is, and how much one address may hold: the PROXY protocol
 * header of a trusted balancer (gateway/proxyproto.c, v1 and v2, and its
 * place in the scan of what lws reads, gateway/rxscan.c) and the counts
 * per client address (gateway/addrlimit.c). The decision on each accepted
 * socket (gateway/admit.c) is glue, driven through the gateway by
 * tests/gateway/limits.test.js. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "../../gateway/addrlimit.h"
#include "../../gateway/proxyproto.h"
#include "../../gateway/rxscan.h"
#include "../../gateway/throttle.h"

/* ------------------------------------------------------------- helpers */

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header (cmd 1 PROXY, 0 LOCAL) for family 0x11 or 0x21 with the
 * addresses of text src and port sport, and tlv_len bytes of TLVs. */
static size_t v2_header(unsigned char *out, int cmd, int family, const char *src, unsigned sport,
                        size_t tlv_len)
{
    size_t addr_len = family == 0x11 ? 12 : family == 0x21 ? 36 : 0, len = addr_len + tlv_len, n;

    memcpy(out, v2_sig, 12);
    out[12] = (unsigned char)(0x20 | cmd);
    out[13] = (unsigned char)family;
    out[14] = (unsigned char)(len >> 8);
    out[15] = (unsigned char)(len & 0xff);
    n = 16;
    memset(out + n, 0, len);
    if (family == 0x11) {
        assert_int_equal(inet_pton(AF_INET, src, out + n), 1);
        inet_pton(AF_INET, "192.0.2.1", out + n + 4);
        out[n + 8] = (unsigned char)(sport >> 8);
        out[n + 9] = (unsigned char)(sport & 0xff);
        out[n + 11] = 80;
    } else if (family == 0x21) {
        assert_int_equal(inet_pton(AF_INET6, src, out + n), 1);
        inet_pton(AF_INET6, "2001:db8::1", out + n + 16);
        out[n + 32] = (unsigned char)(sport >> 8);
        out[n + 33] = (unsigned char)(sport & 0xff);
    }
    memset(out + n + addr_len, 0xAB, tlv_len); /* TLV bytes, whatever they say */
    return n + len;
}

/* Feed text whole, then byte by byte into a fresh parser: both must agree
 * (state and consumed count). Returns the consumed count. */
static size_t feed_both_ways(struct proxyproto *p, const unsigned char *data, size_t len)
{
    struct proxyproto q;
    size_t used = 0, i;

    proxyproto_init(p);
    used = proxyproto_feed(p, data, len);
    proxyproto_init(&q);
    for (i = 0; i < len && q.state == PROXYPROTO_READING; i++)
        proxyproto_feed(&q, data + i, 1);
    assert_int_equal(q.state, p->state);
    if (p->state == PROXYPROTO_DONE) {
        assert_int_equal(q.consumed, used);
        assert_int_equal(q.has_client, p->has_client);
        assert_memory_equal(&q.client, &p->client, sizeof(q.client));
    }
    return used;
}

static const char *client_text(const struct proxyproto *p, char *buf, size_t size)
{
    const struct sockaddr *sa = (const struct sockaddr *)&p->client;

    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)size);
    return buf;
}

static unsigned client_port(const struct proxyproto *p)
{
    const struct sockaddr *sa = (const struct sockaddr *)&p->client;

    return ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                          : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* ---------------------------------------------------------- PROXY v1 */

static void a_v1_header_names_the_client_and_ends_at_its_crlf(void **state)
{
    static const char text[] = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 8080\r\nGET / HTTP/1.1\r\n";
    static const char text6[] = "PROXY TCP6 2001:db8::7 2001:db8::1 443 8080\r\nGET";
    struct proxyproto p;
    char buf[64];
    size_t used = feed_both_ways(&p, (const unsigned char *)text, strlen(text));

    assert_int_equal(p.state, PROXYPROTO_DONE);
    assert_int_equal(used, strlen("PROXY TCP4 203.0.113.7 192.0.2.1 51234 8080\r\n"));
    assert_true(p.has_client);
    assert_string_equal(client_text(&p, buf, sizeof(buf)), "203.0.113.7");
    assert_int_equal(client_port(&p), 51234);
    /* Nothing more is read once done. */
    assert_int_equal(proxyproto_feed(&p, (const unsigned char *)"x", 1), 0);

    used = feed_both_ways(&p, (const unsigned char *)text6, strlen(text6));
    assert_int_equal(p.state, PROXYPROTO_DONE);
    assert_int_equal(used, strlen(text6) - 3);
    assert_string_equal(client_text(&p, buf, sizeof(buf)), "2001:db8::7");
    assert_int_equal(client_port(&p), 443);
}

static void unknown_names_no_client(void **state)
{
    static const char *const texts[] = {"PROXY UNKNOWN\r\n",
                                        "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"};
    struct proxyproto p;
    size_t i;

    for (i = 0; i < 2; i++) {
        size_t used = feed_both_ways(&p, (const unsigned char *)texts[i], strlen(texts[i]));

        assert_int_equal(p.state, PROXYPROTO_DONE);
        assert_int_equal(used, strlen(texts[i]));
        assert_false(p.has_client);
    }
}

static void a_malformed_v1_header_is_invalid(void **state)
{
    static const char *const texts[] = {
        "GET / HTTP/1.1\r\n",                              /* a request, not a header */
        "PROXY\r\n",                                       /* nothing after PROXY */
        "PROXY TCP4 203.0.113.7 192.0.2.1 51234\r\n",      /* a port missing */
        "PROXY TCP4 203.0.113.7 192.0.2.1 51234 80 x\r\n", /* one field too many */
        "PROXY TCP4 2001:db8::7 192.0.2.1 51234 80\r\n",   /* not IPv4 */
        "PROXY TCP6 203.0.113.7 2001:db8::1 51234 80\r\n", /* not IPv6 */
        "PROXY TCP4 203.0.113.7 192.0.2.1 65536 80\r\n",   /* port out of range */
        "PROXY TCP4 203.0.113.7 192.0.2.1 -1 80\r\n",      /* not a number */
        "PROXY TCP4  203.0.113.7 192.0.2.1 1 80\r\n",      /* two spaces */
        "PROXY UDP4 203.0.113.7 192.0.2.1 1 80\r\n",       /* not TCP */
        "PROXY TCP4 203.0.113.7 192.0.2.1 1 80\n",         /* LF without CR */
        "proxy TCP4 203.0.113.7 192.0.2.1 1 80\r\n",       /* case matters */
    };
    struct proxyproto p;
    unsigned char longer[200];
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        feed_both_ways(&p, (const unsigned char *)texts[i], strlen(texts[i]));
        assert_int_equal(p.state, PROXYPROTO_INVALID);
        assert_non_null(p.why);
    }
    /* No CRLF within 107 bytes. */
    memcpy(longer, "PROXY UNKNOWN ", 14);
    memset(longer + 14, 'a', sizeof(longer) - 14);
    feed_both_ways(&p, longer, sizeof(longer));
    assert_int_equal(p.state, PROXYPROTO_INVALID);
    /* A request is refused at its first byte: nothing of it consumed. */
    proxyproto_init(&p);
    assert_int_equal(proxyproto_feed(&p, (const unsigned char *)"GET /", 5), 0);
    assert_int_equal(p.state, PROXYPROTO_INVALID);
}

/* ---------------------------------------------------------- PROXY v2 */

static void a_v2_header_names_the_client_and_skips_its_tlvs(void **state)
{
    unsigned char h[600];
    struct proxyproto p;
    char buf[64];
    size_t n = v2_header(h, 1, 0x11, "198.51.100.9", 40000, 0), used;

    memcpy(h + n, "GET", 3);
    used = feed_both_ways(&p, h, n + 3);
    assert_int_equal(p.state, PROXYPROTO_DONE);
    assert_int_equal(used, n);
    assert_true(p.has_client);
    assert_string_equal(client_text(&p, buf, sizeof(buf)), "198.51.100.9");
    assert_int_equal(client_port(&p), 40000);

    n = v2_header(h, 1, 0x21, "2001:db8:1::9", 1234, 500);
    used = feed_both_ways(&p, h, n);
    assert_int_equal(p.state, PROXYPROTO_DONE);
    assert_int_equal(used, n);
    assert_string_equal(client_text(&p, buf, sizeof(buf)), "2001:db8:1::9");
    assert_int_equal(client_port(&p), 1234);
}

static void a_v2_local_header_names_no_client(void **state)
{
    unsigned char h[64];
    struct proxyproto p;
    size_t n = v2_header(h, 0, 0x00, NULL, 0, 0);

    assert_int_equal(feed_both_ways(&p, h, n), n);
    assert_int_equal(p.state, PROXYPROTO_DONE);
    assert_false(p.has_client);
    /* LOCAL with addresses (HAProxy's health checks may send them). */
    n = v2_header(h, 0, 0x11, "127.0.0.1", 1, 0);
    assert_int_equal(feed_both_ways(&p, h, n), n);
    assert_false(p.has_client);
}

static void a_malformed_v2_header_is_invalid(void **state)
{
    unsigned char h[64];
    struct proxyproto p;
    size_t n;

    n = v2_header(h, 1, 0x11, "198.51.100.9", 1, 0);
    h[12] = 0x11; /* version 1 in a v2 header */
    feed_both_ways(&p, h, n);
    assert_int_equal(p.state, PROXYPROTO_INVALID);
    n = v2_header(h, 1, 0x11, "198.51.100.9", 1, 0);
    h[12] = 0x22; /* command 2 */
    feed_both_ways(&p, h, n);
    assert_int_equal(p.state, PROXYPROTO_INVALID);
    n = v2_header(h, 1, 0x11, "198.51.100.9", 1, 0);
    h[7] = 0x50; /* a wrong signature byte */
    feed_both_ways(&p, h, n);
    assert_int_equal(p.state, PROXYPROTO_INVALID);
    /* TCP over IPv4 with a length shorter than its addresses. */
    n = v2_header(h, 1, 0x11, "198.51.100.9", 1, 0);
    h[15] = 4;
    feed_both_ways(&p, h, 20);
    assert_int_equal(p.state, PROXYPROTO_INVALID);
}

/* ------------------------------------------------- in the scan (rxscan) */

static void the_scan_stops_after_the_header_then_reads_the_request(void **state)
{
    static const char text[] = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 8080\r\nGET /ws "
                               "HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    size_t header = strlen("PROXY TCP4 203.0.113.7 192.0.2.1 51234 8080\r\n"), used;
    struct rxscan s;

    rxscan_init_proxied(&s);
    assert_int_equal(s.mode, RXSCAN_PROXY);
    used = rxscan_feed(&s, (const unsigned char *)text, strlen(text));
    assert_int_equal(used, header);
    assert_int_equal(s.mode, RXSCAN_PROXIED);
    assert_true(s.proxy.has_client);
    /* Nothing more until the caller has taken the client. */
    assert_int_equal(rxscan_feed(&s, (const unsigned char *)text + used, 1), 0);
    rxscan_proxied(&s);
    assert_int_equal(s.mode, RXSCAN_HEAD);
    used = rxscan_feed(&s, (const unsigned char *)text + header, strlen(text) - header);
    assert_int_equal(used, strlen(text) - header);
    assert_int_equal(s.mode, RXSCAN_DECIDE);

    /* A request where the header should be: a verdict, nothing read. */
    rxscan_init_proxied(&s);
    assert_int_equal(rxscan_feed(&s, (const unsigned char *)"GET / HTTP/1.1\r\n", 16), 0);
    assert_int_equal(s.mode, RXSCAN_VERDICT);
    assert_int_equal(s.verdict, RXSCAN_BAD_PROXY);

    /* Without a balancer, a header is what any client may send: a head
     * line like another (lws refuses it). */
    rxscan_init(&s);
    assert_int_equal(rxscan_feed(&s, (const unsigned char *)text, header), header);
    assert_int_equal(s.mode, RXSCAN_HEAD);
}

/* ------------------------------------------------------------ addrlimit */

static struct throttle_key key_v4(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct throttle_key k;

    assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
    throttle_key_of((struct sockaddr *)&in, &k);
    return k;
}

static void connections_are_counted_per_address_up_to_the_limit(void **state)
{
    struct addrlimit *t = addrlimit_new(7);
    struct throttle_key a = key_v4("192.0.2.1"), b = key_v4("192.0.2.2");
    int i;

    for (i = 0; i < 3; i++)
        assert_int_equal(addrlimit_connect(t, &a, 3), 0);
    assert_int_equal(addrlimit_connect(t, &a, 3), -1);
    assert_int_equal(addrlimit_connections(t, &a), 3);
    /* Another address has its own count. */
    assert_int_equal(addrlimit_connect(t, &b, 3), 0);
    assert_int_equal(addrlimit_addresses(t), 2);
    addrlimit_disconnect(t, &a);
    assert_int_equal(addrlimit_connect(t, &a, 3), 0);
    /* A refused address that held nothing leaves no entry behind. */
    {
        struct throttle_key c = key_v4("192.0.2.3");

        assert_int_equal(addrlimit_connect(t, &c, 0), -1);
        assert_int_equal(addrlimit_addresses(t), 2);
    }
    for (i = 0; i < 3; i++)
        addrlimit_disconnect(t, &a);
    addrlimit_disconnect(t, &b);
    assert_int_equal(addrlimit_addresses(t), 0);
    addrlimit_free(t);
}

static void subscriptions_are_counted_per_address_all_or_nothing(void **state)
{
    struct addrlimit *t = addrlimit_new(7);
    struct throttle_key a = key_v4("192.0.2.1");

    assert_int_equal(addrlimit_connect(t, &a, 10), 0);
    assert_int_equal(addrlimit_subscribe(t, &a, 60, 100), 0);
    assert_int_equal(addrlimit_subscribe(t, &a, 41, 100), -1);
    assert_int_equal(addrlimit_subscriptions(t, &a), 60);
    assert_int_equal(addrlimit_subscribe(t, &a, 40, 100), 0);
    assert_int_equal(addrlimit_subscribe(t, &a, 0, 100), 0);
    /* The connection goes before its subscriptions: the entry stays
     * until both are 0. */
    addrlimit_disconnect(t, &a);
    assert_int_equal(addrlimit_addresses(t), 1);
    addrlimit_unsubscribe(t, &a, 100);
    assert_int_equal(addrlimit_addresses(t), 0);
    assert_int_equal(addrlimit_subscriptions(t, &a), 0);
    addrlimit_free(t);
}

static void the_table_grows_with_the_addresses_and_shrinks_back(void **state)
{
    struct addrlimit *t = addrlimit_new(99);
    struct throttle_key k;
    char text[32];
    int i;

    for (i = 0; i < 5000; i++) {
        snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
        k = key_v4(text);
        assert_int_equal(addrlimit_connect(t, &k, 1), 0);
        assert_int_equal(addrlimit_connect(t, &k, 1), -1);
    }
    assert_int_equal(addrlimit_addresses(t), 5000);
    for (i = 0; i < 5000; i++) {
        snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
        k = key_v4(text);
        assert_int_equal(addrlimit_connections(t, &k), 1);
        addrlimit_disconnect(t, &k);
    }
    assert_int_equal(addrlimit_addresses(t), 0);
    addrlimit_free(t);
    addrlimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_v1_header_names_the_client_and_ends_at_its_crlf),
        cmocka_unit_test(unknown_names_no_client),
        cmocka_unit_test(a_malformed_v1_header_is_invalid),
        cmocka_unit_test(a_v2_header_names_the_client_and_skips_its_tlvs),
        cmocka_unit_test(a_v2_local_header_names_no_client),
        cmocka_unit_test(a_malformed_v2_header_is_invalid),
        cmocka_unit_test(the_scan_stops_after_the_header_then_reads_the_request),
        cmocka_unit_test(connections_are_counted_per_address_up_to_the_limit),
        cmocka_unit_test(subscriptions_are_counted_per_address_all_or_nothing),
        cmocka_unit_test(the_table_grows_with_the_addresses_and_shrinks_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
