/* acceptpace.c -- see acceptpace.h: accept(), defined here so that lws'
 * calls reach it (as rxcheck.c does for recv() and close()), with a
 * budget per listening socket and loop iteration. Not unit tested (glue
 * between lws and the socket); tests/gateway/limits.test.js and `make
 * attack` (floods of 10,000 and 19,000 connections) drive it. */

#include "acceptpace.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

/* Listening sockets with a budget of their own: the page's port and
 * metrics_listen's, with room to spare. A socket past these is not paced. */
#define PACED_MAX 8

/* One listening socket's accepts in the current iteration. */
struct paced {
    int fd;             /* -1: a free slot */
    uint64_t iteration; /* the iteration n counts */
    unsigned n;
};

static struct {
    uv_check_t check;
    int running;
    uint64_t iteration; /* loop iterations since acceptpace_start() */
    struct paced sockets[PACED_MAX];
} pace;

static void on_check(uv_check_t *h)
{
    (void)h;
    pace.iteration++;
}

/* The slot of listening socket fd, taken when missing; NULL when all are
 * taken by others. */
static struct paced *paced_of(int fd)
{
    struct paced *free_slot = NULL;
    size_t i;

    for (i = 0; i < PACED_MAX; i++) {
        if (pace.sockets[i].fd == fd)
            return &pace.sockets[i];
        if (pace.sockets[i].fd < 0 && free_slot == NULL)
            free_slot = &pace.sockets[i];
    }
    if (free_slot) {
        free_slot->fd = fd;
        free_slot->iteration = pace.iteration;
        free_slot->n = 0;
    }
    return free_slot;
}

void acceptpace_start(uv_loop_t *loop)
{
    size_t i;

    IFMON_ASSERT(!pace.running);
    memset(&pace, 0, sizeof(pace));
    for (i = 0; i < PACED_MAX; i++)
        pace.sockets[i].fd = -1;
    uv_check_init(loop, &pace.check);
    uv_check_start(&pace.check, on_check);
    uv_unref((uv_handle_t *)&pace.check); /* never what keeps the loop alive */
    pace.running = 1;
}

void acceptpace_stop(void)
{
    if (!pace.running)
        return;
    pace.running = 0;
    uv_check_stop(&pace.check);
    uv_close((uv_handle_t *)&pace.check, NULL);
}

/* lws' accept() on a listening socket (ops-listen.c: EAGAIN ends its
 * loop until the socket is polled again). */
int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct paced *p = pace.running ? paced_of(fd) : NULL;

    if (p != NULL) {
        if (p->iteration != pace.iteration) {
            p->iteration = pace.iteration;
            p->n = 0;
        }
        if (p->n >= ACCEPTPACE_PER_ITERATION) {
            errno = EAGAIN;
            return -1;
        }
        p->n++;
    }
    return accept4(fd, addr, addrlen, 0);
}
