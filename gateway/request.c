/* request.c -- see request.h. Every message produced here is sent to the
 * client as the "error" of an {"op":"error"} reply, so each says what was
 * wrong in the client's terms. */

#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ channels */

int channel_check(const char *channel, const char *prefix, char *err, size_t errlen)
{
    size_t plen = strlen(prefix), len = strlen(channel);
    const char *star;

    if (len > CHANNEL_MAX_LEN) {
        set_err(err, errlen, "channel is longer than %d bytes", CHANNEL_MAX_LEN);
        return -1;
    }
    if (len <= plen || strncmp(channel, prefix, plen) != 0 || channel[plen] != ':') {
        set_err(err, errlen, "channel \"%.100s\" is outside the prefix \"%s:\"", channel, prefix);
        return -1;
    }
    if (len == plen + 1) {
        set_err(err, errlen, "channel \"%s\" names nothing after the prefix", channel);
        return -1;
    }
    star = strchr(channel, '*');
    if (star && star != channel + len - 1) {
        set_err(err, errlen, "pattern \"%.100s\": '*' is only allowed at the end", channel);
        return -1;
    }
    return 0;
}

int channel_is_pattern(const char *channel)
{
    size_t len = strlen(channel);

    return len > 0 && channel[len - 1] == '*';
}

int channel_matches(const char *pattern, const char *channel)
{
    size_t n = strlen(pattern);

    if (n == 0 || pattern[n - 1] != '*')
        return strcmp(pattern, channel) == 0;
    return strncmp(pattern, channel, n - 1) == 0;
}

int channel_has_history(const char *channel, const char *prefix)
{
    size_t plen = strlen(prefix);

    if (strncmp(channel, prefix, plen) != 0 || channel[plen] != ':')
        return 0;
    return strchr(channel + plen + 1, ':') != NULL;
}

char *channel_history_key(const char *channel, const char *prefix)
{
    size_t plen = strlen(prefix);
    const char *rest = channel + plen + 1;
    size_t n = plen + strlen(":history:") + strlen(rest) + 1;
    char *key = malloc(n);

    if (key == NULL)
        abort();
    snprintf(key, n, "%s:history:%s", prefix, rest);
    return key;
}

char *pattern_to_redis(const char *pattern)
{
    size_t len = strlen(pattern), i, o = 0;
    char *out = malloc(2 * len + 2);

    if (out == NULL)
        abort();
    if (len > 0 && pattern[len - 1] == '*')
        len--;
    for (i = 0; i < len; i++) {
        if (strchr("*?[]\\", pattern[i]))
            out[o++] = '\\';
        out[o++] = pattern[i];
    }
    out[o++] = '*';
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------ requests */

static int add_unique(struct request *req, const char *channel)
{
    size_t i;

    for (i = 0; i < req->nchannels; i++)
        if (strcmp(req->channels[i], channel) == 0)
            return 0;
    req->channels[req->nchannels] = strdup(channel);
    if (req->channels[req->nchannels] == NULL)
        abort();
    req->nchannels++;
    return 0;
}

static int parse_channels(struct request *req, const char *prefix, char *err, size_t errlen)
{
    json_t *list = json_object_get(req->root, "channels"), *v;
    size_t i;

    if (!json_is_array(list)) {
        set_err(err, errlen, "\"channels\" must be an array of strings");
        return -1;
    }
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v)) {
            set_err(err, errlen, "\"channels\" must be an array of strings (item %zu is not)", i);
            return -1;
        }
        /* A JSON string may hold "\u0000"; jansson refuses those unless
         * asked, so json_string_value() is the whole string. */
        if (channel_check(json_string_value(v), prefix, err, errlen) < 0)
            return -1;
    }
    req->channels = calloc(json_array_size(list) + 1, sizeof(*req->channels));
    if (req->channels == NULL)
        abort();
    json_array_foreach(list, i, v) add_unique(req, json_string_value(v));
    return 0;
}

int request_parse(const char *text, size_t len, const char *prefix, struct request *req, char *err,
                  size_t errlen)
{
    json_error_t jerr;
    json_t *op;
    const char *name;

    memset(req, 0, sizeof(*req));
    /* JSON_DECODE_ANY: "3" or "\"x\"" parse, and are then refused as not
     * an object with a clearer message than jansson's. */
    req->root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (req->root == NULL) {
        set_err(err, errlen, "invalid JSON: %s at line %d column %d", jerr.text, jerr.line,
                jerr.column);
        return -1;
    }
    if (!json_is_object(req->root)) {
        set_err(err, errlen, "a request must be a JSON object");
        return -1;
    }
    req->id = json_object_get(req->root, "id");
    op = json_object_get(req->root, "op");
    if (op == NULL) {
        set_err(err, errlen, "missing \"op\"");
        return -1;
    }
    if (!json_is_string(op)) {
        set_err(err, errlen, "\"op\" must be a string");
        return -1;
    }
    name = json_string_value(op);
    if (strcmp(name, "subscribe") == 0) {
        req->op = REQUEST_SUBSCRIBE;
    } else if (strcmp(name, "unsubscribe") == 0) {
        req->op = REQUEST_UNSUBSCRIBE;
    } else if (strcmp(name, "list") == 0) {
        req->op = REQUEST_LIST;
        return 0;
    } else {
        set_err(err, errlen, "unknown op \"%.64s\" (expected subscribe, unsubscribe or list)",
                name);
        return -1;
    }
    return parse_channels(req, prefix, err, errlen);
}

void request_free(struct request *req)
{
    size_t i;

    for (i = 0; i < req->nchannels; i++)
        free(req->channels[i]);
    free(req->channels);
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}

/* ---------------------------------------------------------- rate limit */

int ratelimit_take(struct ratelimit *rl, uint64_t now_ms, double rate, double burst)
{
    if (!rl->started) {
        rl->started = 1;
        rl->tokens = burst;
        rl->last_ms = now_ms;
    }
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rate / 1000.0;
        if (rl->tokens > burst)
            rl->tokens = burst;
        rl->last_ms = now_ms;
    }
    if (rl->tokens < 1.0) {
        rl->over++;
        return -1;
    }
    rl->tokens -= 1.0;
    return 0;
}
