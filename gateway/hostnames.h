/* hostnames.h -- the names a gateway answers to when gateway.hosts is not
 * set (the Host check, access_host_allowed()): its listen address,
 * "localhost", the loopback addresses, and the machine's own names, that
 * is gethostname(), its first label, and the other names /etc/hosts gives
 * on the same line (usually the FQDN). Read once at start from local
 * sources only: a DNS query could block the loop, or take the start
 * hostage to a resolver. */

#ifndef IFMON_GATEWAY_HOSTNAMES_H
#define IFMON_GATEWAY_HOSTNAMES_H

#include <stddef.h>

/* A new list of *n new strings (lower case, no trailing '.', no
 * duplicates); free with hostnames_free(). hosts_file is normally
 * "/etc/hosts" (a missing or unreadable one adds nothing). */
char **hostnames_default(const char *listen_host, const char *hosts_file, size_t *n);

void hostnames_free(char **names, size_t n);

#endif
