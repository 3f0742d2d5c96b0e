/* resolve.c -- see resolve.h. One process-wide list of the lookups not
 * finished (the collector has one loop), in arrival order: the running
 * ones stay in it so that a second device asking for the same name joins
 * them, and pump() starts the oldest queued ones while slots are free. */

#include "resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* A name being looked up, shared by every waiter asking for it. */
struct resolve_lookup {
    char *host;
    uv_loop_t *loop;
    uv_getaddrinfo_t req;
    int running;                    /* handed to libuv (req in use) */
    uint64_t started_ns;            /* when it was handed to libuv */
    struct resolve_waiter *waiters; /* NULL: nobody wants the result */
    struct resolve_lookup *next;    /* FIFO: oldest first */
};

static struct resolve_lookup *lookups_head, *lookups_tail;
static size_t nrunning, nqueued;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

static void lookup_unlink(struct resolve_lookup *l)
{
    struct resolve_lookup **pp, *prev = NULL;

    for (pp = &lookups_head; *pp && *pp != l; pp = &(*pp)->next)
        prev = *pp;
    IFMON_ASSERT(*pp == l);
    *pp = l->next;
    if (lookups_tail == l)
        lookups_tail = prev;
    l->next = NULL;
}

/* The end of lookup l (run, or refused by libuv): out of the list, each
 * waiter told, freed. A callback asking for the same name again gets a
 * new lookup, not this finished one. */
static void lookup_finish(struct resolve_lookup *l, int status, struct addrinfo *res)
{
    struct resolve_waiter *w;

    lookup_unlink(l);
    while ((w = l->waiters) != NULL) {
        l->waiters = w->next;
        w->next = NULL;
        w->lookup = NULL;
        w->cb(w, status, status == 0 ? res : NULL);
    }
    if (res)
        uv_freeaddrinfo(res);
    free(l->host);
    free(l);
}

/* Hand queued lookups to libuv while fewer than RESOLVE_MAX_INFLIGHT run. */
static void pump(void)
{
    static const struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP};
    struct resolve_lookup *l;
    int rc;

again:
    for (l = lookups_head; l && nrunning < RESOLVE_MAX_INFLIGHT; l = l->next) {
        if (l->running)
            continue;
        l->req.data = l;
        l->started_ns = uv_hrtime();
        nqueued--;
        rc = uv_getaddrinfo(l->loop, &l->req, on_resolved, l->host, NULL, &hints);
        if (rc != 0) {
            /* Refused before it ran (a name libuv cannot convert to
             * ASCII, out of memory): the waiters hear it now. Their
             * callbacks may have changed the list: start over. */
            log_warn("dns %s: cannot look it up: %s", l->host, uv_strerror(rc));
            lookup_finish(l, rc, NULL);
            goto again;
        }
        l->running = 1;
        nrunning++;
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve_lookup *l = req->data;
    uint64_t took_ms = (uv_hrtime() - l->started_ns) / 1000000u;

    IFMON_ASSERT(l->running && nrunning > 0);
    nrunning--;
    if (status == 0)
        log_debug("dns %s: answered in %llu ms", l->host, (unsigned long long)took_ms);
    else
        log_debug("dns %s: %s after %llu ms (%zu lookups queued)", l->host,
                  resolve_strerror(status), (unsigned long long)took_ms, nqueued);
    lookup_finish(l, status, res);
    pump();
}

void resolve_start(uv_loop_t *loop, struct resolve_waiter *w, const char *host, resolve_cb cb,
                   void *data)
{
    struct resolve_lookup *l;

    IFMON_ASSERT(w->lookup == NULL);
    w->cb = cb;
    w->data = data;
    for (l = lookups_head; l; l = l->next)
        if (strcmp(l->host, host) == 0)
            break;
    if (l == NULL) {
        l = ifmon_xcalloc(1, sizeof(*l));
        l->host = ifmon_xstrdup(host);
        l->loop = loop;
        if (lookups_tail)
            lookups_tail->next = l;
        else
            lookups_head = l;
        lookups_tail = l;
        nqueued++;
    }
    w->lookup = l;
    w->next = l->waiters;
    l->waiters = w;
    pump();
}

void resolve_cancel(struct resolve_waiter *w)
{
    struct resolve_lookup *l = w->lookup;
    struct resolve_waiter **pp;

    if (l == NULL)
        return;
    for (pp = &l->waiters; *pp && *pp != w; pp = &(*pp)->next)
        ;
    IFMON_ASSERT(*pp == w);
    *pp = w->next;
    w->next = NULL;
    w->lookup = NULL;
    if (l->waiters == NULL && !l->running) {
        lookup_unlink(l);
        nqueued--;
        free(l->host);
        free(l);
    }
}

const char *resolve_strerror(int status)
{
    /* libuv's UV_EAI_* back to getaddrinfo's EAI_*, for gai_strerror(3). */
    static const struct {
        int uv, eai;
    } codes[] = {
        {UV_EAI_ADDRFAMILY, EAI_ADDRFAMILY},
        {UV_EAI_BADFLAGS, EAI_BADFLAGS},
        {UV_EAI_FAIL, EAI_FAIL},
        {UV_EAI_FAMILY, EAI_FAMILY},
        {UV_EAI_MEMORY, EAI_MEMORY},
        {UV_EAI_NODATA, EAI_NODATA},
        {UV_EAI_OVERFLOW, EAI_OVERFLOW},
        {UV_EAI_SERVICE, EAI_SERVICE},
        {UV_EAI_SOCKTYPE, EAI_SOCKTYPE},
    };
    size_t i;

    if (status == UV_EAI_AGAIN)
        return "timeout";
    if (status == UV_EAI_NONAME)
        return "no such host";
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].uv == status)
            return gai_strerror(codes[i].eai);
    return uv_strerror(status); /* EAI_SYSTEM arrives as the errno */
}

size_t resolve_queued(void)
{
    return nqueued;
}

size_t resolve_running(void)
{
    return nrunning;
}

/* ------------------------------------------------------------ addresses */

int resolve_numeric(const char *host, int port, struct sockaddr_storage *addr, socklen_t *len)
{
    /* AI_NUMERICHOST: parsed in place, never a query (a %scope is an
     * if_nametoindex(3), a local ioctl). */
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_DGRAM,
                             .ai_protocol = IPPROTO_UDP};
    struct addrinfo *res = NULL;
    int rc = -1;

    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -1;
    if (res->ai_addrlen <= sizeof(*addr) &&
        (res->ai_family == AF_INET || res->ai_family == AF_INET6)) {
        memset(addr, 0, sizeof(*addr));
        memcpy(addr, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        if (res->ai_family == AF_INET)
            ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
        rc = 0;
    }
    freeaddrinfo(res);
    return rc;
}

int resolve_same_endpoint(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
               (!IN6_IS_ADDR_LINKLOCAL(&x->sin6_addr) || x->sin6_scope_id == y->sin6_scope_id);
    }
    return 0;
}

const char *resolve_ntop(const struct sockaddr *a, char *buf, size_t len)
{
    const void *src = a->sa_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)a)->sin_addr;

    if ((a->sa_family != AF_INET && a->sa_family != AF_INET6) ||
        inet_ntop(a->sa_family, src, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}
