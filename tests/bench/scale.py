#!/usr/bin/python3
"""make bench-scale: the whole system on this machine, raised until
something gives.

At each level (a number of interfaces polled every second: 50 per device,
10 devices per site), on 127.0.0.1 high ports in a temporary folder:
simulated agents (tests/sim/simagent), a private redis-server, two
ifmon-collectors sharing the inventory (collector.shared: each polls the
devices it holds a lease on), one ifmon-gateway, and tests/bench/gwload
as the browsers: two WebSocket clients per site, each subscribed to every
interface channel of its site (a site's worth, 500 channels), so every
sample is delivered twice.

Measured over the window (after the collectors hold every device and the
clients are subscribed): each process's CPU (user+sys from /proc) and peak
RSS, the machine's idle share, the collectors' poll lateness (their
/metrics histograms), skipped polls and timeouts, and gwload's latency
from each sample's `ts` (the SNMP answer's arrival: the collector's 20 ms
flush and Redis are inside it, so it bounds publish-to-receipt from above)
to its receipt by the WebSocket client. Beside it, tests/bench/latprobe.py
measures the same latency for the first 20 devices' samples as Redis hands
them out, before the gateway: a stall that shows there arose upstream (the
collectors, Redis, the machine), one that does not, in the gateway or the
clients.
For the worst seconds it also prints each daemon's loop turns busier than
50 and 100 ms (their /metrics), the CPU the hypervisor stole from this
machine each second, and each process's CPU in those seconds.

The simulated agents run at nice 10 (--agents-nice): they stand in for
devices elsewhere on the network, whose answers take no CPU from a real
collector's machine; here they still run on the same two cores, but take
what the system leaves instead of delaying Redis and the daemons (their
answers' delays are not in the latency: a sample's `ts` is its answer's
arrival). Everything else runs at the same priority.

A level holds when no poll was skipped or started more than 100 ms late,
the p99 latency is under 100 ms and at least 99.5% of the deliveries due
arrived. It stops at the first level that does not hold, and says which
process was busiest. Figures are measured, never assumed.
"""

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from benchlib import cpu_seconds, doc_block, free_port, status_kib, stop_all
from collector import start_simagent, write_device

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PER_DEVICE = 50
PER_SITE = 10
LATE_S = 0.1
# tests/bench/latprobe.py listens to this many devices' channels straight
# from Redis: the latency before the gateway, for a few thousand messages
# a second at most.
PROBE_DEVICES = 20


def metrics(port, daemon="collector"):
    """A daemon's /metrics, name (with its le label) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(rf'^(ifmon_{daemon}_\w+(?:\{{le="[^"]+"\}})?) (\S+)$', body, re.M)}


def busy_turns(m, daemon, over_s):
    """Loop turns busier than over_s (a bucket bound), from the histogram."""
    name = f"ifmon_{daemon}_loop_busy_seconds_bucket"
    return m.get(f'{name}{{le="+Inf"}}', 0) - m.get(f'{name}{{le="{over_s:g}"}}', 0)


def machine_idle():
    """(idle, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v)


def late_polls(m):
    """Polls started more than LATE_S late, from the histogram."""
    return (m['ifmon_collector_poll_lateness_seconds_bucket{le="+Inf"}']
            - m[f'ifmon_collector_poll_lateness_seconds_bucket{{le="{LATE_S:g}"}}'])


def probe_summary(path, wall0, wall1):
    """latprobe's messages that arrived within the window: their count, p99
    and the worst latency of each second."""
    lat, worst = [], {}
    with open(path) as f:
        for line in f:
            t, ms = (float(x) for x in line.split())
            if wall0 <= t < wall1:
                lat.append(ms)
                sec = int(t - wall0)
                worst[sec] = max(worst.get(sec, 0.0), ms)
    lat.sort()
    return {"count": len(lat),
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan"),
            "max_by_second_ms": [worst.get(i, 0.0) for i in range(int(wall1 - wall0))]}


