/* test_gateway_hostile.c -- unit tests of what bounds a hostile client's
 * cost: the wrong-token throttle (gateway/throttle.c), the rate of the log
 * lines a client causes (gateway/lograte.c), the scan of what lws reads
 * (gateway/rxscan.c: heads too large, unmasked frames), the files a path
 * may reach (gateway/webpath.c: dotfiles, symbolic links out of web_root)
 * and the default names of the Host check (gateway/hostnames.c). */

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
#include <unistd.h>

#include <cmocka.h>

#include "../../gateway/hostnames.h"
#include "../../gateway/lograte.h"
#include "../../gateway/rxscan.h"
#include "../../gateway/throttle.h"
#include "../../gateway/webpath.h"

/* ------------------------------------------------------------ throttle */

static struct throttle throttle;

static struct throttle_key v4(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct throttle_key k;

    assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
    throttle_key_of((struct sockaddr *)&in, &k);
    return k;
}

static struct throttle_key v6(const char *text)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    struct throttle_key k;

    assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
    throttle_key_of((struct sockaddr *)&in6, &k);
    return k;
}

static void an_address_is_blocked_after_too_many_failures_in_the_window(void **state)
{
    struct throttle_key a = v4("192.0.2.1"), b = v4("192.0.2.2");
    uint64_t t = 1000000;
    int i;

    throttle_init(&throttle, 42);
    for (i = 1; i < THROTTLE_FAILURES; i++) {
        assert_int_equal(throttle_failure(&throttle, &a, t + (uint64_t)i), 0);
        assert_int_equal(throttle_blocked(&throttle, &a, t + (uint64_t)i), 0);
    }
    assert_int_equal(throttle_failure(&throttle, &a, t + 100), 1);
    assert_int_equal(throttle_blocked(&throttle, &a, t + 100), THROTTLE_BLOCK_MS);
    assert_int_equal(throttle_blocked(&throttle, &a, t + 1100), THROTTLE_BLOCK_MS - 1000);
    assert_int_equal(throttle_blocked(&throttle, &b, t + 100), 0); /* another address */
    assert_int_equal(throttle_blocked(&throttle, &a, t + 100 + THROTTLE_BLOCK_MS), 0);
    /* After the block, a new window: one failure does not block again. */
    assert_int_equal(throttle_failure(&throttle, &a, t + 100 + THROTTLE_BLOCK_MS), 0);
}

static void failures_spread_beyond_the_window_never_block(void **state)
{
    struct throttle_key a = v4("192.0.2.1");
    uint64_t t = 5000;
    int i;

    throttle_init(&throttle, 7);
    for (i = 0; i < 5 * THROTTLE_FAILURES; i++) {
        assert_int_equal(throttle_failure(&throttle, &a, t), 0);
        t += THROTTLE_WINDOW_MS / (THROTTLE_FAILURES - 1) + 1;
    }
}

static void ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4(void **state)
{
    struct throttle_key a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
                        c = v6("2001:db8:1:3::1"), m = v6("::ffff:192.0.2.1"), d = v4("192.0.2.1");
    struct throttle_key none;
    int i;

    assert_memory_equal(&a, &b, sizeof(a));
    assert_memory_not_equal(&a, &c, sizeof(a));
    assert_memory_equal(&m, &d, sizeof(m));
    throttle_key_of(NULL, &none);
    assert_int_equal(none.family, 0);
    throttle_init(&throttle, 1);
    for (i = 0; i < THROTTLE_FAILURES; i++)
        throttle_failure(&throttle, &a, 10);
    assert_true(throttle_blocked(&throttle, &b, 11) > 0);
    assert_int_equal(throttle_blocked(&throttle, &c, 11), 0);
    for (i = 0; i < 2 * THROTTLE_FAILURES; i++) /* no address: never counted */
        assert_int_equal(throttle_failure(&throttle, &none, 10), 0);
}

