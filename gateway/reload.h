/* reload.h -- SIGHUP: read the configuration file again and apply what
 * can change while the gateway runs (docs/PROTOCOL.md, part 2,
 * "Reloading the configuration").
 *
 * Applied at once: gateway.token, gateway.tokens, allowed_origins,
 * max_connections, max_channels, max_frame, the limits per address
 * (max_connections_per_address, max_subscriptions_per_address),
 * max_subscriptions and trusted_proxies, for what comes next (admit.c and
 * client.c read them at each accept and subscribe); a connection whose token
 * is no longer accepted, or that holds a channel its token no longer
 * permits, is closed with 1008 (client_set_reload()). Kept until a
 * restart, with one log line saying so: the listen address, web_root and
 * the redis: section (the connections to Redis, the prefix and the
 * history length live as long as the process). An invalid file changes
 * nothing; its problems are logged. Not here: the signal handling
 * (main.c). */

#ifndef IFMON_GATEWAY_RELOAD_H
#define IFMON_GATEWAY_RELOAD_H

#include "config.h"
#include "gateway.h"

/* Load `path` for the gateway (CONFIG_READER_GATEWAY) and, when it is
 * valid, make it gw->cfg and *current (the one the caller owns and will
 * free) with the running values of what needs a restart, and free the old
 * one. Returns 0 when applied, -1 when the file is invalid (nothing
 * changed). */
int reload_config(struct gateway *gw, const char *path, struct config **current);

#endif
