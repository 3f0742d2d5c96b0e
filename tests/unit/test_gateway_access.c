/* test_gateway_access.c -- unit tests of gateway/access.c: the Origin
 * check and the token comparison that guard the WebSocket upgrade. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../gateway/access.h"

static void no_origin_header_is_a_non_browser_client_and_accepted(void **state)
{
    assert_true(access_origin_allowed(NULL, "127.0.0.1:8080", NULL, 0));
    assert_true(access_origin_allowed(NULL, NULL, NULL, 0));
}

static void by_default_only_the_gateways_own_origin_is_accepted(void **state)
{
    assert_true(access_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", NULL, 0));
    assert_true(access_origin_allowed("https://noc.example.net", "noc.example.net", NULL, 0));
    assert_true(access_origin_allowed("HTTP://NOC.Example.net:80", "noc.example.net", NULL, 0));
    assert_true(access_origin_allowed("https://noc.example.net", "noc.example.net:443", NULL, 0));
    assert_true(access_origin_allowed("http://[::1]:8080", "[::1]:8080", NULL, 0));
    assert_false(access_origin_allowed("http://evil.example", "127.0.0.1:8080", NULL, 0));
    assert_false(access_origin_allowed("http://127.0.0.1:8081", "127.0.0.1:8080", NULL, 0));
    assert_false(access_origin_allowed("https://noc.example.net", "noc.example.net:80", NULL, 0));
    assert_false(access_origin_allowed("null", "127.0.0.1:8080", NULL, 0));
    assert_false(access_origin_allowed("file://", "127.0.0.1:8080", NULL, 0));
    assert_false(access_origin_allowed("ws://127.0.0.1:8080", "127.0.0.1:8080", NULL, 0));
    assert_false(access_origin_allowed("http://127.0.0.1:8080", NULL, NULL, 0));
    assert_false(access_origin_allowed("http://127.0.0.1:8080", "", NULL, 0));
    assert_false(access_origin_allowed("http://", "", NULL, 0));
    assert_false(access_origin_allowed("http://user@127.0.0.1:8080", "127.0.0.1:8080", NULL, 0));
    assert_false(access_origin_allowed("http://127.0.0.1:8080/x", "127.0.0.1:8080", NULL, 0));
}

static void a_configured_list_replaces_the_default(void **state)
{
    char *list[] = {"https://noc.example.net", "http://localhost:3000/"};

    assert_true(access_origin_allowed("https://noc.example.net", "gw:8080", list, 2));
    assert_true(access_origin_allowed("HTTPS://NOC.EXAMPLE.NET/", "gw:8080", list, 2));
    assert_true(access_origin_allowed("http://localhost:3000", "gw:8080", list, 2));
    assert_false(access_origin_allowed("http://gw:8080", "gw:8080", list, 2));
    assert_false(access_origin_allowed("https://noc.example.net.evil", "gw:8080", list, 2));
    assert_false(access_origin_allowed("https://noc.example.ne", "gw:8080", list, 2));
}

static void tokens_compare_whole(void **state)
{
    assert_true(access_token_equal("s3cret", "s3cret"));
    assert_false(access_token_equal(NULL, "s3cret"));
    assert_false(access_token_equal("", "s3cret"));
    assert_false(access_token_equal("s3cre", "s3cret"));
    assert_false(access_token_equal("s3cret!", "s3cret"));
    assert_false(access_token_equal("S3cret", "s3cret"));
    assert_false(access_token_equal("s3cret\0x", "s3cretx"));
}

static void bearer_credentials_are_extracted(void **state)
{
    assert_string_equal(access_bearer("Bearer abc"), "abc");
    assert_string_equal(access_bearer("bearer  abc"), "abc");
    assert_null(access_bearer("Basic abc"));
    assert_null(access_bearer("Bearerabc"));
    assert_null(access_bearer(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_origin_header_is_a_non_browser_client_and_accepted),
        cmocka_unit_test(by_default_only_the_gateways_own_origin_is_accepted),
        cmocka_unit_test(a_configured_list_replaces_the_default),
        cmocka_unit_test(tokens_compare_whole),
        cmocka_unit_test(bearer_credentials_are_extracted),
    };

    return cmocka_run_group_tests_name("gateway access", tests, NULL, NULL);
}
