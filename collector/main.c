/* main.c -- ifmon-collector: polls the devices of a YAML inventory over
 * SNMP and publishes per-interface rates to Redis (docs/PROTOCOL.md).
 *
 * Parse options, load the inventory, create the loop, attach the poller,
 * the publisher and the output, run until SIGTERM; SIGHUP reloads. */

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cli.h"
#include "config.h"
#include "device.h"
#include "health.h"
#include "lease.h"
#include "log.h"
#include "loopstat.h"
#include "output.h"
#include "poller.h"
#include "publisher.h"
#include "session.h"
#include "util.h"

#define STATS_EVERY_MS 60000

struct collector {
    uv_loop_t *loop;
    const char *config_path; /* argv's */
    struct poller *poller;
    struct publisher *pub;
    struct output *out;
    struct health *health; /* collector.listen's; NULL when not set */
    struct lease *lease;   /* collector.shared's; NULL when not set */
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
    uv_timer_t stats_timer;
    struct ifmon_loopstat loopstat;
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
    if (c->lease) {
        struct lease_stats ls;

        lease_stats(c->lease, &ls);
        log_info("leases: held=%llu members=%llu leader=%d acquired=%llu lost=%llu released=%llu "
                 "fenced=%llu",
                 (unsigned long long)ls.held, (unsigned long long)ls.members, ls.leader,
                 (unsigned long long)ls.acquired, (unsigned long long)ls.lost,
                 (unsigned long long)ls.released, (unsigned long long)ps.fenced);
    }
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

/* health_hooks: healthy while Redis takes what is published. */
static int is_healthy(void *ctx, const char **why)
{
    struct collector *c = ctx;
    struct publisher_stats rs;

    publisher_stats(c->pub, &rs);
    *why = "redis down";
    return rs.connected;
}

/* health_hooks: the text of /metrics (docs/PROTOCOL.md part 3). */
static char *metrics_text(void *ctx, size_t *len)
{
    struct collector *c = ctx;
    struct poller_stats ps;
    struct publisher_stats rs;
    size_t n, i, up = 0, ifaces = 0, size = 0, held = 0;
    struct device **devs = poller_devices(c->poller, &n);
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &size);

    IFMON_ASSERT(f != NULL); /* fails only when out of memory */
    for (i = 0; i < n; i++) {
        up += devs[i]->status == DEVICE_UP;
        ifaces += devs[i]->nifaces;
        held += poller_device_held(devs[i]);
    }
    poller_stats(c->poller, &ps, 0);
    publisher_stats(c->pub, &rs);
#define METRIC(name, type, help, value)                                                            \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %" PRIu64 "\n",       \
            (uint64_t)(value))
    METRIC("ifmon_collector_devices", "gauge", "Devices in the inventory.", n);
    METRIC("ifmon_collector_devices_held", "gauge",
           "Devices this collector polls now (all of them without collector.shared).", held);
    METRIC("ifmon_collector_devices_up", "gauge", "Devices answering.", up);
    METRIC("ifmon_collector_interfaces", "gauge", "Interfaces polled.", ifaces);
    METRIC("ifmon_collector_polls_total", "counter", "Polls started.", ps.polls);
    METRIC("ifmon_collector_samples_total", "counter", "Interface samples computed.", ps.samples);
    METRIC("ifmon_collector_skipped_total", "counter",
           "Polls not started: the device's previous poll was still in flight.", ps.skipped);
    METRIC("ifmon_collector_timeouts_total", "counter",
           "SNMP requests that got no answer after their retries.", ps.timeouts);
    METRIC("ifmon_collector_redis_up", "gauge", "1 while the Redis connection is up.",
           rs.connected ? 1 : 0);
    METRIC("ifmon_collector_redis_commands_total", "counter", "Commands sent to Redis.",
           rs.commands);
    METRIC("ifmon_collector_redis_errors_total", "counter", "Error replies from Redis.", rs.errors);
    METRIC("ifmon_collector_redis_reconnects_total", "counter",
           "Reconnections to Redis after the first connection.", rs.reconnects);
    METRIC("ifmon_collector_dropped_total", "counter",
           "Samples not published: Redis away or too far behind.", rs.dropped);
    if (c->lease) {
        struct lease_stats ls;

        lease_stats(c->lease, &ls);
        METRIC("ifmon_collector_lease_members", "gauge",
               "Collectors sharing the inventory at the last lease tick.", ls.members);
        METRIC("ifmon_collector_lease_leader", "gauge",
               "1 on the collector that merges the inventory and the alerts.", ls.leader);
        METRIC("ifmon_collector_leases_acquired_total", "counter",
               "Device leases taken, takeovers included.", ls.acquired);
        METRIC("ifmon_collector_leases_lost_total", "counter",
               "Device leases found taken or expired at renewal.", ls.lost);
        METRIC("ifmon_collector_leases_released_total", "counter",
               "Device leases handed over to balance the load.", ls.released);
        METRIC("ifmon_collector_fenced_total", "counter",
               "Polls not started and readings not published: the device's lease had run out.", ps.fenced);
    }
