/* invscan.h -- the interface channels of an inventory snapshot
 * (docs/PROTOCOL.md, part 1, "Inventory"), read straight from its text.
 *
 * A pattern's history needs the `channel` of every interface of
 * sites[].devices[].interfaces[]. Building jansson's tree of a 5,000
 * interface snapshot (1.3 MB) to read those strings took the gateway's
 * loop 40 to 100 ms, all live clients waiting; this scanner reads the
 * text once, allocates nothing, and checks it as strictly (RFC 8259, valid
 * UTF-8, no \u0000, at most JSON_PARSER_MAX_DEPTH levels), so that it
 * yields the channels exactly when json_loadb() would have parsed the
 * snapshot (tests/unit/test_gateway_invscan.c compares the two). The same
 * pass can also index the snapshot's shape (invscan_index()), which is
 * what a restricted token's `list` is cut from. Pure logic, no I/O. */

#ifndef IFMON_GATEWAY_INVSCAN_H
#define IFMON_GATEWAY_INVSCAN_H

#include <stddef.h>

/* Called with each interface channel in document order (NUL-terminated,
 * borrowed for the call; channels longer than IFMON_CHANNEL_MAX bytes are
 * left out). */
typedef void (*invscan_channel_fn)(void *arg, const char *channel, size_t len);

/* Scan len bytes of text. Returns 0 when it is one valid JSON value (the
 * root an object or not), -1 when it is not: then channels already given
 * to fn must be forgotten by the caller (jansson would have given none).
 * A root that is not an object gives no channel. */
int invscan_channels(const char *text, size_t len, invscan_channel_fn fn, void *arg);

/* The shape of a snapshot, for showing a restricted token only part of it
 * (inventory.c) without building jansson's tree: where each site, device
 * and interface is in the text, where its list of children is, and the
 * `channel` of each device and interface. Built in the same single pass
 * that checks the text. */

enum invscan_level { INVSCAN_SITE, INVSCAN_DEVICE, INVSCAN_INTERFACE, INVSCAN_LEVELS };

/* One element of sites[], of a site's devices[] or of a device's
 * interfaces[] (any JSON value: only objects are sites, devices and
 * interfaces). */
struct invscan_node {
    size_t start, end;      /* its bytes: text[start, end) */
    size_t open, close;     /* sites, devices: offsets of the '[' and ']' of its devices[] or
                               interfaces[] (has_list) */
    size_t first, count;    /* has_list: its elements, nodes[level + 1][first, first + count) */
    long channel;           /* devices, interfaces: offset in `names` of its "channel" string, or -1
                               (none, not a string, or longer than IFMON_CHANNEL_MAX bytes) */
    unsigned char object;   /* the value is a JSON object */
    unsigned char has_list; /* its "devices" (site) or "interfaces" (device) is an array */
};

struct invscan_index {
    int root_object; /* the snapshot is a JSON object */
    int has_sites;   /* its "sites" is an array, from sites_open to sites_close */
    size_t sites_open, sites_close;
    int irregular; /* a key on the way to a channel ("sites", "devices", "interfaces",
                      "channel") appears twice in one object: which value counts is the
                      reader's choice, so the shape above says nothing reliable */
    struct invscan_node *nodes[INVSCAN_LEVELS]; /* in document order */
    size_t count[INVSCAN_LEVELS], cap[INVSCAN_LEVELS];
    char *names; /* the channels, each NUL-terminated */
    size_t names_len, names_cap;
};

/* Index len bytes of text into *idx (which the caller zeroed or freed
 * before). Returns 0 when the text is one valid JSON value, as
 * invscan_channels() judges it; -1 when it is not, and *idx is then
 * empty. Free with invscan_index_free() in both cases. */
int invscan_index(const char *text, size_t len, struct invscan_index *idx);

/* Free what invscan_index() allocated and zero *idx. */
void invscan_index_free(struct invscan_index *idx);

/* The channel of node n (NUL-terminated, borrowed from idx), or NULL. */
static inline const char *invscan_node_channel(const struct invscan_index *idx,
                                               const struct invscan_node *n)
{
    return n->channel < 0 ? NULL : idx->names + n->channel;
}

#endif
