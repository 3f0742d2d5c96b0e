/* lease.c -- see lease.h. */

#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "assign.h"
#include "device.h"
#include "events.h"
#include "keys.h"
#include "log.h"
#include "output.h"
#include "poller.h"
#include "redis_link.h"
#include "util.h"

/* Keys per MGET/HMGET inside the read script: Lua's unpack() stops at
 * about 8,000 values. */
#define SCRIPT_BATCH "4000"
/* The leader prunes the events list by age every this many ticks. */
#define PRUNE_EVERY_TICKS 20
/* The leader merges at most this often: a merge reads and writes the
 * whole inventory (about 100 bytes per interface). */
#define MERGE_MIN_GAP_MS 1000
/* A device seen free at this many ticks in a row is taken by whoever
 * sees it. */
#define FREE_TICKS_TAKE 2

/* KEYS: members, inventories, weights, version, alerts, lease of each
 * device. ARGV: id, TTL (ms), digest, each device's name. Returns
 * {members, their digests, each lease, each weight, version}. */
static const char read_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "for _, id in ipairs(gone) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  redis.call('HDEL', KEYS[2], id)\n"
    "  redis.call('HDEL', KEYS[5], id)\n"
    "end\n"
    "if #gone > 0 then redis.call('INCR', KEYS[4]) end\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
    "local members = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "local digests = redis.call('HMGET', KEYS[2], unpack(members))\n"
    "local leases, weights = {}, {}\n"
    "local n = #KEYS - 5\n"
    "for i = 1, n, " SCRIPT_BATCH " do\n"
    "  local j = math.min(i + " SCRIPT_BATCH " - 1, n)\n"
    "  local l = redis.call('MGET', unpack(KEYS, i + 5, j + 5))\n"
    "  local w = redis.call('HMGET', KEYS[3], unpack(ARGV, i + 3, j + 3))\n"
    "  for k = 1, #l do leases[i + k - 1] = l[k]; weights[i + k - 1] = w[k] end\n"
    "end\n"
    "return {members, digests, leases, weights, redis.call('GET', KEYS[4]) or '0'}\n";

/* KEYS: epochs, the lease of each device acted on. ARGV: id, TTL (ms),
 * one action per device ('r' renew, 'x' release, 'a' acquire), each
 * device's name. Returns each device's epoch, 0 when not ours (any
 * more). */
static const char act_script[] =
    "local mine, ttl, acts = ARGV[1] .. ' ', ARGV[2], ARGV[3]\n"
    "local out = {}\n"
    "for i = 2, #KEYS do\n"
    "  local a = string.sub(acts, i - 1, i - 1)\n"
    "  local v = redis.call('GET', KEYS[i])\n"
    "  local ours = v and string.sub(v, 1, #mine) == mine\n"
    "  local e = 0\n"
    "  if a == 'r' then\n"
    "    if ours then redis.call('PEXPIRE', KEYS[i], ttl); e = tonumber(string.sub(v, #mine + 1)) "
    "end\n"
    "  elseif a == 'x' then\n"
    "    if ours then redis.call('DEL', KEYS[i]) end\n"
    "  elseif not v or ours then\n"
    "    e = redis.call('HINCRBY', KEYS[1], ARGV[i + 2], 1)\n"
    "    if ours then redis.call('DEL', KEYS[i]) end\n"
    "    redis.call('SET', KEYS[i], mine .. e, 'NX', 'PX', ttl)\n"
    "  end\n"
    "  out[i - 1] = e\n"
    "end\n"
    "return out\n";

/* KEYS: members, inventories, alerts, version, the lease of each device.
 * ARGV: id. */
