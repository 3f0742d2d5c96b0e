/* test_config.c -- unit tests of the loader in config/: every problem of a
 * bad inventory is reported as FILE:LINE:COLUMN, a good one loads with the
 * right values and defaults, names fit their Redis key limits, and every
 * field of CONFIG_DEVICE_FIELDS is copied deeply and decides equality (one
 * test per field, generated from the same table). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_loader.h"
#include "keys.h"

static struct config_errors errs;

static struct config *load(const char *text)
{
    config_errors_free(&errs);
    return config_load_buffer("t.yml", text, strlen(text), &errs);
}

/* Some error line starts with prefix and contains word. */
static int has_error(const char *prefix, const char *word)
{
    size_t i;

    for (i = 0; i < errs.count; i++)
        if (strncmp(errs.lines[i], prefix, strlen(prefix)) == 0 && strstr(errs.lines[i], word))
            return 1;
    for (i = 0; i < errs.count; i++)
        print_message("  got: %s\n", errs.lines[i]);
    return 0;
}

static void expect_error(const char *text, const char *prefix, const char *word)
{
    struct config *cfg = load(text);

    assert_null(cfg);
    assert_true(has_error(prefix, word));
}

static void full_file_loads_with_values_and_inherited_defaults(void **unused)
{
    struct config *cfg;

    setenv("TOKYO_COMMUNITY", "s3cret", 1);
    setenv("OSAKA_AUTH", "authpass1", 1);
    setenv("OSAKA_PRIV", "privpass1", 1);
    cfg = load("redis:\n"
               "  host: 10.0.0.5\n"
               "  port: 6380\n"
               "  prefix: mon\n"
               "  history: 60\n"
               "defaults:\n"
               "  interval: 2s\n"
               "  timeout: 500ms\n"
               "  retries: 2\n"
               "  version: 2c\n"
               "  community: public\n"
               "devices:\n"
               "  - name: tokyo-edge1\n"
               "    site: tokyo\n"
               "    address: 192.0.2.1:1161\n"
               "    community: ${TOKYO_COMMUNITY}\n"
               "    interfaces: [ge-0/0/0, \"xe-*\"]\n"
               "  - name: osaka-core1\n"
               "    site: osaka\n"
               "    address: 198.51.100.7\n"
               "    interval: 5s\n"
               "    version: 3\n"
               "    user: monitor\n"
               "    security_level: authPriv\n"
               "    auth_protocol: SHA-256\n"
               "    auth_password: ${OSAKA_AUTH}\n"
               "    priv_protocol: AES\n"
               "    priv_password: ${OSAKA_PRIV}\n"
               "    context: \"\"\n"
               "gateway:\n"
               "  listen: 0.0.0.0:9000\n"
               "  allowed_origins: [\"https://noc.example\"]\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->redis.host, "10.0.0.5");
    assert_int_equal(cfg->redis.port, 6380);
    assert_string_equal(cfg->redis.prefix, "mon");
    assert_int_equal(cfg->redis.history, 60);
    assert_int_equal(cfg->ndevices, 2);
    assert_string_equal(cfg->devices[0].community, "s3cret");
    assert_string_equal(cfg->devices[0].host, "192.0.2.1");
    assert_int_equal(cfg->devices[0].port, 1161);
    assert_int_equal(cfg->devices[0].interval_ms, 2000);
    assert_int_equal(cfg->devices[0].timeout_ms, 500);
    assert_int_equal(cfg->devices[0].retries, 2);
    assert_int_equal(cfg->devices[0].ninterfaces, 2);
    assert_string_equal(cfg->devices[0].interfaces[1], "xe-*");
    assert_int_equal(cfg->devices[0].line, 13);
    assert_int_equal(cfg->devices[1].port, 161);
    assert_int_equal(cfg->devices[1].interval_ms, 5000);
    assert_int_equal(cfg->devices[1].version, CONFIG_SNMP_V3);
    assert_int_equal(cfg->devices[1].security_level, CONFIG_SEC_AUTH_PRIV);
    assert_int_equal(cfg->devices[1].auth_protocol, CONFIG_AUTH_SHA256);
    assert_int_equal(cfg->devices[1].priv_protocol, CONFIG_PRIV_AES);
    assert_string_equal(cfg->devices[1].auth_password, "authpass1");
    assert_int_equal(cfg->gateway.listen_port, 9000);
    assert_int_equal(cfg->gateway.nallowed_origins, 1);
    config_free(cfg);
}

static void empty_file_is_all_defaults(void **unused)
{
    struct config *cfg = load("");

    assert_non_null(cfg);
    assert_string_equal(cfg->redis.host, "127.0.0.1");
    assert_int_equal(cfg->redis.port, 6379);
    assert_string_equal(cfg->redis.prefix, "ifmon");
    assert_int_equal(cfg->redis.history, 300);
    assert_int_equal(cfg->ndevices, 0);
    assert_int_equal(cfg->gateway.listen_port, 8080);
    assert_int_equal(cfg->gateway.max_channels, 256);
    config_free(cfg);
}

static void device_defaults_apply_when_nothing_is_said(void **unused)
{
    struct config *cfg = load("devices:\n  - {name: a, address: 127.0.0.1}\n");

    assert_non_null(cfg);
    assert_string_equal(cfg->devices[0].site, "default");
    assert_string_equal(cfg->devices[0].community, "public");
    assert_int_equal(cfg->devices[0].version, CONFIG_SNMP_V2C);
    assert_int_equal(cfg->devices[0].interval_ms, 1000);
    assert_int_equal(cfg->devices[0].timeout_ms, 800);
    assert_int_equal(cfg->devices[0].retries, 1);
    assert_int_equal(cfg->devices[0].ninterfaces, 0);
    config_free(cfg);
}

static void unknown_key_is_reported_with_a_suggestion(void **unused)
{
    expect_error("devices:\n  - name: a\n    address: x\n    intervall: 1s\n",
                 "t.yml:4:5:", "did you mean \"interval\"");
}

static void unknown_top_level_key_is_reported(void **unused)
{
    expect_error("redis: {}\nfoo: 1\n", "t.yml:2:1:", "unknown key \"foo\"");
}

static void duplicate_key_is_reported(void **unused)
{
    expect_error("redis:\n  port: 1\n  port: 2\n", "t.yml:3:3:", "duplicate key");
}

static void bad_durations_are_reported(void **unused)
{
    expect_error("defaults:\n  interval: 5\n", "t.yml:2:13:", "bad duration \"5\"");
    expect_error("defaults:\n  interval: 1h\n", "t.yml:2:13:", "bad duration");
    expect_error("defaults:\n  timeout: -1s\n", "t.yml:2:12:", "bad duration");
    expect_error("defaults:\n  interval: 10ms\n", "t.yml:2:13:", "out of range");
}

static void duplicate_device_name_names_the_first(void **unused)
{
    expect_error("devices:\n  - {name: a, address: x}\n  - {name: a, address: y}\n",
                 "t.yml:3:12:", "first at line 2");
}

static void missing_address_is_reported_at_the_device(void **unused)
{
    expect_error("devices:\n  - name: a\n    site: s\n", "t.yml:2:5:", "missing \"address\"");
}

static void missing_name_is_reported(void **unused)
{
    expect_error("devices:\n  - address: x\n", "t.yml:2:5:", "missing \"name\"");
}

static void bad_version_is_reported(void **unused)
{
    expect_error("devices:\n  - {name: a, address: x, version: 4}\n",
                 "t.yml:2:36:", "not 1, 2c or 3");
}

static void v3_without_user_is_reported(void **unused)
{
    expect_error("devices:\n  - {name: a, address: x, version: 3}\n",
                 "t.yml:2:5:", "needs \"user\"");
}

static void v3_auth_priv_needs_passwords_of_eight_characters(void **unused)
{
    expect_error("devices:\n  - {name: a, address: x, version: 3, user: u, "
                 "security_level: authPriv, auth_password: abcdefgh}\n",
                 "t.yml:2:5:", "needs \"priv_password\"");
    expect_error("devices:\n  - {name: a, address: x, version: 3, user: u, "
                 "auth_password: short}\n",
                 "t.yml:2:", "at least 8");
}

static void v3_security_level_follows_the_passwords_given(void **unused)
{
    struct config *cfg = load("devices:\n  - {name: a, address: x, version: 3, user: u, "
                              "auth_password: abcdefgh}\n");

    assert_non_null(cfg);
    assert_int_equal(cfg->devices[0].security_level, CONFIG_SEC_AUTH_NOPRIV);
    assert_int_equal(cfg->devices[0].auth_protocol, CONFIG_AUTH_SHA);
    config_free(cfg);
}

static void unset_environment_variable_is_reported(void **unused)
{
    unsetenv("IFMON_TEST_UNSET");
    expect_error("devices:\n  - name: a\n    address: x\n    community: ${IFMON_TEST_UNSET}\n",
                 "t.yml:4:16:", "IFMON_TEST_UNSET is not set");
}

static void environment_defaults_and_dollar_escapes_expand(void **unused)
{
    struct config *cfg;

    unsetenv("IFMON_TEST_UNSET");
    setenv("IFMON_TEST_HOST", "10.1.1.1", 1);
    cfg = load("devices:\n  - name: a\n    address: ${IFMON_TEST_HOST}:2161\n"
               "    community: ${IFMON_TEST_UNSET:-pub}$$x\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->devices[0].host, "10.1.1.1");
    assert_int_equal(cfg->devices[0].port, 2161);
    assert_string_equal(cfg->devices[0].community, "pub$x");
    config_free(cfg);
}

static void malformed_yaml_is_reported_with_a_position(void **unused)
{
    expect_error("devices: [\n  - {name: x\n", "t.yml:", "malformed YAML");
    expect_error("redis:\n\tport: 1\n", "t.yml:2:", "malformed YAML");
}

static void wrong_section_types_are_reported(void **unused)
{
    expect_error("devices: 12\n", "t.yml:1:10:", "expected a list");
    expect_error("redis: [1, 2]\n", "t.yml:1:8:", "expected a mapping");
    expect_error("devices:\n  - just-a-string\n", "t.yml:2:5:", "expected a mapping");
    expect_error("- a\n- b\n", "t.yml:1:1:", "expected a mapping");
}

static void bad_integers_are_reported(void **unused)
{
    expect_error("redis: {port: abc}\n", "t.yml:1:15:", "whole number");
    expect_error("redis: {history: 0}\n", "t.yml:1:18:", "out of range");
    expect_error("devices:\n  - {name: a, address: x, retries: 11}\n",
                 "t.yml:2:36:", "out of range");
}

static void bad_device_names_are_refused(void **unused)
{
    expect_error("devices:\n  - {name: \"a:b\", address: x}\n",
                 "t.yml:2:12:", "cannot be a device name");
    expect_error("devices:\n  - {name: inventory, address: x}\n", "t.yml:2:12:", "reserved");
}

static void gateway_tokens_load_with_their_channels(void **unused)
{
    struct config *cfg = load("redis: {prefix: mon}\n"
                              "gateway:\n"
                              "  token: admin-secret\n"
                              "  tokens:\n"
                              "    - token: tokyo-noc\n"
                              "      channels: [\"mon:tokyo-*\", mon:osaka-core1:xe-0/0/1]\n"
                              "    - {token: other, channels: [\"mon:*\"]}\n");

    (void)unused;
    assert_non_null(cfg);
    assert_string_equal(cfg->gateway.token, "admin-secret");
    assert_int_equal(cfg->gateway.ntokens, 2);
    assert_string_equal(cfg->gateway.tokens[0].token, "tokyo-noc");
    assert_int_equal(cfg->gateway.tokens[0].nchannels, 2);
    assert_string_equal(cfg->gateway.tokens[0].channels[0], "mon:tokyo-*");
    assert_string_equal(cfg->gateway.tokens[0].channels[1], "mon:osaka-core1:xe-0/0/1");
    assert_int_equal(cfg->gateway.tokens[0].line, 5);
    assert_string_equal(cfg->gateway.tokens[1].channels[0], "mon:*");
    config_free(cfg);
}

static void bad_gateway_tokens_are_reported(void **unused)
{
    (void)unused;
    expect_error("gateway:\n  tokens:\n    - {token: a, channels: [\"other:x\"]}\n",
                 "t.yml:3:29:", "must start with \"ifmon:\"");
    expect_error("gateway:\n  tokens:\n    - {token: a, channels: [\"ifmon:*:x\"]}\n",
                 "t.yml:3:29:", "only be the last");
    expect_error("gateway:\n  tokens:\n    - {token: a}\n", "t.yml:3:7:", "channels");
    expect_error("gateway:\n  tokens:\n    - {token: a, channels: []}\n", "t.yml:3:7:", "channels");
    expect_error("gateway:\n  tokens:\n    - {channels: [ifmon:x]}\n",
                 "t.yml:3:7:", "missing or empty \"token\"");
    expect_error("gateway:\n  tokens:\n    - {token: a, channels: [ifmon:x]}\n"
                 "    - {token: a, channels: [ifmon:y]}\n",
                 "t.yml:4:15:", "same token as the entry at line 3");
    expect_error("gateway:\n  token: a\n  tokens:\n    - {token: a, channels: [ifmon:x]}\n",
                 "t.yml:2:3:", "repeats gateway.token");
    expect_error("gateway:\n  tokens: {token: a}\n", "t.yml:2:11:", "expected a list");
    expect_error("gateway:\n  tokens:\n    - {token: a, channel: [ifmon:x]}\n",
                 "t.yml:3:18:", "channels");
}

static void every_problem_of_a_file_is_reported(void **unused)
{
    struct config *cfg = load("redis: {prefx: a}\n"
                              "defaults: {interval: 3}\n"
                              "devices:\n"
                              "  - {name: a}\n"
                              "  - {name: a, address: x, version: 7}\n");

    assert_null(cfg);
    assert_int_equal(errs.count, 5);
}

static void missing_file_gives_a_clear_message(void **unused)
{
    struct config *cfg;

    config_errors_free(&errs);
    cfg = config_load("/nonexistent/ifmon.yml", &errs);
    assert_null(cfg);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.lines[0], "/nonexistent/ifmon.yml: cannot open: No such file or "
                                       "directory");
}

static void file_on_disk_loads(void **unused)
{
    char path[] = "/tmp/ifmon-test-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "devices:\n  - {name: a, address: 127.0.0.1}\n";
    struct config *cfg;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_errors_free(&errs);
    cfg = config_load(path, &errs);
    unlink(path);
    assert_non_null(cfg);
    assert_int_equal(cfg->ndevices, 1);
    config_free(cfg);
}

static void nul_byte_is_refused(void **unused)
{
    struct config *cfg;

    config_errors_free(&errs);
    cfg = config_load_buffer("t.yml", "a: 1\0b", 6, &errs);
    assert_null(cfg);
    assert_true(has_error("t.yml:", "NUL"));
}

static void durations_parse(void **unused)
{
    int ms;

    assert_int_equal(config_parse_duration("800ms", &ms), 0);
    assert_int_equal(ms, 800);
    assert_int_equal(config_parse_duration("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(config_parse_duration("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(config_parse_duration("5", &ms), -1);
    assert_int_equal(config_parse_duration("s", &ms), -1);
    assert_int_equal(config_parse_duration("-1s", &ms), -1);
    assert_int_equal(config_parse_duration("1e9m", &ms), -1);
    assert_int_equal(config_parse_duration("1 s", &ms), -1);
}

static void addresses_parse(void **unused)
{
    char *host;
    int port;

    assert_int_equal(config_parse_address("192.0.2.1:1161", 161, &host, &port), 0);
    assert_string_equal(host, "192.0.2.1");
    assert_int_equal(port, 1161);
    free(host);
    assert_int_equal(config_parse_address("router.example", 161, &host, &port), 0);
    assert_int_equal(port, 161);
    free(host);
    assert_int_equal(config_parse_address("[2001:db8::1]:162", 161, &host, &port), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(port, 162);
    free(host);
    assert_int_equal(config_parse_address("::1", 161, &host, &port), 0);
    assert_string_equal(host, "::1");
    free(host);
    assert_int_equal(config_parse_address(":161", 161, &host, &port), -1);
    assert_int_equal(config_parse_address("h:0", 161, &host, &port), -1);
    assert_int_equal(config_parse_address("h:65536", 161, &host, &port), -1);
    assert_int_equal(config_parse_address("[::1", 161, &host, &port), -1);
}

static void device_equality_ignores_the_line_only(void **unused)
{
    struct config *a = load("devices:\n  - {name: a, address: x, interfaces: [e0]}\n");
    struct config *b;

    assert_non_null(a);
    b = load("\n\ndevices:\n  - {name: a, address: x, interfaces: [e0]}\n");
    assert_non_null(b);
    assert_true(config_device_equal(&a->devices[0], &b->devices[0]));
    config_free(b);
    b = load("devices:\n  - {name: a, address: x, interfaces: [e1]}\n");
    assert_false(config_device_equal(&a->devices[0], &b->devices[0]));
    config_free(b);
    config_free(a);
}

/* ------------------------------------------------------------ name limits */

/* n times c, in buf (n < size). */
static const char *repeated(char *buf, size_t size, char c, size_t n)
{
    assert_true(n < size);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void prefix_may_have_64_bytes_and_not_one_more(void **unused)
{
    char value[IFMON_PREFIX_MAX + 2], text[256];
    struct config *cfg;

    snprintf(text, sizeof(text), "redis:\n  prefix: %s\n",
             repeated(value, sizeof(value), 'p', IFMON_PREFIX_MAX));
    cfg = load(text);
    assert_non_null(cfg);
    assert_int_equal(strlen(cfg->redis.prefix), IFMON_PREFIX_MAX);
    config_free(cfg);
    snprintf(text, sizeof(text), "redis:\n  prefix: %s\n",
             repeated(value, sizeof(value), 'p', IFMON_PREFIX_MAX + 1));
    expect_error(text, "t.yml:2:11:", "65 bytes; a prefix may have at most 64 (IFMON_PREFIX_MAX)");
    assert_int_equal(errs.count, 1);
}

/* net-snmp reads no answer whose community is longer: refused up front. */
static void community_may_have_256_bytes_and_not_one_more(void **unused)
{
    char value[CONFIG_COMMUNITY_MAX + 2], text[768];
    struct config *cfg;

    snprintf(text, sizeof(text), "devices:\n  - {name: a, address: x, community: %s}\n",
             repeated(value, sizeof(value), 'c', CONFIG_COMMUNITY_MAX));
    cfg = load(text);
    assert_non_null(cfg);
    assert_int_equal(strlen(cfg->devices[0].community), CONFIG_COMMUNITY_MAX);
    config_free(cfg);
    snprintf(text, sizeof(text), "devices:\n  - {name: a, address: x, community: %s}\n",
             repeated(value, sizeof(value), 'c', CONFIG_COMMUNITY_MAX + 1));
    expect_error(text,
                 "t.yml:2:38:", "community: 257 bytes; SNMP agents and net-snmp take at most 256");
    assert_int_equal(errs.count, 1);
}

static void device_name_may_have_128_bytes_and_not_one_more(void **unused)
{
    char value[IFMON_NAME_MAX + 2], text[512];
    struct config *cfg;

    snprintf(text, sizeof(text), "devices:\n  - name: %s\n    address: x\n",
             repeated(value, sizeof(value), 'n', IFMON_NAME_MAX));
    cfg = load(text);
    assert_non_null(cfg);
    assert_int_equal(strlen(cfg->devices[0].name), IFMON_NAME_MAX);
    config_free(cfg);
    snprintf(text, sizeof(text), "devices:\n  - name: %s\n    address: x\n",
             repeated(value, sizeof(value), 'n', IFMON_NAME_MAX + 1));
    expect_error(text,
                 "t.yml:2:11:", "129 bytes; a device name may have at most 128 (IFMON_NAME_MAX)");
    assert_int_equal(errs.count, 1);
}

static void device_name_limit_holds_after_environment_expansion(void **unused)
{
    char value[IFMON_NAME_MAX + 2];

    setenv("IFMON_TEST_LONG", repeated(value, sizeof(value), 'e', IFMON_NAME_MAX + 1), 1);
    expect_error("devices:\n  - {name: \"${IFMON_TEST_LONG}\", address: x}\n",
                 "t.yml:2:12:", "a device name may have at most 128");
    unsetenv("IFMON_TEST_LONG");
}

static void site_may_have_128_bytes_and_not_one_more(void **unused)
{
    char value[IFMON_NAME_MAX + 2], text[512];
    struct config *cfg;

    snprintf(text, sizeof(text), "devices:\n  - name: a\n    site: %s\n    address: x\n",
             repeated(value, sizeof(value), 's', IFMON_NAME_MAX));
    cfg = load(text);
    assert_non_null(cfg);
    assert_int_equal(strlen(cfg->devices[0].site), IFMON_NAME_MAX);
    config_free(cfg);
    snprintf(text, sizeof(text), "devices:\n  - name: a\n    site: %s\n    address: x\n",
             repeated(value, sizeof(value), 's', IFMON_NAME_MAX + 1));
    expect_error(text,
                 "t.yml:3:11:", "129 bytes; a site name may have at most 128 (IFMON_NAME_MAX)");
    assert_int_equal(errs.count, 1);
    /* The same in `defaults:`, reported once where it is written. */
    snprintf(text, sizeof(text), "defaults:\n  site: %s\ndevices:\n  - {name: a, address: x}\n",
             repeated(value, sizeof(value), 's', IFMON_NAME_MAX + 1));
    expect_error(text, "t.yml:2:9:", "a site name may have at most 128");
    assert_int_equal(errs.count, 1);
}

/* ------------------------------------------------- the device field table */

/* Every field of CONFIG_DEVICE_FIELDS, described from the table itself. */
enum field_kind { KIND_STR, KIND_INT, KIND_LIST };

struct device_field {
    const char *name;
    enum field_kind kind;
    size_t offset;       /* of the member */
    size_t count_offset; /* KIND_LIST: of its count */
};

#define DESCRIBE_STR(f) {#f, KIND_STR, offsetof(struct config_device, f), 0},
#define DESCRIBE_INT(f) {#f, KIND_INT, offsetof(struct config_device, f), 0},
#define DESCRIBE_LIST(f, n)                                                                        \
    {#f, KIND_LIST, offsetof(struct config_device, f), offsetof(struct config_device, n)},

/* FIELD_<field>: the index of each field in device_fields[]. */
#define INDEX_STR(f) FIELD_##f,
#define INDEX_INT(f) FIELD_##f,
#define INDEX_LIST(f, n) FIELD_##f,
enum { CONFIG_DEVICE_FIELDS(INDEX_STR, INDEX_INT, INDEX_LIST) NFIELDS };

static const struct device_field device_fields[NFIELDS] = {
    CONFIG_DEVICE_FIELDS(DESCRIBE_STR, DESCRIBE_INT, DESCRIBE_LIST)};

static char **str_member(struct config_device *d, const struct device_field *f)
{
    return (char **)((char *)d + f->offset);
}

static int *int_member(struct config_device *d, const struct device_field *f)
{
    return (int *)((char *)d + f->offset);
}

static char ***list_member(struct config_device *d, const struct device_field *f)
{
    return (char ***)((char *)d + f->offset);
}

static size_t *count_member(struct config_device *d, const struct device_field *f)
{
    return (size_t *)((char *)d + f->count_offset);
}

/* The value field i has in a full device: every field set, each to a value
 * of its own ("<field>" for a string, 1000 + i for a number, and
 * "<field>-0", "<field>-1" for a list). */
static void set_full_value(struct config_device *d, size_t i)
{
    const struct device_field *f = &device_fields[i];
    char item[64];

    switch (f->kind) {
    case KIND_STR:
        *str_member(d, f) = strdup(f->name);
        break;
    case KIND_INT:
        *int_member(d, f) = 1000 + (int)i;
        break;
    case KIND_LIST:
        *list_member(d, f) = calloc(2, sizeof(char *));
        snprintf(item, sizeof(item), "%s-0", f->name);
        (*list_member(d, f))[0] = strdup(item);
        snprintf(item, sizeof(item), "%s-1", f->name);
        (*list_member(d, f))[1] = strdup(item);
        *count_member(d, f) = 2;
        break;
    }
}

static void make_full_device(struct config_device *d)
{
    size_t i;

    memset(d, 0, sizeof(*d));
    for (i = 0; i < NFIELDS; i++)
        set_full_value(d, i);
    d->line = 7;
}

/* Field i of d holds the value of a full device (reading it is what makes
 * ASan catch a copy that shares memory with a freed original). */
static void assert_full_value(struct config_device *d, size_t i)
{
    struct config_device expected;

    make_full_device(&expected);
    switch (device_fields[i].kind) {
    case KIND_STR:
        assert_string_equal(*str_member(d, &device_fields[i]),
                            *str_member(&expected, &device_fields[i]));
        break;
    case KIND_INT:
        assert_int_equal(*int_member(d, &device_fields[i]),
                         *int_member(&expected, &device_fields[i]));
        break;
    case KIND_LIST:
        assert_int_equal(*count_member(d, &device_fields[i]), 2);
        assert_string_equal((*list_member(d, &device_fields[i]))[0],
                            (*list_member(&expected, &device_fields[i]))[0]);
        assert_string_equal((*list_member(d, &device_fields[i]))[1],
                            (*list_member(&expected, &device_fields[i]))[1]);
        break;
    }
    config_device_clear(&expected);
}

/* Two devices that differ in field i only (in each way it can differ) are
 * two devices, whichever is asked first. */
static void assert_each_change_makes_another_device(const struct config_device *full, size_t i)
{
    const struct device_field *f = &device_fields[i];
    struct config_device changed;
    int way, ways = f->kind == KIND_INT ? 1 : 2;

    for (way = 0; way < ways; way++) {
        config_device_copy(&changed, full);
        switch (f->kind) {
        case KIND_STR: /* another text; or not set at all */
            free(*str_member(&changed, f));
            *str_member(&changed, f) = way == 0 ? strdup("another") : NULL;
            break;
        case KIND_INT:
            (*int_member(&changed, f))++;
            break;
        case KIND_LIST: /* the last item another; or one item fewer */
            if (way == 0) {
                free((*list_member(&changed, f))[1]);
                (*list_member(&changed, f))[1] = strdup("another");
            } else {
                free((*list_member(&changed, f))[1]);
                *count_member(&changed, f) = 1;
            }
            break;
        }
        assert_false(config_device_equal(full, &changed));
        assert_false(config_device_equal(&changed, full));
        config_device_clear(&changed);
    }
}

/* One test per field of CONFIG_DEVICE_FIELDS (state: the field's index). */
static void device_field_is_copied_and_compared(void **state)
{
    size_t i = (size_t)(uintptr_t)*state;
    const struct device_field *f = &device_fields[i];
    struct config_device original, copy;

    make_full_device(&original);
    config_device_copy(&copy, &original);
    assert_true(config_device_equal(&original, &copy));
    assert_int_equal(copy.line, original.line);
    /* The copy has its own memory: freeing the original leaves it whole. */
    if (f->kind == KIND_STR)
        assert_ptr_not_equal(*str_member(&copy, f), *str_member(&original, f));
    if (f->kind == KIND_LIST) {
        assert_ptr_not_equal(*list_member(&copy, f), *list_member(&original, f));
        assert_ptr_not_equal((*list_member(&copy, f))[0], (*list_member(&original, f))[0]);
    }
    config_device_clear(&original);
    assert_full_value(&copy, i);
    assert_each_change_makes_another_device(&copy, i);
    config_device_clear(&copy);
}

static void devices_differing_in_their_line_only_are_equal(void **unused)
{
    struct config_device a, b;

    make_full_device(&a);
    config_device_copy(&b, &a);
    b.line = a.line + 10;
    assert_true(config_device_equal(&a, &b));
    config_device_clear(&a);
    config_device_clear(&b);
}

static void devices_with_nothing_set_are_equal(void **unused)
{
    struct config_device a, b;

    memset(&a, 0, sizeof(a));
    config_device_copy(&b, &a);
    assert_true(config_device_equal(&a, &b));
    config_device_clear(&b);
}

/* snmp_engine: builtin (ber.c) or net-snmp (net-snmp's PDUs), per device
 * or in defaults:, builtin when nothing is said. */
static void snmp_engine_is_builtin_unless_net_snmp_is_said(void **unused)
{
    struct config *cfg = load("devices:\n"
                              "  - {name: a, address: x}\n"
                              "  - {name: b, address: x, snmp_engine: net-snmp}\n"
                              "  - {name: c, address: x, snmp_engine: builtin}\n"
                              "  - {name: d, address: x, snmp_engine: Net-SNMP}\n");

    assert_non_null(cfg);
    assert_int_equal(cfg->devices[0].net_snmp_polls, 0);
    assert_int_equal(cfg->devices[1].net_snmp_polls, 1);
    assert_int_equal(cfg->devices[2].net_snmp_polls, 0);
    assert_int_equal(cfg->devices[3].net_snmp_polls, 1);
    config_free(cfg);
    cfg = load("defaults: {snmp_engine: net-snmp}\n"
               "devices:\n"
               "  - {name: a, address: x}\n"
               "  - {name: b, address: x, snmp_engine: builtin}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->devices[0].net_snmp_polls, 1);
    assert_int_equal(cfg->devices[1].net_snmp_polls, 0);
    config_free(cfg);
}

static void bad_snmp_engine_is_reported_where_it_is(void **unused)
{
    expect_error("devices:\n  - {name: a, address: x, snmp_engine: netsnmp}\n",
                 "t.yml:2:40:", "snmp_engine: \"netsnmp\" is not builtin or net-snmp");
    expect_error("defaults:\n  snmp_engine: ber\ndevices:\n  - {name: a, address: x}\n",
                 "t.yml:2:16:", "is not builtin or net-snmp");
}

/* A SIGHUP that changes the engine reopens the device. */
static void devices_differing_in_snmp_engine_only_are_not_equal(void **unused)
{
    struct config *cfg = load("devices:\n"
                              "  - {name: a, address: x}\n"
                              "  - {name: b, address: x, snmp_engine: net-snmp}\n");
    struct config_device other;

    assert_non_null(cfg);
    config_device_copy(&other, &cfg->devices[1]);
    free(other.name);
    other.name = strdup("a");
    other.line = cfg->devices[0].line;
    assert_false(config_device_equal(&cfg->devices[0], &other));
    other.net_snmp_polls = 0;
    assert_true(config_device_equal(&cfg->devices[0], &other));
    config_device_clear(&other);
    config_free(cfg);
}

static int teardown(void **unused)
{
    config_errors_free(&errs);
    return 0;
}

/* One test entry per field, in table order, each given its field's index. */
#define FIELD_TEST(f)                                                                              \
    {"device field " #f ": a copy is equal and its own; changed alone, another device",            \
     device_field_is_copied_and_compared, NULL, NULL, (void *)(uintptr_t)FIELD_##f},
#define FIELD_TEST_STR(f) FIELD_TEST(f)
#define FIELD_TEST_INT(f) FIELD_TEST(f)
#define FIELD_TEST_LIST(f, n) FIELD_TEST(f)

/* gateway.listen is HOST:PORT or [IPV6]:PORT, strictly: a port is
 * required, the host is an IPv4 or IPv6 literal or a host name. */
static void gateway_listen_is_host_and_port_strictly(void **unused)
{
    static const char *const bad[] = {
        "nonsense",    "1.2.3.4.5:80", "127.0.0.1", "127.0.0.1:",   ":8080",    "127.0.0.1:0",
        "h:65536",     "h:+80",        "h: 80",     "h:0x50",       "h:080000", "::1:8080",
        "[::1]",       "[::1]8080",    "[::1]:",    "[1.2.3.4]:80", "[]:80",    "[::1:80",
        "256.0.0.1:8", "01.2.3.4.5:8", "host_1:80", "-h:80",        "h-:80",    "a..b:80",
        ".a:80",       "a.:80",        "a b:80",    "12345:80",     "a.123:80", "",
    };
    static const struct {
        const char *text, *host;
        int port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080}, {"0.0.0.0:1", "0.0.0.0", 1},
        {"[::1]:8080", "::1", 8080},           {"[2001:db8::1]:65535", "2001:db8::1", 65535},
        {"localhost:80", "localhost", 80},     {"gw-1.example.net:8080", "gw-1.example.net", 8080},
        {"eth0:8080", "eth0", 8080},           {"1a.example:81", "1a.example", 81},
    };
    char text[128];
    struct config *cfg;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "gateway:\n  listen: \"%s\"\n", bad[i]);
        cfg = load(text);
        if (cfg != NULL)
            fail_msg("listen \"%s\" was accepted", bad[i]);
        assert_true(has_error("t.yml:2:11: ", "listen: "));
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), "gateway:\n  listen: \"%s\"\n", good[i].text);
        cfg = load(text);
        if (cfg == NULL)
            fail_msg("listen \"%s\" was refused: %s", good[i].text, errs.lines[0]);
        assert_string_equal(cfg->gateway.listen_host, good[i].host);
        assert_int_equal(cfg->gateway.listen_port, good[i].port);
        config_free(cfg);
    }
}

/* The gateway polls nothing: it loads a file whose defaults: and devices:
 * are wrong, and says nothing about them; the collector (and config_load()
 * for everyone else) still reports every one. */
static void the_gateway_reader_skips_defaults_and_devices(void **unused)
{
    static const char text[] = "defaults:\n"
                               "  intervl: 1s\n"
                               "devices:\n"
                               "  - {name: \"bad name\", adress: 192.0.2.1}\n"
                               "  - {name: x, address: \"192.0.2.1:x\", version: 7}\n"
                               "gateway:\n"
                               "  listen: \"127.0.0.1:9000\"\n";
    struct config *cfg;

    config_errors_free(&errs);
    cfg = config_load_buffer_for("t.yml", text, strlen(text), CONFIG_READER_GATEWAY, &errs);
    assert_non_null(cfg);
    assert_int_equal(errs.count, 0);
    assert_int_equal(cfg->ndevices, 0);
    assert_int_equal(cfg->gateway.listen_port, 9000);
    config_free(cfg);

    assert_null(load(text));
    assert_true(has_error("t.yml:2:", "intervl"));
    assert_true(has_error("t.yml:4:", "adress"));
    assert_true(has_error("t.yml:5:", "version"));
    config_errors_free(&errs);
    assert_null(config_load_buffer_for("t.yml", text, strlen(text), CONFIG_READER_ALL, &errs));
    assert_true(errs.count >= 3);
}

/* What the gateway uses is checked as before, and the file as a whole too. */
static void the_gateway_reader_reports_what_the_gateway_uses(void **unused)
{
    static const char text[] = "redis:\n"
                               "  port: 0\n"
                               "devices: [{bogus: 1}]\n"
                               "gateway:\n"
                               "  max_frame: 1\n"
                               "  tokens: [{token: t, channels: [\"other:x\"]}]\n"
                               "extra: 1\n";
    char path[] = "/tmp/test_config_XXXXXX";
    struct config *cfg;
    FILE *f;
    int fd;

    config_errors_free(&errs);
    cfg = config_load_buffer_for("t.yml", text, strlen(text), CONFIG_READER_GATEWAY, &errs);
    assert_null(cfg);
    assert_true(has_error("t.yml:2:", "port"));
    assert_true(has_error("t.yml:5:", "max_frame"));
    assert_true(has_error("t.yml:6:", "redis.prefix"));
    assert_true(has_error("t.yml:7:", "extra"));
    assert_int_equal(errs.count, 4);

    /* From a file, the same. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    config_errors_free(&errs);
    assert_null(config_load_for(path, CONFIG_READER_GATEWAY, &errs));
    assert_int_equal(errs.count, 4);
    config_errors_free(&errs);
    assert_null(config_load(path, &errs));
    assert_true(errs.count > 4); /* and the device's */
    assert_true(has_error(path, "bogus"));
    unlink(path);
}

/* The gateway refuses a token shorter than CONFIG_TOKEN_MIN, where it is
 * written; the collector, which uses no token, does not look. */
static void the_gateway_refuses_short_tokens_where_they_are(void **unused)
{
    static const char text[] = "gateway:\n"
                               "  token: short-admin\n"
                               "  tokens:\n"
                               "    - {token: tokyo-noc, channels: [\"ifmon:tokyo-*\"]}\n"
                               "    - {token: 0123456789abcdef, channels: [\"ifmon:x\"]}\n";
    struct config *cfg;

    config_errors_free(&errs);
    assert_null(config_load_buffer_for("t.yml", text, strlen(text), CONFIG_READER_GATEWAY, &errs));
    assert_int_equal(errs.count, 2);
    assert_true(has_error("t.yml:2:10:", "11 characters"));
    assert_true(has_error("t.yml:4:15:", "at least 16"));
    cfg = load(text); /* the collector's reader */
    assert_non_null(cfg);
    config_free(cfg);
    config_errors_free(&errs);
    cfg = config_load_buffer_for("t.yml", "gateway: {token: 0123456789abcdef}\n", 35,
                                 CONFIG_READER_GATEWAY, &errs);
    assert_non_null(cfg);
    config_free(cfg);
}

static void gateway_hosts_and_metrics_settings_load(void **unused)
{
    struct config *cfg = load("gateway:\n"
                              "  listen: \"0.0.0.0:8080\"\n"
                              "  token: 0123456789abcdef\n"
                              "  hosts: [NOC.Example.NET., \"[2001:DB8::1]\", 192.0.2.1, gw1]\n"
                              "  metrics_listen: \"127.0.0.1:9100\"\n"
                              "  metrics_token: true\n");

    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.nhosts, 4);
    assert_string_equal(cfg->gateway.hosts[0], "noc.example.net");
    assert_string_equal(cfg->gateway.hosts[1], "2001:db8::1");
    assert_string_equal(cfg->gateway.hosts[2], "192.0.2.1");
    assert_string_equal(cfg->gateway.hosts[3], "gw1");
    assert_string_equal(cfg->gateway.metrics_host, "127.0.0.1");
    assert_int_equal(cfg->gateway.metrics_port, 9100);
    assert_int_equal(cfg->gateway.metrics_token, 1);
    config_free(cfg);
    cfg = load("");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.nhosts, 0);
    assert_null(cfg->gateway.metrics_host);
    assert_int_equal(cfg->gateway.metrics_port, 0);
    assert_int_equal(cfg->gateway.metrics_token, 0);
    config_free(cfg);
}

static void bad_gateway_hosts_and_metrics_settings_are_reported(void **unused)
{
    expect_error("gateway:\n  hosts: [ok, \"bad name\"]\n", "t.yml:2:15:", "neither a host name");
    expect_error("gateway:\n  hosts: [\"-x\"]\n", "t.yml:2:11:", "neither a host name");
    expect_error("gateway:\n  hosts: ok\n", "t.yml:2:10:", "hosts");
    expect_error("gateway:\n  metrics_listen: \"9100\"\n", "t.yml:2:19:", "metrics_listen:");
    expect_error("gateway:\n  metrics_token: yes\n", "t.yml:2:18:", "true or false");
    expect_error("gateway:\n  metrics_token: true\n", "t.yml:2:18:", "needs gateway.token");
    expect_error("gateway:\n  listen: \"127.0.0.1:8080\"\n  metrics_listen: \"127.0.0.1:8080\"\n",
                 "t.yml:3:19:", "the same address as listen");
}

static void sentinels_and_a_master_name_load_together(void **unused)
{
    struct config *cfg = load("redis:\n"
                              "  sentinels: [\"10.0.0.1:26379\", \"[::1]:26380\", \"s3.example:26381\"]\n"
                              "  master_name: ifmon\n");

    assert_non_null(cfg);
    assert_int_equal(cfg->redis.nsentinels, 3);
    assert_string_equal(cfg->redis.sentinels[0].host, "10.0.0.1");
    assert_int_equal(cfg->redis.sentinels[0].port, 26379);
    assert_string_equal(cfg->redis.sentinels[1].host, "::1");
    assert_string_equal(cfg->redis.sentinels[2].host, "s3.example");
    assert_int_equal(cfg->redis.sentinels[2].port, 26381);
    assert_string_equal(cfg->redis.master_name, "ifmon");
    config_free(cfg);
    expect_error("redis:\n  sentinels: [\"a:1\"]\n", "t.yml:2:3:", "go together");
    expect_error("redis:\n  master_name: m\n", "t.yml:2:3:", "go together");
    expect_error("redis:\n  sentinels: [\"a\"]\n  master_name: m\n", "t.yml:2:14:",
                 "a port is required");
    expect_error("redis:\n  sentinels: [a:1]\n  master_name: \"two words\"\n", "t.yml:3:16:",
                 "no white space");
}

static void the_collectors_listen_address_and_id_load_and_are_checked(void **unused)
{
    struct config *cfg = load("collector:\n  listen: \"[::1]:9117\"\n");

    assert_non_null(cfg);
    assert_string_equal(cfg->collector.listen_host, "::1");
    assert_int_equal(cfg->collector.listen_port, 9117);
    config_free(cfg);
    cfg = load("");
    assert_non_null(cfg);
    assert_null(cfg->collector.listen_host);
    assert_int_equal(cfg->collector.listen_port, 0);
    config_free(cfg);
    expect_error("collector:\n  listen: \"localhost:9117\"\n", "t.yml:2:11:",
                 "an address is required, not a name");
    expect_error("collector:\n  listen: \"127.0.0.1\"\n", "t.yml:2:11:", "a port is required");
    expect_error("collector:\n  listn: \"127.0.0.1:1\"\n", "t.yml:2:3:", "listn");
    expect_error("collector: [1]\n", "t.yml:1:12:", "collector");
    cfg = load("collector: {id: \"noc-1.example:a_b-2\"}\n");
    assert_non_null(cfg);
    assert_string_equal(cfg->collector.id, "noc-1.example:a_b-2");
    config_free(cfg);
    expect_error("collector: {id: \"two words\"}\n", "t.yml:1:17:", "must be 1 to 64");
    expect_error("collector: {id: \"\"}\n", "t.yml:1:17:", "must be 1 to 64");
    /* collector.shared: a YAML boolean, false unless said. */
    cfg = load("collector: {shared: true}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->collector.shared, 1);
    config_free(cfg);
    cfg = load("collector: {shared: No}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->collector.shared, 0);
    config_free(cfg);
    cfg = load("");
    assert_int_equal(cfg->collector.shared, 0);
    config_free(cfg);
    expect_error("collector: {shared: 2}\n", "t.yml:1:21:", "expected true or false, not \"2\"");
    /* collector.poll_grid: a duration from 0 to a minute, 100 ms unless said. */
    cfg = load("");
    assert_int_equal(cfg->collector.poll_grid_ms, 100);
    config_free(cfg);
    cfg = load("collector: {poll_grid: 0ms}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->collector.poll_grid_ms, 0);
    config_free(cfg);
    cfg = load("collector: {poll_grid: 1s}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->collector.poll_grid_ms, 1000);
    config_free(cfg);
    expect_error("collector: {poll_grid: 2m}\n", "t.yml:1:24:",
                 "poll_grid: 120000 ms is out of range (0 ms to 60000 ms)");
    expect_error("collector: {poll_grid: fast}\n", "t.yml:1:24:", "poll_grid: bad duration");
    /* Its keys live under <prefix>:cluster:, so no device takes the name. */
    expect_error("devices:\n  - {name: cluster, address: x}\n", "t.yml:2:12:",
                 "\"cluster\" are reserved");
}

/* -------------------------------- counters, site totals and alerts */

static void counters_default_to_octets_and_errors_and_follow_defaults(void **unused)
{
    struct config *cfg = load("defaults: {counters: [packets]}\n"
                              "devices:\n"
                              "  - {name: a, address: x}\n"
                              "  - {name: b, address: x, counters: [octets, packets, errors]}\n"
                              "  - {name: c, address: x, counters: []}\n"
                              "  - {name: d, address: x, counters: [ERRORS]}\n");

    assert_non_null(cfg);
    assert_int_equal(cfg->devices[0].counters, CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS);
    assert_int_equal(cfg->devices[1].counters,
                     CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS);
    assert_int_equal(cfg->devices[2].counters, CONFIG_COUNTERS_OCTETS); /* always */
    assert_int_equal(cfg->devices[3].counters, CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_ERRORS);
    config_free(cfg);
    cfg = load("devices:\n  - {name: a, address: x}\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->devices[0].counters, CONFIG_DEFAULT_COUNTERS);
    assert_int_equal(CONFIG_DEFAULT_COUNTERS, CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_ERRORS);
    config_free(cfg);
}

static void unknown_counters_are_reported_where_they_are(void **unused)
{
    expect_error("devices:\n  - {name: a, address: x, counters: [octets, bytes]}\n",
                 "t.yml:2:46:", "\"bytes\" is not octets, packets or errors");
    expect_error("devices:\n  - {name: a, address: x, counters: errors}\n",
                 "t.yml:2:37:", "counters: expected a list");
}

static void site_total_globs_load_like_interfaces(void **unused)
{
    struct config *cfg = load("defaults: {site_total: [\"ae*\"]}\n"
                              "devices:\n"
                              "  - {name: a, address: x}\n"
                              "  - {name: b, address: x, site_total: [xe-0/0/0, \"*ISP*\"]}\n");

    assert_non_null(cfg);
    assert_int_equal(cfg->devices[0].nsite_total, 1);
    assert_string_equal(cfg->devices[0].site_total[0], "ae*");
    assert_int_equal(cfg->devices[1].nsite_total, 2);
    assert_string_equal(cfg->devices[1].site_total[1], "*ISP*");
    config_free(cfg);
}

static void alerts_load_from_defaults_and_a_device_replaces_them_whole(void **unused)
{
    struct config *cfg =
        load("defaults:\n"
             "  alerts:\n"
             "    utilization: {above: 90%, for: 10s}\n"
             "    errors: {above: 1, for: 5s}\n"
             "    discards: {above: 10.5, for: 500ms}\n"
             "devices:\n"
             "  - {name: a, address: x}\n"
             "  - {name: b, address: x, alerts: {utilization: {above: 75, for: 0s}}}\n"
             "  - {name: c, address: x, alerts: {}}\n");
    const struct config_alerts *a;

    assert_non_null(cfg);
    a = &cfg->devices[0].alerts;
    assert_true(a->utilization.on && a->utilization.above == 90 && a->utilization.for_ms == 10000);
    assert_true(a->errors.on && a->errors.above == 1 && a->errors.for_ms == 5000);
    assert_true(a->discards.on && a->discards.above == 10.5 && a->discards.for_ms == 500);
    a = &cfg->devices[1].alerts;
    assert_true(a->utilization.on && a->utilization.above == 75 && a->utilization.for_ms == 0);
    assert_false(a->errors.on || a->discards.on);
    a = &cfg->devices[2].alerts;
    assert_false(a->utilization.on || a->errors.on || a->discards.on);
    config_free(cfg);
    /* None unless said. */
    cfg = load("devices:\n  - {name: a, address: x}\n");
    assert_non_null(cfg);
    assert_false(cfg->devices[0].alerts.utilization.on || cfg->devices[0].alerts.errors.on);
    config_free(cfg);
}

static void bad_alerts_are_reported_where_they_are(void **unused)
{
    expect_error("defaults:\n  alerts:\n    utilization: {above: 120%, for: 10s}\n",
                 "t.yml:3:26:", "not a percent of the speed from 0 to 100");
    expect_error("defaults:\n  alerts:\n    errors: {above: lots, for: 10s}\n",
                 "t.yml:3:21:", "not a number per second");
    expect_error("defaults:\n  alerts:\n    errors: {above: -1, for: 10s}\n",
                 "t.yml:3:21:", "not a number per second");
    expect_error("defaults:\n  alerts:\n    errors: {above: 1}\n",
                 "t.yml:3:13:", "missing \"for\"");
    expect_error("defaults:\n  alerts:\n    errors: {for: 5s}\n",
                 "t.yml:3:13:", "missing \"above\"");
    expect_error("defaults:\n  alerts:\n    errors: {above: 1, for: forever}\n",
                 "t.yml:3:29:", "bad duration");
    expect_error("defaults:\n  alerts:\n    error: {above: 1, for: 1s}\n",
                 "t.yml:3:5:", "did you mean \"errors\"");
    expect_error("defaults:\n  alerts:\n    errors: 1\n", "t.yml:3:13:", "expected a mapping");
    expect_error("defaults:\n  alerts:\n    errors: {above: 1, for: 1s, below: 0}\n",
                 "t.yml:3:33:", "unknown key");
}

/* Alerts on errors or discards with the errors not polled: said once,
 * where it was decided. */
static void alerts_on_errors_need_them_polled(void **unused)
{
    struct config *cfg;

    cfg = load("defaults: {counters: [octets], alerts: {errors: {above: 1, for: 1s}}}\n"
               "devices:\n  - {name: a, address: x}\n  - {name: b, address: x}\n");
    assert_null(cfg);
    assert_int_equal(errs.count, 1);
    assert_true(has_error("t.yml:1:", "alerts on errors need them polled"));
    expect_error("devices:\n  - {name: a, address: x, counters: [packets],\n"
                 "     alerts: {discards: {above: 1, for: 1s}}}\n",
                 "t.yml:3:14:", "device a: alerts on discards need them polled");
    cfg = load("defaults: {counters: [octets], alerts: {utilization: {above: 1, for: 1s}}}\n"
               "devices:\n  - {name: a, address: x}\n");
    assert_non_null(cfg);
    config_free(cfg);
}

/* A reload that changes only thresholds keeps the device polling: alerts
 * are not part of what config_device_equal() compares. */
static void devices_differing_in_alerts_only_are_equal(void **unused)
{
    struct config *a = load("devices:\n  - {name: a, address: x}\n");
    struct config *b;

    assert_non_null(a);
    b = load("devices:\n  - {name: a, address: x, alerts: {errors: {above: 5, for: 1s}}}\n");
    assert_non_null(b);
    assert_true(b->devices[0].alerts.errors.on);
    assert_true(config_device_equal(&a->devices[0], &b->devices[0]));
    config_free(b);
    b = load("devices:\n  - {name: a, address: x, counters: [packets, errors]}\n");
    assert_false(config_device_equal(&a->devices[0], &b->devices[0]));
    config_free(b);
    config_free(a);
}

static void events_and_alerts_are_reserved_device_names(void **unused)
{
    expect_error("devices:\n  - {name: events, address: x}\n", "t.yml:2:12:", "reserved");
    expect_error("devices:\n  - {name: alerts, address: x}\n", "t.yml:2:12:", "reserved");
}

/* ------------------------------ gateway: limits per client address */

#include <sys/socket.h> /* AF_INET, AF_INET6 (here: this file is appended to) */

static void gateway_limits_per_address_load_with_their_defaults(void **unused)
{
    struct config *cfg = load("");

    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.max_connections_per_address, 256);
    assert_int_equal(cfg->gateway.max_subscriptions, 1000000);
    assert_int_equal(cfg->gateway.max_subscriptions_per_address, 16384);
    assert_int_equal(cfg->gateway.ntrusted_proxies, 0);
    config_free(cfg);
    cfg = load(
        "gateway:\n"
        "  max_connections_per_address: 8\n"
        "  max_subscriptions: 500\n"
        "  max_subscriptions_per_address: 100\n"
        "  trusted_proxies: [10.0.0.7, 192.168.0.0/16, \"2001:db8::/32\", \"::1\", 0.0.0.0/0]\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.max_connections_per_address, 8);
    assert_int_equal(cfg->gateway.max_subscriptions, 500);
    assert_int_equal(cfg->gateway.max_subscriptions_per_address, 100);
    assert_int_equal(cfg->gateway.ntrusted_proxies, 5);
    assert_int_equal(cfg->gateway.trusted_proxies[0].family, AF_INET);
    assert_int_equal(cfg->gateway.trusted_proxies[0].bits, 32);
    assert_memory_equal(cfg->gateway.trusted_proxies[0].addr, "\x0a\x00\x00\x07", 4);
    assert_int_equal(cfg->gateway.trusted_proxies[1].bits, 16);
    assert_int_equal(cfg->gateway.trusted_proxies[2].family, AF_INET6);
    assert_int_equal(cfg->gateway.trusted_proxies[2].bits, 32);
    assert_memory_equal(cfg->gateway.trusted_proxies[2].addr, "\x20\x01\x0d\xb8", 4);
    assert_int_equal(cfg->gateway.trusted_proxies[3].bits, 128);
    assert_int_equal(cfg->gateway.trusted_proxies[4].bits, 0);
    config_free(cfg);
}

static void bad_gateway_limits_per_address_are_reported_where_they_are(void **unused)
{
    expect_error("gateway:\n  max_connections_per_address: 0\n", "t.yml:2:32:", "out of range");
    expect_error("gateway:\n  max_subscriptions: many\n", "t.yml:2:22:", "max_subscriptions");
    expect_error("gateway:\n  max_subscriptions_per_address: -1\n",
                 "t.yml:2:34:", "max_subscriptions_per_address");
    expect_error("gateway:\n  trusted_proxies: 10.0.0.1\n", "t.yml:2:20:", "trusted_proxies");
    expect_error("gateway:\n  trusted_proxies: [10.0.0.1, lb.example]\n",
                 "t.yml:2:31:", "\"lb.example\": not an IP address");
    expect_error("gateway:\n  trusted_proxies: [10.0.0.0/33]\n",
                 "t.yml:2:21:", "prefix length of an IPv4 block is 0 to 32");
    expect_error("gateway:\n  trusted_proxies: [\"2001:db8::/129\"]\n",
                 "t.yml:2:21:", "prefix length of an IPv6 block is 0 to 128");
    expect_error("gateway:\n  trusted_proxies: [10.0.0.1/8]\n",
                 "t.yml:2:21:", "bits are set past the prefix length");
    expect_error("gateway:\n  trusted_proxies: [10.0.0.0/]\n", "t.yml:2:21:", "prefix length");
    expect_error("gateway:\n  trusted_proxies: [10.0.0.0/x8]\n", "t.yml:2:21:", "prefix length");
}

/* gateway.flush_ms: 0 (write at once) unless set, at most a second. */
static void gateway_flush_window_loads_within_its_bounds(void **unused)
{
    struct config *cfg = load("");

    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.flush_ms, 0);
    config_free(cfg);
    cfg = load("gateway:\n  flush_ms: 250\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.flush_ms, 250);
    config_free(cfg);
    cfg = load("gateway:\n  flush_ms: 1000\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.flush_ms, CONFIG_FLUSH_MS_MAX);
    config_free(cfg);
    expect_error("gateway:\n  flush_ms: 1001\n", "t.yml:2:13:", "out of range");
    expect_error("gateway:\n  flush_ms: -1\n", "t.yml:2:13:", "flush_ms");
    expect_error("gateway:\n  flush_ms: 50ms\n", "t.yml:2:13:", "flush_ms");
}

/* gateway.io_uring: on unless turned off. */
static void gateway_io_uring_is_a_boolean_on_by_default(void **unused)
{
    struct config *cfg = load("");

    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.io_uring, 1);
    config_free(cfg);
    cfg = load("gateway:\n  io_uring: false\n");
    assert_non_null(cfg);
    assert_int_equal(cfg->gateway.io_uring, 0);
    config_free(cfg);
    expect_error("gateway:\n  io_uring: maybe\n", "t.yml:2:13:", "io_uring");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_file_loads_with_values_and_inherited_defaults),
        cmocka_unit_test(empty_file_is_all_defaults),
        cmocka_unit_test(gateway_flush_window_loads_within_its_bounds),
        cmocka_unit_test(gateway_io_uring_is_a_boolean_on_by_default),
        cmocka_unit_test(device_defaults_apply_when_nothing_is_said),
        cmocka_unit_test(unknown_key_is_reported_with_a_suggestion),
        cmocka_unit_test(unknown_top_level_key_is_reported),
        cmocka_unit_test(duplicate_key_is_reported),
        cmocka_unit_test(bad_durations_are_reported),
        cmocka_unit_test(duplicate_device_name_names_the_first),
        cmocka_unit_test(missing_address_is_reported_at_the_device),
        cmocka_unit_test(missing_name_is_reported),
        cmocka_unit_test(bad_version_is_reported),
        cmocka_unit_test(v3_without_user_is_reported),
        cmocka_unit_test(v3_auth_priv_needs_passwords_of_eight_characters),
        cmocka_unit_test(v3_security_level_follows_the_passwords_given),
        cmocka_unit_test(unset_environment_variable_is_reported),
        cmocka_unit_test(environment_defaults_and_dollar_escapes_expand),
        cmocka_unit_test(malformed_yaml_is_reported_with_a_position),
        cmocka_unit_test(wrong_section_types_are_reported),
        cmocka_unit_test(bad_integers_are_reported),
        cmocka_unit_test(bad_device_names_are_refused),
        cmocka_unit_test(gateway_tokens_load_with_their_channels),
        cmocka_unit_test(bad_gateway_tokens_are_reported),
        cmocka_unit_test(every_problem_of_a_file_is_reported),
        cmocka_unit_test(missing_file_gives_a_clear_message),
        cmocka_unit_test(file_on_disk_loads),
        cmocka_unit_test(nul_byte_is_refused),
        cmocka_unit_test(durations_parse),
        cmocka_unit_test(addresses_parse),
        cmocka_unit_test(device_equality_ignores_the_line_only),
        cmocka_unit_test(prefix_may_have_64_bytes_and_not_one_more),
        cmocka_unit_test(community_may_have_256_bytes_and_not_one_more),
        cmocka_unit_test(device_name_may_have_128_bytes_and_not_one_more),
        cmocka_unit_test(device_name_limit_holds_after_environment_expansion),
        cmocka_unit_test(site_may_have_128_bytes_and_not_one_more),
        cmocka_unit_test(devices_differing_in_their_line_only_are_equal),
        cmocka_unit_test(devices_with_nothing_set_are_equal),
        cmocka_unit_test(snmp_engine_is_builtin_unless_net_snmp_is_said),
        cmocka_unit_test(bad_snmp_engine_is_reported_where_it_is),
        cmocka_unit_test(devices_differing_in_snmp_engine_only_are_not_equal),
        CONFIG_DEVICE_FIELDS(FIELD_TEST_STR, FIELD_TEST_INT, FIELD_TEST_LIST)
            cmocka_unit_test(gateway_listen_is_host_and_port_strictly),
        cmocka_unit_test(the_gateway_reader_skips_defaults_and_devices),
        cmocka_unit_test(the_gateway_reader_reports_what_the_gateway_uses),
        cmocka_unit_test(the_gateway_refuses_short_tokens_where_they_are),
        cmocka_unit_test(gateway_hosts_and_metrics_settings_load),
        cmocka_unit_test(bad_gateway_hosts_and_metrics_settings_are_reported),
        cmocka_unit_test(the_collectors_listen_address_and_id_load_and_are_checked),
        cmocka_unit_test(sentinels_and_a_master_name_load_together),
        cmocka_unit_test(counters_default_to_octets_and_errors_and_follow_defaults),
        cmocka_unit_test(unknown_counters_are_reported_where_they_are),
        cmocka_unit_test(site_total_globs_load_like_interfaces),
        cmocka_unit_test(alerts_load_from_defaults_and_a_device_replaces_them_whole),
        cmocka_unit_test(bad_alerts_are_reported_where_they_are),
        cmocka_unit_test(alerts_on_errors_need_them_polled),
        cmocka_unit_test(devices_differing_in_alerts_only_are_equal),
        cmocka_unit_test(events_and_alerts_are_reserved_device_names),
        cmocka_unit_test(gateway_limits_per_address_load_with_their_defaults),
        cmocka_unit_test(bad_gateway_limits_per_address_are_reported_where_they_are),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, teardown);
}
