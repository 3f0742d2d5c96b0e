/* client_request.h -- one request of a WebSocket client (a text frame
 * holding a JSON object: subscribe, unsubscribe, list or events), parsed and
 * checked before anything acts on it (docs/PROTOCOL.md, part 2, "Client
 * to gateway" and "Errors").
 *
 * Not here: what the gateway does with a request (client.c), the
 * channel rules themselves (channel.h) and whether a token may see a
 * channel (access.h). Pure logic (jansson only, no sockets), unit tested
 * in tests/unit/test_gateway_client_request.c. */

#ifndef IFMON_GATEWAY_CLIENT_REQUEST_H
#define IFMON_GATEWAY_CLIENT_REQUEST_H

#include <stddef.h>

#include <jansson.h>

/* Room for any error text produced here or by channel_check(). */
#define CLIENT_REQUEST_ERROR_MAX 256

enum client_request_op {
    CLIENT_REQUEST_SUBSCRIBE,
    CLIENT_REQUEST_UNSUBSCRIBE,
    CLIENT_REQUEST_LIST,
    CLIENT_REQUEST_EVENTS,
};

struct client_request {
    enum client_request_op op;
    json_t *id;      /* the request's "id" (borrowed from root), or NULL */
    char **channels; /* subscribe/unsubscribe: checked, duplicates removed */
    size_t nchannels;
    int history;  /* subscribe: 0 when it said "history": false (live data only) */
    json_t *root; /* the parsed document (owned) */
};

/* Parse and check one text frame. `prefix` is redis.prefix (without the
 * ':'). Returns 0 and fills *req, or -1 with a message for the client in
 * err. On error req->id and req->root are still set when the frame was a
 * JSON object with an "id", so that the error reply can echo it: call
 * client_request_free() in both cases. Duplicates are removed in O(n). */
int client_request_parse(const char *text, size_t len, const char *prefix,
                         struct client_request *req, char *err, size_t errlen);

/* The same, refusing a subscribe or unsubscribe of more than max_entries
 * entries (duplicates included) before any entry is looked at: a request
 * that cannot be granted costs no more than its JSON parse. */
int client_request_parse_max(const char *text, size_t len, const char *prefix, size_t max_entries,
                             struct client_request *req, char *err, size_t errlen);

/* Free what client_request_parse() filled in (req itself is the
 * caller's) and zero it. */
void client_request_free(struct client_request *req);

#endif
