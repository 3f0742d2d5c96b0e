/* access.h -- who may open a WebSocket: the Origin check (browsers send
 * Origin, RFC 6455 section 10.2, so a page of another site cannot use a
 * logged-in operator's browser), the shared-secret tokens and the channels
 * each token may see.
 *
 * Pure string logic on header values; http.c reads the headers and turns a
 * refusal into 403 or 401. Unit tested in tests/unit/test_gateway_access.c. */

#ifndef IFMON_GATEWAY_ACCESS_H
#define IFMON_GATEWAY_ACCESS_H

#include <stddef.h>

/* 1 when a WebSocket upgrade with this Origin header may proceed.
 * origin NULL (no header: not a browser) is accepted. With a non-empty
 * `allowed` list the origin must equal one entry (ASCII case-insensitive,
 * a trailing '/' ignored). With an empty list the origin must be
 * "http://H" or "https://H" where H equals the request's Host header
 * (default ports 80/443 may be written or omitted on either side). */
int access_origin_allowed(const char *origin, const char *host, char *const *allowed,
                          size_t nallowed);

/* 1 when a request with this Host header (RFC 9110 section 7.2) may be
 * answered: DNS rebinding (a page of attacker.example whose name now
 * resolves to the gateway) reaches the gateway through the operator's
 * browser with the attacker's name in Host, and the Origin check, which
 * compares Origin with Host, cannot see it. host NULL (no header: HTTP/1.0,
 * not a browser) is accepted. The host part (port removed, lower case, one
 * trailing '.' ignored) must equal one of `names` (lower case, IPv6
 * without brackets), or be an IPv4 address or a bracketed IPv6 address:
 * an address is never rebound, and a browser sends one only to the
 * address it connected to. A malformed header is refused. */
int access_host_allowed(const char *host, char *const *names, size_t nnames);

/* 1 when `given` equals `secret`. The time taken depends only on the
 * length of `secret`, never on where the first difference is. given NULL
 * never matches. */
int access_token_equal(const char *given, const char *secret);

/* The credentials of an "Authorization: Bearer <token>" header value
 * (RFC 6750; the scheme is case-insensitive), or NULL for another scheme. */
const char *access_bearer(const char *authorization);

struct config_gateway;
struct config_token;

/* The result of access_token_find() when no token is configured, or when
 * `given` is gateway.token: every channel. */
extern const struct config_token access_all;

/* Which configured token `given` is: &access_all for gateway.token (or
 * when no token is configured at all), the gateway.tokens entry it equals,
 * or NULL (refuse). Every configured token is compared in full, so the
 * time taken does not tell which one matched or how much of one did. */
const struct config_token *access_token_find(const char *given, const struct config_gateway *g);

/* 1 when a connection holding token t may subscribe `channel`, an exact
 * channel or a client pattern ending in '*' (already checked by
 * channel_check()). An exact channel must be matched by one of t's
 * channels; a pattern must be covered by one, that is every channel it
 * matches is matched by that entry ("ifmon:tokyo-*" covers
 * "ifmon:tokyo-edge1:*", not "ifmon:*"). A device's state channel
 * "<prefix>:<device>" is permitted with any of its interface channels,
 * and so is its events channel "<prefix>:events:<device>"; an events
 * pattern "<prefix>:events:<stem>*" when "<prefix>:<stem>*" is covered
 * (every device it can match is visible), and a pattern that also
 * matches every device's events ("<prefix>:e*", "<prefix>:*") only when
 * "<prefix>:*" is. No entry permits an events channel by its name alone.
 * "<prefix>:inventory" only says the inventory changed and is always
 * permitted. */
int access_channel_permitted(const struct config_token *t, const char *channel, const char *prefix);

#endif