static const char leave_script[] = "local mine = ARGV[1] .. ' '\n"
                                   "for i = 5, #KEYS do\n"
                                   "  local v = redis.call('GET', KEYS[i])\n"
                                   "  if v and string.sub(v, 1, #mine) == mine then "
                                   "redis.call('DEL', KEYS[i]) end\n"
                                   "end\n"
                                   "redis.call('ZREM', KEYS[1], ARGV[1])\n"
                                   "redis.call('HDEL', KEYS[2], ARGV[1])\n"
                                   "redis.call('HDEL', KEYS[3], ARGV[1])\n"
                                   "redis.call('INCR', KEYS[4])\n"
                                   "return 1\n";

/* KEYS: the events list. ARGV: the oldest ts kept. At most 1,000 pops. */
static const char prune_script[] =
    "local cut, n = tonumber(ARGV[1]), 0\n"
    "while n < 1000 do\n"
    "  local v = redis.call('LINDEX', KEYS[1], 0)\n"
    "  if not v then break end\n"
    "  local ts = tonumber(string.match(v, '\"ts\":([-0-9.eE+]+)'))\n"
    "  if ts and ts >= cut then break end\n"
    "  redis.call('LPOP', KEYS[1])\n"
    "  n = n + 1\n"
    "end\n"
    "return n\n";

struct lease {
    uv_loop_t *loop;
    struct poller *poller;
    struct output *out;
    struct ifmon_redis_link link;
    uv_timer_t tick;
    char *id;
    char digest[17];      /* of the device names of the current inventory */
    uint64_t generation;  /* the poller's, when digest and keys were made */
    char **lease_keys;    /* P:cluster:lease:<device>, per device */
    unsigned *free_ticks; /* per device: ticks in a row it was seen free */
    char **holders;       /* per device: the holder's id at the last read, or NULL */
    size_t ndevices;
    struct ifmon_key k_members, k_inventories, k_weights, k_version, k_alerts, k_epochs, k_parts,
        k_events;
    int busy;          /* a tick's scripts are in flight */
    int merging;       /* the leader's reads of the parts are in flight */
    uint64_t merged_ms; /* loop time of the last merge */
    uint64_t sent_ns;  /* when the act script was sent */
    uint64_t act_gen;  /* the generation the act script was made for */
    char *merged_version; /* what the last merge was made from */
    char *merged_members;
    /* The members of the last read before the link went down, and until
     * when, after it came back, they count as members though Redis has
     * not seen them yet (a failover loses their membership: without
     * this, the first collector back took every device, and handed half
     * over a tick later, two collectors polling them in one interval). */
    char **known;
    size_t nknown;
    uint64_t grace_until_ns;
    unsigned ticks;
    int closing;
    struct lease_stats st;
};

/* ---------------------------------------------------------- inventory */

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_devices(struct lease *ls)
{
    size_t i;

    for (i = 0; i < ls->ndevices; i++) {
        free(ls->lease_keys[i]);
        free(ls->holders[i]);
    }
    free(ls->lease_keys);
    free(ls->holders);
    free(ls->free_ticks);
    ls->lease_keys = ls->holders = NULL;
    ls->free_ticks = NULL;
    ls->ndevices = 0;
}

/* The poller's device list changed (or this is the first tick): keys,
 * counters and the digest of the names. */
static void follow_inventory(struct lease *ls)
{
    const char *prefix = poller_config(ls->poller)->redis.prefix;
    struct device **devs;
    const char **names;
    uint64_t h = IFMON_FNV1A_INIT;
    struct ifmon_key k;
    size_t n, i;

    if (ls->lease_keys && ls->generation == poller_generation(ls->poller))
        return;
    free_devices(ls);
    ls->generation = poller_generation(ls->poller);
    devs = poller_devices(ls->poller, &n);
    ls->ndevices = n;
    ls->lease_keys = ifmon_xcalloc(n ? n : 1, sizeof(*ls->lease_keys));
    ls->holders = ifmon_xcalloc(n ? n : 1, sizeof(*ls->holders));
    ls->free_ticks = ifmon_xcalloc(n ? n : 1, sizeof(*ls->free_ticks));
    names = ifmon_xcalloc(n ? n : 1, sizeof(*names));
    for (i = 0; i < n; i++) {
        int rc = ifmon_key_cluster(&k, prefix, "lease", devs[i]->cfg->name);

        IFMON_ASSERT(rc == 0); /* the loader's limits on prefix and names */
        ls->lease_keys[i] = ifmon_xstrdup(k.s);
        names[i] = devs[i]->cfg->name;
    }
    qsort(names, n, sizeof(*names), by_str);
    for (i = 0; i < n; i++)
        h = ifmon_fnv1a(ifmon_fnv1a_str(h, names[i]), "\n", 1);
    free(names);
    snprintf(ls->digest, sizeof(ls->digest), "%016llx", (unsigned long long)h);
}

