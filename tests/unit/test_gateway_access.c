/* test_gateway_access.c -- unit tests of gateway/access.c: the Host and
 * Origin checks and the token comparison that guard the WebSocket upgrade,
 * and the channels a restricted token may subscribe. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../gateway/access.h"
#include "config.h"

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

static char *tokyo_channels[] = {"ifmon:tokyo-*", "ifmon:osaka-core1:xe-0/0/1"};
static char *all_channels[] = {"ifmon:*"};
static struct config_token restricted[] = {
    {.token = "tokyo-noc", .channels = tokyo_channels, .nchannels = 2, .line = 1},
    {.token = "everything", .channels = all_channels, .nchannels = 1, .line = 2},
};

static void the_token_given_selects_its_grant(void **state)
{
    struct config_gateway g = {.token = "admin", .tokens = restricted, .ntokens = 2};

    assert_ptr_equal(access_token_find("admin", &g), &access_all);
    assert_ptr_equal(access_token_find("tokyo-noc", &g), &restricted[0]);
    assert_ptr_equal(access_token_find("everything", &g), &restricted[1]);
    assert_null(access_token_find("tokyo-no", &g));
    assert_null(access_token_find("", &g));
    assert_null(access_token_find(NULL, &g));
    /* Restricted tokens alone still require a token. */
    g.token = "";
    assert_null(access_token_find("admin", &g));
    assert_null(access_token_find("", &g));
    assert_ptr_equal(access_token_find("tokyo-noc", &g), &restricted[0]);
    /* No token configured: everyone sees everything. */
    g.ntokens = 0;
    assert_ptr_equal(access_token_find(NULL, &g), &access_all);
    assert_ptr_equal(access_token_find("anything", &g), &access_all);
}

