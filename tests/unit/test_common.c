/* test_common.c -- common/: JSON quoting is what jansson writes for valid
 * UTF-8 and replaces exactly the invalid bytes otherwise; key builders
 * refuse, never cut, what exceeds their limits; channel kinds. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "json_check.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "loopstat.h"

/* jansson's own quoting of a valid string. */
static char *jansson_quote(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    char *out;

    assert_non_null(j);
    out = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    return out;
}

static void assert_quotes_as_jansson(const char *s, size_t len)
{
    size_t n, replaced = 99;
    char *mine = ifmon_json_quote(s, len, &n, &replaced);
    char *theirs = jansson_quote(s, len);

    assert_string_equal(mine, theirs);
    assert_int_equal(n, strlen(theirs));
    assert_int_equal(replaced, 0);
    assert_true(n <= IFMON_JSON_QUOTED_MAX(len));
    free(mine);
    free(theirs);
}

static void quotes_valid_utf8_exactly_as_jansson(void **state)
{
    static const char every_escape[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f end";
    char all_ascii[128];
    unsigned seed = 1;
    int i, round;

    (void)state;
    assert_quotes_as_jansson("", 0);
    assert_quotes_as_jansson("ge-0/0/0", 8);
    assert_quotes_as_jansson(every_escape, sizeof(every_escape) - 1);
    assert_quotes_as_jansson("nul\0inside", 10);
    assert_quotes_as_jansson("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa1", 14);
    for (i = 0; i < 128; i++)
        all_ascii[i] = (char)i;
    assert_quotes_as_jansson(all_ascii, sizeof(all_ascii));
    /* Random mixes of ASCII and multi-byte characters. */
    for (round = 0; round < 2000; round++) {
        static const char *const pieces[] = {"a", "\"", "\\", "\n", "\x02", "\xc3\xa9",
                                             "\xe2\x82\xac", "\xf0\x9f\x93\xa1", "\xef\xbf\xbf"};
        char buf[256];
        size_t len = 0;

        while (len < 200) {
            const char *p;

            seed = seed * 1103515245u + 12345u;
            p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
            memcpy(buf + len, p, strlen(p));
            len += strlen(p);
            if ((seed >> 8) % 17 == 0)
                break;
        }
        assert_quotes_as_jansson(buf, len);
    }
}

static void replaces_each_invalid_byte_and_keeps_the_rest(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
        size_t replaced;
    } cases[] = {
        {"Ethernet \xe9t\xe9", 12, "\"Ethernet ?t?\"", 2},   /* Latin-1 */
        {"\xc3\xa9\xe9", 3, "\"\xc3\xa9?\"", 1},             /* valid, then not */
        {"\xc0\xaf", 2, "\"??\"", 2},                        /* overlong '/' */
        {"\xed\xa0\x80", 3, "\"???\"", 3},                   /* a surrogate */
        {"\xf4\x90\x80\x80", 4, "\"????\"", 4},              /* above U+10FFFF */
        {"\xe2\x82", 2, "\"??\"", 2},                        /* cut short */
        {"\x80\x80", 2, "\"??\"", 2},                        /* lone continuations */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n, replaced;
        char *q = ifmon_json_quote(cases[i].in, cases[i].len, &n, &replaced);
        json_error_t err;
        json_t *back = json_loads(q, JSON_DECODE_ANY, &err);

        assert_string_equal(q, cases[i].out);
        assert_int_equal(replaced, cases[i].replaced);
        assert_non_null(back); /* always valid JSON */
        json_decref(back);
        free(q);
    }
}

static void finds_the_longest_valid_prefix(void **state)
{
    (void)state;
    assert_int_equal(ifmon_utf8_valid_prefix("abc", 3), 3);
    assert_int_equal(ifmon_utf8_valid_prefix("ab\xc3\xa9", 4), 4);
    assert_int_equal(ifmon_utf8_valid_prefix("ab\xc3\xa9", 3), 2); /* would cut é */
    assert_int_equal(ifmon_utf8_valid_prefix("ab\xe9z", 4), 2);
    assert_int_equal(ifmon_utf8_valid_prefix("", 0), 0);
}