/* ------------------------------------------------------------ scripts */

/* An argv under construction. */
struct args {
    const char **v;
    size_t *len;
    int n, cap;
};

static void arg(struct args *a, const char *s, size_t len)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = ifmon_xrealloc(a->v, (size_t)a->cap * sizeof(*a->v));
        a->len = ifmon_xrealloc(a->len, (size_t)a->cap * sizeof(*a->len));
    }
    a->v[a->n] = s;
    a->len[a->n++] = len;
}

static void arg_s(struct args *a, const char *s)
{
    arg(a, s, strlen(s));
}

static void args_free(struct args *a)
{
    free(a->v);
    free(a->len);
}

static int send_args(struct lease *ls, struct args *a, redisCallbackFn *fn, void *privdata)
{
    return redisAsyncCommandArgv(ls->link.ac, fn, privdata, a->n, a->v, a->len) == REDIS_OK ? 0
                                                                                          : -1;
}

static const char *str_of(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}

/* The id in a lease's value "<id> <epoch>" is the member named by index
 * (in members, nmembers), or -1. */
static int holder_index(const char *value, const char *const *members, size_t nmembers)
{
    const char *sp = value ? strrchr(value, ' ') : NULL;
    size_t i, len;

    if (sp == NULL)
        return -1;
    len = (size_t)(sp - value);
    for (i = 0; i < nmembers; i++)
        if (strlen(members[i]) == len && memcmp(members[i], value, len) == 0)
            return (int)i;
    return -1;
}

static int is_ours(const struct lease *ls, const char *value)
{
    size_t n = strlen(ls->id);

    return value && strncmp(value, ls->id, n) == 0 && value[n] == ' ';
}

/* ------------------------------------------------------------- merging */

static void on_alert_parts(redisAsyncContext *ac, void *r, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    struct lease *ls = l ? l->owner : NULL;
    redisReply *reply = r;
    const char **parts;
    size_t *lens, i, n = 0;

    (void)privdata;
    if (ls == NULL)
        return;
    ls->merging = 0;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || ls->closing)
        return;
    parts = ifmon_xcalloc(reply->elements / 2 + 1, sizeof(*parts));
    lens = ifmon_xcalloc(reply->elements / 2 + 1, sizeof(*lens));
    for (i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *v = reply->element[i + 1];

        /* The read script dropped the parts of members gone. */
        if (v->type == REDIS_REPLY_STRING && v->len > 0) {
            parts[n] = v->str;
            lens[n++] = v->len;
        }
    }
    output_merge_alerts(ls->out, parts, lens, n);
    free(parts);
    free(lens);
}

/* A field of HGETALL and its value. */
struct field {
    const char *name;
    const redisReply *value;
};

static int by_field(const void *a, const void *b)
{
    return strcmp(((const struct field *)a)->name, ((const struct field *)b)->name);
}

