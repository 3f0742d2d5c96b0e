/* channel.c -- see channel.h. Every message produced here is sent to the
 * client as the "error" of an {"op":"error"} reply, so each says what was
 * wrong in the client's terms. */

#include "channel.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "util.h"

int channel_check(const char *channel, const char *prefix, char *err, size_t errlen)
{
    size_t plen = strlen(prefix), len = strlen(channel);
    const char *star;

    if (len > IFMON_CHANNEL_MAX) {
        snprintf(err, errlen, "channel is longer than %d bytes", IFMON_CHANNEL_MAX);
        return -1;
    }
    if (len <= plen || strncmp(channel, prefix, plen) != 0 || channel[plen] != ':') {
        snprintf(err, errlen, "channel \"%.100s\" is outside the prefix \"%s:\"", channel, prefix);
        return -1;
    }
    if (len == plen + 1) {
        snprintf(err, errlen, "channel \"%s\" names nothing after the prefix", channel);
        return -1;
    }
    star = strchr(channel, '*');
    if (star && star != channel + len - 1) {
        snprintf(err, errlen, "pattern \"%.100s\": '*' is only allowed at the end", channel);
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

char *channel_pattern_to_redis(const char *pattern)
{
    size_t len = strlen(pattern), i, o = 0;
    char *out = ifmon_xmalloc(2 * len + 2);

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
