/* upgrade.c -- see upgrade.h: the checks of what reaches the port, each
 * refusal's answer and its log line. The cheap refusals come first, so
 * that a blocked address costs one table lookup. What lws reads before it
 * parses a head is rxcheck.c's; whether a connection is taken at all,
 * admit.c's. */

#include "upgrade.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "access.h"
#include "admit.h"
#include "client.h"
#include "hostnames.h"
#include "log.h"
#include "lograte.h"
#include "rxcheck.h"
#include "throttle.h"
#include "util.h"
#include "webpath.h"

/* What the checks keep between requests. */
static struct {
    char **default_hosts; /* when gateway.hosts is empty (hostnames.h) */
    size_t ndefault_hosts;
    struct throttle throttle; /* addresses that sent wrong tokens */
    /* Log lines a client can cause, each kind at a bounded rate. */
    struct lograte host_log, origin_log, token_log, block_log, full_log;
} checks;

static struct gateway *gateway_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static uint64_t now_of(struct lws *wsi)
{
    return uv_now(gateway_of(wsi)->loop);
}

int upgrade_refuse(struct lws *wsi, unsigned status, const char *name, const char *value,
                   const char *text)
{
    unsigned char buf[LWS_PRE + 1536], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof(buf) - 1;
    size_t len = strlen(text);
    char slen[24];
    int n = snprintf(slen, sizeof(slen), "%zu", len);

    if (lws_add_http_header_status(wsi, status, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/plain", 10, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                     (const unsigned char *)slen, n, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)UPGRADE_CSP_NONE,
                                    (int)strlen(UPGRADE_CSP_NONE), &p, end) ||
        (name &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                     (int)strlen(value), &p, end)) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < len)
        return 1;
    memcpy(p, text, len);
    p += len;
    return lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) != (int)(p - start);
}

/* A header's value, or NULL when absent (or too long to be honest). */
static const char *header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, h) <= 0 || lws_hdr_copy(wsi, buf, len, h) < 0)
        return NULL;
    return buf;
}

const char *upgrade_host_of(struct lws *wsi, char *buf)
{
    const char *h = header(wsi, WSI_TOKEN_HOST, buf, UPGRADE_HEADER_MAX);

    if (h == NULL && lws_hdr_total_length(wsi, WSI_TOKEN_HOST) > 0)
        h = "";
    return h;
}

/* The client's address as the throttle counts it, and as text. */
static void peer_of(struct lws *wsi, struct throttle_key *key, char *name, size_t size)
{
    admit_client(lws_get_socket_fd(wsi), key, name, size);
}

/* 1 when the request's Host is one of the gateway's names (gateway.hosts,
 * or the defaults of hostnames.h); else logs it and returns 0. */
static int host_allowed(struct lws *wsi)
{
    const struct config_gateway *g = &gateway_of(wsi)->cfg->gateway;
    char host[UPGRADE_HEADER_MAX], peer[64];
    struct throttle_key key;
    const char *h = upgrade_host_of(wsi, host);
    int ok = g->nhosts ? access_host_allowed(h, g->hosts, g->nhosts)
                       : access_host_allowed(h, checks.default_hosts, checks.ndefault_hosts);

    if (!ok) {
        peer_of(wsi, &key, peer, sizeof(peer));
        lograte_log(&checks.host_log, now_of(wsi),
                    "refusing a request from %s for Host \"%.100s\": not a name of this gateway "
                    "(gateway.hosts)",
                    peer, h);
    }
    return ok;
}

static int refuse_host(struct lws *wsi)
{
    return upgrade_refuse(wsi, 421, NULL, NULL,
                          "Misdirected Request: this gateway does not answer to the name in the "
                          "Host header (gateway.hosts)\n");
}

int upgrade_check_host(struct lws *wsi)
{
    if (host_allowed(wsi))
        return 0;
    refuse_host(wsi);
    return 1;
}

/* 429 to an address blocked for wrong tokens (throttle.h), with the
 * seconds it has to wait. 1 when refused (answered, or the answer
 * failed: -1 in *rc), 0 when not blocked. */
static int refuse_blocked(struct lws *wsi, const struct throttle_key *key, int *rc)
{
    uint64_t left = throttle_blocked(&checks.throttle, key, now_of(wsi));
    char retry[24];

    if (left == 0)
        return 0;
    snprintf(retry, sizeof(retry), "%" PRIu64, (left + 999) / 1000);
    *rc = upgrade_refuse(wsi, 429, "retry-after:", retry,
                         "Too Many Requests: too many wrong tokens from this address; try again "
                         "after Retry-After seconds\n");
    return 1;
}

/* Count a wrong token from key; logs (at a bounded rate) the refusal
 * and, once, the block it causes. */
static void wrong_token(struct lws *wsi, const struct throttle_key *key, const char *peer,
                        const char *what)
{
    uint64_t now = now_of(wsi);

    lograte_log(&checks.token_log, now, "refusing %s from %s: wrong token", what, peer);
    if (throttle_failure(&checks.throttle, key, now))
        lograte_log(&checks.block_log, now,
                    "refusing every upgrade and /metrics request from %s for %d s: %d wrong "
                    "tokens within %d s",
                    peer, THROTTLE_BLOCK_MS / 1000, THROTTLE_FAILURES, THROTTLE_WINDOW_MS / 1000);
}