static void on_inventory_parts(redisAsyncContext *ac, void *r, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    struct lease *ls = l ? l->owner : NULL;
    redisReply *reply = r;
    struct device **devs;
    struct field *fields;
    const char **parts;
    size_t *lens, n, i, nf;

    if (ls == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY || ls->closing ||
        (uint64_t)(uintptr_t)privdata != ls->generation ||
        ls->generation != poller_generation(ls->poller))
        return;
    devs = poller_devices(ls->poller, &n);
    parts = ifmon_xcalloc(n ? n : 1, sizeof(*parts));
    lens = ifmon_xcalloc(n ? n : 1, sizeof(*lens));
    /* Sorted, to find each device's part in O(log n). */
    nf = reply->elements / 2;
    fields = ifmon_xcalloc(nf ? nf : 1, sizeof(*fields));
    for (i = 0; i < nf; i++) {
        fields[i].name = reply->element[2 * i]->str;
        fields[i].value = reply->element[2 * i + 1];
    }
    qsort(fields, nf, sizeof(*fields), by_field);
    for (i = 0; i < n; i++) {
        struct field key = {devs[i]->cfg->name, NULL}, *f;
        const char *v, *nl;

        if (ls->holders[i] == NULL)
            continue;
        f = bsearch(&key, fields, nf, sizeof(*fields), by_field);
        if (f == NULL || f->value->type != REDIS_REPLY_STRING)
            continue;
        v = f->value->str;
        nl = memchr(v, '\n', f->value->len);
        /* Only the part its lease holder wrote: a collector that has
         * just lost the device may have written last. */
        if (nl && (size_t)(nl - v) == strlen(ls->holders[i]) &&
            memcmp(v, ls->holders[i], (size_t)(nl - v)) == 0) {
            parts[i] = nl + 1;
            lens[i] = f->value->len - (size_t)(nl + 1 - v);
        }
    }
    output_merge_inventory(ls->out, parts, lens, (const char *const *)ls->holders);
    free(fields);
    free(parts);
    free(lens);
}

/* The leader: write the inventory and the alerts from the parts when
 * they moved (version) or the members changed. */
static void maybe_merge(struct lease *ls, const char *version, const char *members)
{
    const char *argv[2] = {"HGETALL", NULL};
    size_t lens[2] = {7, 0};

    if (ls->merging || (ls->merged_version && strcmp(ls->merged_version, version) == 0 &&
                        strcmp(ls->merged_members, members) == 0))
        return;
    if (ls->merged_ms && uv_now(ls->loop) < ls->merged_ms + MERGE_MIN_GAP_MS)
        return; /* at a later tick */
    ls->merged_ms = uv_now(ls->loop);
    free(ls->merged_version);
    free(ls->merged_members);
    ls->merged_version = ifmon_xstrdup(version);
    ls->merged_members = ifmon_xstrdup(members);
    argv[1] = ls->k_parts.s;
    lens[1] = ls->k_parts.len;
    if (redisAsyncCommandArgv(ls->link.ac, on_inventory_parts, (void *)(uintptr_t)ls->generation,
                              2, argv, lens) != REDIS_OK)
        return;
    argv[1] = ls->k_alerts.s;
    lens[1] = ls->k_alerts.len;
    if (redisAsyncCommandArgv(ls->link.ac, on_alert_parts, NULL, 2, argv, lens) == REDIS_OK)
        ls->merging = 1;
}

static void on_quiet(redisAsyncContext *ac, void *r, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    redisReply *reply = r;

    (void)privdata;
    if (l && reply && reply->type == REDIS_REPLY_ERROR)
        ifmon_redis_link_reply_error(l, reply->str);
}

static void prune_events(struct lease *ls)
{
    char cut[32];
    const char *argv[5] = {"EVAL", prune_script, "1", ls->k_events.s, cut};
    size_t lens[5] = {4, sizeof(prune_script) - 1, 1, ls->k_events.len, 0};

    lens[4] = (size_t)snprintf(cut, sizeof(cut), "%.3f", ifmon_wall_now() - EVENTS_MAX_AGE_S);
    redisAsyncCommandArgv(ls->link.ac, on_quiet, NULL, 5, argv, lens);
}

