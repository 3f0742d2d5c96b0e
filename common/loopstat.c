/* loopstat.c -- see loopstat.h. */

#include "loopstat.h"

#include <inttypes.h>

const double ifmon_loopstat_le[IFMON_LOOPSTAT_LE_N] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,  0.5,  1};

static void on_prepare(uv_prepare_t *h)
{
    struct ifmon_loopstat *s = h->data;
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(h->loop), busy_ns;
    double busy;
    int i;

    if (s->last_ns) {
        busy_ns = now - s->last_ns;
        busy_ns = idle - s->last_idle_ns < busy_ns ? busy_ns - (idle - s->last_idle_ns) : 0;
        busy = (double)busy_ns / 1e9;
        for (i = IFMON_LOOPSTAT_LE_N - 1; i >= 0 && busy <= ifmon_loopstat_le[i]; i--)
            s->le[i]++;
        s->count++;
        s->sum_s += busy;
    }
    s->last_ns = now;
    s->last_idle_ns = idle;
}

int ifmon_loopstat_start(struct ifmon_loopstat *s, uv_loop_t *loop)
{
    int rc = uv_loop_configure(loop, UV_METRICS_IDLE_TIME);

    uv_prepare_init(loop, &s->prepare);
    s->prepare.data = s;
    if (rc == 0)
        uv_prepare_start(&s->prepare, on_prepare);
    return rc;
}

void ifmon_loopstat_write(const struct ifmon_loopstat *s, FILE *f, const char *name)
{
    int i;

    if (!uv_is_active((const uv_handle_t *)&s->prepare))
        return;
    fprintf(f,
            "# HELP %s How long each turn of the event loop kept it busy (not waiting for "
            "events).\n# TYPE %s histogram\n",
            name, name);
    for (i = 0; i < IFMON_LOOPSTAT_LE_N; i++)
        fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, ifmon_loopstat_le[i], s->le[i]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
            s->count, name, s->sum_s, name, s->count);
}

void ifmon_loopstat_close(struct ifmon_loopstat *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->prepare))
        uv_close((uv_handle_t *)&s->prepare, NULL);
}