class Sampler(threading.Thread):
    """Every second of the window: the CPU time the hypervisor stole from
    this machine (/proc/stat's steal, ms summed over the cores) and each
    process's CPU (ms), so that a second with a stall can be told apart:
    a stolen machine, one process busy, or neither."""

    def __init__(self, names):
        super().__init__(daemon=True)
        self.names = names
        self.stop = threading.Event()
        self.rows = []  # (wall, steal_ms, {name: cpu_ms}, {name: runnable-waiting ms})
        self.tick = 1000.0 / os.sysconf("SC_CLK_TCK")

    def snapshot(self):
        with open("/proc/stat") as f:
            steal = int(f.readline().split()[8])
        cpu, wait = {}, {}
        for k, p in list(self.names.items()):
            try:
                cpu[k] = cpu_seconds(p.pid)
                # Time its main thread was runnable but not running.
                with open(f"/proc/{p.pid}/schedstat") as f:
                    wait[k] = int(f.read().split()[1]) / 1e9
            except (OSError, ValueError, IndexError):
                cpu[k], wait[k] = 0.0, 0.0
        return steal, cpu, wait

    def run(self):
        prev = self.snapshot()
        while not self.stop.wait(1.0 - time.time() % 1.0):
            cur = self.snapshot()
            self.rows.append((time.time(), (cur[0] - prev[0]) * self.tick,
                              {k: 1000 * (cur[1][k] - prev[1].get(k, 0.0)) for k in cur[1]},
                              {k: 1000 * (cur[2][k] - prev[2].get(k, 0.0)) for k in cur[2]}))
            prev = cur

    def by_second(self, wall0, wall1):
        """The rows whose second ended inside the window, one per second."""
        out = {}
        for t, steal, cpu, wait in self.rows:
            if wall0 < t <= wall1 + 0.5:
                out[int(t - wall0 - 0.5)] = (steal, cpu, wait)
        return [out.get(i, (0.0, {}, {})) for i in range(int(wall1 - wall0))]