const char *upgrade_token_of(struct lws *wsi, char *buf)
{
    char arg[UPGRADE_HEADER_MAX], auth[UPGRADE_HEADER_MAX];
    const char *t = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg));

    if (t == NULL)
        t = access_bearer(header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)));
    if (t == NULL)
        return NULL;
    snprintf(buf, UPGRADE_HEADER_MAX, "%s", t);
    return buf;
}

int upgrade_check_metrics(struct lws *wsi)
{
    const struct config_gateway *g = &gateway_of(wsi)->cfg->gateway;
    char auth[UPGRADE_HEADER_MAX], peer[64];
    struct throttle_key key;
    const char *t;
    int rc = 0;

    if (!g->metrics_token)
        return 0;
    peer_of(wsi, &key, peer, sizeof(peer));
    if (refuse_blocked(wsi, &key, &rc))
        return 1;
    t = access_bearer(header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)));
    if (t && access_token_equal(t, g->token))
        return 0;
    if (t)
        wrong_token(wsi, &key, peer, "/metrics");
    upgrade_refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "www-authenticate:", UPGRADE_REALM,
                   "Unauthorized: /metrics wants \"Authorization: Bearer <gateway.token>\" "
                   "(gateway.metrics_token)\n");
    return 1;
}

/* The gateway has max_connections WebSockets: 503, and when to try again. */
static int refuse_full(struct lws *wsi, const char *peer, int max)
{
    char retry[16];

    lograte_log(&checks.full_log, now_of(wsi),
                "refusing a WebSocket from %s: %d connections already (max_connections)", peer,
                max);
    snprintf(retry, sizeof(retry), "%d", ADMIT_RETRY_AFTER_S);
    return upgrade_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "retry-after:", retry,
                          "Service Unavailable: the gateway has as many WebSockets as it takes "
                          "(gateway.max_connections); try again after Retry-After seconds\n");
}

int upgrade_confirm(struct lws *wsi, const char *upgrade, int metrics_port)
{
    struct gateway *gw = gateway_of(wsi);
    const struct config_gateway *g = &gw->cfg->gateway;
    uint64_t now = uv_now(gw->loop);
    char uri[256], origin[UPGRADE_HEADER_MAX], host[UPGRADE_HEADER_MAX], token[UPGRADE_HEADER_MAX],
        peer[64];
    struct throttle_key key;
    const char *o, *t;
    int rc = 0;

    peer_of(wsi, &key, peer, sizeof(peer));
    if (strcasecmp(upgrade, "websocket") != 0) {
        rc = lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
    } else if (metrics_port || lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
               webpath_route(uri) != WEBPATH_ROUTE_WS) {
        rc = lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    } else if (!host_allowed(wsi)) {
        rc = refuse_host(wsi);
    } else if (refuse_blocked(wsi, &key, &rc)) {
        lograte_log(&checks.block_log, now, "refusing a WebSocket from %s: blocked (429)", peer);
    } else if (client_set_count(gw->clients) >= (size_t)g->max_connections) {
        rc = refuse_full(wsi, peer, g->max_connections);
    } else {
        o = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
        if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 && o == NULL)
            o = ""; /* too long: never allowed */
        if (!access_origin_allowed(o, upgrade_host_of(wsi, host), g->allowed_origins,
                                   g->nallowed_origins)) {
            lograte_log(&checks.origin_log, now, "refusing a WebSocket from %s: origin \"%.200s\"",
                        peer, o);
            rc = lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
        } else if (access_token_find((t = upgrade_token_of(wsi, token)), g) == NULL) {
            if (t)
                wrong_token(wsi, &key, peer, "a WebSocket");
            else
                lograte_log(&checks.token_log, now, "refusing a WebSocket from %s: no token", peer);
            rc = upgrade_refuse(
                wsi, HTTP_STATUS_UNAUTHORIZED, "www-authenticate:", UPGRADE_REALM,
                "Unauthorized: a token is required (?token= or Authorization: Bearer)\n");
        } else {
            return 0;
        }
    }
    /* Answered as HTTP: what follows on the connection is a request. */
    rxcheck_http(lws_get_socket_fd(wsi));
    return rc ? -1 : 1;
}

void upgrade_start(const struct config_gateway *g)
{
    uint64_t seed = uv_hrtime();

    memset(&checks, 0, sizeof(checks));
    checks.default_hosts = hostnames_default(g->listen_host, "/etc/hosts", &checks.ndefault_hosts);
    /* The throttle's hash is keyed so that addresses cannot be chosen to
     * fill one bucket; the clock is the fallback. */
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed ^= (uint64_t)getpid() << 32;
    throttle_init(&checks.throttle, seed);
}

void upgrade_log_hosts(const struct config_gateway *g)
{
    char *const *names = g->nhosts ? g->hosts : checks.default_hosts;
    size_t n = g->nhosts ? g->nhosts : checks.ndefault_hosts, i, len = 0;
    char list[1024] = "";

    for (i = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
    log_info("answering requests whose Host is %s%s, or an IP address (/healthz: any Host)",
             g->nhosts ? "gateway.hosts: " : "", list);
}

void upgrade_free(void)
{
    hostnames_free(checks.default_hosts, checks.ndefault_hosts);
    checks.default_hosts = NULL;
    checks.ndefault_hosts = 0;
}