/* ---------------------------------------------------------------- tick */

static void on_act(redisAsyncContext *ac, void *r, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    struct lease *ls = l ? l->owner : NULL;
    redisReply *reply = r;
    char *acts = privdata; /* per device: 0 (none) or the action */
    struct device **devs;
    uint64_t until;
    size_t n, i, k = 0;

    if (ls == NULL) {
        free(acts);
        return;
    }
    ls->busy = 0;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        ifmon_redis_link_reply_error(l, reply->str);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || ls->closing ||
        ls->act_gen != poller_generation(ls->poller)) {
        free(acts);
        return;
    }
    devs = poller_devices(ls->poller, &n);
    until = ls->sent_ns + (uint64_t)(LEASE_TTL_MS - LEASE_MARGIN_MS) * 1000000u;
    for (i = 0; i < n && k < reply->elements; i++) {
        long long epoch;

        if (acts[i] == 0)
            continue;
        epoch = reply->element[k]->type == REDIS_REPLY_INTEGER ? reply->element[k]->integer : 0;
        k++;
        if (acts[i] == 'x')
            continue;
        if (epoch > 0) {
            if (acts[i] == 'a') {
                ls->st.acquired++;
                log_info("lease: %s taken (epoch %lld)", devs[i]->cfg->name, epoch);
            }
            poller_hold(devs[i], (uint64_t)epoch, until);
        } else if (devs[i]->owned) {
            ls->st.lost++;
            log_warn("lease: %s lost (taken or expired before its renewal)", devs[i]->cfg->name);
            poller_release(devs[i]);
        }
    }
    free(acts);
}

static void known_free(struct lease *ls)
{
    size_t i;

    for (i = 0; i < ls->nknown; i++)
        free(ls->known[i]);
    free(ls->known);
    ls->known = NULL;
    ls->nknown = 0;
}

/* The members to assign devices between: ids[0..nm) as read, and while
 * the grace after a reconnection lasts, the members known before it that
 * Redis has not seen again, appended to ids (room for them is the
 * caller's). Outside the grace, ids become the known members. */
static size_t with_known(struct lease *ls, const char **ids, size_t nm)
{
    size_t i, j, na = nm;

    if (uv_hrtime() >= ls->grace_until_ns) {
        /* Copied only when the members changed, not at every tick. */
        for (i = 0; i < nm && nm == ls->nknown && strcmp(ids[i], ls->known[i]) == 0; i++)
            ;
        if (i == nm && nm == ls->nknown)
            return nm;
        known_free(ls);
        ls->known = ifmon_xcalloc(nm, sizeof(*ls->known));
        for (i = 0; i < nm; i++)
            ls->known[i] = ifmon_xstrdup(ids[i]);
        ls->nknown = nm;
        return nm;
    }
    for (i = 0; i < ls->nknown; i++) {
        for (j = 0; j < nm && strcmp(ids[j], ls->known[i]) != 0; j++)
            ;
        if (j == nm)
            ids[na++] = ls->known[i];
    }
    return na;
}