static void a_restricted_token_sees_only_what_its_entries_cover(void **state)
{
    const struct config_token *t = &restricted[0];

    assert_true(access_channel_permitted(t, "ifmon:tokyo-edge1:ge-0/0/0", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:tokyo-edge1", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:tokyo-edge1:*", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:tokyo-*", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:osaka-core1:xe-0/0/1", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:inventory", "ifmon"));
    /* A pattern wider than the entry is refused even though some of its
     * channels would be allowed. */
    assert_false(access_channel_permitted(t, "ifmon:tokyo*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:osaka-core1:xe-0/0/1*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:osaka-core1:xe-0/0/10", "ifmon"));
    /* The state channel of a device one of whose interfaces it sees. */
    assert_true(access_channel_permitted(t, "ifmon:osaka-core1", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:osaka-core", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:osaka-core10", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:osaka-core1*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:osaka-core1:*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:inventory2", "ifmon"));
    assert_true(access_channel_permitted(&restricted[1], "ifmon:*", "ifmon"));
    {
        char *per_device[] = {"ifmon:paris-core1:*", "ifmon:lyon-*"};
        struct config_token d = {.token = "d", .channels = per_device, .nchannels = 2};

        assert_true(access_channel_permitted(&d, "ifmon:paris-core1", "ifmon"));
        assert_true(access_channel_permitted(&d, "ifmon:lyon-edge1", "ifmon"));
        assert_false(access_channel_permitted(&d, "ifmon:paris-core2", "ifmon"));
        assert_false(access_channel_permitted(&d, "ifmon:paris-core", "ifmon"));
    }
    assert_true(access_channel_permitted(&access_all, "ifmon:*", "ifmon"));
}

/* Events channels (docs/PROTOCOL.md, part 1, "Events") go with the
 * device: "<prefix>:events:<device>" exactly when "<prefix>:<device>" is
 * permitted, a pattern when every device it can match is visible. */
static void a_devices_events_are_permitted_with_the_device(void **state)
{
    const struct config_token *t = &restricted[0];
    char *by_name[] = {"ifmon:events:*", "ifmon:e*"};
    struct config_token named = {.token = "n", .channels = by_name, .nchannels = 2};

    assert_true(access_channel_permitted(t, "ifmon:events:tokyo-edge1", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:events:tokyo-", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:events:osaka-core1", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:paris-core1", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:osaka-core10", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:tokyo", "ifmon"));
    /* No device name has a ':'. */
    assert_false(access_channel_permitted(t, "ifmon:events:tokyo-edge1:ge-0/0/0", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:", "ifmon"));
    /* Patterns: only when the entry covers every device they can match. */
    assert_true(access_channel_permitted(t, "ifmon:events:tokyo-*", "ifmon"));
    assert_true(access_channel_permitted(t, "ifmon:events:tokyo-edge*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:tokyo*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events:osaka-core1*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:events*", "ifmon"));
    assert_false(access_channel_permitted(t, "ifmon:ev*", "ifmon"));
    /* A token that sees every device sees every device's events. */
    assert_true(access_channel_permitted(&restricted[1], "ifmon:events:*", "ifmon"));
    assert_true(access_channel_permitted(&restricted[1], "ifmon:events:paris-core1", "ifmon"));
    assert_true(access_channel_permitted(&restricted[1], "ifmon:e*", "ifmon"));
    assert_true(access_channel_permitted(&access_all, "ifmon:events:*", "ifmon"));
    /* An entry that covers the name of an events channel, but no device,
     * permits nothing of it: "ifmon:e*" is the devices starting with e. */
    assert_false(access_channel_permitted(&named, "ifmon:events:paris-core1", "ifmon"));
    assert_false(access_channel_permitted(&named, "ifmon:events:*", "ifmon"));
    assert_false(access_channel_permitted(&named, "ifmon:e*", "ifmon"));
    assert_true(access_channel_permitted(&named, "ifmon:events:edge1", "ifmon"));
    assert_true(access_channel_permitted(&named, "ifmon:edge1:eth0", "ifmon"));
    {
        char *one[] = {"ifmon:paris-core1:xe-0/0/1"};
        struct config_token d = {.token = "d", .channels = one, .nchannels = 1};

        assert_true(access_channel_permitted(&d, "ifmon:events:paris-core1", "ifmon"));
        assert_false(access_channel_permitted(&d, "ifmon:events:paris-core1*", "ifmon"));
        assert_false(access_channel_permitted(&d, "ifmon:events:paris-core2", "ifmon"));
    }
}

/* DNS rebinding: a page of attacker.example, its name now resolving to
 * the gateway, sends the attacker's name in Host. */
static void the_host_header_must_name_the_gateway(void **state)
{
    char *names[] = {"localhost", "gw1.example.net", "gw1", "::1"};

    assert_true(access_host_allowed(NULL, names, 4)); /* HTTP/1.0: not a browser */
    assert_true(access_host_allowed("gw1.example.net", names, 4));
    assert_true(access_host_allowed("GW1.Example.NET:8080", names, 4));
    assert_true(access_host_allowed("gw1.example.net.:443", names, 4));
    assert_true(access_host_allowed("gw1:", names, 4));
    assert_true(access_host_allowed("localhost:8080", names, 4));
    assert_false(access_host_allowed("attacker.example:8080", names, 4));
    assert_false(access_host_allowed("gw1.example.net.attacker.example", names, 4));
    assert_false(access_host_allowed("example.net", names, 4));
    assert_false(access_host_allowed("gw1.example.ne", names, 4));
    assert_false(access_host_allowed("", names, 4));
    assert_false(access_host_allowed(":8080", names, 4));
    assert_false(access_host_allowed("gw1:80x", names, 4));
    assert_false(access_host_allowed("gw1:123456", names, 4));
    assert_false(access_host_allowed("gw1:80:80", names, 4));
    assert_false(access_host_allowed("gw1 ", names, 4));
    assert_false(access_host_allowed("anything", NULL, 0));
}

/* An address cannot be rebound: a browser sends one only to it. */
static void an_ip_address_in_host_is_always_accepted(void **state)
{
    assert_true(access_host_allowed("127.0.0.1:8080", NULL, 0));
    assert_true(access_host_allowed("192.0.2.7", NULL, 0));
    assert_true(access_host_allowed("[::1]:8080", NULL, 0));
    assert_true(access_host_allowed("[2001:db8::1]", NULL, 0));
    assert_false(access_host_allowed("::1", NULL, 0)); /* unbracketed: malformed */
    assert_false(access_host_allowed("[::1", NULL, 0));
    assert_false(access_host_allowed("[nope]:80", NULL, 0));
    assert_false(access_host_allowed("[::1]x", NULL, 0));
    assert_false(access_host_allowed("127.1", NULL, 0)); /* not a dotted quad: a name */
    assert_false(access_host_allowed("1.2.3.4.5", NULL, 0));
    assert_false(access_host_allowed("256.0.0.1", NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_origin_header_is_a_non_browser_client_and_accepted),
        cmocka_unit_test(by_default_only_the_gateways_own_origin_is_accepted),
        cmocka_unit_test(a_configured_list_replaces_the_default),
        cmocka_unit_test(tokens_compare_whole),
        cmocka_unit_test(bearer_credentials_are_extracted),
        cmocka_unit_test(the_token_given_selects_its_grant),
        cmocka_unit_test(a_restricted_token_sees_only_what_its_entries_cover),
        cmocka_unit_test(a_devices_events_are_permitted_with_the_device),
        cmocka_unit_test(the_host_header_must_name_the_gateway),
        cmocka_unit_test(an_ip_address_in_host_is_always_accepted),
    };

    return cmocka_run_group_tests_name("gateway access", tests, NULL, NULL);
}
