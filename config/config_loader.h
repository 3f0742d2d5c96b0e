/* config_loader.h -- what the files of config/ share; internal, not
 * installed and not part of the API of config.h (which the daemons use).
 *
 * config_loader.c is the machinery: a problem at a node's FILE:LINE:COLUMN,
 * scalars with ${VAR} expansion, typed getters, and the walk of a mapping
 * that reports duplicate and unknown keys. config_device.c reads `defaults:`
 * and `devices:` with it, config.c the rest of the file. Names keep the
 * module's config_ prefix (like nginx's ngx_conf_*): the library is linked
 * into daemons next to net-snmp, libwebsockets and hiredis. */

#ifndef IFMON_CONFIG_LOADER_H
#define IFMON_CONFIG_LOADER_H

#include <stddef.h>

#include <yaml.h>

#include "config.h"

/* One load of one file: the parsed document and where problems go. */
struct config_loader {
    const char *file; /* name used in messages */
    yaml_document_t doc;
    struct config_errors *errs; /* the caller's; problems are appended */
    size_t nerrors;             /* problems so far: the file loads only at 0 */
};

/* ------------------------------------------------------------ problems */

/* Append "FILE:LINE:COLUMN: message" for the start of node, or "FILE:
 * message" when node is NULL, and count it: a file with any problem yields
 * no configuration. */
void config_problem(struct config_loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same at a position libyaml gave (mark may be NULL). */
void config_problem_at(struct config_loader *ld, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Put the problems reported since errs->count was `first` in the order of
 * the file (line, then column; those without a position first), whatever
 * order the sections were read in. */
void config_problems_sort(struct config_loader *ld, size_t first);

/* -------------------------------------------------------------- values */

/* The text of a scalar node, or NULL when n is NULL or not a scalar. The
 * text belongs to the document. */
const char *config_scalar(const yaml_node_t *n);

/* Each getter reads the value of `key` (named in messages) from node n.
 * It returns 0 and stores the value, or reports the problem at n and
 * returns -1, leaving *out as it was. Strings have ${VAR}, ${VAR:-default}
 * and $$ expanded; the new string in *out is the caller's. */
int config_get_string(struct config_loader *ld, const yaml_node_t *n, const char *key, char **out);
/* A whole number from min to max. */
/* true/false (also yes/no, on/off, as YAML 1.1 spells them). */
int config_get_bool(struct config_loader *ld, const yaml_node_t *n, const char *key, int *out);
int config_get_int(struct config_loader *ld, const yaml_node_t *n, const char *key, long min,
                   long max, int *out);
/* A duration (config_parse_duration()) from min_ms to max_ms, in ms. */
int config_get_duration(struct config_loader *ld, const yaml_node_t *n, const char *key, int min_ms,
                        int max_ms, int *out);
/* A sequence of non-empty strings: a new list of *count new strings (free
 * with config_free_list()). Every bad item is reported. */
int config_get_string_list(struct config_loader *ld, const yaml_node_t *n, const char *key,
                           char ***out, size_t *count);

/* Free *slot and store value (owned by the slot from now on; may be NULL). */
void config_set_string(char **slot, char *value);

/* Free the n strings of list, then list (NULL with n == 0 is fine). */
void config_free_list(char **list, size_t n);

/* ------------------------------------------------------------ mappings */

/* Called by config_each_pair() for each known, not repeated key. */
typedef void (*config_pair_fn)(struct config_loader *ld, const char *key, yaml_node_t *value,
                               void *arg);

/* Walk mapping node map (`where` names it in messages: "redis", "device"):
 * report keys that are not plain scalars, repeated, or not in the
 * NULL-terminated `keys` (with a suggestion when one is close), and call fn
 * for every other pair, in file order. */
void config_each_pair(struct config_loader *ld, yaml_node_t *map, const char *where,
                      const char *const *keys, config_pair_fn fn, void *arg);

/* Report "unknown key" at node, suggesting the entry of the NULL-terminated
 * `keys` one or two edits away from key, if any. */
void config_unknown_key(struct config_loader *ld, const yaml_node_t *node, const char *key,
                        const char *where, const char *const *keys);

/* 1 when section n (named `what`) is a mapping. An empty section ("redis:"
 * and nothing after) gives 0 without a problem; anything else is reported
 * and gives 0. */
int config_is_mapping(struct config_loader *ld, const yaml_node_t *n, const char *what);

/* ------------------------------------------------- devices (config_device.c) */

/* Read the `defaults:` section (NULL when absent) and the `devices:` list
 * (NULL when absent) into cfg->devices and cfg->ndevices: each device starts
 * from the built-in defaults overridden by `defaults:`. Every problem is
 * reported; devices with problems are still stored, so that config_free()
 * frees them. */
void config_load_devices(struct config_loader *ld, yaml_node_t *defaults, yaml_node_t *devices,
                         struct config *cfg);

/* Make dst a deep copy of src (every field of CONFIG_DEVICE_FIELDS, and
 * `line`). dst's previous contents are overwritten, not freed. */
void config_device_copy(struct config_device *dst, const struct config_device *src);

/* Free every string and list d owns and zero it; d itself is the caller's. */
void config_device_clear(struct config_device *d);

#endif
