/* config.h -- the ifmon configuration file, shared by ifmon-collector and
 * ifmon-gateway.
 *
 * One YAML file holds a common `redis:` section, the collector's `defaults:`
 * and `devices:` and the gateway's `gateway:` section. Loading validates the
 * whole file and reports every problem as "FILE:LINE:COLUMN: message"; a file
 * with any problem yields no configuration at all, so a daemon never runs on
 * half of an inventory. This module knows nothing about SNMP or Redis
 * libraries: it only turns text into checked values. */

#ifndef IFMON_CONFIG_H
#define IFMON_CONFIG_H

#include <stddef.h>

#include "redis_target.h"

/* SNMP protocol versions, as written in the file ("1", "2c", "3"). */
enum config_snmp_version {
    CONFIG_SNMP_V1 = 1,
    CONFIG_SNMP_V2C = 2,
    CONFIG_SNMP_V3 = 3,
};

/* SNMPv3 USM (RFC 3414) security levels. */
enum config_sec_level {
    CONFIG_SEC_NOAUTH_NOPRIV = 0,
    CONFIG_SEC_AUTH_NOPRIV,
    CONFIG_SEC_AUTH_PRIV,
};

/* Authentication protocols net-snmp 5.9 offers (RFC 3414, RFC 7860). */
enum config_auth_proto {
    CONFIG_AUTH_NONE = 0,
    CONFIG_AUTH_MD5,
    CONFIG_AUTH_SHA,
    CONFIG_AUTH_SHA224,
    CONFIG_AUTH_SHA256,
    CONFIG_AUTH_SHA384,
    CONFIG_AUTH_SHA512,
};

/* Privacy protocols (RFC 3414 DES, RFC 3826 AES-128, Blumenthal AES-192/256). */
enum config_priv_proto {
    CONFIG_PRIV_NONE = 0,
    CONFIG_PRIV_DES,
    CONFIG_PRIV_AES,
    CONFIG_PRIV_AES192,
    CONFIG_PRIV_AES256,
};

/* Built-in defaults, used when neither the device nor `defaults:` says. */
#define CONFIG_DEFAULT_INTERVAL_MS 1000
#define CONFIG_DEFAULT_POLL_GRID_MS 100
#define CONFIG_POLL_GRID_MAX_MS 60000
#define CONFIG_DEFAULT_TIMEOUT_MS 800
#define CONFIG_DEFAULT_RETRIES 1
#define CONFIG_DEFAULT_MAX_VARBINDS 60
#define CONFIG_DEFAULT_REDISCOVER_MS 600000
#define CONFIG_DEFAULT_SNMP_PORT 161
#define CONFIG_DEFAULT_REDIS_PORT 6379
#define CONFIG_DEFAULT_HISTORY 300
/* The longest community net-snmp reads in an answer (COMMUNITY_MAX_LEN). */
#define CONFIG_COMMUNITY_MAX 256

/* `counters:` -- the counter groups a device polls per interface (RFC
 * 2863). The octets, the speed and ifOperStatus are always polled; each
 * other group costs varbinds in every poll (4 for the octets group, 6 for
 * packets, 4 for errors and discards). */
#define CONFIG_COUNTERS_OCTETS 0x1  /* ifHCIn/OutOctets; always set */
#define CONFIG_COUNTERS_PACKETS 0x2 /* unicast + multicast + broadcast packets */
#define CONFIG_COUNTERS_ERRORS 0x4  /* ifIn/OutErrors and ifIn/OutDiscards */
/* What a device polls when neither it nor `defaults:` says (README.md
 * says why: errors and discards are what an incident is looked for in). */
#define CONFIG_DEFAULT_COUNTERS (CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_ERRORS)

/* The fields of one polled device, listed once: struct config_device, and
 * the copy, free and comparison in config/config_device.c, are all
 * generated from this list, so a field added here is copied, freed and
 * compared (a device whose entry changed is polled afresh on SIGHUP) with
 * nothing else to remember. Each entry is one of
 *   STR(f)          char *f, owned; never NULL unless said otherwise
 *   INT(f)          int f
 *   LIST(f, n)      char **f, n owned non-NULL strings, and size_t n
 * and a user of the list defines the three. `line` is not in the list:
 * where an entry sits in the file says nothing about how it is polled.
 * name and site are at most IFMON_NAME_MAX bytes (common/keys.h). */
