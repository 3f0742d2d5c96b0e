/* sendbatch.c -- see sendbatch.h. One io_uring, one buffer of
 * SENDBATCH_BYTES (for what is copied: sendbatch_add()) and a record per
 * send; the ring is only ever used from
 * the loop's thread, and every send of a submission has completed before
 * sendbatch_submit() returns, so the buffer is free again after it. */

#include "sendbatch.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "util.h"

struct pending_send {
    void *owner;
    const unsigned char *data; /* in buf, or the caller's (sendbatch_add_shared()) */
    size_t len;
    ssize_t sent;
    int fd;
};

struct sendbatch {
    struct io_uring ring;
    unsigned char *buf;
    size_t used;
    struct pending_send *sends;
    size_t nsends;
    int broken; /* a submission failed: nothing more goes through the ring */
};

struct sendbatch *sendbatch_new(int *why)
{
    struct sendbatch *b = ifmon_xcalloc(1, sizeof(*b));
    int rc = io_uring_queue_init(SENDBATCH_ENTRIES, &b->ring, 0);

    if (rc < 0) {
        *why = -rc;
        free(b);
        return NULL;
    }
    b->buf = ifmon_xmalloc(SENDBATCH_BYTES);
    b->sends = ifmon_xcalloc(SENDBATCH_ENTRIES, sizeof(*b->sends));
    return b;
}

void sendbatch_free(struct sendbatch *b)
{
    if (b == NULL)
        return;
    io_uring_queue_exit(&b->ring);
    free(b->buf);
    free(b->sends);
    free(b);
}

int sendbatch_usable(const struct sendbatch *b)
{
    return b && !b->broken;
}

unsigned char *sendbatch_room(struct sendbatch *b, size_t len)
{
    if (b->broken || b->nsends == SENDBATCH_ENTRIES || len > SENDBATCH_BYTES - b->used)
        return NULL;
    return b->buf + b->used;
}

void sendbatch_add(struct sendbatch *b, int fd, size_t len, void *owner)
{
    struct pending_send *s = &b->sends[b->nsends];

    IFMON_ASSERT(b->nsends < SENDBATCH_ENTRIES && len <= SENDBATCH_BYTES - b->used);
    s->owner = owner;
    s->data = b->buf + b->used;
    s->len = len;
    s->sent = -EAGAIN;
    s->fd = fd;
    b->used += len;
    b->nsends++;
}

int sendbatch_add_shared(struct sendbatch *b, int fd, const unsigned char *data, size_t len,
                         void *owner)
{
    struct pending_send *s = &b->sends[b->nsends];

    if (b->broken || b->nsends == SENDBATCH_ENTRIES)
        return -1;
    s->owner = owner;
    s->data = data;
    s->len = len;
    s->sent = -EAGAIN;
    s->fd = fd;
    b->nsends++;
    return 0;
}

size_t sendbatch_submit(struct sendbatch *b, sendbatch_done_fn done, void *arg)
{
    size_t i, n = b->nsends, submitted = 0, seen = 0;
    struct io_uring_cqe *cqe;
    int rc;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
        struct pending_send *s = &b->sends[i];

        /* The ring has SENDBATCH_ENTRIES entries and holds no other send. */
        IFMON_ASSERT(sqe != NULL);
        io_uring_prep_send(sqe, s->fd, s->data, s->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, i);
    }
    /* Non-blocking sends complete inline, during the submission. */
    do
        rc = io_uring_submit(&b->ring);
    while (rc == -EINTR);
    if (rc >= 0)
        submitted = (size_t)rc;
    if (submitted < n) {
        /* What was not submitted stays in the ring: never submit again;
         * the sends are reported not sent, so lws sends their bytes. */
        log_err("gateway: io_uring took %zu of %zu sends (%s); writing without it from now on",
                submitted, n, rc < 0 ? strerror(-rc) : "short submission");
        b->broken = 1;
    }
    while (seen < submitted) {
        rc = io_uring_wait_cqe(&b->ring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            log_err("gateway: io_uring_wait_cqe: %s; writing without io_uring from now on",
                    strerror(-rc));
            b->broken = 1;
            break;
        }
        i = io_uring_cqe_get_data64(cqe);
        if (i < n)
            b->sends[i].sent = cqe->res;
        io_uring_cqe_seen(&b->ring, cqe);
        seen++;
    }
    for (i = 0; i < n; i++) {
        struct pending_send *s = &b->sends[i];

        done(s->owner, s->data, s->len, s->sent, arg);
    }
    b->nsends = 0;
    b->used = 0;
    return n;
}
