#!/usr/bin/python3
"""Simulated sites for `make run`: snmpsimd data files and the inventory.

Three sites, four devices each, 24 interfaces per device (288 in all).
Each interface's traffic rises and falls like a day compressed into ten
minutes (variation module tests/sim/variation/diurnal.py), around its own
average (a few Mb/s to a few hundred) and phase (sites in other time
zones), and some interfaces are down, so the graphs have something to
show with no real equipment. Interfaces have descriptions (ifAlias) and
packet counters; a few have steady errors or discards (variation module
steps.py), a few run near their speed at the peak of their day: with the
inventory's alerts (errors above 1/s, utilization above 90%, each for 10 s)
the page has alerts raised and cleared. Each site's edge devices carry its
total (site_total: their xe-0/1/0 and xe-0/1/1 uplinks). Writes
DIR/<community>.snmprec per device and the YAML inventory (without the
host's own snmpd, which run.sh appends).
"""

import argparse
import os
import random


SITES = {
    "tokyo": ["edge1", "edge2", "core1", "core2"],
    "osaka": ["edge1", "edge2", "core1", "agg1"],
    "paris": ["edge1", "core1", "agg1", "agg2"],
}
INTERFACES = 24


def oid(text):
    return tuple(int(x) for x in text.split("."))


ISPS = ["ISP-A", "ISP-B", "ISP-C", "ISP-D"]
CUSTOMERS = ["Acme Corp", "Kunde Müller GmbH", "city library", "hospital west wing", "Example Networks",
             "school district 4", "Société Générale de Test", "data center row 7"]


def alias_of(site, dev, name, i):
    """ifAlias: uplinks name their ISP and circuit, most ports a customer."""
    if name.startswith("xe-0/1/"):
        k = int(name.rsplit("/", 1)[1])
        return f"uplink to {ISPS[k]}, circuit {site[:3].upper()}-{1000 + 17 * i}" if dev.startswith("edge") \
            else f"core link {k} to {site}-edge{k % 2 + 1}"
    if i % 5 == 4:
        return ""
    return f"{CUSTOMERS[(i + len(dev)) % len(CUSTOMERS)]}, VLAN {100 + i}"


