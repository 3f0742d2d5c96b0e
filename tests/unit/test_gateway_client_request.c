/* test_gateway_client_request.c -- unit tests of gateway/client_request.c:
 * what a WebSocket client may ask is decided before anything acts on it. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/client_request.h"
#include "keys.h"

static int parse(const char *text, struct client_request *req, char *err)
{
    return client_request_parse(text, strlen(text), "ifmon", req, err, CLIENT_REQUEST_ERROR_MAX);
}

/* The request is refused and the error mentions `what`. */
static void refused(const char *text, const char *what)
{
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX] = "";

    assert_int_equal(parse(text, &req, err), -1);
    if (strstr(err, what) == NULL)
        fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", text, err, what);
    client_request_free(&req);
}

static void subscribe_is_parsed_and_duplicates_removed(void **state)
{
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"subscribe\",\"id\":3,\"channels\":"
                           "[\"ifmon:tokyo-edge1:ge-0/0/0\",\"ifmon:osaka-core1:*\","
                           "\"ifmon:tokyo-edge1:ge-0/0/0\"]}",
                           &req, err),
                     0);
    assert_int_equal(req.op, CLIENT_REQUEST_SUBSCRIBE);
    assert_int_equal(json_integer_value(req.id), 3);
    assert_int_equal(req.nchannels, 2);
    assert_string_equal(req.channels[0], "ifmon:tokyo-edge1:ge-0/0/0");
    assert_string_equal(req.channels[1], "ifmon:osaka-core1:*");
    client_request_free(&req);
}

static void list_and_unsubscribe_are_parsed(void **state)
{
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"list\"}", &req, err), 0);
    assert_int_equal(req.op, CLIENT_REQUEST_LIST);
    assert_null(req.id);
    client_request_free(&req);
    assert_int_equal(parse("{\"op\":\"unsubscribe\",\"channels\":[]}", &req, err), 0);
    assert_int_equal(req.op, CLIENT_REQUEST_UNSUBSCRIBE);
    assert_int_equal(req.nchannels, 0);
    client_request_free(&req);
}

static void events_and_history_false_are_parsed(void **state)
{
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"events\",\"id\":9}", &req, err), 0);
    assert_int_equal(req.op, CLIENT_REQUEST_EVENTS);
    assert_int_equal(json_integer_value(req.id), 9);
    client_request_free(&req);
    assert_int_equal(parse("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a:b\"]}", &req, err), 0);
    assert_int_equal(req.history, 1);
    client_request_free(&req);
    assert_int_equal(
        parse("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a:b\"],\"history\":false}", &req, err),
        0);
    assert_int_equal(req.history, 0);
    client_request_free(&req);
    assert_int_equal(
        parse("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a:b\"],\"history\":true}", &req, err),
        0);
    assert_int_equal(req.history, 1);
    client_request_free(&req);
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a:b\"],\"history\":1}",
            "\"history\" must be true or false");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a:b\"],\"history\":\"no\"}",
            "\"history\" must be true or false");
    refused("{\"op\":\"subscribe\",\"channels\":[\"ifmon:a:b\"],\"history\":null}",
            "\"history\" must be true or false");
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
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];

    assert_int_equal(parse("{\"op\":\"bogus\",\"id\":\"abc\"}", &req, err), -1);
    assert_string_equal(json_string_value(req.id), "abc");
    client_request_free(&req);
}

static void channels_longer_than_1024_bytes_are_refused(void **state)
{
    char *text = malloc(IFMON_CHANNEL_MAX + 64), err[CLIENT_REQUEST_ERROR_MAX];
    struct client_request req;
    size_t n = (size_t)sprintf(text, "{\"op\":\"subscribe\",\"channels\":[\"ifmon:");

    /* "ifmon:" and 1019 bytes: 1025 in all. */
    memset(text + n, 'a', IFMON_CHANNEL_MAX - 5);
    strcpy(text + n + IFMON_CHANNEL_MAX - 5, "\"]}");
    assert_int_equal(parse(text, &req, err), -1);
    assert_string_equal(err, "channel is longer than 1024 bytes");
    client_request_free(&req);
    /* 1024 bytes exactly are accepted. */
    strcpy(text + n + IFMON_CHANNEL_MAX - 6, "\"]}");
    assert_int_equal(parse(text, &req, err), 0);
    assert_int_equal(strlen(req.channels[0]), IFMON_CHANNEL_MAX);
    client_request_free(&req);
    free(text);
}

/* A request of n entries, each a repeat of one of `distinct` names. */
static char *request_of(size_t n, size_t distinct)
{
    char *text = malloc(64 + n * 24);
    size_t len = (size_t)sprintf(text, "{\"op\":\"subscribe\",\"channels\":["), i;

    for (i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s\"ifmon:d%zu\"", i ? "," : "", i % distinct);
    strcpy(text + len, "]}");
    return text;
}

static void duplicates_are_removed_in_order_in_linear_time(void **state)
{
    char *text = request_of(200000, 1000), err[CLIENT_REQUEST_ERROR_MAX];
    struct client_request req;

    /* 200,000 entries: comparing each with those before would take
     * 2 x 10^8 comparisons. */
    assert_int_equal(parse(text, &req, err), 0);
    assert_int_equal(req.nchannels, 1000);
    assert_string_equal(req.channels[0], "ifmon:d0");
    assert_string_equal(req.channels[999], "ifmon:d999");
    client_request_free(&req);
    free(text);
}

static void more_entries_than_allowed_are_refused_before_they_are_read(void **state)
{
    char *text = request_of(65, 65), err[CLIENT_REQUEST_ERROR_MAX];
    struct client_request req;

    assert_int_equal(
        client_request_parse_max(text, strlen(text), "ifmon", 64, &req, err, sizeof(err)), -1);
    assert_string_equal(err, "too many channels: a request may list at most 64 channels and "
                             "patterns (this one lists 65)");
    client_request_free(&req);
    /* Duplicates count: they are entries to read. */
    free(text);
    text = request_of(65, 1);
    assert_int_equal(
        client_request_parse_max(text, strlen(text), "ifmon", 64, &req, err, sizeof(err)), -1);
    client_request_free(&req);
    assert_int_equal(
        client_request_parse_max(text, strlen(text), "ifmon", 65, &req, err, sizeof(err)), 0);
    assert_int_equal(req.nchannels, 1);
    client_request_free(&req);
    /* The count comes before the entries are checked. */
    free(text);
    text = strdup("{\"op\":\"unsubscribe\",\"channels\":[1,2]}");
    assert_int_equal(
        client_request_parse_max(text, strlen(text), "ifmon", 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many channels"));
    client_request_free(&req);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_is_parsed_and_duplicates_removed),
        cmocka_unit_test(list_and_unsubscribe_are_parsed),
        cmocka_unit_test(events_and_history_false_are_parsed),
        cmocka_unit_test(every_bad_request_is_refused_with_a_reason),
        cmocka_unit_test(an_error_keeps_the_id_for_the_reply),
        cmocka_unit_test(channels_longer_than_1024_bytes_are_refused),
        cmocka_unit_test(duplicates_are_removed_in_order_in_linear_time),
        cmocka_unit_test(more_entries_than_allowed_are_refused_before_they_are_read),
    };

    return cmocka_run_group_tests_name("gateway client_request", tests, NULL, NULL);
}
