/* mib.h -- the MIB objects the collector asks for (RFC 3418 sysUpTime,
 * RFC 2863 ifTable and ifXTable columns), shared by the discovery walk
 * (discovery.c) and the poll varbinds (counters.c). */

#ifndef IFMON_COLLECTOR_MIB_H
#define IFMON_COLLECTOR_MIB_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

/* RFC 3418 / RFC 2863 objects. */
static const oid oid_sys_uptime[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid oid_if_descr[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 2};
static const oid oid_if_name[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1};
static const oid oid_if_type[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 3};
#define IF_TABLE_COL_LEN 10  /* ifTable column prefix: 1.3.6.1.2.1.2.2.1.C */
#define IFX_TABLE_COL_LEN 11 /* ifXTable column prefix: 1.3.6.1.2.1.31.1.1.1.C */
#define COL_IF_SPEED 5
#define COL_IF_OPER_STATUS 8
#define COL_IF_IN_OCTETS 10
#define COL_IF_OUT_OCTETS 16
#define COL_IF_HC_IN_OCTETS 6
#define COL_IF_HC_OUT_OCTETS 10
#define COL_IF_HIGH_SPEED 15

#endif