/* An agent's Latin-1 ifDescr becomes readable UTF-8; UTF-8 is kept. */
static void agent_text_is_utf8_or_read_as_latin1(void **state)
{
    int conv;
    char *t;

    (void)state;
    t = ifmon_utf8_or_latin1("f\xfcr Gesch\xe4" "ft", 12, 255, &conv);
    assert_string_equal(t, "f\xc3\xbcr Gesch\xc3\xa4" "ft");
    assert_int_equal(conv, 1);
    free(t);
    t = ifmon_utf8_or_latin1("f\xc3\xbcr", 5, 255, &conv);
    assert_string_equal(t, "f\xc3\xbcr");
    assert_int_equal(conv, 0);
    free(t);
    /* Up to the first NUL (some agents count the terminator). */
    t = ifmon_utf8_or_latin1("eth0\0junk", 9, 255, NULL);
    assert_string_equal(t, "eth0");
    free(t);
    /* At most max bytes, never half a character. */
    t = ifmon_utf8_or_latin1("ab\xe9", 3, 3, &conv);
    assert_string_equal(t, "ab");
    free(t);
    t = ifmon_utf8_or_latin1("ab\xc3\xa9", 4, 3, &conv);
    assert_string_equal(t, "ab");
    free(t);
    t = ifmon_utf8_or_latin1("\x80\xff", 2, 255, NULL);
    assert_string_equal(t, "\xc2\x80\xc3\xbf");
    assert_int_equal(ifmon_utf8_valid_prefix(t, strlen(t)), strlen(t));
    free(t);
}

static void builds_every_name_of_the_protocol(void **state)
{
    struct ifmon_key k;

    (void)state;
    assert_int_equal(ifmon_key_inventory(&k, "ifmon"), 0);
    assert_string_equal(k.s, "ifmon:inventory");
    assert_int_equal(k.len, strlen(k.s));
    assert_int_equal(ifmon_key_device(&k, "ifmon", "tokyo-edge1"), 0);
    assert_string_equal(k.s, "ifmon:tokyo-edge1");
    assert_int_equal(ifmon_key_interface(&k, "ifmon", "tokyo-edge1", "ge-0/0/0:1"), 0);
    assert_string_equal(k.s, "ifmon:tokyo-edge1:ge-0/0/0:1");
    assert_int_equal(ifmon_key_history(&k, "ifmon", "tokyo-edge1", "ge-0/0/0:1"), 0);
    assert_string_equal(k.s, "ifmon:history:tokyo-edge1:ge-0/0/0:1");
    assert_int_equal(ifmon_key_history_of(&k, "ifmon", "ifmon:tokyo-edge1:ge-0/0/0:1"), 0);
    assert_string_equal(k.s, "ifmon:history:tokyo-edge1:ge-0/0/0:1");
    assert_int_equal(ifmon_key_history_of(&k, "ifmon", "ifmon:tokyo-edge1"), -1);
    assert_int_equal(ifmon_key_history_of(&k, "ifmon", "other:a:b"), -1);
    assert_string_equal(k.s, "");
}

static void refuses_rather_than_cuts_a_long_name(void **state)
{
    char name[IFMON_CHANNEL_MAX + 2];
    struct ifmon_key k;
    size_t fits = IFMON_CHANNEL_MAX - strlen("ifmon:d:");

    (void)state;
    memset(name, 'x', sizeof(name));
    name[fits] = '\0';
    assert_int_equal(ifmon_key_interface(&k, "ifmon", "d", name), 0);
    assert_int_equal(k.len, IFMON_CHANNEL_MAX);
    /* Its history key is longer than a channel, and still fits a key. */
    assert_int_equal(ifmon_key_history(&k, "ifmon", "d", name), 0);
    assert_true(k.len > IFMON_CHANNEL_MAX && k.len <= IFMON_KEY_MAX);
    name[fits] = 'x';
    name[fits + 1] = '\0';
    assert_int_equal(ifmon_key_interface(&k, "ifmon", "d", name), -1);
    assert_int_equal(k.len, 0);
    assert_string_equal(k.s, "");
}

static void tells_the_kind_of_a_channel(void **state)
{
    (void)state;
    assert_int_equal(ifmon_channel_kind("ifmon:inventory", "ifmon"), IFMON_CHANNEL_INVENTORY);
    assert_int_equal(ifmon_channel_kind("ifmon:r1", "ifmon"), IFMON_CHANNEL_DEVICE);
    assert_int_equal(ifmon_channel_kind("ifmon:r1:eth0", "ifmon"), IFMON_CHANNEL_INTERFACE);
    assert_int_equal(ifmon_channel_kind("ifmon:r1:a:b c", "ifmon"), IFMON_CHANNEL_INTERFACE);
    assert_int_equal(ifmon_channel_kind("ifmon:", "ifmon"), IFMON_CHANNEL_OTHER);
    assert_int_equal(ifmon_channel_kind("ifmonx:r1", "ifmon"), IFMON_CHANNEL_OTHER);
    assert_int_equal(ifmon_channel_kind("ifmo", "ifmon"), IFMON_CHANNEL_OTHER);
}

