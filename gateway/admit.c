/* admit.c -- see admit.h: the decision on each accepted socket, its
 * client's address (per descriptor, from accept to close), and the 503
 * that refuses it. Not unit tested (glue between lws, rxcheck.c and the
 * tables); what it uses is (addrlimit.c, proxyproto.c), and
 * tests/gateway/limits.test.js drives it through the gateway. */

#include "admit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addrlimit.h"
#include "log.h"
#include "lograte.h"
#include "rxcheck.h"
#include "util.h"

/* One accepted socket, by its descriptor. */
struct admitted {
    int open;    /* accepted and admitted, not closed yet */
    int counted; /* its connection is counted against key */
    struct throttle_key key;
    char name[INET6_ADDRSTRLEN];
};

static struct {
    struct gateway *gw;
    struct admitted *fds;
    size_t nfds;
    size_t open;   /* sockets admitted and not closed */
    long nofile;   /* RLIMIT_NOFILE at start */
    long at_start; /* descriptors open at start */
    struct lograte address_log, descriptor_log;
    uint64_t refused_address, refused_reserve;
} admit;

static int on_proxied(int fd, const struct sockaddr *client);
static void on_closed(int fd);

static const struct rxcheck_hooks hooks = {on_proxied, on_closed};

/* The record of fd, made when missing (fd >= 0). */
static struct admitted *record_of(int fd)
{
    if ((size_t)fd >= admit.nfds) {
        size_t n = admit.nfds ? admit.nfds : 64;

        while (n <= (size_t)fd)
            n *= 2;
        admit.fds = ifmon_xrealloc(admit.fds, n * sizeof(*admit.fds));
        memset(admit.fds + admit.nfds, 0, (n - admit.nfds) * sizeof(*admit.fds));
        admit.nfds = n;
    }
    return &admit.fds[fd];
}

/* Forget fd's connection: it no longer counts. */
static void release(struct admitted *a)
{
    if (a->counted)
        addrlimit_disconnect(admit.gw->addrs, &a->key);
    if (a->open)
        admit.open--;
    memset(a, 0, sizeof(*a));
}

