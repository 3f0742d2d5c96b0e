/* keys.c -- see keys.h. */

#include "keys.h"

#include <stdarg.h>
#include <string.h>

/* k = the nparts strings, joined; -1 (k empty) when longer than max. */
static int join(struct ifmon_key *k, size_t max, int nparts, ...)
{
    va_list ap;
    size_t len = 0;
    int i, rc = 0;

    va_start(ap, nparts);
    for (i = 0; i < nparts; i++) {
        const char *part = va_arg(ap, const char *);
        size_t n = strlen(part);

        if (n > max - len) {
            rc = -1;
            len = 0;
            break;
        }
        memcpy(k->s + len, part, n);
        len += n;
    }
    va_end(ap);
    k->s[len] = '\0';
    k->len = len;
    return rc;
}

int ifmon_key_inventory(struct ifmon_key *k, const char *prefix)
{
    return join(k, IFMON_CHANNEL_MAX, 2, prefix, ":inventory");
}

int ifmon_key_device(struct ifmon_key *k, const char *prefix, const char *device)
{
    return join(k, IFMON_CHANNEL_MAX, 3, prefix, ":", device);
}

int ifmon_key_interface(struct ifmon_key *k, const char *prefix, const char *device,
                        const char *iface)
{
    return join(k, IFMON_CHANNEL_MAX, 5, prefix, ":", device, ":", iface);
}

int ifmon_key_history(struct ifmon_key *k, const char *prefix, const char *device,
                      const char *iface)
{
    return join(k, IFMON_KEY_MAX, 5, prefix, ":history:", device, ":", iface);
}

int ifmon_key_events(struct ifmon_key *k, const char *prefix, const char *device)
{
    return join(k, IFMON_CHANNEL_MAX, 3, prefix, ":events:", device);
}

int ifmon_key_event_log(struct ifmon_key *k, const char *prefix)
{
    return join(k, IFMON_KEY_MAX, 2, prefix, ":events");
}

int ifmon_key_event_log_rebuild(struct ifmon_key *k, const char *prefix)
{
    return join(k, IFMON_KEY_MAX, 2, prefix, ":events:rebuild");
}

int ifmon_key_alerts(struct ifmon_key *k, const char *prefix)
{
    return join(k, IFMON_KEY_MAX, 2, prefix, ":alerts");
}

int ifmon_key_cluster(struct ifmon_key *k, const char *prefix, const char *part,
                      const char *device)
{
    if (device == NULL)
        return join(k, IFMON_KEY_MAX, 3, prefix, ":cluster:", part);
    return join(k, IFMON_KEY_MAX, 5, prefix, ":cluster:", part, ":", device);
}

int ifmon_key_history_of(struct ifmon_key *k, const char *prefix, const char *channel)
{
    if (ifmon_channel_kind(channel, prefix) != IFMON_CHANNEL_INTERFACE) {
        k->s[0] = '\0';
        k->len = 0;
        return -1;
    }
    return join(k, IFMON_KEY_MAX, 3, prefix, ":history:", channel + strlen(prefix) + 1);
}

enum ifmon_channel_kind ifmon_channel_kind(const char *channel, const char *prefix)
{
    size_t plen = strlen(prefix);
    const char *rest;

    if (strncmp(channel, prefix, plen) != 0 || channel[plen] != ':' || channel[plen + 1] == '\0')
        return IFMON_CHANNEL_OTHER;
    rest = channel + plen + 1;
    if (strncmp(rest, "events:", 7) == 0 && rest[7] != '\0')
        return IFMON_CHANNEL_EVENTS;
    if (strncmp(rest, "cluster:", 8) == 0)
        return IFMON_CHANNEL_OTHER; /* keys of the collectors' leases, no channel */
    if (strchr(rest, ':') != NULL)
        return IFMON_CHANNEL_INTERFACE;
    if (strcmp(rest, "inventory") == 0)
        return IFMON_CHANNEL_INVENTORY;
    return IFMON_CHANNEL_DEVICE;
}