#define CONFIG_DEVICE_FIELDS(STR, INT, LIST)                                                       \
    STR(name)                     /* unique; used in channel names (no ':' '*' or space) */        \
    STR(site)                     /* grouping for the web page; defaults to "default" */           \
    STR(address)                  /* as written, for messages */                                   \
    STR(host)                     /* address without port or brackets */                           \
    INT(port)                     /* UDP port, default 161 */                                      \
    INT(version)                  /* enum config_snmp_version */                                   \
    INT(net_snmp_polls)           /* snmp_engine: 1 net-snmp's PDUs, 0 builtin (ber.c); v1/v2c */  \
    STR(community)                /* v1/v2c community (default "public") */                        \
    INT(interval_ms)              /* poll interval */                                              \
    INT(timeout_ms)               /* per-request timeout */                                        \
    INT(retries)                  /* retransmissions after the first request */                    \
    INT(max_varbinds)             /* varbinds per GET PDU (the agent may force fewer) */           \
    INT(rediscover_ms)            /* periodic ifName/ifDescr re-walk */                            \
    LIST(interfaces, ninterfaces) /* ifName/ifDescr/ifAlias names or fnmatch(3) globs; 0 = all */  \
    LIST(site_total, nsite_total) /* globs as interfaces: the ones the site's total sums */        \
    INT(counters)                 /* CONFIG_COUNTERS_* bits (OCTETS always set) */                 \
    STR(user)                     /* SNMPv3 (USM) user; NULL for v1/v2c */                         \
    INT(security_level)           /* enum config_sec_level */                                      \
    INT(auth_protocol)            /* enum config_auth_proto */                                     \
    STR(auth_password)            /* NULL when not set */                                          \
    INT(priv_protocol)            /* enum config_priv_proto */                                     \
    STR(priv_password)            /* NULL when not set */                                          \
    STR(context)                  /* SNMPv3 context name, "" by default */

#define CONFIG_DEVICE_STR_MEMBER(f) char *f;
#define CONFIG_DEVICE_INT_MEMBER(f) int f;
#define CONFIG_DEVICE_LIST_MEMBER(f, n)                                                            \
    char **f;                                                                                      \
    size_t n;

/* One alert threshold of `alerts:` (docs/PROTOCOL.md, "Events"): raised
 * when the value stays above `above` for for_ms, cleared when it stays at
 * or below it as long. */
struct config_threshold {
    int on;       /* 0: no such alert */
    double above; /* percent of speed_bps (utilization), or per second */
    int for_ms;
};

/* A device's `alerts:` (or `defaults:`'s, which a device's map replaces
 * as a whole; an empty map turns them all off). */
struct config_alerts {
    struct config_threshold utilization; /* in or out, percent of the interface speed */
    struct config_threshold errors;      /* ifIn/OutErrors per second, in or out */
    struct config_threshold discards;    /* ifIn/OutDiscards per second, in or out */
};

/* One polled device (members: CONFIG_DEVICE_FIELDS above). Every string is
 * owned by the config. */
struct config_device {
    CONFIG_DEVICE_FIELDS(CONFIG_DEVICE_STR_MEMBER, CONFIG_DEVICE_INT_MEMBER,
                         CONFIG_DEVICE_LIST_MEMBER)
    /* Not in the table on purpose: thresholds are read at each sample, so a
     * reload that changes only them keeps the device polling (rates, and
     * the state of its alerts, go on) and applies them at once. Plain
     * values: copied by config_device_copy(), nothing to free. */
    struct config_alerts alerts;
    int line; /* line of the device's entry in the file; not compared */
};

/* Most entries of redis.sentinels. */
#define CONFIG_SENTINELS_MAX 16