static void describe(struct admitted *a, const struct sockaddr *sa)
{
    const void *addr = NULL;

    throttle_key_of(sa, &a->key);
    snprintf(a->name, sizeof(a->name), "?");
    if (sa && sa->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (addr)
        inet_ntop(sa->sa_family, addr, a->name, sizeof(a->name));
}

/* 1 when sa is in gateway.trusted_proxies (an IPv4-mapped IPv6 address
 * as its IPv4 one). */
static int trusted(const struct config_gateway *g, const struct sockaddr *sa)
{
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *addr;
    int family;
    size_t i;

    if (g->ntrusted_proxies == 0 || sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        family = AF_INET;
        addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        family = memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0 ? AF_INET : AF_INET6;
        if (family == AF_INET)
            addr += sizeof(v4_mapped);
    } else {
        return 0;
    }
    for (i = 0; i < g->ntrusted_proxies; i++) {
        const struct config_cidr *c = &g->trusted_proxies[i];
        int whole = c->bits / 8, rest = c->bits % 8;

        if (c->family != family || memcmp(addr, c->addr, (size_t)whole) != 0)
            continue;
        if (rest == 0 || ((addr[whole] ^ c->addr[whole]) & (0xff << (8 - rest)) & 0xff) == 0)
            return 1;
    }
    return 0;
}

/* 503 with Retry-After on fd, written at once (it is all the gateway
 * will say), then the end of what it sends. What the client has sent so
 * far is read first: a socket closed with unread bytes is reset, and the
 * reset can overtake the answer. Best effort: a client that does not read
 * gets less. */
static void answer_full(int fd, const char *why)
{
    char text[640], scratch[4096];
    int n, i;

    for (i = 0; i < 4 && recvfrom(fd, scratch, sizeof(scratch), MSG_DONTWAIT, NULL, NULL) > 0; i++)
        ;
    n = snprintf(text, sizeof(text),
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\nRetry-After: %d\r\nConnection: close\r\n"
                 "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n%s",
                 strlen(why), ADMIT_RETRY_AFTER_S, why);
    IFMON_ASSERT(n > 0 && (size_t)n < sizeof(text));
    (void)send(fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
}

/* Count a's connection against its address. 0, or -1 (answered 503) when
 * the address has gateway.max_connections_per_address already. */
static int count(struct admitted *a, int fd)
{
    const struct config_gateway *g = &admit.gw->cfg->gateway;

    if (addrlimit_connect(admit.gw->addrs, &a->key, (size_t)g->max_connections_per_address) < 0) {
        admit.refused_address++;
        lograte_log(&admit.address_log, uv_now(admit.gw->loop),
                    "refusing a connection from %s: %d connections from this address already "
                    "(gateway.max_connections_per_address)",
                    a->name, g->max_connections_per_address);
        answer_full(fd, "Service Unavailable: too many connections from this address "
                        "(gateway.max_connections_per_address); try again after Retry-After "
                        "seconds\n");
        return -1;
    }
    a->counted = 1;
    return 0;
}

/* rxcheck_hooks.proxied: the balancer on fd named its client. */
static int on_proxied(int fd, const struct sockaddr *client)
{
    struct admitted *a = record_of(fd);

    if (!a->open)
        return -1; /* not one admit_accept() let in */
    if (client)
        describe(a, client); /* else the balancer's own connection: its address */
    return count(a, fd);
}

/* rxcheck_hooks.closed */
static void on_closed(int fd)
{
    if (fd >= 0 && (size_t)fd < admit.nfds)
        release(&admit.fds[fd]);
}

/* Descriptors open now, from /proc/self/fd (the directory's own not
 * counted); 16 when it cannot be read. */
static long descriptors_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    struct dirent *e;

    if (d == NULL)
        return 16;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 16;
}

void admit_start(struct gateway *gw)
{
    struct rlimit rl;
    uint64_t seed = uv_hrtime();

    IFMON_ASSERT(admit.gw == NULL);
    admit.gw = gw;
    /* Keyed as the throttle is: addresses cannot be chosen to share a chain. */
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed ^= (uint64_t)getpid() << 32;
    gw->addrs = addrlimit_new(seed);
    admit.nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? (long)rl.rlim_cur
                       : 1L << 20;
    admit.at_start = descriptors_open();
    rxcheck_start(&hooks);
    log_info("descriptors: %ld open, RLIMIT_NOFILE %ld; connections refused (503) past %ld, "
             "keeping %d in reserve",
             admit.at_start, admit.nofile, admit.nofile - ADMIT_FD_RESERVE, ADMIT_FD_RESERVE);
}

void admit_free(struct gateway *gw)
{
    size_t i;

    if (admit.gw != gw)
        return;
    for (i = 0; i < admit.nfds; i++)
        release(&admit.fds[i]);
    free(admit.fds);
    addrlimit_free(gw->addrs);
    gw->addrs = NULL;
    memset(&admit, 0, sizeof(admit));
}

int admit_accept(int fd, const struct sockaddr *sa, int proxy_port)
{
    const struct config_gateway *g = &admit.gw->cfg->gateway;
    struct admitted *a;

    if (fd < 0)
        return -1;
    a = record_of(fd);
    release(a); /* an earlier socket of this number that was not seen closing */
    describe(a, sa);
    if ((long)fd >= admit.nofile - ADMIT_FD_RESERVE) {
        admit.refused_reserve++;
        lograte_log(&admit.descriptor_log, uv_now(admit.gw->loop),
                    "refusing a connection from %s: descriptor %d of RLIMIT_NOFILE %ld (the last "
                    "%d are kept in reserve)",
                    a->name, fd, admit.nofile, ADMIT_FD_RESERVE);
        answer_full(fd, "Service Unavailable: the gateway is out of file descriptors; try again "
                        "after Retry-After seconds\n");
        memset(a, 0, sizeof(*a));
        return -1;
    }
    if (proxy_port && trusted(g, sa)) {
        /* Counted once its header names the client (on_proxied). */
        a->open = 1;
        admit.open++;
        rxcheck_accept(fd, 1);
        return 1;
    }
    if (count(a, fd) < 0) {
        memset(a, 0, sizeof(*a));
        return -1;
    }
    a->open = 1;
    admit.open++;
    rxcheck_accept(fd, 0);
    return 0;
}

void admit_client(int fd, struct throttle_key *key, char *name, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct admitted tmp;
    const struct admitted *a;

    if (fd >= 0 && (size_t)fd < admit.nfds && admit.fds[fd].open) {
        a = &admit.fds[fd];
    } else {
        /* Not one of ours (cannot happen for a connection lws accepted):
         * its peer. */
        memset(&tmp, 0, sizeof(tmp));
        describe(&tmp, fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0
                           ? (struct sockaddr *)&ss
                           : NULL);
        a = &tmp;
    }
    *key = a->key;
    snprintf(name, size, "%s", a->name);
}

int admit_short_of_descriptors(void)
{
    return admit.at_start + (long)admit.open >= admit.nofile - ADMIT_FD_RESERVE;
}

void admit_stats(struct admit_stats *out)
{
    out->open = admit.open;
    out->refused_address = admit.refused_address;
    out->refused_reserve = admit.refused_reserve;
}