/* Many addresses never grow the table; the oldest unblocked go first. */
static void the_table_is_bounded_and_forgets_the_least_recent(void **state)
{
    struct throttle_key first = v4("198.51.100.1"), k;
    struct sockaddr_in in = {.sin_family = AF_INET};
    uint32_t i;
    int j;

    throttle_init(&throttle, 99);
    for (j = 0; j < THROTTLE_FAILURES; j++)
        throttle_failure(&throttle, &first, 100);
    assert_true(throttle_blocked(&throttle, &first, 101) > 0);
    /* 16 addresses per slot: every bucket fills up many times over. */
    for (i = 0; i < 16u * THROTTLE_BUCKETS * THROTTLE_WAYS; i++) {
        in.sin_addr.s_addr = htonl(0x0a000000u + i);
        throttle_key_of((struct sockaddr *)&in, &k);
        throttle_failure(&throttle, &k, 200 + i / 64); /* within the block */
    }
    /* The blocked one is evicted last: still blocked unless its bucket
     * held THROTTLE_WAYS blocked ones, which one failure each never are. */
    assert_true(throttle_blocked(&throttle, &first, 300) > 0);
}

/* ------------------------------------------------------------- lograte */

static void log_lines_come_in_a_burst_then_one_a_second_with_a_count(void **state)
{
    struct lograte r = {0};
    uint64_t suppressed = 99, t = 50000;
    int i, written = 0;

    for (i = 0; i < LOGRATE_BURST; i++) {
        assert_true(lograte_allow(&r, t, &suppressed));
        assert_int_equal(suppressed, 0);
    }
    for (i = 0; i < 1000; i++)
        assert_false(lograte_allow(&r, t + (uint64_t)i, &suppressed));
    assert_true(lograte_allow(&r, t + LOGRATE_INTERVAL_MS, &suppressed));
    assert_int_equal(suppressed, 1000);
    /* 11,800 attempts a second for 5 s: about a line a second. */
    for (i = 0; i < 5 * 11800; i++)
        written +=
            lograte_allow(&r, t + LOGRATE_INTERVAL_MS + (uint64_t)i * 5000 / 59000, &suppressed);
    assert_in_range(written, 4, 6);
}

/* -------------------------------------------------------------- rxscan */

static struct rxscan scan;

static size_t feed(const char *text)
{
    return rxscan_feed(&scan, (const unsigned char *)text, strlen(text));
}

static void ordinary_requests_pass_on_a_kept_connection(void **state)
{
    static const char two[] = "GET /index.html HTTP/1.1\r\nHost: gw\r\n\r\n"
                              "GET /app.js HTTP/1.1\nHost: gw\n\n";

    rxscan_init(&scan);
    assert_int_equal(feed(two), strlen(two));
    assert_int_equal(scan.mode, RXSCAN_HEAD);
    assert_int_equal(scan.verdict, RXSCAN_OK);
    assert_int_equal(scan.heads, 2);
    /* A head in pieces: it has ended only with its empty line (what
     * lobby.c waits for); empty lines before a request line are none. */
    rxscan_init(&scan);
    assert_int_equal(feed("\r\n\r\nGET / HT"), 12);
    assert_int_equal(feed("TP/1.1\r\nHo"), 10);
    assert_int_equal(feed("st: gw\r\n"), 8);
    assert_int_equal(scan.heads, 0);
    assert_int_equal(feed("\r\n"), 2);
    assert_int_equal(scan.heads, 1);
    assert_int_equal(scan.mode, RXSCAN_HEAD);
}

static void a_long_request_line_is_414_and_a_large_head_431(void **state)
{
    char *text = malloc(RXSCAN_HEAD_MAX * 2);
    size_t n;
    int i;

    rxscan_init(&scan);
    memset(text, 'a', RXSCAN_LINE_MAX + 10);
    memcpy(text, "GET /", 5);
    text[RXSCAN_LINE_MAX + 10] = '\0';
    n = feed(text);
    assert_int_equal(n, RXSCAN_LINE_MAX + 1);
    assert_int_equal(scan.mode, RXSCAN_VERDICT);
    assert_int_equal(scan.verdict, RXSCAN_URI_TOO_LONG);
    assert_int_equal(feed("more"), 0); /* stopped */

    rxscan_init(&scan);
    strcpy(text, "GET /ws?a");
    for (i = 0; i <= RXSCAN_ARGS_MAX; i++)
        strcat(text, "&a");
    feed(text);
    assert_int_equal(scan.verdict, RXSCAN_URI_TOO_LONG);

    rxscan_init(&scan);
    feed("GET / HTTP/1.1\r\nHost: gw\r\nX-Big: ");
    memset(text, 'b', RXSCAN_HEAD_MAX);
    text[RXSCAN_HEAD_MAX] = '\0';
    feed(text);
    assert_int_equal(scan.verdict, RXSCAN_HEAD_TOO_LARGE);

    rxscan_init(&scan);
    feed("GET / HTTP/1.1\r\n");
    for (i = 0; i < RXSCAN_FIELDS_MAX; i++)
        feed("a: b\r\n");
    assert_int_equal(scan.mode, RXSCAN_HEAD);
    feed("a: b\r\n");
    assert_int_equal(scan.verdict, RXSCAN_HEAD_TOO_LARGE);
    free(text);
}

