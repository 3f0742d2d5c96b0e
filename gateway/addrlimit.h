/* addrlimit.h -- what each client address holds of the gateway: its open
 * TCP connections and its subscriptions, each counted against a limit per
 * address (gateway.max_connections_per_address,
 * gateway.max_subscriptions_per_address), so that one address cannot take
 * what the global limits leave for everyone (docs/PROTOCOL.md part 2,
 * "Limits").
 *
 * An address is the throttle's key (throttle.h): IPv4 whole, IPv6 by its
 * /64. An entry exists while its address holds something, so the table is
 * as large as the number of addresses connected, never more (it grows by
 * doubling, and its hash is keyed so that addresses cannot be chosen to
 * fall in one chain).
 *
 * Pure bookkeeping, no I/O; admit.c counts connections, client.c
 * subscriptions. Unit tested in tests/unit/test_gateway_admit.c. */

#ifndef IFMON_GATEWAY_ADDRLIMIT_H
#define IFMON_GATEWAY_ADDRLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "throttle.h"

struct addrlimit;

/* An empty table; seed should be unpredictable (as the throttle's). */
struct addrlimit *addrlimit_new(uint64_t seed);
/* t may be NULL. */
void addrlimit_free(struct addrlimit *t);

/* Count a connection of key, unless key already has max (then -1, nothing
 * counted). 0 when counted. */
int addrlimit_connect(struct addrlimit *t, const struct throttle_key *key, size_t max);
/* A connection counted by addrlimit_connect() has ended. */
void addrlimit_disconnect(struct addrlimit *t, const struct throttle_key *key);

/* Count n more subscriptions of key, unless that takes it past max (then
 * -1, nothing counted). 0 when counted (n may be 0). */
int addrlimit_subscribe(struct addrlimit *t, const struct throttle_key *key, size_t n, size_t max);
/* n subscriptions counted by addrlimit_subscribe() have ended. */
void addrlimit_unsubscribe(struct addrlimit *t, const struct throttle_key *key, size_t n);

/* What key holds now (0 and 0 for an address the table does not have). */
size_t addrlimit_connections(const struct addrlimit *t, const struct throttle_key *key);
size_t addrlimit_subscriptions(const struct addrlimit *t, const struct throttle_key *key);
/* Addresses that hold something. */
size_t addrlimit_addresses(const struct addrlimit *t);

#endif
