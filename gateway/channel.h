/* channel.h -- the channel and pattern names a WebSocket client may write
 * (docs/PROTOCOL.md, part 2, "subscribe"): the check every entry of a
 * request passes, what a client pattern matches, and the Redis pattern it
 * becomes.
 *
 * Only the client's side of the naming: what a name means in the Redis
 * scheme (an interface channel, its history key, the inventory) is
 * common/keys.h. Pure string logic, unit tested in
 * tests/unit/test_gateway_channel.c. */

#ifndef IFMON_GATEWAY_CHANNEL_H
#define IFMON_GATEWAY_CHANNEL_H

#include <stddef.h>

/* Check one channel or pattern as written by a client: it must start with
 * "<prefix>:", name something after it, be at most IFMON_CHANNEL_MAX
 * bytes, and may only have a '*' as its last character (a pattern: prefix
 * match on what comes before). Returns 0, or -1 with a message for the
 * client in err (errlen bytes; err may be NULL when errlen is 0). */
int channel_check(const char *channel, const char *prefix, char *err, size_t errlen);

/* 1 when the channel (already checked) is a pattern, that is ends in '*'. */
int channel_is_pattern(const char *channel);

/* 1 when `channel` is matched by `pattern` (a checked pattern: prefix
 * match on everything before the trailing '*'; an exact channel matches
 * itself only). */
int channel_matches(const char *pattern, const char *channel);

/* The PSUBSCRIBE pattern for a client pattern: the part before the '*'
 * with Redis glob characters ('*', '?', '[', ']', '\') escaped by '\', then
 * '*'. Only the trailing '*' is special to the client, and interface names
 * may contain any character. Returns a new string (caller frees). */
char *channel_pattern_to_redis(const char *pattern);

#endif