/* What follows an upgrade waits for the server's decision. */
static void an_upgrade_head_stops_the_scan_until_the_server_decides(void **state)
{
    static const char up[] = "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n\r\n";
    /* A masked text frame "hi", then a masked close with no payload. */
    static const unsigned char frames[] = {0x81,    0x82, 1,    2, 3, 4, 'h' ^ 1,
                                           'i' ^ 2, 0x88, 0x80, 9, 9, 9, 9};
    char both[sizeof(up) + 8];

    rxscan_init(&scan);
    snprintf(both, sizeof(both), "%sGET /", up);
    assert_int_equal(feed(both), strlen(up));
    assert_int_equal(scan.mode, RXSCAN_DECIDE);
    assert_int_equal(scan.heads, 1);
    assert_int_equal(feed("more"), 0);
    rxscan_http(&scan); /* refused: another request follows */
    assert_int_equal(scan.mode, RXSCAN_HEAD);
    assert_int_equal(feed("GET / HTTP/1.1\r\n\r\n"), 18);

    feed(up);
    rxscan_websocket(&scan);
    assert_int_equal(scan.mode, RXSCAN_FRAMES);
    assert_int_equal(rxscan_feed(&scan, frames, sizeof(frames)), sizeof(frames));
    assert_int_equal(scan.verdict, RXSCAN_OK);
    /* "Connection: Upgrade" alone is no upgrade. */
    rxscan_init(&scan);
    feed("GET / HTTP/1.1\r\nConnection: Upgrade\r\nX-Upgrade: 1\r\n\r\n");
    assert_int_equal(scan.mode, RXSCAN_HEAD);
}

static void an_unmasked_frame_is_a_verdict_whatever_its_length(void **state)
{
    /* 16-bit and 64-bit lengths, payloads split across reads. */
    unsigned char big[4 + 4 + 300], huge[2 + 8 + 4 + 70000];
    static const unsigned char unmasked[] = {0x81, 0x05, 'h', 'e', 'l', 'l', 'o'};
    static const unsigned char ping[] = {0x89, 0x00};

    memset(big, 0, sizeof(big));
    big[0] = 0x81;
    big[1] = 0x80 | 126;
    big[2] = 300 >> 8;
    big[3] = 300 & 0xff;
    memset(huge, 0, sizeof(huge));
    huge[0] = 0x82;
    huge[1] = 0x80 | 127;
    huge[7] = 70000 >> 16;
    huge[8] = (70000 >> 8) & 0xff;
    huge[9] = 70000 & 0xff;

    rxscan_init(&scan);
    feed("GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n");
    rxscan_websocket(&scan);
    assert_int_equal(rxscan_feed(&scan, big, 100), 100);
    assert_int_equal(rxscan_feed(&scan, big + 100, sizeof(big) - 100), sizeof(big) - 100);
    assert_int_equal(rxscan_feed(&scan, huge, sizeof(huge)), sizeof(huge));
    assert_int_equal(scan.verdict, RXSCAN_OK);
    assert_int_equal(rxscan_feed(&scan, unmasked, sizeof(unmasked)), 2);
    assert_int_equal(scan.mode, RXSCAN_VERDICT);
    assert_int_equal(scan.verdict, RXSCAN_UNMASKED);

    rxscan_init(&scan);
    feed("GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n");
    rxscan_websocket(&scan);
    rxscan_feed(&scan, ping, sizeof(ping)); /* a control frame too */
    assert_int_equal(scan.verdict, RXSCAN_UNMASKED);
}

/* ------------------------------------------------------------- webpath */

