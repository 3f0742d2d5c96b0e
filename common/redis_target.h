/* redis_target.h -- one Redis Sentinel's address, as the configuration
 * holds it (config.h, redis.sentinels) and as a Redis link is given it
 * (redis_link.h). Apart from redis_link.h so that the configuration does
 * not need hiredis. */

#ifndef IFMON_REDIS_TARGET_H
#define IFMON_REDIS_TARGET_H

struct ifmon_redis_sentinel {
    const char *host; /* an address or a name (looked up without blocking) */
    int port;
};

#endif
