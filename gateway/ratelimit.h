/* ratelimit.h -- a token bucket: how many requests one WebSocket
 * connection may make, `rate` a second with bursts of `burst`
 * (docs/PROTOCOL.md, part 2, "Errors"). It counts refusals; what to do
 * about a flood of them is the caller's business (client.c closes the
 * connection). Pure arithmetic on the caller's clock, unit tested in
 * tests/unit/test_gateway_ratelimit.c. */

#ifndef IFMON_GATEWAY_RATELIMIT_H
#define IFMON_GATEWAY_RATELIMIT_H

#include <stdint.h>

/* Zero it to start: the first take fills the bucket to `burst`. */
struct ratelimit {
    double tokens;
    uint64_t last_ms; /* the caller's monotonic clock at the last refill */
    int started;
    unsigned long over; /* requests refused so far */
};

/* Take one token at time now_ms. Returns 0, or -1 when over the limit
 * (and counts it in rl->over). */
int ratelimit_take(struct ratelimit *rl, uint64_t now_ms, double rate, double burst);

#endif