static void on_read(redisAsyncContext *ac, void *r, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    struct lease *ls = l ? l->owner : NULL;
    redisReply *reply = r, *members, *digests, *leases, *weights;
    struct assign_device *ad = NULL;
    const char **ids = NULL, *version;
    struct device **devs;
    struct args a = {0};
    char *acts = NULL, *actstr = NULL, *memberlist = NULL;
    size_t n, i, nm, na, me = 0, nact = 0, mlen = 0;
    int agree = 1, leader = 1;

    if (ls == NULL)
        return;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        ifmon_redis_link_reply_error(l, reply->str);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 5 || ls->closing ||
        (uint64_t)(uintptr_t)privdata != poller_generation(ls->poller)) {
        ls->busy = 0;
        return;
    }
    members = reply->element[0];
    digests = reply->element[1];
    leases = reply->element[2];
    weights = reply->element[3];
    version = str_of(reply->element[4]);
    devs = poller_devices(ls->poller, &n);
    nm = members->elements;
    if (members->type != REDIS_REPLY_ARRAY || nm == 0 || digests->elements != nm ||
        leases->elements != n || weights->elements != n) {
        ls->busy = 0;
        return;
    }
    ids = ifmon_xcalloc(nm + ls->nknown, sizeof(*ids));
    for (i = 0; i < nm; i++) {
        const char *d = str_of(digests->element[i]);

        ids[i] = members->element[i]->str;
        mlen += members->element[i]->len + 1;
        if (strcmp(ids[i], ls->id) == 0)
            me = i;
        else if (strcmp(ids[i], ls->id) < 0)
            leader = 0;
        if (d == NULL || strcmp(d, ls->digest) != 0)
            agree = 0;
    }
    memberlist = ifmon_xcalloc(1, mlen + 1);
    for (i = 0; i < nm; i++) {
        strcat(memberlist, ids[i]);
        strcat(memberlist, "\n");
    }
    ls->st.members = nm;
    ls->st.leader = leader;

    na = with_known(ls, ids, nm);

    /* Who should poll what. */
    ad = ifmon_xcalloc(n ? n : 1, sizeof(*ad));
    for (i = 0; i < n; i++) {
        const char *w = str_of(weights->element[i]), *v = str_of(leases->element[i]);
        long weight = w ? strtol(w, NULL, 10) : 1;

        ad[i].name = devs[i]->cfg->name;
        ad[i].weight = weight > 0 && weight < 1000000 ? (uint32_t)weight : 1;
        ad[i].owner = holder_index(v, ids, nm);
        ad[i].ref = i;
        free(ls->holders[i]);
        ls->holders[i] = NULL;
        if (v && strrchr(v, ' '))
            ls->holders[i] = ifmon_xstrndup(v, (size_t)(strrchr(v, ' ') - v));
    }
    if (n > 0)
        assign_devices(ids, na, ad, n);

    /* What to do with each. */
    acts = ifmon_xcalloc(n ? n : 1, 1);
    for (i = 0; i < n; i++) {
        size_t d = ad[i].ref;
        struct device *dev = devs[d];
        const char *v = str_of(leases->element[d]);
        int want = ad[i].want == (int)me;
        /* A member not back yet after our reconnection keeps its share. */
        int theirs = ad[i].want >= (int)nm;

        if (v == NULL)
            ls->free_ticks[d]++;
        else
            ls->free_ticks[d] = 0;
        if (is_ours(ls, v)) {
            if (!dev->owned)
                acts[d] = 'a'; /* ours from an earlier life: a new epoch */
            else if (want || theirs || !agree)
                acts[d] = 'r';
            else
                acts[d] = 'x';
        } else if (v == NULL) {
            if (dev->owned) {
                /* Expired before we renewed: whatever comes next starts
                 * afresh. */
                ls->st.lost++;
                log_warn("lease: %s expired before its renewal", dev->cfg->name);
                poller_release(dev);
            }
            if (want || (!theirs && ls->free_ticks[d] >= FREE_TICKS_TAKE))
                acts[d] = 'a';
        } else if (dev->owned) {
            ls->st.lost++;
            log_warn("lease: %s lost to %s", dev->cfg->name, ls->holders[d]);
            poller_release(dev);
        }
        if (acts[d] == 'x') {
            /* Stop before Redis lets the other collector in. */
            ls->st.released++;
            log_info("lease: %s handed over to %s", dev->cfg->name, ids[ad[i].want]);
            poller_release(dev);
        }
        nact += acts[d] != 0;
    }

    if (leader && version && ls->link.ac) {
        maybe_merge(ls, version, memberlist);
        if (++ls->ticks % PRUNE_EVERY_TICKS == 0)
            prune_events(ls);
    }

    ls->busy = 0;
    if (nact > 0 && ls->link.ac) {
        char ttl[16], nkeys[16];

        snprintf(ttl, sizeof(ttl), "%d", LEASE_TTL_MS);
        snprintf(nkeys, sizeof(nkeys), "%zu", nact + 1);
        actstr = ifmon_xcalloc(nact + 1, 1);
        arg_s(&a, "EVAL");
        arg(&a, act_script, sizeof(act_script) - 1);
        arg_s(&a, nkeys);
        arg(&a, ls->k_epochs.s, ls->k_epochs.len);
        for (i = 0; i < n; i++)
            if (acts[i]) {
                actstr[strlen(actstr)] = acts[i];
                arg_s(&a, ls->lease_keys[i]);
            }
        arg_s(&a, ls->id);
        arg_s(&a, ttl);
        arg_s(&a, actstr);
        for (i = 0; i < n; i++)
            if (acts[i])
                arg_s(&a, devs[i]->cfg->name);
        ls->sent_ns = uv_hrtime();
        ls->act_gen = ls->generation;
        if (send_args(ls, &a, on_act, acts) == 0) {
            ls->busy = 1;
            acts = NULL; /* on_act's */
        }
    }
    args_free(&a);
    free(actstr);
    free(acts);
    free(ad);
    free(ids);
    free(memberlist);
}

