/* main.c -- ifmon-gateway: serves the collector's Redis channels to web
 * browsers over WebSocket (docs/PROTOCOL.md, part 2).
 *
 * Parse options, load the configuration, create the loop, attach the
 * fan-out, Redis, the inventory, the events, the clients and the HTTP/WebSocket port,
 * run until SIGTERM or SIGINT (SIGHUP reloads, reload.h), clean up.
 * Nothing else: each part is its own file (gateway.h lists them). */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "eventlist.h"
#include "fanout.h"
#include "gateway.h"
#include "http.h"
#include "inventory.h"
#include "loopstat.h"
#include "log.h"
#include "pubsub.h"
#include "reload.h"

struct daemon {
    struct gateway gw;
    struct config *cfg; /* gw.cfg, owned; replaced on SIGHUP */
    const char *config_path;
    struct http *http;
    struct ifmon_loopstat loopstat;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain;
    uint64_t drain_started;
    uint64_t drain_empty_at; /* when the last client was gone */
    int stopping;
};

/* How long clients get to receive their close frame (1001) at shutdown.
 * lws reports a connection closed before it has written the close frame
 * and read the peer's answer, hence the grace after the last one. */
#define DRAIN_MAX_MS 1000
#define DRAIN_GRACE_MS 100
#define DRAIN_CHECK_MS 20

/* Close everything that keeps the loop alive; uv_run() then returns once
 * lws and hiredis have closed their handles. */
static void finish(struct daemon *d)
{
    http_stop(&d->gw); /* closes what is left of the clients: they unsubscribe */
    client_set_close(d->gw.clients);
    pubsub_close(d->gw.pubsub);
    uv_close((uv_handle_t *)&d->drain, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_hup, NULL);
    d->gw.loopstat = NULL;
    ifmon_loopstat_close(&d->loopstat);
}

static void on_drain(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uint64_t now = uv_now(d->gw.loop);

    if (now - d->drain_started < DRAIN_MAX_MS) {
        if (client_set_count(d->gw.clients) > 0)
            return;
        if (d->drain_empty_at == 0)
            d->drain_empty_at = now;
        if (now - d->drain_empty_at < DRAIN_GRACE_MS)
            return;
    }
    uv_timer_stop(t);
    finish(d);
}

/* First let every client get a close frame with 1001 (going away), so
 * that a browser reconnects instead of reporting an error; then, when
 * they are gone or after DRAIN_MAX_MS, tear everything down. */
static void stop(struct daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    if (d->http == NULL) {
        finish(d);
        return;
    }
    client_set_shutdown(d->gw.clients);
    d->drain_started = uv_now(d->gw.loop);
    uv_timer_start(&d->drain, on_drain, 0, DRAIN_CHECK_MS);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;

    if (signum == SIGHUP) {
        if (!d->stopping)
            reload_config(&d->gw, d->config_path, &d->cfg);
        return;
    }
    log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop(d);
}

static const struct ifmon_cli_text cli_text = {
    .prog = "ifmon-gateway",
    .about = "Serves the ifmon Redis channels to web browsers over WebSocket,\n"
             "and the web page from the gateway's web_root (redis: and gateway:\n"
             "sections of FILE).\n",
    .signals = "Signals: SIGTERM and SIGINT stop cleanly; SIGHUP reads FILE again and applies\n"
               "tokens, allowed origins and limits (the rest needs a restart).\n",
};

int main(int argc, char **argv)
{
    struct daemon d = {0};
    struct ifmon_cli cli;
    struct config *cfg;
    int status;

    status = ifmon_cli_parse(argc, argv, &cli_text, &cli);
    if (status >= 0)
        return status;
    status = 1;
    ifmon_log_init("ifmon-gateway", cli.log_level);

    /* Only what the gateway uses is checked: a problem in defaults: or
     * devices: is the collector's. */
    cfg = config_load_reported_for(cli.config_path, CONFIG_READER_GATEWAY, !cli.check);
    if (cfg == NULL) {
        fprintf(stderr, "ifmon-gateway: %s is invalid\n", cli.config_path);
        return 1;
    }
    if (cli.check) {
        printf("%s: OK\n", cli.config_path);
        config_free(cfg);
        return 0;
    }

    signal(SIGPIPE, SIG_IGN);
    d.gw.loop = uv_default_loop();
    d.gw.cfg = d.cfg = cfg;
    ifmon_loopstat_start(&d.loopstat, d.gw.loop); /* when it fails, /metrics leaves it out */
    d.gw.loopstat = &d.loopstat;
    d.config_path = cli.config_path;
    d.gw.fanout = fanout_create(&d.gw);
    d.gw.pubsub = pubsub_create(d.gw.loop, &cfg->redis, &fanout_pubsub_hooks, d.gw.fanout);
    d.gw.inventory = inventory_create(&d.gw);
    d.gw.eventlist = eventlist_create(&d.gw);
    d.gw.clients = client_set_create(&d.gw);
    uv_timer_init(d.gw.loop, &d.drain);
    d.drain.data = &d;
    uv_signal_init(d.gw.loop, &d.sig_term);
    uv_signal_init(d.gw.loop, &d.sig_int);
    uv_signal_init(d.gw.loop, &d.sig_hup);
    d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
    uv_signal_start(&d.sig_term, on_signal, SIGTERM);
    uv_signal_start(&d.sig_int, on_signal, SIGINT);
    uv_signal_start(&d.sig_hup, on_signal, SIGHUP);

    d.http = http_start(&d.gw);
    if (d.http == NULL) {
        stop(&d);
    } else {
        log_info("ifmon-gateway %s: redis %s:%d prefix %s", IFMON_VERSION, d.cfg->redis.host,
                 d.cfg->redis.port, d.cfg->redis.prefix);
        status = 0;
    }
    uv_run(d.gw.loop, UV_RUN_DEFAULT);
    /* With a foreign loop lws finishes its destruction from handle close
     * callbacks; if anything is left, finish it and let the handles close. */
    if (d.gw.lws) {
        http_stop(&d.gw);
        uv_run(d.gw.loop, UV_RUN_DEFAULT);
    }

    http_free(d.http);
    client_set_free(d.gw.clients);
    eventlist_free(d.gw.eventlist);
    inventory_free(d.gw.inventory);
    pubsub_free(d.gw.pubsub);
    fanout_free(d.gw.fanout);
    if (uv_loop_close(d.gw.loop) != 0)
        log_warn("event loop closed with handles still open");
    config_free(d.cfg);
    log_info("stopped");
    return status;
}