struct config_redis {
    char *host;     /* default 127.0.0.1; unused with sentinels */
    int port;       /* default 6379; unused with sentinels */
    char *password; /* AUTH password, NULL when not set */
    char *prefix;   /* channel and key prefix, default "ifmon"; IFMON_PREFIX_MAX bytes at most */
    int history;    /* samples kept per interface, default 300 */
    /* Redis Sentinel: the master of master_name, as these Sentinels say
     * (common/redis_link.h). Both set or neither. */
    struct ifmon_redis_sentinel *sentinels; /* "HOST:PORT" or "[IPV6]:PORT" each; hosts owned */
    size_t nsentinels;
    char *master_name; /* NULL when not set */
};

/* gateway.tokens: a token that may only subscribe to some channels. */
struct config_token {
    char *token;
    char **channels; /* exact channels or patterns ending in '*', with the prefix */
    size_t nchannels;
    int line; /* of the entry in the file */
};

/* gateway.trusted_proxies: an address or a block of them (ADDRESS/BITS). */
struct config_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network order; 4 bytes for AF_INET; no bit set past `bits` */
    int bits;               /* prefix length: 0 to 32 or 128 */
};

struct config_gateway {
    char *listen_host; /* default 127.0.0.1: an IPv4 or IPv6 literal (without brackets) or a name */
    int listen_port;   /* default 8080; `listen:` must give it ("host:port", "[v6]:port") */
    char *web_root;    /* default "web/" (relative to the working dir) */
    char **allowed_origins;
    size_t nallowed_origins;     /* 0 = only the gateway's own origin */
    char *token;                 /* "" = no full-access token */
    struct config_token *tokens; /* restricted tokens; a token is required */
    size_t ntokens;              /* when token is set or ntokens > 0 */
    int max_connections;         /* default 10000 */
    int max_channels;            /* per connection, default 256 */
    int max_frame;               /* bytes per client frame, default 65536 */
    /* gateway.flush_ms: live data for a connection waits up to this long
     * to go out in one frame with what comes meanwhile (0, the default:
     * written at the end of the loop iteration it came in). */
    int flush_ms;
    /* gateway.io_uring: submit each loop turn's writes together through
     * io_uring when the kernel allows it (default true; restart-only). */
    int io_uring;
    /* Hostile clients (docs/PROTOCOL.md part 2, "HTTP endpoints"). */
    char **hosts;       /* names the Host header may give; 0 = the defaults (http.c) */
    size_t nhosts;      /* lower case, IPv6 without brackets, no trailing '.' */
    char *metrics_host; /* gateway.metrics_listen: /metrics only there; NULL = on listen */
    int metrics_port;   /* 0 when metrics_listen is not set */
    int metrics_token;  /* 1: /metrics wants "Authorization: Bearer <gateway.token>" */
    /* Limits per client address (docs/PROTOCOL.md part 2, "Limits"). */
    int max_connections_per_address;   /* TCP connections, upgraded or not; default 256 */
    int max_subscriptions;             /* connection-channel pairs in all; default 1000000 */
    int max_subscriptions_per_address; /* the same per client address; default 16384 */
    /* Load balancers whose connections start with a PROXY protocol
     * header naming the client (required from them, read from no other). */
    struct config_cidr *trusted_proxies;
    size_t ntrusted_proxies;
};

/* Fewest characters of gateway.token and of each gateway.tokens token. The
 * gateway (CONFIG_READER_GATEWAY) refuses shorter ones; the collector, which
 * uses no token, does not look (as the gateway does not look at devices). */
#define CONFIG_TOKEN_MIN 16

/* Longest gateway.flush_ms: past a second, live data at 1 Hz would skip. */
#define CONFIG_FLUSH_MS_MAX 1000

/* Longest collector.id. */
#define CONFIG_COLLECTOR_ID_MAX 64

/* The gateway's limits per client address and on subscriptions in all
 * (docs/PROTOCOL.md part 2, "Limits", says why these values). */
#define CONFIG_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 256
#define CONFIG_DEFAULT_MAX_SUBSCRIPTIONS 1000000
#define CONFIG_DEFAULT_MAX_SUBSCRIPTIONS_PER_ADDRESS 16384

