/* client_request.c -- see client_request.h. Every message produced here
 * is sent to the client as the "error" of an {"op":"error"} reply, so each
 * says what was wrong in the client's terms. */

#include "client_request.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "util.h"

static uint64_t hash(const char *s)
{
    return ifmon_fnv1a_str(IFMON_FNV1A_INIT, s);
}

/* req->channels: the entries of list (checked strings) in their order,
 * each once. A hash set of the names kept (open addressing, at most half
 * full): O(n), where comparing each with those before was O(n^2). */
static void add_unique(struct client_request *req, json_t *list)
{
    size_t nslots = 8, mask, i, at;
    const char **slots;
    json_t *v;

    while (nslots < 2 * json_array_size(list))
        nslots *= 2;
    slots = ifmon_xcalloc(nslots, sizeof(*slots));
    mask = nslots - 1;
    json_array_foreach(list, i, v)
    {
        const char *channel = json_string_value(v);

        for (at = hash(channel) & mask; slots[at]; at = (at + 1) & mask)
            if (strcmp(slots[at], channel) == 0)
                break;
        if (slots[at])
            continue; /* a duplicate */
        slots[at] = channel;
        req->channels[req->nchannels++] = ifmon_xstrdup(channel);
    }
    free(slots);
}

static int parse_channels(struct client_request *req, const char *prefix, size_t max_entries,
                          char *err, size_t errlen)
{
    json_t *list = json_object_get(req->root, "channels"), *v;
    size_t i;

    if (!json_is_array(list)) {
        snprintf(err, errlen, "\"channels\" must be an array of strings");
        return -1;
    }
    if (json_array_size(list) > max_entries) {
        snprintf(err, errlen,
                 "too many channels: a request may list at most %zu channels and patterns (this "
                 "one lists %zu)",
                 max_entries, json_array_size(list));
        return -1;
    }
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "\"channels\" must be an array of strings (item %zu is not)", i);
            return -1;
        }
        /* A JSON string may hold "\u0000"; jansson refuses those unless
         * asked, so json_string_value() is the whole string. */
        if (channel_check(json_string_value(v), prefix, err, errlen) < 0)
            return -1;
    }
    req->channels = ifmon_xcalloc(json_array_size(list) + 1, sizeof(*req->channels));
    add_unique(req, list);
    return 0;
}

int client_request_parse(const char *text, size_t len, const char *prefix,
                         struct client_request *req, char *err, size_t errlen)
{
    return client_request_parse_max(text, len, prefix, SIZE_MAX, req, err, errlen);
}

int client_request_parse_max(const char *text, size_t len, const char *prefix, size_t max_entries,
                             struct client_request *req, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *op;
    const char *name;

    memset(req, 0, sizeof(*req));
    /* JSON_DECODE_ANY: "3" or "\"x\"" parse, and are then refused as not
     * an object with a clearer message than jansson's. */
    req->root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (req->root == NULL) {
        snprintf(err, errlen, "invalid JSON: %s at line %d column %d", jerr.text, jerr.line,
                 jerr.column);
        return -1;
    }
    if (!json_is_object(req->root)) {
        snprintf(err, errlen, "a request must be a JSON object");
        return -1;
    }
    req->id = json_object_get(req->root, "id");
    op = json_object_get(req->root, "op");
    if (op == NULL) {
        snprintf(err, errlen, "missing \"op\"");
        return -1;
    }
    if (!json_is_string(op)) {
        snprintf(err, errlen, "\"op\" must be a string");
        return -1;
    }
    name = json_string_value(op);
    if (strcmp(name, "subscribe") == 0) {
        req->op = CLIENT_REQUEST_SUBSCRIBE;
    } else if (strcmp(name, "unsubscribe") == 0) {
        req->op = CLIENT_REQUEST_UNSUBSCRIBE;
    } else if (strcmp(name, "list") == 0) {
        req->op = CLIENT_REQUEST_LIST;
        return 0;
    } else if (strcmp(name, "events") == 0) {
        req->op = CLIENT_REQUEST_EVENTS;
        return 0;
    } else {
        snprintf(err, errlen,
                 "unknown op \"%.64s\" (expected subscribe, unsubscribe, list or events)", name);
        return -1;
    }
    req->history = 1;
    if (req->op == CLIENT_REQUEST_SUBSCRIBE) {
        json_t *history = json_object_get(req->root, "history");

        if (history && !json_is_boolean(history)) {
            snprintf(err, errlen, "\"history\" must be true or false");
            return -1;
        }
        req->history = history == NULL || json_is_true(history);
    }
    return parse_channels(req, prefix, max_entries, err, errlen);
}

void client_request_free(struct client_request *req)
{
    size_t i;

    for (i = 0; i < req->nchannels; i++)
        free(req->channels[i]);
    free(req->channels);
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}
