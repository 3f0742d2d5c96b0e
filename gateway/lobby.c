/* lobby.c -- see lobby.h. Not unit tested (glue between the kernel, lws
 * and rxscan.c, whose scan it reuses); tests/gateway/lobby.test.js drives
 * it through the gateway, and `make attack` (the descriptors attack)
 * measures what it is for. */

#include "lobby.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "rxscan.h"
#include "util.h"

/* How often waiting connections are checked for their time. */
#define EXPIRE_EVERY_MS 250

/* One connection waiting, on the list in the order it came (so in the
 * order of its deadline). */
struct waiting {
    int fd;
    struct lws_vhost *vh;
    uint64_t deadline; /* uv_now() */
    size_t scanned;    /* bytes of the stream fed to scan */
    struct rxscan scan;
    struct waiting *prev, *next;
};

static struct {
    int running;
    int efd; /* the epoll set; -1 when there is none */
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t timer;
    struct waiting *head, *tail;
    struct lobby_stats st;
    unsigned char peek[LOBBY_PEEK_MAX];
} lobby = {.efd = -1};

static void unlink_waiting(struct waiting *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        lobby.head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        lobby.tail = w->prev;
    lobby.st.waiting--;
}

/* Hand fd to lws, as lws' listener does with what it accepts. */
static void adopt(int fd, struct lws_vhost *vh)
{
    lws_sock_file_fd_type sock;

    sock.sockfd = fd;
    lobby.st.handed++;
    /* NULL: lws has closed the socket already. */
    (void)lws_adopt_descriptor_vhost(vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, sock, NULL, NULL);
}

/* w leaves the lobby: handed to lws (hand) or closed. Closing a socket
 * takes it out of the epoll set; a socket handed on is taken out first,
 * as lws watches it through libuv from now on. */
static void leave(struct waiting *w, int hand)
{
    unlink_waiting(w);
    if (hand) {
        (void)epoll_ctl(lobby.efd, EPOLL_CTL_DEL, w->fd, NULL);
        adopt(w->fd, w->vh);
    } else {
        close(w->fd); /* rxcheck.c's close(): admit.c releases the count */
    }
    free(w);
}

/* Feed the bytes of w's stream not scanned yet (the peek holds the
 * first n); 1 once the first head has ended or has a verdict. */
static int head_is_in(struct waiting *w, size_t n)
{
    while (w->scanned < n) {
        size_t k = rxscan_feed(&w->scan, lobby.peek + w->scanned, n - w->scanned);

        w->scanned += k;
        if (w->scan.mode == RXSCAN_PROXIED)
            rxscan_proxied(&w->scan); /* the client's head follows */
        else if (k == 0)
            break;
    }
    return w->scan.mode == RXSCAN_DECIDE || w->scan.mode == RXSCAN_VERDICT || w->scan.heads > 0;
}

/* epoll said something of w's socket: more bytes, or its end. */
static void look_at(struct waiting *w, uint32_t events)
{
    ssize_t n =
        recvfrom(w->fd, lobby.peek, sizeof(lobby.peek), MSG_PEEK | MSG_DONTWAIT, NULL, NULL);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        lobby.st.ended++;
        leave(w, 0);
        return;
    }
    if (head_is_in(w, (size_t)n) || (size_t)n == sizeof(lobby.peek)) {
        leave(w, 1);
        return;
    }
    /* The client stopped writing with its head unfinished: it can never
     * be answered. */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        lobby.st.ended++;
        leave(w, 0);
    }
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct epoll_event ev[LOBBY_PER_TURN];
    int i, n;

    (void)h;
    (void)status;
    (void)events;
    /* Level-triggered for libuv: past LOBBY_PER_TURN, the epoll set is
     * still readable and the rest comes on the next turn. */
    n = epoll_wait(lobby.efd, ev, LOBBY_PER_TURN, 0);
    for (i = 0; i < n; i++)
        look_at(ev[i].data.ptr, ev[i].events);
}

static void on_timer(uv_timer_t *t)
{
    uint64_t now = uv_now(lobby.loop);
    unsigned n = 0;

    while (lobby.head && lobby.head->deadline <= now && n++ < LOBBY_PER_TURN) {
        lobby.st.expired++;
        leave(lobby.head, 0);
    }
    /* More due: the next turn. */
    uv_timer_start(t, on_timer, lobby.head && lobby.head->deadline <= now ? 0 : EXPIRE_EVERY_MS, 0);
}

int lobby_start(uv_loop_t *loop)
{
    IFMON_ASSERT(!lobby.running);
    memset(&lobby.st, 0, sizeof(lobby.st));
    lobby.loop = loop;
    lobby.head = lobby.tail = NULL;
    lobby.efd = epoll_create1(EPOLL_CLOEXEC);
    if (lobby.efd < 0) {
        log_err("lobby: epoll_create1: %s; connections go to lws at once", strerror(errno));
        return -1;
    }
    uv_poll_init(loop, &lobby.poll, lobby.efd);
    uv_poll_start(&lobby.poll, UV_READABLE, on_readable);
    uv_timer_init(loop, &lobby.timer);
    uv_timer_start(&lobby.timer, on_timer, EXPIRE_EVERY_MS, 0);
    /* Neither is what keeps the loop alive. */
    uv_unref((uv_handle_t *)&lobby.poll);
    uv_unref((uv_handle_t *)&lobby.timer);
    lobby.running = 1;
    return 0;
}

/* uv_close callback of the poll handle: the epoll set can go. */
static void on_poll_closed(uv_handle_t *h)
{
    (void)h;
    close(lobby.efd);
    lobby.efd = -1;
}

void lobby_stop(void)
{
    if (!lobby.running)
        return;
    lobby.running = 0;
    while (lobby.head)
        leave(lobby.head, 0);
    uv_timer_stop(&lobby.timer);
    uv_close((uv_handle_t *)&lobby.timer, NULL);
    uv_poll_stop(&lobby.poll);
    uv_close((uv_handle_t *)&lobby.poll, on_poll_closed);
}

void lobby_enter(int fd, struct lws_vhost *vh, int proxied)
{
    struct epoll_event ev;
    struct waiting *w;

    if (!lobby.running) {
        adopt(fd, vh);
        return;
    }
    w = ifmon_xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->vh = vh;
    w->deadline = uv_now(lobby.loop) + LOBBY_WAIT_MS;
    if (proxied)
        rxscan_init_proxied(&w->scan);
    else
        rxscan_init(&w->scan);
    memset(&ev, 0, sizeof(ev));
    /* Edge-triggered: a head that is not complete yet is not reported
     * again until more of it comes. Bytes already there are reported. */
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = w;
    if (epoll_ctl(lobby.efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_warn("lobby: epoll_ctl: %s; handing the connection to lws at once", strerror(errno));
        free(w);
        adopt(fd, vh);
        return;
    }
    w->prev = lobby.tail;
    if (lobby.tail)
        lobby.tail->next = w;
    else
        lobby.head = w;
    lobby.tail = w;
    lobby.st.waiting++;
}

void lobby_stats(struct lobby_stats *out)
{
    *out = lobby.st;
}
