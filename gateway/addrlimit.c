/* addrlimit.c -- see addrlimit.h. A chained hash table of addresses that
 * hold something; an entry goes as soon as it holds nothing. */

#include "addrlimit.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BUCKETS_MIN 64

struct entry {
    struct entry *next;
    struct throttle_key key;
    size_t connections;
    size_t subscriptions;
};

struct addrlimit {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t seed;
};

static uint64_t hash_of(const struct addrlimit *t, const struct throttle_key *key)
{
    return throttle_key_hash(t->seed, key);
}

static int same_key(const struct throttle_key *a, const struct throttle_key *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Where key's entry is, or would be linked: the pointer to it. */
static struct entry **slot_of(const struct addrlimit *t, const struct throttle_key *key)
{
    struct entry **at = &t->buckets[hash_of(t, key) & (t->nbuckets - 1)];

    while (*at && !same_key(&(*at)->key, key))
        at = &(*at)->next;
    return at;
}

static void grow(struct addrlimit *t)
{
    struct entry **old = t->buckets;
    size_t n = t->nbuckets, i;

    t->nbuckets = n * 2;
    t->buckets = ifmon_xcalloc(t->nbuckets, sizeof(*t->buckets));
    for (i = 0; i < n; i++) {
        struct entry *e = old[i], *next;

        for (; e; e = next) {
            struct entry **head = &t->buckets[hash_of(t, &e->key) & (t->nbuckets - 1)];

            next = e->next;
            e->next = *head;
            *head = e;
        }
    }
    free(old);
}

/* key's entry, made when missing. */
static struct entry *get(struct addrlimit *t, const struct throttle_key *key)
{
    struct entry **at = slot_of(t, key), *e;

    if (*at)
        return *at;
    if (t->count >= t->nbuckets) {
        grow(t);
        at = slot_of(t, key);
    }
    e = ifmon_xcalloc(1, sizeof(*e));
    e->key = *key;
    *at = e;
    t->count++;
    return e;
}

/* Unlink and free key's entry when it holds nothing. */
static void maybe_drop(struct addrlimit *t, struct entry **at)
{
    struct entry *e = *at;

    if (e->connections || e->subscriptions)
        return;
    *at = e->next;
    free(e);
    t->count--;
}

struct addrlimit *addrlimit_new(uint64_t seed)
{
    struct addrlimit *t = ifmon_xcalloc(1, sizeof(*t));

    t->nbuckets = BUCKETS_MIN;
    t->buckets = ifmon_xcalloc(t->nbuckets, sizeof(*t->buckets));
    t->seed = seed;
    return t;
}

void addrlimit_free(struct addrlimit *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nbuckets; i++) {
        struct entry *e = t->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t->buckets);
    free(t);
}

int addrlimit_connect(struct addrlimit *t, const struct throttle_key *key, size_t max)
{
    struct entry *e = get(t, key);

    if (e->connections >= max) {
        maybe_drop(t, slot_of(t, key));
        return -1;
    }
    e->connections++;
    return 0;
}

void addrlimit_disconnect(struct addrlimit *t, const struct throttle_key *key)
{
    struct entry **at = slot_of(t, key);

    IFMON_ASSERT(*at && (*at)->connections > 0);
    (*at)->connections--;
    maybe_drop(t, at);
}

int addrlimit_subscribe(struct addrlimit *t, const struct throttle_key *key, size_t n, size_t max)
{
    struct entry *e;

    if (n == 0)
        return 0;
    e = get(t, key);
    if (e->subscriptions + n > max) {
        maybe_drop(t, slot_of(t, key));
        return -1;
    }
    e->subscriptions += n;
    return 0;
}

void addrlimit_unsubscribe(struct addrlimit *t, const struct throttle_key *key, size_t n)
{
    struct entry **at;

    if (n == 0)
        return;
    at = slot_of(t, key);
    IFMON_ASSERT(*at && (*at)->subscriptions >= n);
    (*at)->subscriptions -= n;
    maybe_drop(t, at);
}

size_t addrlimit_connections(const struct addrlimit *t, const struct throttle_key *key)
{
    struct entry *e = *slot_of(t, key);

    return e ? e->connections : 0;
}

size_t addrlimit_subscriptions(const struct addrlimit *t, const struct throttle_key *key)
{
    struct entry *e = *slot_of(t, key);

    return e ? e->subscriptions : 0;
}

size_t addrlimit_addresses(const struct addrlimit *t)
{
    return t->count;
}
