/* acceptpace.c -- see acceptpace.h: accept(), defined here so that lws'
 * calls reach it (as rxcheck.c does for recv() and close()), with a
 * budget per listening socket and loop iteration. Not unit tested (glue
 * between lws and the socket); tests/gateway/limits.test.js,
 * tests/gateway/lobby.test.js and `make attack` (floods of 10,000 and
 * 19,000 connections) drive it. */

#include "acceptpace.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "admit.h"
#include "lobby.h"
#include "util.h"

/* Listening sockets with a budget of their own: the page's port and
 * metrics_listen's, with room to spare. A socket past these is not paced. */
#define PACED_MAX 8
/* Vhosts whose connections go through the lobby. */
#define SERVED_MAX 2

/* One listening socket's accepts in the current iteration. */
struct paced {
    int fd;             /* -1: a free slot */
    uint64_t iteration; /* the iteration n counts */
    unsigned n;
    int looked;           /* its port was compared with the vhosts served */
    struct lws_vhost *vh; /* the vhost it serves, when served */
    int proxy_port;
};

static struct {
    uv_check_t check;
    int running;
    uint64_t iteration; /* loop iterations since acceptpace_start() */
    struct paced sockets[PACED_MAX];
    struct {
        struct lws_vhost *vh;
        int port;
        int proxy_port;
    } served[SERVED_MAX];
    size_t nserved;
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
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->fd = fd;
        free_slot->iteration = pace.iteration;
    }
    return free_slot;
}

/* Which served vhost listens on p's socket, if any (once per socket). */
static void look_up(struct paced *p)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int port = -1;
    size_t i;

    p->looked = 1;
    if (getsockname(p->fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    for (i = 0; i < pace.nserved; i++) {
        if (pace.served[i].port == port) {
            p->vh = pace.served[i].vh;
            p->proxy_port = pace.served[i].proxy_port;
        }
    }
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

void acceptpace_serve(struct lws_vhost *vh, int proxy_port)
{
    IFMON_ASSERT(pace.running && pace.nserved < SERVED_MAX);
    pace.served[pace.nserved].vh = vh;
    pace.served[pace.nserved].port = lws_get_vhost_listen_port(vh);
    pace.served[pace.nserved].proxy_port = proxy_port;
    pace.nserved++;
}

void acceptpace_stop(void)
{
    if (!pace.running)
        return;
    pace.running = 0;
    uv_check_stop(&pace.check);
    uv_close((uv_handle_t *)&pace.check, NULL);
}

/* Accept what p's budget allows into the lobby; -1 with errno (EAGAIN
 * once the budget or the backlog is spent: lws stops asking). */
static int accept_into_lobby(struct paced *p)
{
    static const int one = 1;

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd, r;

        if (p->n >= ACCEPTPACE_PER_ITERATION) {
            errno = EAGAIN;
            return -1;
        }
        p->n++;
        fd = accept4(p->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return -1;
        r = admit_accept(fd, (struct sockaddr *)&ss, p->proxy_port);
        if (r < 0) {
            close(fd); /* answered 503 */
            continue;
        }
        /* As lws sets the sockets it accepts (no keepalive configured). */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        lobby_enter(fd, p->vh, r == 1);
    }
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
        if (!p->looked)
            look_up(p);
        if (p->vh)
            return accept_into_lobby(p);
        if (p->n >= ACCEPTPACE_PER_ITERATION) {
            errno = EAGAIN;
            return -1;
        }
        p->n++;
    }
    return accept4(fd, addr, addrlen, 0);
}
