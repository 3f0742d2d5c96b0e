/* test_gateway_request.c -- unit tests of gateway/request.c: what a
 * WebSocket client may ask is decided before anything acts on it. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/request.h"

static int parse(const char *text, struct request *req, char *err)
{
    return request_parse(text, strlen(text), "ifmon", req, err, REQUEST_ERROR_MAX);
}

/* The request is refused and the error mentions `what`. */
static void refused(const char *text, const char *what)
{
    struct request req;
    char err[REQUEST_ERROR_MAX] = "";

    assert_int_equal(parse(text, &req, err), -1);
    if (strstr(err, what) == NULL)
        fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", text, err, what);
    request_free(&req);
}

static void subscribe_is_parsed_and_duplicates_removed(void **state)
{
    struct request req;
    char err[REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"subscribe\",\"id\":3,\"channels\":"
                           "[\"ifmon:tokyo-edge1:ge-0/0/0\",\"ifmon:osaka-core1:*\","
                           "\"ifmon:tokyo-edge1:ge-0/0/0\"]}",
                           &req, err),
                     0);
    assert_int_equal(req.op, REQUEST_SUBSCRIBE);
    assert_int_equal(json_integer_value(req.id), 3);
    assert_int_equal(req.nchannels, 2);
    assert_string_equal(req.channels[0], "ifmon:tokyo-edge1:ge-0/0/0");
    assert_string_equal(req.channels[1], "ifmon:osaka-core1:*");
    request_free(&req);
}

static void list_and_unsubscribe_are_parsed(void **state)
{
    struct request req;
    char err[REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"list\"}", &req, err), 0);
    assert_int_equal(req.op, REQUEST_LIST);
    assert_null(req.id);
    request_free(&req);
    assert_int_equal(parse("{\"op\":\"unsubscribe\",\"channels\":[]}", &req, err), 0);
    assert_int_equal(req.op, REQUEST_UNSUBSCRIBE);
    assert_int_equal(req.nchannels, 0);
    request_free(&req);
}

static void every_bad_request_is_refused_with_a_reason(void **state)
{
    refused("", "invalid JSON");
    refused("{", "invalid JSON");
    refused("{\"op\":\"list\"} x", "invalid JSON");
    refused("{\"op\":\"list\",\"op\":\"list\"}", "invalid JSON");
    refused("[]", "must be a JSON object");
    refused("42", "must be a JSON object");
    refused("null", "must be a JSON object");
    refused("{}", "missing \"op\"");
    refused("{\"op\":null}", "\"op\" must be a string");
    refused("{\"op\":\"psubscribe\"}", "unknown op");
    refused("{\"op\":\"subscribe\"}", "array of strings");
    refused("{\"op\":\"subscribe\",\"channels\":{}}", "array of strings");
    refused("{\"op\":\"subscribe\",\"channels\":[1]}", "array of strings");
    refused("{\"op\":\"subscribe\",\"channels\":[\"a:b\"]}", "outside the prefix");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon\"]}", "outside the prefix");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmonx:a\"]}", "outside the prefix");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon:\"]}", "nothing after the prefix");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon:*:x\"]}", "only allowed at the end");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a\\u0000\"]}", "invalid JSON");
}

static void an_error_keeps_the_id_for_the_reply(void **state)
{
    struct request req;
    char err[REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"bogus\",\"id\":\"abc\"}", &req, err), -1);
    assert_string_equal(json_string_value(req.id), "abc");
    request_free(&req);
}

static void long_channels_are_refused(void **state)
{
    char *text = malloc(CHANNEL_MAX_LEN + 64), err[REQUEST_ERROR_MAX];
    struct request req;
    size_t n = (size_t)sprintf(text, "{\"op\":\"subscribe\",\"channels\":[\"ifmon:");

    memset(text + n, 'a', CHANNEL_MAX_LEN);
    strcpy(text + n + CHANNEL_MAX_LEN, "\"]}");
    assert_int_equal(parse(text, &req, err), -1);
    assert_non_null(strstr(err, "longer than"));
    request_free(&req);
    free(text);
}

static void patterns_match_by_prefix_only(void **state)
{
    assert_true(channel_is_pattern("ifmon:a:*"));
    assert_false(channel_is_pattern("ifmon:a:b"));
    assert_true(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core1:ge-0/0/0"));
    assert_true(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core1:"));
    assert_false(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core10:ge-0/0/0"));
    assert_false(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core1"));
    assert_true(channel_matches("ifmon:*", "ifmon:x"));
    /* No other glob character is special. */
    assert_true(channel_matches("ifmon:a:x?[1]*", "ifmon:a:x?[1]/0"));
    assert_false(channel_matches("ifmon:a:x?[1]*", "ifmon:a:xy1/0"));
    /* An exact channel matches itself only. */
    assert_true(channel_matches("ifmon:a:b", "ifmon:a:b"));
    assert_false(channel_matches("ifmon:a:b", "ifmon:a:bc"));
}

static void redis_patterns_escape_glob_characters(void **state)
{
    char *p = pattern_to_redis("ifmon:a:x?[1]\\*");

    assert_string_equal(p, "ifmon:a:x\\?\\[1\\]\\\\*");
    free(p);
    p = pattern_to_redis("ifmon:*");
    assert_string_equal(p, "ifmon:*");
    free(p);
}

static void only_interface_channels_have_history(void **state)
{
    char *key;

    assert_true(channel_has_history("ifmon:tokyo-edge1:ge-0/0/0", "ifmon"));
    assert_true(channel_has_history("ifmon:r1:Gi0/1:sub 2", "ifmon"));
    assert_false(channel_has_history("ifmon:tokyo-edge1", "ifmon"));
    assert_false(channel_has_history("ifmon:inventory", "ifmon"));
    key = channel_history_key("ifmon:r1:Gi0/1:sub 2", "ifmon");
    assert_string_equal(key, "ifmon:history:r1:Gi0/1:sub 2");
    free(key);
}

static void the_rate_limit_allows_a_burst_then_the_rate(void **state)
{
    struct ratelimit rl = {0};
    int i, ok = 0;

    for (i = 0; i < 100; i++)
        ok += ratelimit_take(&rl, 1000, 20.0, 40.0) == 0;
    assert_int_equal(ok, 40);
    assert_int_equal(rl.over, 60);
    /* Half a second later: 10 more. */
    for (ok = 0, i = 0; i < 100; i++)
        ok += ratelimit_take(&rl, 1500, 20.0, 40.0) == 0;
    assert_int_equal(ok, 10);
    /* A long pause refills to the burst, not beyond. */
    for (ok = 0, i = 0; i < 100; i++)
        ok += ratelimit_take(&rl, 100000, 20.0, 40.0) == 0;
    assert_int_equal(ok, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_is_parsed_and_duplicates_removed),
        cmocka_unit_test(list_and_unsubscribe_are_parsed),
        cmocka_unit_test(every_bad_request_is_refused_with_a_reason),
        cmocka_unit_test(an_error_keeps_the_id_for_the_reply),
        cmocka_unit_test(long_channels_are_refused),
        cmocka_unit_test(patterns_match_by_prefix_only),
        cmocka_unit_test(redis_patterns_escape_glob_characters),
        cmocka_unit_test(only_interface_channels_have_history),
        cmocka_unit_test(the_rate_limit_allows_a_burst_then_the_rate),
    };

    return cmocka_run_group_tests_name("gateway request", tests, NULL, NULL);
}