/* What ifmon_log_msg writes, caught on a pipe in place of stderr. */
static size_t capture_log(char *out, size_t cap, const char *fmt, const char *arg)
{
    int fds[2], saved = dup(STDERR_FILENO);
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    dup2(fds[1], STDERR_FILENO);
    ifmon_log_msg(LOG_LEVEL_WARN, fmt, arg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    n = read(fds[0], out, cap - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
    return (size_t)n;
}

/* An agent's interface name or a client's channel in a log line cannot end
 * the line or forge another entry. */
static void a_log_line_is_one_line_whatever_it_quotes(void **state)
{
    char out[4096];
    size_t n;
    char *huge = malloc(10000);

    (void)state;
    ifmon_log_init("test_common", LOG_LEVEL_DEBUG);
    n = capture_log(out, sizeof(out), "interface \"%s\" moved",
                    "eth0\n2026-12-01T00:00:00.000Z ifmon-collector[1]: error: forged\r\t\x1b[31m\x7f");
    assert_int_equal(out[n - 1], '\n');
    assert_null(memchr(out, '\n', n - 1));
    assert_null(memchr(out, '\r', n));
    assert_null(memchr(out, 0x1b, n));
    assert_non_null(strstr(out, "warning: interface \"eth0\\n2026-12-01T00:00:00.000Z ifmon-collector[1]: "
                                "error: forged\\r\\t\\x1b[31m\\x7f\" moved\n"));
    /* A message longer than a line is cut, still one line. */
    memset(huge, '\n', 9999);
    huge[9999] = '\0';
    n = capture_log(out, sizeof(out), "%s", huge);
    assert_true(n <= 2048);
    assert_int_equal(out[n - 1], '\n');
    assert_null(memchr(out, '\n', n - 1));
    free(huge);
}

/* ------------------------------------------------------- json_check */

static int check(const char *text, double *ts)
{
    return ifmon_json_check_object(text, strlen(text), ts);
}

/* {"a":[[...]]} with n arrays: n + 1 levels. */
static int nested(size_t n)
{
    char *t = malloc(2 * n + 8);
    size_t i, k = 0;
    int rc;

    memcpy(t, "{\"a\":", 5);
    k = 5;
    for (i = 0; i < n; i++)
        t[k++] = '[';
    for (i = 0; i < n; i++)
        t[k++] = ']';
    t[k++] = '}';
    rc = ifmon_json_check_object(t, k, NULL);
    free(t);
    return rc;
}

static void the_check_finds_objects_and_their_ts(void **unused)
{
    double ts = 0;

    (void)unused;
    assert_int_equal(check(" {\"device\":\"d\",\"ts\":1764052800.123,\"in_bps\":null} ", &ts), 1);
    assert_true(ts == 1764052800.123);
    assert_int_equal(check("{\"ts\":1,\"ts\":-2.5e1}", &ts), 1); /* the last wins */
    assert_true(ts == -25);
    assert_int_equal(check("{\"\\u0074s\":7}", &ts), 1); /* an escaped name is the name */
    assert_true(ts == 7);
    assert_int_equal(check("{\"ts\":\"1\"}", NULL), 0);
    assert_int_equal(check("{\"ts\":1,\"ts\":[1]}", NULL), 0);
    assert_int_equal(check("{\"a\":{\"ts\":1}}", NULL), 0); /* only the top level's */
    assert_int_equal(check("{}", NULL), 0);
    assert_int_equal(check("{\"k\":\"caf\xc3\xa9 \\ud83d\\ude00\"}", NULL), 0);
    /* Not one object. */
    assert_int_equal(check("[1]", NULL), -1);
    assert_int_equal(check("{} {}", NULL), -1);
    assert_int_equal(check("{\"a\":1,}", NULL), -1);
    assert_int_equal(check("{\"a\":01}", NULL), -1);
    assert_int_equal(check("{\"a\":1.}", NULL), -1);
    assert_int_equal(check("{\"a\":tru}", NULL), -1);
    assert_int_equal(check("{\"a\":\"\\u0000\"}", NULL), -1);
    assert_int_equal(check("{\"a\":\"\\ud800\"}", NULL), -1);
    assert_int_equal(check("{\"a\":\"\xc3\"}", NULL), -1);     /* cut short */
    assert_int_equal(check("{\"a\":\"\xed\xa0\x80\"}", NULL), -1); /* a surrogate */
    assert_int_equal(check("{\"a\":\"\x01\"}", NULL), -1);
    assert_int_equal(check("{\"a\":99999999999999999999}", NULL), -1); /* past 64 bits */
    assert_int_equal(check("{\"a\":1e999}", NULL), -1);
    assert_int_equal(ifmon_json_check_object("{\"a\":1\0}", 8, NULL), -1);
    /* jansson's depth, and not one level more. */
    assert_int_equal(nested(JSON_CHECK_MAX_DEPTH - 1), 0);
    assert_int_equal(nested(JSON_CHECK_MAX_DEPTH), -1);
}

/* The "ts" found is bit for bit what strtod() makes of its text (strtoll()
 * of an integer's, as jansson reads it: -0 is 0), whether
 * the check takes its fast path (up to 15 digits, no exponent) or not; and
 * reals skipped without conversion are still refused where jansson would
 * refuse them. */
static void ts_is_strtod_exactly(void **unused)
{
    static const char *const texts[] = {
        "1764052800.123", "1764052800.1", "0.1", "-0.0", "0", "-7", "123456789012345",
        "0.123456789012345", "999999999999999", "1234567890123456", "0.30000000000000004",
        "1764052800.123456", "-1.5e3", "1E-5", "0.000000000000001", "4503599627370497.5",
        "-0", "-12", "-0.5"};
    char text[128], big[400];
    size_t i;

    (void)unused;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        int integer = strpbrk(texts[i], ".eE") == NULL;
        double ts = -1, want = integer ? (double)strtoll(texts[i], NULL, 10) : strtod(texts[i], NULL);

        snprintf(text, sizeof(text), "{\"ts\":%s}", texts[i]);
        assert_int_equal(check(text, &ts), 1);
        if (memcmp(&ts, &want, sizeof(ts)) != 0)
            fail_msg("ts %s: %.17g, strtod %.17g", texts[i], ts, want);
    }
    /* 299 digits and ".5" (302 characters): past the shortcut, converted,
     * fine; 309 digits overflow a double, as jansson says. */
    memset(big, 0, sizeof(big));
    strcpy(big, "{\"a\":");
    memset(big + 5, '9', 299);
    strcat(big, ".5}");
    assert_int_equal(check(big, NULL), 0);
    memset(big + 5, '9', 309);
    strcpy(big + 5 + 309, ".5}");
    assert_int_equal(check(big, NULL), -1);
}

/* ------------------------------------------------------------- loopstat */

struct loop_test {
    struct ifmon_loopstat st;
    uv_timer_t timer;
    int step;
};

static void spin_ms(unsigned ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;

    while (uv_hrtime() < end)
        ;
}

/* A turn that works 30 ms, a wait of 150 ms for the timer, a turn that
 * does nothing, then the end. */
static void on_loop_step(uv_timer_t *t)
{
    struct loop_test *lt = t->data;

    switch (lt->step++) {
    case 0:
        spin_ms(30);
        uv_timer_start(t, on_loop_step, 150, 0);
        return;
    case 1:
        uv_timer_start(t, on_loop_step, 1, 0);
        return;
    }
    uv_close((uv_handle_t *)t, NULL);
    ifmon_loopstat_close(&lt->st);
}

static void loopstat_counts_busy_turns_not_waits(void **state)
{
    struct loop_test lt = {0};
    uv_loop_t loop;
    int i;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(ifmon_loopstat_start(&lt.st, &loop), 0);
    uv_timer_init(&loop, &lt.timer);
    lt.timer.data = &lt;
    uv_timer_start(&lt.timer, on_loop_step, 10, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(lt.st.count >= 2);
    for (i = 1; i < IFMON_LOOPSTAT_LE_N; i++)
        assert_true(lt.st.le[i] >= lt.st.le[i - 1]);
    /* One turn busier than 25 ms: the one that worked. The 10 and 150 ms
     * waits for the timer were idle time, not busy. */
    assert_true(ifmon_loopstat_le[3] == 0.025);
    assert_int_equal(lt.st.count - lt.st.le[3], 1);
    assert_true(lt.st.sum_s >= 0.029 && lt.st.sum_s < 0.15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ts_is_strtod_exactly),
        cmocka_unit_test(quotes_valid_utf8_exactly_as_jansson),
        cmocka_unit_test(replaces_each_invalid_byte_and_keeps_the_rest),
        cmocka_unit_test(finds_the_longest_valid_prefix),
        cmocka_unit_test(agent_text_is_utf8_or_read_as_latin1),
        cmocka_unit_test(builds_every_name_of_the_protocol),
        cmocka_unit_test(refuses_rather_than_cuts_a_long_name),
        cmocka_unit_test(tells_the_kind_of_a_channel),
        cmocka_unit_test(a_log_line_is_one_line_whatever_it_quotes),
        cmocka_unit_test(the_check_finds_objects_and_their_ts),
        cmocka_unit_test(loopstat_counts_busy_turns_not_waits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