def device_records(names, rates, speeds_mbps, oper, phase=0.0, aliases=None, faults=None):
    """snmprec records for one device; rates are (in, out) octets/s;
    faults: {interface index: (in errors/s, out discards/s)}."""
    aliases = aliases or [""] * len(names)
    faults = faults or {}
    recs = [
        (oid("1.3.6.1.2.1.1.1.0"), "4", "ifmon simulated router"),
        (oid("1.3.6.1.2.1.1.3.0"), "67:numeric", "rate=100"),
        (oid("1.3.6.1.2.1.2.1.0"), "2", str(len(names))),
    ]
    for i, name in enumerate(names, start=1):
        rin, rout = rates[i - 1]
        recs += [
            (oid(f"1.3.6.1.2.1.2.2.1.1.{i}"), "2", str(i)),
            (oid(f"1.3.6.1.2.1.2.2.1.2.{i}"), "4", f"{name} interface"),
            (oid(f"1.3.6.1.2.1.2.2.1.5.{i}"), "66", str(min(speeds_mbps[i - 1] * 10**6, 2**32 - 1))),
            (oid(f"1.3.6.1.2.1.2.2.1.8.{i}"), "2", str(oper[i - 1])),
            (oid(f"1.3.6.1.2.1.2.2.1.10.{i}"), "65:diurnal", f"base={rin},phase={phase + i / 7:.3f}"),
            (oid(f"1.3.6.1.2.1.2.2.1.16.{i}"), "65:diurnal", f"base={rout},phase={phase + i / 5:.3f}"),
            (oid(f"1.3.6.1.2.1.31.1.1.1.1.{i}"), "4", name),
            (oid(f"1.3.6.1.2.1.31.1.1.1.6.{i}"), "70:diurnal", f"base={rin},phase={phase + i / 7:.3f}"),
            (oid(f"1.3.6.1.2.1.31.1.1.1.10.{i}"), "70:diurnal", f"base={rout},phase={phase + i / 5:.3f}"),
            (oid(f"1.3.6.1.2.1.31.1.1.1.15.{i}"), "66", str(speeds_mbps[i - 1])),
            (oid(f"1.3.6.1.2.1.31.1.1.1.18.{i}"), "4", aliases[i - 1]),
        ]
        # packets: 800-byte packets on average; multicast and broadcast still
        for col, base, ph in ((7, rin, i / 7), (11, rout, i / 5)):
            recs.append((oid(f"1.3.6.1.2.1.31.1.1.1.{col}.{i}"), "70:diurnal",
                         f"base={max(1, base // 800)},phase={phase + ph:.3f}"))
        for col in (8, 9, 12, 13):
            recs.append((oid(f"1.3.6.1.2.1.31.1.1.1.{col}.{i}"), "70", "0"))
        # errors (ifInErrors 14, ifOutErrors 20) and discards (13, 19)
        err, disc = faults.get(i, (0, 0))
        for col, rate in ((13, 0), (14, err), (19, disc), (20, 0)):
            recs.append((oid(f"1.3.6.1.2.1.2.2.1.{col}.{i}"), "65:steps", f"initial=0,rate={rate}"))
    recs.sort()
    return "".join(".".join(map(str, o)) + f"|{tag}|{value}\n" for o, tag, value in recs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--port", type=int, required=True, help="snmpsimd UDP port")
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--config", required=True)
    ap.add_argument("--listen", default="127.0.0.1:8080", help="gateway address")
    ap.add_argument("--web-root", default="web/")
    args = ap.parse_args()

    rnd = random.Random(2026)
    devices = []
    for k, (site, names) in enumerate(SITES.items()):
        for dev in names:
            name = f"{site}-{dev}"
            ifnames = [f"ge-0/0/{i}" for i in range(INTERFACES - 4)] + \
                      [f"xe-0/1/{i}" for i in range(4)]
            speeds = [1000] * (INTERFACES - 4) + [10000] * 4
            rates = [(rnd.randint(1, 60) * 125000 * (s // 1000), rnd.randint(1, 40) * 125000 * (s // 1000))
                     for s in speeds]
            oper = [1 if rnd.random() > 0.1 else 2 for _ in speeds]
            # one port per device near its speed at the peak of its day
            hot = rnd.randrange(INTERFACES - 4)
            rates[hot] = (speeds[hot] * 125000 * 96 // 100, rates[hot][1])
            oper[hot] = 1
            # a few ports with errors or discards (the collector's alerts)
            faults = {}
            if dev in ("edge1", "agg1"):
                faults[rnd.randrange(1, INTERFACES - 4)] = (3, 0)
                faults[rnd.randrange(1, INTERFACES - 4)] = (0, 0.5)
            aliases = [alias_of(site, dev, n, i) for i, n in enumerate(ifnames, start=1)]
            with open(os.path.join(args.data_dir, f"{name}.snmprec"), "w") as f:
                f.write(device_records(ifnames, rates, speeds, oper, phase=2.1 * k, aliases=aliases, faults=faults))
            devices.append((site, name, dev.startswith("edge")))

    with open(args.config, "w") as f:
        f.write("# Generated by tests/sim/sites.py for `make run`.\n"
                f"redis: {{host: 127.0.0.1, port: {args.redis_port}, prefix: ifmon, history: 300}}\n"
                f"gateway: {{listen: '{args.listen}', web_root: '{args.web_root}'}}\n"
                "defaults:\n"
                "  interval: 1s\n  timeout: 800ms\n  retries: 1\n  version: 2c\n"
                "  counters: [octets, packets, errors]\n"
                "  alerts:\n"
                "    utilization: {above: 90%, for: 10s}\n"
                "    errors: {above: 1, for: 10s}\n"
                "devices:\n")
        for site, name, edge in devices:
            total = ", site_total: ['xe-0/1/0', 'xe-0/1/1']" if edge else ""
            f.write(f"  - {{name: {name}, site: {site}, address: '127.0.0.1:{args.port}', "
                    f"community: {name}{total}}}\n")


if __name__ == "__main__":
    main()
