/* mib.h -- the MIB objects the collector asks for (RFC 3418 sysUpTime,
 * RFC 2863 ifTable and ifXTable columns), shared by the discovery walk
 * (discovery.c: ifName, ifDescr, ifType, ifAlias) and the poll varbinds
 * (counters.c). */

#ifndef IFMON_COLLECTOR_MIB_H
#define IFMON_COLLECTOR_MIB_H

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

/* RFC 3418 / RFC 2863 objects. */
static const oid oid_sys_uptime[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid oid_if_descr[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 2};
static const oid oid_if_name[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1};
static const oid oid_if_type[] = {1, 3, 6, 1, 2, 1, 2, 2, 1, 3};
static const oid oid_if_alias[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18};
#define IF_TABLE_COL_LEN 10  /* ifTable column prefix: 1.3.6.1.2.1.2.2.1.C */
#define IFX_TABLE_COL_LEN 11 /* ifXTable column prefix: 1.3.6.1.2.1.31.1.1.1.C */
/* ifTable (RFC 2863 6, and RFC 1213 for SNMPv1 agents): Counter32s. */
#define COL_IF_SPEED 5
#define COL_IF_OPER_STATUS 8
#define COL_IF_IN_OCTETS 10
#define COL_IF_IN_UCAST_PKTS 11
#define COL_IF_IN_NUCAST_PKTS 12 /* deprecated by RFC 2863; the agents without ifXTable have it */
#define COL_IF_IN_DISCARDS 13
#define COL_IF_IN_ERRORS 14
#define COL_IF_OUT_OCTETS 16
#define COL_IF_OUT_UCAST_PKTS 17
#define COL_IF_OUT_NUCAST_PKTS 18
#define COL_IF_OUT_DISCARDS 19
#define COL_IF_OUT_ERRORS 20
/* ifXTable: Counter32 packet counters, then the Counter64 ones. */
#define COL_IF_IN_MULTICAST_PKTS 2
#define COL_IF_IN_BROADCAST_PKTS 3
#define COL_IF_OUT_MULTICAST_PKTS 4
#define COL_IF_OUT_BROADCAST_PKTS 5
#define COL_IF_HC_IN_OCTETS 6
#define COL_IF_HC_IN_UCAST_PKTS 7
#define COL_IF_HC_IN_MULTICAST_PKTS 8
#define COL_IF_HC_IN_BROADCAST_PKTS 9
#define COL_IF_HC_OUT_OCTETS 10
#define COL_IF_HC_OUT_UCAST_PKTS 11
#define COL_IF_HC_OUT_MULTICAST_PKTS 12
#define COL_IF_HC_OUT_BROADCAST_PKTS 13
#define COL_IF_HIGH_SPEED 15

#endif
