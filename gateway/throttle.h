/* throttle.h -- addresses that presented too many wrong tokens: after
 * THROTTLE_FAILURES failures within THROTTLE_WINDOW_MS, an address is
 * refused (429, Retry-After) for THROTTLE_BLOCK_MS without its token even
 * being compared. A brute-force guess then costs the gateway one table
 * lookup per attempt, and the guesser THROTTLE_BLOCK_MS per
 * THROTTLE_FAILURES guesses.
 *
 * The table is bounded (THROTTLE_BUCKETS x THROTTLE_WAYS addresses): when a
 * bucket is full the entry least recently failed is forgotten, so an
 * attacker with many addresses can at worst unblock one of its own or
 * another's early, never make the table grow. An IPv6 address counts by
 * its /64, the smallest block one host is commonly given.
 *
 * Pure logic on keys and times given by the caller (http.c gives
 * uv_now()); unit tested in tests/unit/test_gateway_hostile.c. */

#ifndef IFMON_GATEWAY_THROTTLE_H
#define IFMON_GATEWAY_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define THROTTLE_FAILURES 10
#define THROTTLE_WINDOW_MS 60000
#define THROTTLE_BLOCK_MS 60000
#define THROTTLE_BUCKETS 1024
#define THROTTLE_WAYS 4

/* An address as the throttle counts it: IPv4 whole, IPv6 by its /64
 * (an IPv4-mapped IPv6 address is the IPv4 one). */
struct throttle_key {
    uint8_t family; /* 4 or 6; 0: no address (never throttled) */
    uint8_t addr[8];
};

struct throttle_entry {
    struct throttle_key key;
    uint32_t failures;        /* in the window that started at window_ms */
    uint64_t window_ms;       /* when the first failure of the window came */
    uint64_t blocked_until;   /* ms; 0 when not blocked */
    uint64_t last_failure_ms; /* for eviction */
};

struct throttle {
    struct throttle_entry slots[THROTTLE_BUCKETS * THROTTLE_WAYS];
    uint64_t seed; /* keys' hash: an attacker cannot aim at one bucket */
};

/* Empty table; seed should be unpredictable (http.c mixes the clock and
 * the pid). */
void throttle_init(struct throttle *t, uint64_t seed);

/* The key of a peer address (AF_INET or AF_INET6); family 0 for others. */
void throttle_key_of(const struct sockaddr *sa, struct throttle_key *key);

/* splitmix64's finaliser over the key's bytes, keyed by seed (an
 * unpredictable one, so that addresses cannot be chosen to share a
 * bucket): the hash of every table of addresses. */
uint64_t throttle_key_hash(uint64_t seed, const struct throttle_key *key);

/* How many ms `key` stays refused, 0 when it is not. */
uint64_t throttle_blocked(const struct throttle *t, const struct throttle_key *key,
                          uint64_t now_ms);

/* Count a wrong or missing token from key. Returns 1 when this failure
 * blocks it (the THROTTLE_FAILURES-th in the window), 0 otherwise. */
int throttle_failure(struct throttle *t, const struct throttle_key *key, uint64_t now_ms);

#endif
