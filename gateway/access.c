/* access.c -- see access.h. */

#include "access.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "keys.h"

const struct config_token access_all = {0};

/* Host part of a Host header or origin authority, with a default port
 * removed, into out (lower case). -1 when it does not fit. */
static int normalise_authority(const char *s, size_t len, const char *default_port, char *out,
                               size_t outlen)
{
    size_t i, dlen = strlen(default_port);

    if (len >= outlen)
        return -1;
    for (i = 0; i < len; i++) {
        char c = s[i];

        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    /* "host:80" is "host" for http (RFC 6454 section 4 drops default ports). */
    if (len > dlen + 1 && out[len - dlen - 1] == ':' && strcmp(out + len - dlen, default_port) == 0)
        out[len - dlen - 1] = '\0';
    return 0;
}

static int same_origin(const char *origin, const char *host)
{
    char a[512], b[512];
    const char *authority, *port = NULL;
    size_t alen;

    if (host == NULL || *host == '\0')
        return 0;
    if (strncasecmp(origin, "http://", 7) == 0) {
        authority = origin + 7;
        port = "80";
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        authority = origin + 8;
        port = "443";
    } else {
        return 0; /* "null", file:, chrome-extension:, ... */
    }
    alen = strlen(authority);
    if (alen > 0 && authority[alen - 1] == '/')
        alen--;
    if (alen == 0 || memchr(authority, '/', alen) || memchr(authority, '@', alen))
        return 0;
    if (normalise_authority(authority, alen, port, a, sizeof(a)) < 0 ||
        normalise_authority(host, strlen(host), port, b, sizeof(b)) < 0)
        return 0;
    return strcmp(a, b) == 0;
}

int access_origin_allowed(const char *origin, const char *host, char *const *allowed,
                          size_t nallowed)
{
    size_t i, olen;

    if (origin == NULL)
        return 1;
    if (nallowed == 0)
        return same_origin(origin, host);
    olen = strlen(origin);
    if (olen > 0 && origin[olen - 1] == '/')
        olen--;
    for (i = 0; i < nallowed; i++) {
        size_t alen = strlen(allowed[i]);

        if (alen > 0 && allowed[i][alen - 1] == '/')
            alen--;
        if (alen == olen && strncasecmp(allowed[i], origin, olen) == 0)
            return 1;
    }
    return 0;
}

int access_host_allowed(const char *host, char *const *names, size_t nnames)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char name[256];
    const char *end, *port;
    size_t len, i;
    int bracketed = host != NULL && host[0] == '[';

    if (host == NULL)
        return 1;
    if (bracketed) {
        end = strchr(host, ']');
        if (end == NULL)
            return 0;
        port = end + 1;
        host++;
    } else {
        port = strchr(host, ':');
        end = port ? port : host + strlen(host);
        if (port == NULL)
            port = end;
        else if (strchr(port + 1, ':'))
            return 0; /* an IPv6 address must be in brackets */
    }
    if (*port != '\0' && (*port != ':' || strspn(port + 1, "0123456789") != strlen(port + 1) ||
                          strlen(port + 1) > 5))
        return 0;
    len = (size_t)(end - host);
    if (len > 1 && !bracketed && host[len - 1] == '.')
        len--;
    if (len == 0 || len >= sizeof(name))
        return 0;
    for (i = 0; i < len; i++) {
        char c = host[i];

        name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    name[len] = '\0';
    if (inet_pton(bracketed ? AF_INET6 : AF_INET, name, addr) == 1)
        return 1;
    if (bracketed)
        return 0;
    for (i = 0; i < nnames; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

int access_token_equal(const char *given, const char *secret)
{
    size_t glen, slen, i;
    unsigned char diff;

    if (given == NULL)
        return 0;
    glen = strlen(given);
    slen = strlen(secret);
    /* Walk the secret's length whatever was given; bytes past the end of
     * `given` compare against 0 and the length difference is folded in,
     * so no early exit leaks a matching prefix. */
    diff = (unsigned char)(glen != slen);
    for (i = 0; i < slen; i++)
        diff |= (unsigned char)(secret[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

const char *access_bearer(const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    authorization += 7;
    while (*authorization == ' ')
        authorization++;
    return authorization;
}

const struct config_token *access_token_find(const char *given, const struct config_gateway *g)
{
    const struct config_token *found = NULL;
    size_t i;

    if (g->token[0] == '\0' && g->ntokens == 0)
        return &access_all;
    /* No early exit: every token is compared whatever matched before. */
    if (g->token[0] && access_token_equal(given, g->token))
        found = &access_all;
    for (i = 0; i < g->ntokens; i++)
        if (access_token_equal(given, g->tokens[i].token) && found == NULL)
            found = &g->tokens[i];
    return found;
}

/* 1 when `entry` (exact, or a pattern ending in '*') matches every
 * channel that `channel` names: itself when exact, all that start with
 * its stem when it is a pattern. */
static int entry_covers(const char *entry, const char *channel)
{
    size_t elen = strlen(entry), clen = strlen(channel);
    int epat = elen > 0 && entry[elen - 1] == '*';
    int cpat = clen > 0 && channel[clen - 1] == '*';

    if (!epat)
        return !cpat && strcmp(entry, channel) == 0;
    /* A pattern covers whatever starts with its stem, patterns included
     * (the stem of "a:b*" starts with the stem of "a:*"). */
    return strncmp(entry, channel, elen - 1) == 0;
}

/* 1 when `entry` matches some interface channel "<dev>:<interface>" of
 * the device channel dev (dlen bytes). */
static int entry_reaches_device(const char *entry, const char *dev, size_t dlen)
{
    size_t elen = strlen(entry), i;
    int epat = elen > 0 && entry[elen - 1] == '*';
    size_t stem = epat ? elen - 1 : elen;

    for (i = 0; i < stem && i <= dlen; i++)
        if (entry[i] != (i < dlen ? dev[i] : ':'))
            return 0;
    /* Either the entry names something under "<dev>:", or it is a
     * pattern whose stem is a prefix of "<dev>:". */
    return stem > dlen || epat;
}

/* 1 when t may see device state channel `dev` ("<prefix>:<device>",
 * dlen bytes, no ':' nor '*' after the prefix): an entry names it, or
 * matches one of its interface channels. */
static int device_visible(const struct config_token *t, const char *dev, size_t dlen)
{
    size_t i;

    for (i = 0; i < t->nchannels; i++) {
        const char *e = t->channels[i];

        if ((strlen(e) == dlen && memcmp(e, dev, dlen) == 0) || entry_reaches_device(e, dev, dlen))
            return 1;
    }
    return 0;
}

/* 1 when one of t's entries covers `channel` (entry_covers). */
static int covered(const struct config_token *t, const char *channel)
{
    size_t i;

    for (i = 0; i < t->nchannels; i++)
        if (entry_covers(t->channels[i], channel))
            return 1;
    return 0;
}

/* A restricted token and an events channel or pattern: what it may see is
 * decided by the devices it can match, never by an entry that happens to
 * cover the name "<prefix>:events:..." ("ifmon:e*" names no device's
 * events). `rest` is what follows "<prefix>:events:". */
static int events_permitted(const struct config_token *t, const char *prefix, const char *rest)
{
    struct ifmon_key dev;
    size_t rlen = strlen(rest);

    if (rlen == 0 || memchr(rest, ':', rlen) != NULL)
        return 0; /* no device name has a ':' */
    if (ifmon_key_device(&dev, prefix, rest) < 0)
        return 0;
    if (rest[rlen - 1] == '*') /* every device "<stem>...": "<prefix>:<stem>*" covered */
        return covered(t, dev.s);
    return device_visible(t, dev.s, dev.len);
}

int access_channel_permitted(const struct config_token *t, const char *channel, const char *prefix)
{
    size_t plen = strlen(prefix), clen = strlen(channel);
    int pattern = clen > 0 && channel[clen - 1] == '*';

    if (t == &access_all)
        return 1;
    if (ifmon_channel_kind(channel, prefix) == IFMON_CHANNEL_INVENTORY)
        return 1;
    if (strncmp(channel, prefix, plen) != 0 || channel[plen] != ':')
        return covered(t, channel);
    /* Events: "<prefix>:events:<device>" goes with the device's state
     * channel, "<prefix>:events:<stem>*" with "<prefix>:<stem>*". */
    if (strncmp(channel + plen + 1, "events:", 7) == 0)
        return events_permitted(t, prefix, channel + plen + 8);
    /* A pattern that also matches every device's events ("ifmon:e*",
     * "ifmon:*") needs a token that sees every device. */
    if (pattern && strncmp(channel + plen + 1, "events:", clen - plen - 2) == 0) {
        struct ifmon_key all;

        return ifmon_key_device(&all, prefix, "*") == 0 && covered(t, all.s);
    }
    if (covered(t, channel))
        return 1;
    /* A device's state channel goes with any of its interfaces: a page
     * showing an interface shows whether its device answers. */
    if (strpbrk(channel + plen + 1, ":*") == NULL)
        return device_visible(t, channel, clen);
    return 0;
}