/* `collector:`, the collector's own settings (not the devices'). */
struct config_collector {
    /* collector.id: who publishes, in every sample, device state and the
     * inventory (docs/PROTOCOL.md); CONFIG_COLLECTOR_ID_MAX bytes of
     * [A-Za-z0-9._:-]. NULL when not set: the collector makes
     * "<host name>:<pid>" (main.c). */
    char *id;
    /* collector.listen: GET /healthz and /metrics there (collector/health.c);
     * an IPv4 or [IPv6] address, never a name (no DNS lookup at start). */
    char *listen_host; /* NULL when not set */
    int listen_port;   /* 0 when not set */
    /* collector.shared: the devices are shared with the other collectors
     * of the same inventory and Redis, each polled by the one holding its
     * lease (collector/lease.h); 0: this collector polls them all. */
    int shared;
    /* collector.poll_grid: polls start on a grid of this step (ms), the
     * devices' first polls spread over their interval in whole steps, so
     * the devices of a step share the loop's wake-ups; 0: each device its
     * own moment, spread by position alone. */
    int poll_grid_ms;
};

struct config {
    char *path; /* file name as given, used in messages */
    struct config_redis redis;
    struct config_gateway gateway;
    struct config_collector collector;
    struct config_device *devices;
    size_t ndevices;
};

/* Problems found while loading: each line is "FILE:LINE:COLUMN: message"
 * (or "FILE: message" when no position applies, e.g. unreadable file). */
struct config_errors {
    char **lines;
    size_t count;
};

/* Load and validate the file at `path`. Returns a new config (free it with
 * config_free()) or NULL when there was any problem, in which case every
 * problem has been appended to `errs` (which the caller owns and frees with
 * config_errors_free()). ${VAR} and ${VAR:-default} in scalars are replaced
 * from the environment; an unset VAR without default is an error. */
struct config *config_load(const char *path, struct config_errors *errs);

/* Same as config_load() on text already in memory; `name` is the file name
 * used in messages. The text need not be NUL-terminated. */
struct config *config_load_buffer(const char *name, const char *text, size_t len,
                                  struct config_errors *errs);

/* config_load() for a daemon: every problem goes to stderr, as plain
 * FILE:LINE:COLUMN lines (for --check) or as error log lines (as_log).
 * Returns the config or NULL. */
struct config *config_load_reported(const char *path, int as_log);

/* Which daemon reads the file, so that each one checks what it uses. */
enum config_reader {
    /* Every section (config_load(); the collector, whose --check thereby
     * validates the whole file). */
    CONFIG_READER_ALL = 0,
    /* The gateway: `defaults:` and `devices:` are skipped without being
     * read (the gateway polls nothing, and a device typo must not stop
     * it); ndevices is 0. Everything else is checked as for ALL. */
    CONFIG_READER_GATEWAY,
};

/* config_load(), config_load_buffer() and config_load_reported() for a
 * given reader; with CONFIG_READER_ALL they are those functions. */
struct config *config_load_for(const char *path, enum config_reader reader,
                               struct config_errors *errs);
struct config *config_load_buffer_for(const char *name, const char *text, size_t len,
                                      enum config_reader reader, struct config_errors *errs);
struct config *config_load_reported_for(const char *path, enum config_reader reader, int as_log);

void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errs);

/* Parse a duration: a non-negative decimal number followed by "ms", "s" or
 * "m" ("800ms", "1s", "1.5s", "5m"). Stores milliseconds (rounded) in *ms.
 * Returns 0, or -1 when the text is not such a duration or exceeds 24h. */
int config_parse_duration(const char *text, int *ms);

/* Split "host", "host:port", "[v6addr]" or "[v6addr]:port". Returns 0 and a
 * new string in *host (caller frees) and the port (default_port if absent),
 * or -1 on malformed input (empty host, bad or out-of-range port). */
int config_parse_address(const char *text, int default_port, char **host, int *port);

/* 1 when two device entries would be polled identically (every field of
 * CONFIG_DEVICE_FIELDS, that is all but `alerts` and `line`), so a reload
 * can keep the device's rate state. */
int config_device_equal(const struct config_device *a, const struct config_device *b);

/* Names for messages and logs. */
const char *config_version_name(int version);

#endif
