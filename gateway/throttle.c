/* throttle.c -- see throttle.h. A set-associative table: a key hashes to
 * one bucket of THROTTLE_WAYS entries, so every operation is a few
 * comparisons whatever the number of attackers. */

#include "throttle.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

uint64_t throttle_key_hash(uint64_t seed, const struct throttle_key *key)
{
    uint64_t h = seed ^ key->family;
    size_t i;

    for (i = 0; i < sizeof(key->addr); i++) {
        h ^= key->addr[i];
        h += 0x9e3779b97f4a7c15ULL;
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
        h ^= h >> 31;
    }
    return h;
}

static size_t bucket_of(const struct throttle *t, const struct throttle_key *key)
{
    return (size_t)(throttle_key_hash(t->seed, key) % THROTTLE_BUCKETS);
}

static int same_key(const struct throttle_key *a, const struct throttle_key *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The entry of key, or NULL. */
static struct throttle_entry *find(const struct throttle *t, const struct throttle_key *key)
{
    const struct throttle_entry *e = &t->slots[bucket_of(t, key) * THROTTLE_WAYS];
    size_t i;

    for (i = 0; i < THROTTLE_WAYS; i++)
        if (e[i].key.family != 0 && same_key(&e[i].key, key))
            return (struct throttle_entry *)&e[i];
    return NULL;
}

void throttle_init(struct throttle *t, uint64_t seed)
{
    memset(t->slots, 0, sizeof(t->slots));
    t->seed = seed;
}

void throttle_key_of(const struct sockaddr *sa, struct throttle_key *key)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(key, 0, sizeof(*key));
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        key->family = 4;
        memcpy(key->addr, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        if (memcmp(in6->sin6_addr.s6_addr, v4_mapped, sizeof(v4_mapped)) == 0) {
            key->family = 4;
            memcpy(key->addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            key->family = 6;
            memcpy(key->addr, in6->sin6_addr.s6_addr, 8); /* the /64 */
        }
    }
}

uint64_t throttle_blocked(const struct throttle *t, const struct throttle_key *key, uint64_t now_ms)
{
    const struct throttle_entry *e;

    if (key->family == 0 || (e = find(t, key)) == NULL || e->blocked_until <= now_ms)
        return 0;
    return e->blocked_until - now_ms;
}

int throttle_failure(struct throttle *t, const struct throttle_key *key, uint64_t now_ms)
{
    struct throttle_entry *e, *bucket;
    size_t i;

    if (key->family == 0)
        return 0;
    e = find(t, key);
    if (e == NULL) {
        /* A free entry, else one not blocked, the least recently failed
         * first: a blocked address is forgotten last. */
        bucket = &t->slots[bucket_of(t, key) * THROTTLE_WAYS];
        for (i = 0; i < THROTTLE_WAYS; i++) {
            struct throttle_entry *c = &bucket[i];
            int c_blocked = c->blocked_until > now_ms;

            if (c->key.family == 0) {
                e = c;
                break;
            }
            if (e == NULL || c_blocked < (e->blocked_until > now_ms) ||
                (c_blocked == (e->blocked_until > now_ms) &&
                 c->last_failure_ms < e->last_failure_ms))
                e = c;
        }
        memset(e, 0, sizeof(*e));
        e->key = *key;
    }
    e->last_failure_ms = now_ms;
    if (e->failures == 0 || now_ms - e->window_ms >= THROTTLE_WINDOW_MS) {
        e->failures = 0;
        e->window_ms = now_ms;
    }
    if (++e->failures < THROTTLE_FAILURES)
        return 0;
    /* Blocked from the THROTTLE_FAILURES-th on; a new window starts when
     * the block ends. */
    e->failures = 0;
    e->blocked_until = now_ms + THROTTLE_BLOCK_MS;
    return 1;
}