def run_level(args, interfaces):
    devices = interfaces // PER_DEVICE
    tmp = tempfile.mkdtemp(prefix="ifmon-scale-")
    os.chmod(tmp, 0o755)
    procs, names = [], {}
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        for d in range(devices):
            write_device(os.path.join(data, f"dev{d}.snmprec"), PER_DEVICE, 1000 + d)
        redis_port = free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp, "--maxclients", "10000",
             "--latency-monitor-threshold", "50"],
            stdout=subprocess.DEVNULL))
        names["redis"] = procs[-1]
        # One simulated agent process per 25,000 interfaces: the simulator
        # is not what is measured, and one alone would be the first to give.
        nagents = max(1, -(-interfaces // 25000))
        agent_ports = [free_port(socket.SOCK_DGRAM) for _ in range(nagents)]
        for i, port in enumerate(agent_ports):
            names[f"agent{i + 1}"] = start_simagent(data, port, procs, args.agents_nice)

        inventory = ("defaults: {interval: 1s, timeout: 800ms, retries: 1, version: 2c, "
                     f"counters: [{args.counters}]}}\ndevices:\n")
        for d in range(devices):
            inventory += (f"  - {{name: dev{d}, site: site{d // PER_SITE}, "
                          f"address: '127.0.0.1:{agent_ports[d % nagents]}', "
                          f"community: dev{d}}}\n")
        redis = f"redis: {{host: 127.0.0.1, port: {redis_port}, prefix: bench, history: 60}}\n"
        health = []
        for n in (1, 2):
            port = free_port()
            cfg = os.path.join(tmp, f"collector{n}.yml")
            with open(cfg, "w") as f:
                f.write(redis + f'collector: {{shared: true, id: "c{n}", '
                        f'listen: "127.0.0.1:{port}"}}\n' + inventory)
            log = open(os.path.join(tmp, f"collector{n}.log"), "w")
            procs.append(subprocess.Popen([args.collector, "--config", cfg], stderr=log))
            names[f"collector{n}"] = procs[-1]
            health.append(port)

        sites = -(-devices // PER_SITE)
        clients = 2 * sites
        per_client = PER_SITE * PER_DEVICE if devices >= PER_SITE else interfaces
        gw_port = free_port()
        cfg = os.path.join(tmp, "gateway.yml")
        os.mkdir(os.path.join(tmp, "www"))
        with open(cfg, "w") as f:
            f.write(redis + f"gateway:\n  listen: 127.0.0.1:{gw_port}\n"
                    f"  web_root: {os.path.join(tmp, 'www')}\n"
                    f"  max_connections: {clients + 100}\n"
                    f"  max_connections_per_address: {clients + 100}\n"
                    f"  max_subscriptions_per_address: {max(16384, clients * per_client)}\n"
                    f"  max_channels: {per_client}\n")
        log = open(os.path.join(tmp, "gateway.log"), "w")
        procs.append(subprocess.Popen([args.gateway, "--config", cfg], stderr=log))
        names["gateway"] = procs[-1]

        # The collectors share every device, each about half, every device
        # answers, and no lease has moved for 3 s.
        t0 = time.monotonic()
        moved, last = t0, None
        while True:
            try:
                ms = [metrics(p) for p in health]
                taken = sum(m["ifmon_collector_leases_acquired_total"] for m in ms)
                if taken != last:
                    moved, last = time.monotonic(), taken
                if (sum(m["ifmon_collector_devices_held"] for m in ms) == devices
                        and sum(m["ifmon_collector_interfaces"] for m in ms) == interfaces
                        and all(m["ifmon_collector_interfaces"] >= 0.4 * interfaces for m in ms)
                        and all(m["ifmon_collector_lease_members"] == 2 for m in ms)
                        and time.monotonic() - moved >= 3):
                    break
            except OSError:
                pass
            if time.monotonic() - t0 > args.settle_timeout:
                raise RuntimeError(f"{interfaces}: the collectors did not hold every device "
                                   f"within {args.settle_timeout:.0f} s")
            time.sleep(0.5)
        settle_s = time.monotonic() - t0

        chans = os.path.join(tmp, "channels")
        with open(chans, "w") as f:
            for d in range(devices):
                for i in range(1, PER_DEVICE + 1):
                    f.write(f"bench:dev{d}:ge-0/0/{i}\n")
        probe_chans, probe_out = os.path.join(tmp, "probe-channels"), os.path.join(tmp, "probe")
        with open(probe_chans, "w") as f:
            for d in range(min(devices, PROBE_DEVICES)):
                for i in range(1, PER_DEVICE + 1):
                    f.write(f"bench:dev{d}:ge-0/0/{i}\n")
        probe = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "latprobe.py"), "--port", str(redis_port),
             "--channels", probe_chans, "--out", probe_out], stdout=subprocess.PIPE, text=True)
        procs.append(probe)
        names["latprobe"] = probe
        if probe.stdout.readline().strip() != "subscribed":
            raise RuntimeError("latprobe did not subscribe")
        sampler = Sampler(names)
        sampler.start()
        gen = subprocess.Popen(
            [args.gwload, "--port", str(gw_port), "--connections", str(clients),
             "--per-conn", str(per_client), "--channel-list", chans,
             "--warmup", str(args.warmup), "--duration", str(args.duration),
             "--concurrency", "50", "--history-first"], stdout=subprocess.PIPE, text=True)
        procs.append(gen)
        names["gwload"] = gen
        r = {"interfaces": interfaces, "devices": devices, "clients": clients,
             "per_client": per_client, "agents": nagents, "settle_s": settle_s}
        for line in gen.stdout:
            ev = json.loads(line)
            if ev["event"] == "window_start":
                c0 = {k: cpu_seconds(p.pid) for k, p in names.items()}
                m0 = [metrics(p) for p in health]
                g0 = metrics(gw_port, "gateway")
                i0, w0 = machine_idle()
                t0 = time.monotonic()
                wall0 = time.time()
            elif ev["event"] == "window_end":
                c1 = {k: cpu_seconds(p.pid) for k, p in names.items()}
                m1 = [metrics(p) for p in health]
                g1 = metrics(gw_port, "gateway")
                i1, w1 = machine_idle()
                r["window_s"] = time.monotonic() - t0
                wall1 = time.time()
                r["idle"] = (i1 - i0) / (w1 - w0)
                r["rss_mib"] = {k: status_kib(p.pid, "VmHWM") / 1024 for k, p in names.items()}
            elif ev["event"] == "result":
                r["gen"] = ev
        gen.wait(timeout=30)
        sampler.stop.set()
        sampler.join()
        r["seconds"] = sampler.by_second(wall0, wall1)
        probe.terminate()
        probe.wait(timeout=30)
        r["probe"] = probe_summary(probe_out, wall0, wall1)
        # Redis' own stalls over 50 ms, if any (a stall elsewhere is not here).
        r["redis_latency"] = subprocess.run(
            ["redis-cli", "-p", str(redis_port), "LATENCY", "LATEST"], capture_output=True,
            text=True, timeout=10).stdout.split()
        win = r["window_s"]
        r["share"] = {k: (c1[k] - c0[k]) / win for k in names}
        r["late"] = sum(late_polls(b) - late_polls(a) for a, b in zip(m0, m1))
        r["polls"] = sum(b["ifmon_collector_polls_total"] - a["ifmon_collector_polls_total"]
                         for a, b in zip(m0, m1))
        for k in ("skipped", "timeouts", "samples", "dropped"):
            r[k] = sum(b[f"ifmon_collector_{k}_total"] - a[f"ifmon_collector_{k}_total"]
                       for a, b in zip(m0, m1))
        r["takeovers"] = sum(b["ifmon_collector_leases_acquired_total"]
                             - a["ifmon_collector_leases_acquired_total"] for a, b in zip(m0, m1))
        r["held"] = [m["ifmon_collector_interfaces"] for m in m1]
        # Turns of each daemon's loop busier than 50 and 100 ms: a stall
        # of its own, or not.
        r["busy_turns"] = {
            f"collector{i + 1}": [busy_turns(b, "collector", t) - busy_turns(a, "collector", t)
                                  for t in (0.05, 0.1)] for i, (a, b) in enumerate(zip(m0, m1))}
        r["busy_turns"]["gateway"] = [busy_turns(g1, "gateway", t) - busy_turns(g0, "gateway", t)
                                      for t in (0.05, 0.1)]
        g = r["gen"]
        r["p99_ms"], r["p50_ms"], r["max_ms"] = g["lat_p99_ms"], g["lat_p50_ms"], g["lat_max_ms"]
        r["due"] = interfaces * 2 * g["window_s"]
        r["delivered"] = g["deliveries"] / r["due"] if r["due"] else 0
        why = []
        if r["skipped"] or r["late"]:
            why.append(f"{r['late']:.0f} polls over {LATE_S * 1000:.0f} ms late, "
                       f"{r['skipped']:.0f} skipped")
        if r["p99_ms"] >= 100:
            why.append(f"p99 {r['p99_ms']:.1f} ms")
        if r["delivered"] < 0.995:
            why.append(f"{100 * r['delivered']:.1f}% delivered")
        if g["lost_after_setup"] or g["subscribed"] != clients:
            why.append(f"{g['subscribed']} of {clients} clients subscribed, "
                       f"{g['lost_after_setup']} lost")
        r["held_ok"] = not why
        r["why"] = "; ".join(why)
        return r
    finally:
        stop_all(procs, tmp)