static void on_tick(uv_timer_t *t)
{
    struct lease *ls = t->data;
    struct device **devs;
    struct args a = {0};
    char ttl[16], nkeys[16];
    size_t n, i, held = 0;

    devs = poller_devices(ls->poller, &n);
    for (i = 0; i < n; i++)
        held += poller_device_held(devs[i]);
    ls->st.held = held;
    if (ls->busy || !ifmon_redis_link_is_up(&ls->link))
        return;
    follow_inventory(ls);
    snprintf(ttl, sizeof(ttl), "%d", LEASE_TTL_MS);
    snprintf(nkeys, sizeof(nkeys), "%zu", n + 5);
    arg_s(&a, "EVAL");
    arg(&a, read_script, sizeof(read_script) - 1);
    arg_s(&a, nkeys);
    arg(&a, ls->k_members.s, ls->k_members.len);
    arg(&a, ls->k_inventories.s, ls->k_inventories.len);
    arg(&a, ls->k_weights.s, ls->k_weights.len);
    arg(&a, ls->k_version.s, ls->k_version.len);
    arg(&a, ls->k_alerts.s, ls->k_alerts.len);
    for (i = 0; i < n; i++)
        arg_s(&a, ls->lease_keys[i]);
    arg_s(&a, ls->id);
    arg_s(&a, ttl);
    arg_s(&a, ls->digest);
    for (i = 0; i < n; i++)
        arg_s(&a, devs[i]->cfg->name);
    if (send_args(ls, &a, on_read, (void *)(uintptr_t)ls->generation) == 0)
        ls->busy = 1;
    args_free(&a);
}

/* ----------------------------------------------------------- the link */

static void on_link_up(struct ifmon_redis_link *l)
{
    struct lease *ls = l->owner;

    ls->busy = 0;
    ls->merging = 0;
    /* The others reconnect too, within about one lease: until then they
     * keep their share (with_known()). */
    if (ls->nknown > 1)
        ls->grace_until_ns = uv_hrtime() + (uint64_t)LEASE_TTL_MS * 1000000u;
    /* Redis may be another (a failover): merge again whatever it holds. */
    free(ls->merged_version);
    ls->merged_version = NULL;
    on_tick(&ls->tick);
}

static void on_link_down(struct ifmon_redis_link *l)
{
    struct lease *ls = l->owner;

    ls->busy = 0;
    ls->merging = 0;
}

