/* hostnames.c -- see hostnames.h. */

#include "hostnames.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

/* Lines of hosts_file read at most: /etc/hosts is short; a huge one is
 * not worth reading whole at start. */
#define HOSTS_LINES_MAX 4096

struct name_list {
    char **names;
    size_t n;
};

/* Add name (len bytes) lower case without a trailing '.', unless empty,
 * absurd or already there. */
static void add(struct name_list *l, const char *name, size_t len)
{
    char *s;
    size_t i;

    if (len > 1 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return;
    s = ifmon_xstrndup(name, len);
    for (i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    for (i = 0; i < l->n; i++)
        if (strcmp(l->names[i], s) == 0) {
            free(s);
            return;
        }
    l->names = ifmon_xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
    l->names[l->n++] = s;
}

/* The names on each line of hosts_file ("ADDRESS NAME [ALIAS...]") that
 * names `self`. */
static void add_from_hosts(struct name_list *l, const char *self, const char *hosts_file)
{
    static const char space[] = " \t\r\n";
    char line[1024];
    int count = 0;
    FILE *f = fopen(hosts_file, "r");

    if (f == NULL)
        return;
    while (count++ < HOSTS_LINES_MAX && fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#'), *tok, *save = NULL, *names[32];
        size_t nnames = 0, i;
        int mine = 0;

        if (hash)
            *hash = '\0';
        if (strtok_r(line, space, &save) == NULL) /* the address */
            continue;
        while (nnames < sizeof(names) / sizeof(names[0]) &&
               (tok = strtok_r(NULL, space, &save)) != NULL) {
            names[nnames++] = tok;
            if (strcasecmp(tok, self) == 0)
                mine = 1;
        }
        for (i = 0; mine && i < nnames; i++)
            add(l, names[i], strlen(names[i]));
    }
    fclose(f);
}

char **hostnames_default(const char *listen_host, const char *hosts_file, size_t *n)
{
    struct name_list l = {0};
    char self[HOST_NAME_MAX + 1];

    add(&l, listen_host, strlen(listen_host));
    add(&l, "localhost", 9);
    add(&l, "127.0.0.1", 9);
    add(&l, "::1", 3);
    if (gethostname(self, sizeof(self)) == 0) {
        self[sizeof(self) - 1] = '\0';
        add(&l, self, strlen(self));
        add(&l, self, strcspn(self, ".")); /* "gw1" of "gw1.example.net" */
        add_from_hosts(&l, self, hosts_file);
    }
    *n = l.n;
    return l.names;
}

void hostnames_free(char **names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
