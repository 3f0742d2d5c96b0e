/* request.h -- what a WebSocket client may ask, checked before anything
 * acts on it: JSON request parsing and validation, the channel and
 * pattern rules, and the per-connection request rate limit.
 *
 * Pure logic (jansson only, no sockets), unit tested in
 * tests/unit/test_gateway_request.c. The protocol itself is described in
 * docs/PROTOCOL.md, part 2. */

#ifndef IFMON_GATEWAY_REQUEST_H
#define IFMON_GATEWAY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A channel or pattern longer than this is refused (Redis would take it,
 * but no channel of docs/PROTOCOL.md comes near). */
#define CHANNEL_MAX_LEN 1024

/* Room for any error text produced here. */
#define REQUEST_ERROR_MAX 256

enum request_op {
    REQUEST_SUBSCRIBE,
    REQUEST_UNSUBSCRIBE,
    REQUEST_LIST,
};

struct request {
    enum request_op op;
    json_t *id;      /* the request's "id" (borrowed from root), or NULL */
    char **channels; /* subscribe/unsubscribe: validated, duplicates removed */
    size_t nchannels;
    json_t *root; /* the parsed document (owned) */
};

/* Parse and validate one text frame. `prefix` is redis.prefix (without the
 * ':'). Returns 0 and fills *req (free it with request_free()), or -1 with
 * a message for the client in err. On error req->id and req->root are
 * still set when the frame was a JSON object with an "id", so the error
 * reply can echo it: call request_free() in both cases. */
int request_parse(const char *text, size_t len, const char *prefix, struct request *req, char *err,
                  size_t errlen);

void request_free(struct request *req);

/* Check one channel or pattern as written by a client: it must start with
 * "<prefix>:", be at most CHANNEL_MAX_LEN bytes, and may only have a '*'
 * as its last character (a pattern: prefix match on what comes before).
 * Returns 0, or -1 with a message in err. */
int channel_check(const char *channel, const char *prefix, char *err, size_t errlen);

/* 1 when the channel (already checked) is a pattern, that is ends in '*'. */
int channel_is_pattern(const char *channel);

/* 1 when `channel` is matched by `pattern` (a checked pattern: prefix
 * match on everything before the trailing '*'). */
int channel_matches(const char *pattern, const char *channel);

/* 1 for an interface channel "<prefix>:<device>:<interface>", which has a
 * history list; 0 for "<prefix>:<device>" and "<prefix>:inventory".
 * Device names never contain ':' (docs/PROTOCOL.md). */
int channel_has_history(const char *channel, const char *prefix);

/* The Redis key of a channel's history: "<prefix>:history:<rest>" for the
 * channel "<prefix>:<rest>". Returns a new string (caller frees). */
char *channel_history_key(const char *channel, const char *prefix);

/* The PSUBSCRIBE pattern for a client pattern: the part before the '*'
 * with Redis glob characters ('*', '?', '[', ']', '\') escaped by '\', then
 * '*'. Only the trailing '*' is special to the client, and interface names
 * may contain any character. Returns a new string (caller frees). */
char *pattern_to_redis(const char *pattern);

/* Token bucket for requests: `rate` per second, bursts of `burst`. */
struct ratelimit {
    double tokens;
    uint64_t last_ms;
    int started;
    unsigned long over; /* requests refused so far */
};

/* Take one token at time now_ms. Returns 0, or -1 when over the limit
 * (and counts it in rl->over). */
int ratelimit_take(struct ratelimit *rl, uint64_t now_ms, double rate, double burst);

#endif