static void make_keys(struct lease *ls, const char *prefix)
{
    int rc = ifmon_key_cluster(&ls->k_members, prefix, "members", NULL) |
             ifmon_key_cluster(&ls->k_inventories, prefix, "inventories", NULL) |
             ifmon_key_cluster(&ls->k_weights, prefix, "weights", NULL) |
             ifmon_key_cluster(&ls->k_version, prefix, "version", NULL) |
             ifmon_key_cluster(&ls->k_alerts, prefix, "alerts", NULL) |
             ifmon_key_cluster(&ls->k_epochs, prefix, "epochs", NULL) |
             ifmon_key_cluster(&ls->k_parts, prefix, "inventory", NULL) |
             ifmon_key_event_log(&ls->k_events, prefix);

    IFMON_ASSERT(rc == 0); /* the loader's limit on the prefix */
}

struct lease *lease_create(uv_loop_t *loop, struct poller *poller, struct output *out,
                           const struct config *cfg)
{
    static const struct ifmon_redis_link_hooks hooks = {.up = on_link_up, .down = on_link_down};
    struct lease *ls = ifmon_xcalloc(1, sizeof(*ls));

    ls->loop = loop;
    ls->poller = poller;
    ls->out = out;
    ls->id = ifmon_xstrdup(cfg->collector.id);
    make_keys(ls, cfg->redis.prefix);
    uv_timer_init(loop, &ls->tick);
    ls->tick.data = ls;
    uv_timer_start(&ls->tick, on_tick, LEASE_TICK_MS, LEASE_TICK_MS);
    ifmon_redis_link_init(&ls->link, loop, "leases", 0, 1, &hooks, ls);
    lease_set_config(ls, cfg);
    log_info("collector.shared: devices shared as %s with the other collectors of %s:cluster",
             ls->id, cfg->redis.prefix);
    return ls;
}

void lease_set_config(struct lease *ls, const struct config *cfg)
{
    const struct config_redis *r = &cfg->redis;
    struct ifmon_redis_target t = {r->host,      r->port,       r->password,
                                   r->sentinels, r->nsentinels, r->master_name};

    make_keys(ls, r->prefix);
    ifmon_redis_link_set_target(&ls->link, &t);
}

void lease_stats(const struct lease *ls, struct lease_stats *out)
{
    *out = ls->st;
}

void lease_close(struct lease *ls)
{
    struct device **devs;
    struct args a = {0};
    char nkeys[16];
    size_t n, i;

    if (ls == NULL)
        return;
    ls->closing = 1;
    uv_timer_stop(&ls->tick);
    uv_close((uv_handle_t *)&ls->tick, NULL);
    devs = poller_devices(ls->poller, &n);
    for (i = 0; i < n; i++)
        poller_release(devs[i]);
    if (ifmon_redis_link_is_up(&ls->link)) {
        /* Leave now rather than in LEASE_TTL_MS: the others take over at
         * their next tick. */
        follow_inventory(ls);
        snprintf(nkeys, sizeof(nkeys), "%zu", n + 4);
        arg_s(&a, "EVAL");
        arg(&a, leave_script, sizeof(leave_script) - 1);
        arg_s(&a, nkeys);
        arg(&a, ls->k_members.s, ls->k_members.len);
        arg(&a, ls->k_inventories.s, ls->k_inventories.len);
        arg(&a, ls->k_alerts.s, ls->k_alerts.len);
        arg(&a, ls->k_version.s, ls->k_version.len);
        for (i = 0; i < n; i++)
            arg_s(&a, ls->lease_keys[i]);
        arg_s(&a, ls->id);
        send_args(ls, &a, on_quiet, NULL);
        args_free(&a);
    }
    ifmon_redis_link_close(&ls->link);
}

void lease_free(struct lease *ls)
{
    if (ls == NULL)
        return;
    ifmon_redis_link_release(&ls->link);
    free_devices(ls);
    free(ls->merged_version);
    free(ls->merged_members);
    known_free(ls);
    free(ls->id);
    free(ls);
}
