/* outmsg.c -- see outmsg.h. */

#include "outmsg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct outmsg *outmsg_new_channel(enum outmsg_kind kind, const char *channel, size_t clen,
                                  size_t len)
{
    size_t room = channel ? clen + 1 : 0;
    struct outmsg *m = ifmon_xcalloc(1, sizeof(*m) + OUTMSG_HEADROOM + len + 1 + room);

    m->refs = 1;
    m->count = 1;
    m->kind = kind;
    m->len = len;
    if (channel) {
        m->channel = (char *)m->buf + OUTMSG_HEADROOM + len + 1;
        memcpy(m->channel, channel, clen);
    }
    return m;
}

struct outmsg *outmsg_new(enum outmsg_kind kind, const char *channel, size_t len)
{
    return outmsg_new_channel(kind, channel, channel ? strlen(channel) : 0, len);
}

struct outmsg *outmsg_from_text(const char *text, size_t len)
{
    struct outmsg *m = outmsg_new(OUTMSG_REPLY, NULL, len);

    memcpy(outmsg_text(m), text, len);
    return m;
}

struct outmsg *outmsg_ref(struct outmsg *m)
{
    m->refs++;
    return m;
}

void outmsg_unref(struct outmsg *m)
{
    if (m == NULL)
        return;
    IFMON_ASSERT(m->refs > 0);
    if (--m->refs > 0)
        return;
    free(m);
}