def report(args, results):
    parts = ["collector1", "collector2", "redis", "gateway", "gwload"]
    print(f"Two collectors sharing the inventory ({PER_DEVICE} interfaces per device, "
          f"counters [{args.counters}], every second), one Redis, one gateway, gwload: two "
          f"clients per site of {PER_SITE} devices, each subscribed to the site's "
          f"{PER_SITE * PER_DEVICE} channels. {args.duration:.0f} s measured per level.\n")
    print("| interfaces | held | collectors | redis | gateway | gwload | agents | machine "
          "idle | polls >100 ms late / skipped | latency p50 / p99 / max | delivered |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s = r["share"]
        agents = sum(v for k, v in s.items() if k.startswith("agent"))
        print(f"| {r['interfaces']:,} | {'yes' if r['held_ok'] else 'NO: ' + r['why']} "
              f"| {100 * s['collector1']:.0f}% + {100 * s['collector2']:.0f}% "
              f"| {100 * s['redis']:.0f}% | {100 * s['gateway']:.0f}% | {100 * s['gwload']:.0f}% "
              f"| {100 * agents:.0f}% | {100 * r['idle']:.0f}% of 2 cores "
              f"| {r['late']:.0f} / {r['skipped']:.0f} "
              f"| {r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.0f} ms "
              f"| {100 * r['delivered']:.2f}% |")
    ok = [r for r in results if r["held_ok"]]
    print()
    if ok:
        best = ok[-1]
        print(f"Largest load that held: **{best['interfaces']:,} interfaces** at 1 s "
              f"({best['devices']} devices, {best['clients']} clients, "
              f"{2 * best['interfaces']:,} deliveries a second).")
        print("\nCost per 1,000 interfaces polled every second at that load (CPU ms per "
              "second, i.e. thousandths of a core; peak RSS):\n")
        print("| part | CPU per 1,000 interfaces | share of one core | peak RSS |")
        print("|---|---|---|---|")
        k = best["interfaces"] / 1000
        for p in parts:
            print(f"| {p} | {1000 * best['share'][p] / k:.2f} ms/s | "
                  f"{100 * best['share'][p]:.1f}% | {best['rss_mib'][p]:.1f} MiB |")
        agents = sum(v for q, v in best["share"].items() if q.startswith("agent"))
        print(f"| simulated agents ({best['agents']} simagent) | {1000 * agents / k:.2f} ms/s "
              f"| {100 * agents:.1f}% | |")
    bad = [r for r in results if not r["held_ok"]]
    if bad:
        r = bad[0]
        busiest = max(r["share"], key=r["share"].get)
        print(f"\nFirst level that did not hold: {r['interfaces']:,} interfaces ({r['why']}); "
              f"busiest process {busiest} at {100 * r['share'][busiest]:.0f}% of a core, "
              f"machine idle {100 * r['idle']:.0f}% of 2 cores.")
    else:
        print("\nEvery level held; the ceiling is above the last one measured.")
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"kernel {platform.release()}; every process shares the cores.  ")
    print(f"The simulated agents run at nice {args.agents_nice}: they stand in for devices "
          "elsewhere on the network, and take the CPU the system leaves.  ")
    print(f"Command: `tests/bench/scale.py --levels {args.levels} --duration {args.duration:g} "
          f"--counters {args.counters} --agents-nice {args.agents_nice}`")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="10000,20000,30000,40000,50000,60000",
                    help="interfaces per level, comma-separated, rising")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="seconds after every history arrived before measuring: the history lists (60 samples) fill first, the steady state")
    ap.add_argument("--settle-timeout", type=float, default=120.0)
    ap.add_argument("--counters", default="octets,errors")
    ap.add_argument("--agents-nice", type=int, default=10,
                    help="the simulated agents' nice value: they stand in for devices elsewhere "
                    "on the network, so they take the CPU the system leaves rather than "
                    "delaying it (0: the same priority as the rest)")
    ap.add_argument("--collector", default=os.path.join(TOP, "collector", "ifmon-collector"))
    ap.add_argument("--gateway", default=os.path.join(TOP, "gateway", "ifmon-gateway"))
    ap.add_argument("--gwload", default=os.path.join(HERE, "gwload"))
    ap.add_argument("--doc", help="also write the tables into docs/BENCHMARKS.md")
    ap.add_argument("--keep-going", action="store_true",
                    help="measure every level, also past the first that did not hold")
    args = ap.parse_args()
    results = []
    for level in [int(x) for x in args.levels.split(",")]:
        print(f"level {level:,} interfaces ...", file=sys.stderr, flush=True)
        r = run_level(args, level)
        print(f"  held={r['held_ok']} {r['why']} shares="
              + ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["share"].items())
              + f" idle {100 * r['idle']:.0f}% p99 {r['p99_ms']:.1f} ms timeouts {r['timeouts']:.0f}"
              f" takeovers {r['takeovers']:.0f} held {r['held']} settle {r['settle_s']:.1f} s",
              file=sys.stderr,
              flush=True)
        print(f"  redis stalls over 50 ms (event, when, last ms, max ms): "
              f"{' '.join(r['redis_latency']) or 'none'}", file=sys.stderr, flush=True)
        # Worst latency per second of the window: one stall or a load?
        print("  worst latency per second (ms): "
              + " ".join(f"{v:.0f}" for v in r["gen"].get("lat_max_by_second_ms", [])),
              file=sys.stderr, flush=True)
        pr = r["probe"]
        print(f"  the same straight from Redis (latprobe, the first {PROBE_DEVICES} devices, "
              f"{pr['count']} samples): p99 {pr['p99_ms']:.1f} ms, worst per second (ms): "
              + " ".join(f"{v:.0f}" for v in pr["max_by_second_ms"]), file=sys.stderr, flush=True)
        print("  loop turns busier than 50 / 100 ms: "
              + ", ".join(f"{k} {v[0]:.0f} / {v[1]:.0f}" for k, v in r["busy_turns"].items()),
              file=sys.stderr, flush=True)
        print("  CPU stolen by the hypervisor per second (ms, both cores): "
              + " ".join(f"{st:.0f}" for st, _, _ in r["seconds"]), file=sys.stderr, flush=True)
        print("  Redis runnable but waiting for a CPU, per second (ms): "
              + " ".join(f"{w.get('redis', 0):.0f}" for _, _, w in r["seconds"]),
              file=sys.stderr, flush=True)
        print("  Redis CPU per second (ms): "
              + " ".join(f"{cpu.get('redis', 0):.0f}" for _, cpu, _ in r["seconds"]),
              file=sys.stderr, flush=True)
        # The three worst seconds at the clients, with what each process did.
        worst = r["gen"].get("lat_max_by_second_ms", [])
        for i in sorted(range(len(worst)), key=lambda i: -worst[i])[:3]:
            if i < len(r["seconds"]):
                st, cpu, wait = r["seconds"][i]
                print(f"  second {i}: worst {worst[i]:.0f} ms, stolen {st:.0f} ms, CPU ms "
                      "(waiting for a CPU ms): "
                      + ", ".join(f"{k} {v:.0f} ({wait.get(k, 0):.0f})" for k, v in cpu.items()),
                      file=sys.stderr, flush=True)
        results.append(r)
        if not r["held_ok"] and not args.keep_going:
            break
    with doc_block(args.doc, "bench-scale"):
        report(args, results)


if __name__ == "__main__":
    main()