static void dotfiles_and_dot_directories_are_never_files(void **state)
{
    char path[WEBPATH_MAX];

    assert_int_equal(webpath_file("/app.js", 7, "/srv/web", path, sizeof(path)), 0);
    assert_string_equal(path, "/srv/web/app.js");
    assert_int_equal(webpath_file("/vendor/uPlot.esm.js", 20, "/srv/web", path, sizeof(path)), 0);
    assert_int_equal(webpath_file("/a.b/c.d", 8, "/srv/web", path, sizeof(path)), 0);
    assert_int_equal(webpath_file("/.env", 5, "/srv/web", path, sizeof(path)), -1);
    assert_int_equal(webpath_file("/.git/config", 12, "/srv/web", path, sizeof(path)), -1);
    assert_int_equal(webpath_file("/vendor/.hidden", 15, "/srv/web", path, sizeof(path)), -1);
    assert_int_equal(webpath_file("/..", 3, "/srv/web", path, sizeof(path)), -1);
    assert_int_equal(webpath_file("/a/.", 4, "/srv/web", path, sizeof(path)), -1);
}

static void a_resolved_path_must_stay_inside_web_root(void **state)
{
    assert_true(webpath_inside("/srv/web", "/srv/web"));
    assert_true(webpath_inside("/srv/web", "/srv/web/index.html"));
    assert_true(webpath_inside("/srv/web", "/srv/web/vendor/uPlot.esm.js"));
    assert_false(webpath_inside("/srv/web", "/etc/passwd"));
    assert_false(webpath_inside("/srv/web", "/srv/web-old/index.html"));
    assert_false(webpath_inside("/srv/web", "/srv"));
    assert_false(webpath_inside("/srv/web", "/srv/web/.git/config"));
    assert_false(webpath_inside("/srv/web", "/srv/web/a/.env"));
    assert_true(webpath_inside("/", "/srv/web/index.html"));
    assert_false(webpath_inside("/", "/root/.ssh/id_rsa"));
}

/* ----------------------------------------------------------- hostnames */

static int listed(char **names, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static void default_names_are_local_and_the_machines_own(void **state)
{
    char self[256], file[] = "/tmp/test_hostnames_XXXXXX", line[600];
    char **names;
    size_t n, i;
    int fd;
    FILE *f;

    assert_int_equal(gethostname(self, sizeof(self)), 0);
    for (i = 0; self[i]; i++)
        self[i] = (char)(self[i] >= 'A' && self[i] <= 'Z' ? self[i] - 'A' + 'a' : self[i]);
    fd = mkstemp(file);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    snprintf(line, sizeof(line),
             "# comment %s\n192.0.2.9 Full.Example.NET. %s other # x\n"
             "192.0.2.10 not-mine\n",
             self, self);
    fputs(line, f);
    fclose(f);
    names = hostnames_default("gw.listen.example", file, &n);
    unlink(file);
    assert_true(listed(names, n, "gw.listen.example"));
    assert_true(listed(names, n, "localhost"));
    assert_true(listed(names, n, "127.0.0.1"));
    assert_true(listed(names, n, "::1"));
    assert_true(listed(names, n, self));
    assert_true(listed(names, n, "full.example.net"));
    assert_true(listed(names, n, "other"));
    assert_false(listed(names, n, "not-mine"));
    assert_false(listed(names, n, "comment"));
    for (i = 0; i < n; i++) /* no duplicates */
        assert_int_equal(listed(names + i + 1, n - i - 1, names[i]), 0);
    hostnames_free(names, n);
    names = hostnames_default("127.0.0.1", "/nonexistent/hosts", &n);
    assert_true(listed(names, n, "localhost"));
    hostnames_free(names, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_address_is_blocked_after_too_many_failures_in_the_window),
        cmocka_unit_test(failures_spread_beyond_the_window_never_block),
        cmocka_unit_test(ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4),
        cmocka_unit_test(the_table_is_bounded_and_forgets_the_least_recent),
        cmocka_unit_test(log_lines_come_in_a_burst_then_one_a_second_with_a_count),
        cmocka_unit_test(ordinary_requests_pass_on_a_kept_connection),
        cmocka_unit_test(a_long_request_line_is_414_and_a_large_head_431),
        cmocka_unit_test(an_upgrade_head_stops_the_scan_until_the_server_decides),
        cmocka_unit_test(an_unmasked_frame_is_a_verdict_whatever_its_length),
        cmocka_unit_test(dotfiles_and_dot_directories_are_never_files),
        cmocka_unit_test(a_resolved_path_must_stay_inside_web_root),
        cmocka_unit_test(default_names_are_local_and_the_machines_own),
    };

    return cmocka_run_group_tests_name("gateway hostile clients", tests, NULL, NULL);
}