#undef METRIC
    fputs("# HELP ifmon_collector_poll_lateness_seconds How late polls started against their "
          "schedule.\n# TYPE ifmon_collector_poll_lateness_seconds histogram\n",
          f);
    for (i = 0; i < POLLER_LATE_LE_N; i++)
        fprintf(f, "ifmon_collector_poll_lateness_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                poller_late_le[i], ps.late_le[i]);
    fprintf(f,
            "ifmon_collector_poll_lateness_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
            "ifmon_collector_poll_lateness_seconds_sum %.6f\n"
            "ifmon_collector_poll_lateness_seconds_count %" PRIu64 "\n",
            ps.late_total, ps.late_sum_s, ps.late_total);
    ifmon_loopstat_write(&c->loopstat, f, "ifmon_collector_loop_busy_seconds");
    fclose(f);
    *len = size;
    return buf;
}

/* collector.id when the file gives none: "<host name>:<pid>" (the host
 * name from the kernel, no lookup), unique among the collectors running;
 * kept on SIGHUP (keep_id). */
static void default_id(struct config *cfg)
{
    char host[256], id[CONFIG_COLLECTOR_ID_MAX + 1];
    size_t i;

    if (cfg->collector.id)
        return;
    if (gethostname(host, sizeof(host)) < 0)
        strcpy(host, "collector");
    host[sizeof(host) - 1] = '\0';
    /* Room for ":<pid>" (at most 11 characters); what the id may not
     * hold becomes '-'. */
    _Static_assert(CONFIG_COLLECTOR_ID_MAX == 64, "the format below holds 52 + 1 + 11");
    host[52] = '\0';
    for (i = 0; host[i]; i++)
        if (!isalnum((unsigned char)host[i]) && !strchr("._-", host[i]))
            host[i] = '-';
    snprintf(id, sizeof(id), "%.52s:%d", host, (int)getpid());
    cfg->collector.id = ifmon_xstrdup(id);
}

/* A reload keeps the running collector.id (its samples and heads are
 * built with it) and listens where it did; a new id or listen address is
 * taken at the next start. */
static void keep_restart_only(struct config *cfg, const struct config *running)
{
    const struct config_collector *a = &running->collector, *b = &cfg->collector;

    if (a->listen_port != b->listen_port ||
        strcmp(a->listen_host ? a->listen_host : "", b->listen_host ? b->listen_host : "") != 0)
        log_warn("reload: collector.listen changes at the next start only");
    if (a->shared != b->shared) {
        log_warn("reload: collector.shared changes at the next start only; still %s",
                 a->shared ? "true" : "false");
        cfg->collector.shared = a->shared;
    }
    if (cfg->collector.id && strcmp(cfg->collector.id, running->collector.id) != 0)
        log_warn("reload: collector.id changes at the next start only; still %s",
                 running->collector.id);
    free(cfg->collector.id);
    cfg->collector.id = ifmon_xstrdup(running->collector.id);
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
        keep_restart_only(cfg, poller_config(c->poller));
        /* The publisher copies the new redis settings. */
        publisher_set_config(c->pub, &cfg->redis);
        if (c->lease)
            lease_set_config(c->lease, cfg);
        poller_apply(c->poller, cfg);
        return;
    }
    if (c->stopping)
        return;
    c->stopping = 1;
    log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    log_stats(c);
    health_close(c->health);
    lease_close(c->lease); /* releases first: nothing more is published */
    poller_close(c->poller);
    output_close(c->out);
    publisher_close(c->pub);
    uv_timer_stop(&c->stats_timer);
    uv_close((uv_handle_t *)&c->stats_timer, NULL);
    uv_close((uv_handle_t *)&c->sig_term, NULL);
    uv_close((uv_handle_t *)&c->sig_int, NULL);
    uv_close((uv_handle_t *)&c->sig_hup, NULL);
    uv_close((uv_handle_t *)&c->sig_usr1, NULL);
    ifmon_loopstat_close(&c->loopstat);
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
    default_id(cfg);
    c.loop = uv_default_loop();
    if (cfg->collector.listen_host) {
        struct health_hooks hh = {is_healthy, metrics_text, &c};

        c.health =
            health_start(c.loop, cfg->collector.listen_host, cfg->collector.listen_port, &hh);
        if (c.health == NULL) {
            uv_run(c.loop, UV_RUN_NOWAIT); /* the listener's close */
            uv_loop_close(c.loop);
            config_free(cfg);
            return 1;
        }
    }
    ifmon_loopstat_start(&c.loopstat, c.loop); /* when it fails, /metrics leaves it out */
    session_library_init();
    c.out = output_create(c.loop);
    c.pub = publisher_create(c.loop, &cfg->redis, output_on_redis_connected, c.out);
    output_poller_hooks(c.out, &hooks);
    c.poller = poller_create(c.loop, &hooks);
    output_attach(c.out, c.poller, c.pub);
    poller_apply(c.poller, cfg);
    if (cfg->collector.shared)
        c.lease = lease_create(c.loop, c.poller, c.out, cfg);

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

    log_info("ifmon-collector %s (collector.id %s): polling %zu devices from %s", IFMON_VERSION,
             cfg->collector.id, cfg->ndevices, c.config_path);
    uv_run(c.loop, UV_RUN_DEFAULT);

    health_free(c.health);
    lease_free(c.lease);
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
