/* main.c -- ifmon-collector: polls the devices of a YAML inventory over
 * SNMP and publishes per-interface rates to Redis (docs/PROTOCOL.md).
 *
 * Parse options, load the inventory, create the loop, attach the poller,
 * the publisher and the output, run until SIGTERM; SIGHUP reloads. */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli.h"
#include "config.h"
#include "device.h"
#include "log.h"
#include "output.h"
#include "poller.h"
#include "publisher.h"
#include "session.h"

#define STATS_EVERY_MS 60000

struct collector {
    uv_loop_t *loop;
    const char *config_path; /* argv's */
    struct poller *poller;
    struct publisher *pub;
    struct output *out;
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
    uv_timer_t stats_timer;
    int stopping;
};

static const struct ifmon_cli_text cli_text = {
    .prog = "ifmon-collector",
    .about = "Polls the devices of the inventory FILE over SNMP and publishes\n"
             "per-interface rates and alert events to Redis (see docs/PROTOCOL.md).\n",
    .signals = "Signals: SIGHUP reloads FILE (an invalid file keeps the current\n"
               "inventory), SIGUSR1 logs statistics and starts a new window\n"
               "for the lateness percentiles, SIGTERM and SIGINT stop cleanly.\n",
};

static void log_stats(struct collector *c)
{
    struct poller_stats ps;
    struct publisher_stats rs;
    size_t n, i, up = 0, ifaces = 0;
    struct device **devs = poller_devices(c->poller, &n);

    for (i = 0; i < n; i++) {
        up += devs[i]->status == DEVICE_UP;
        ifaces += devs[i]->nifaces;
    }
    poller_stats(c->poller, &ps, 1);
    publisher_stats(c->pub, &rs);
    log_info("stats: devices=%zu up=%zu interfaces=%zu polls=%llu samples=%llu skipped=%llu "
             "timeouts=%llu "
             "late_p50_ms=%.2f late_p99_ms=%.2f late_max_ms=%.2f redis=%s commands=%llu "
             "dropped=%llu reconnects=%llu",
             n, up, ifaces, (unsigned long long)ps.polls, (unsigned long long)ps.samples,
             (unsigned long long)ps.skipped, (unsigned long long)ps.timeouts, ps.late_p50_ms,
             ps.late_p99_ms, ps.late_max_ms, rs.connected ? "up" : "down",
             (unsigned long long)rs.commands, (unsigned long long)rs.dropped,
             (unsigned long long)rs.reconnects);
}

static void on_stats_timer(uv_timer_t *t)
{
    log_stats(t->data);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct collector *c = s->data;
    struct config *cfg;

    if (signum == SIGUSR1) {
        log_stats(c); /* and start a new lateness window */
        return;
    }
    if (signum == SIGHUP) {
        log_info("SIGHUP: reloading %s", c->config_path);
        cfg = config_load_reported(c->config_path, 1);
        if (cfg == NULL) {
            log_err("reload: %s is invalid (problems above); keeping the current inventory",
                    c->config_path);
            return;
        }
        /* The publisher copies the new redis settings. */
        publisher_set_config(c->pub, &cfg->redis);
        poller_apply(c->poller, cfg);
        return;
    }
    if (c->stopping)
        return;
    c->stopping = 1;
    log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    log_stats(c);
    poller_close(c->poller);
    output_close(c->out);
    publisher_close(c->pub);
    uv_timer_stop(&c->stats_timer);
    uv_close((uv_handle_t *)&c->stats_timer, NULL);
    uv_close((uv_handle_t *)&c->sig_term, NULL);
    uv_close((uv_handle_t *)&c->sig_int, NULL);
    uv_close((uv_handle_t *)&c->sig_hup, NULL);
    uv_close((uv_handle_t *)&c->sig_usr1, NULL);
}

int main(int argc, char **argv)
{
    struct collector c = {0};
    struct poller_hooks hooks;
    struct ifmon_cli cli;
    struct config *cfg;
    int rc = ifmon_cli_parse(argc, argv, &cli_text, &cli);

    if (rc >= 0)
        return rc;
    c.config_path = cli.config_path;
    ifmon_log_init("ifmon-collector", cli.log_level);

    cfg = config_load_reported(c.config_path, !cli.check);
    if (cfg == NULL) {
        fprintf(stderr, "ifmon-collector: %s is invalid; nothing polled\n", c.config_path);
        return 1;
    }
    if (cli.check) {
        printf("%s: OK, %zu devices\n", c.config_path, cfg->ndevices);
        config_free(cfg);
        return 0;
    }

    signal(SIGPIPE, SIG_IGN);
    c.loop = uv_default_loop();
    session_library_init();
    c.out = output_create(c.loop);
    c.pub = publisher_create(c.loop, &cfg->redis, output_on_redis_connected, c.out);
    output_poller_hooks(c.out, &hooks);
    c.poller = poller_create(c.loop, &hooks);
    output_attach(c.out, c.poller, c.pub);
    poller_apply(c.poller, cfg);

    uv_signal_init(c.loop, &c.sig_term);
    uv_signal_init(c.loop, &c.sig_int);
    uv_signal_init(c.loop, &c.sig_hup);
    uv_signal_init(c.loop, &c.sig_usr1);
    c.sig_term.data = c.sig_int.data = c.sig_hup.data = c.sig_usr1.data = &c;
    uv_signal_start(&c.sig_term, on_signal, SIGTERM);
    uv_signal_start(&c.sig_int, on_signal, SIGINT);
    uv_signal_start(&c.sig_hup, on_signal, SIGHUP);
    uv_signal_start(&c.sig_usr1, on_signal, SIGUSR1);
    uv_timer_init(c.loop, &c.stats_timer);
    c.stats_timer.data = &c;
    uv_timer_start(&c.stats_timer, on_stats_timer, STATS_EVERY_MS, STATS_EVERY_MS);

    log_info("ifmon-collector %s: polling %zu devices from %s", IFMON_VERSION, cfg->ndevices,
             c.config_path);
    uv_run(c.loop, UV_RUN_DEFAULT);

    poller_free(c.poller);
    /* The publisher first: a reply callback still pending goes to the
     * output's events. */
    publisher_free(c.pub);
    output_free(c.out);
    session_library_shutdown();
    uv_loop_close(c.loop);
    log_info("stopped");
    return 0;
}
