/* health.c -- see health.h. tests/integration/test_health.py drives it
 * with real HTTP clients (and raw sockets for the bounds). */

#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

struct conn {
    struct health *h;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write;
    uv_shutdown_t shutdown;
    int handles; /* open libuv handles of this connection (tcp, timer) */
    int closing;
    size_t len;
    char head[HEALTH_HEAD_MAX];
    char *answer;
    struct conn *prev, *next;
};

struct health {
    uv_tcp_t listener;
    struct health_hooks hooks;
    struct conn *conns;
    size_t nconns;
    int closed;
};

/* ------------------------------------------------------------ closing */

static void on_conn_handle_closed(uv_handle_t *handle)
{
    struct conn *c = handle->data;

    if (--c->handles > 0)
        return;
    free(c->answer);
    free(c);
}

static void conn_close(struct conn *c)
{
    struct health *h = c->h;

    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->nconns--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

/* ------------------------------------------------------------- answer */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;

    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    /* The answer first, then the end of the connection (a close with
     * unread bytes would reset it, answer and all). */
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

static void answer(struct conn *c, int status, const char *reason, const char *type,
                   const char *extra, const char *body, size_t body_len, int with_body)
{
    uv_buf_t buf;
    size_t len;
    int n;

    uv_read_stop((uv_stream_t *)&c->tcp);
    len = 256 + strlen(extra) + body_len;
    c->answer = ifmon_xmalloc(len);
    n = snprintf(c->answer, len,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                 status, reason, type, body_len, extra);
    IFMON_ASSERT(n > 0 && (size_t)n + body_len < len);
    if (with_body)
        memcpy(c->answer + n, body, body_len);
    buf = uv_buf_init(c->answer, (unsigned)((size_t)n + (with_body ? body_len : 0)));
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0)
        conn_close(c);
}

static void answer_text(struct conn *c, int status, const char *reason, const char *extra,
                        const char *text, int with_body)
{
    answer(c, status, reason, "text/plain; charset=utf-8", extra, text, strlen(text), with_body);
}

/* The head is in (c->head, NUL-terminated at its end): answer it. */
static void serve(struct conn *c)
{
    static const char metrics_type[] = "text/plain; version=0.0.4; charset=utf-8";
    struct health *h = c->h;
    char *sp1 = strchr(c->head, ' '), *sp2, *end, *q;
    int head_only;

    if (sp1 == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
        (end = strpbrk(sp1 + 1, "\r\n")) == NULL || sp2 > end ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        answer_text(c, 400, "Bad Request", "", "bad request\n", 1);
        return;
    }
    *sp1 = *sp2 = '\0';
    head_only = strcmp(c->head, "HEAD") == 0;
    if (strcmp(c->head, "GET") != 0 && !head_only) {
        answer_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "GET or HEAD only\n", 1);
        return;
    }
    if ((q = strchr(sp1 + 1, '?')) != NULL)
        *q = '\0';
    if (strcmp(sp1 + 1, "/healthz") == 0) {
        const char *why = "";

        if (h->hooks.healthy(h->hooks.ctx, &why)) {
            answer_text(c, 200, "OK", "", "ok\n", !head_only);
        } else {
            char line[256];

            snprintf(line, sizeof(line), "%s\n", why);
            answer_text(c, 503, "Service Unavailable", "Retry-After: 5\r\n", line, !head_only);
        }
    } else if (strcmp(sp1 + 1, "/metrics") == 0) {
        size_t len;
        char *text = h->hooks.metrics(h->hooks.ctx, &len);

        answer(c, 200, "OK", metrics_type, "", text, len, !head_only);
        free(text);
    } else {
        answer_text(c, 404, "Not Found", "", "not found: /healthz and /metrics only\n", 1);
    }
}

/* -------------------------------------------------------------- input */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = handle->data;

    (void)suggested;
    /* One byte kept for the NUL that ends the head. */
    *buf = uv_buf_init(c->head + c->len, (unsigned)(sizeof(c->head) - 1 - c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    char *end;

    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    c->head[c->len] = '\0';
    if ((end = strstr(c->head, "\r\n\r\n")) != NULL || (end = strstr(c->head, "\n\n")) != NULL) {
        serve(c);
        return;
    }
    if (c->len == sizeof(c->head) - 1)
        answer_text(c, 431, "Request Header Fields Too Large", "", "request head too large\n", 1);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct health *h = server->data;
    struct conn *c;

    if (status < 0)
        return;
    c = ifmon_xcalloc(1, sizeof(*c));
    c->h = h;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || h->nconns > HEALTH_MAX_CONNECTIONS) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, HEALTH_DEADLINE_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---------------------------------------------------------------- API */

static void on_listener_closed_free(uv_handle_t *handle)
{
    free(handle->data);
}

struct health *health_start(uv_loop_t *loop, const char *host, int port,
                            const struct health_hooks *hooks)
{
    struct health *h = ifmon_xcalloc(1, sizeof(*h));
    struct sockaddr_storage ss;
    int rc;

    h->hooks = *hooks;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&h->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&h->listener, 64, on_connection);
    if (rc < 0) {
        log_err(strchr(host, ':') ? "collector.listen [%s]:%d: %s" : "collector.listen %s:%d: %s",
                host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&h->listener, on_listener_closed_free);
        return NULL;
    }
    log_info(strchr(host, ':') ? "health and metrics on http://[%s]:%d/"
                               : "health and metrics on http://%s:%d/",
             host, port);
    return h;
}

void health_close(struct health *h)
{
    if (h == NULL)
        return;
    while (h->conns)
        conn_close(h->conns);
    if (!h->closed) {
        h->closed = 1;
        uv_close((uv_handle_t *)&h->listener, NULL);
    }
}

void health_free(struct health *h)
{
    free(h);
}
