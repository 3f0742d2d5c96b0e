#!/usr/bin/python3
"""make bench-collector: the collector polling N simulated devices at 1 s.

Starts a private redis-server, a simulated SNMP agent serving every device
(tests/sim/simagent, our C simulator, by default; --agent snmpsimd for the
Python reference simulator), and ifmon-collector, all on 127.0.0.1 high
ports in a temporary folder. After a warm-up it measures, over the window:

  - collector CPU seconds (user+sys from /proc/PID/stat) per 1,000
    interface samples published;
  - the collector's peak RSS (VmHWM);
  - p50/p99 lateness of poll starts against their schedule (the collector's
    own histogram, read from its stats line after SIGUSR1/SIGTERM);
  - whether the agents kept up: timeouts, skipped polls, samples published
    against samples due, and the agent's own CPU share.

Prints one table and, with --markdown, a Markdown block for
docs/BENCHMARKS.md. Figures are measured, never assumed.

--counters chooses what each interface is polled for (the inventory's
`counters:`): "octets", "octets,errors" (the default), "octets,packets,
errors"... Several sets separated by "/" are measured in turn, alternating
run by run (--runs of each), and compared: what more varbinds per
interface cost.
"""

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import cpu_seconds, free_port, median, status_kib, stop_all

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_device(path, interfaces, base_rate):
    """One .snmprec: sysUpTime, ifDescr/ifOperStatus, ifName, ifAlias, 64-bit
    octet and packet counters growing at a known rate, the Counter32 error
    and discard counters, ifHighSpeed. Sorted by OID."""
    recs = [((1, 3, 6, 1, 2, 1, 1, 3, 0), "67:numeric", "rate=100")]
    for i in range(1, interfaces + 1):
        recs += [
            ((1, 3, 6, 1, 2, 1, 2, 2, 1, 2, i), "4", f"Ethernet{i}"),
            ((1, 3, 6, 1, 2, 1, 2, 2, 1, 8, i), "2", "1"),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, i), "4", f"ge-0/0/{i}"),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, i), "70:numeric", f"rate={base_rate * i},initial=5"),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10, i), "70:numeric", f"rate={base_rate * i // 2},initial=5"),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15, i), "66", "10000"),
            ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18, i), "4", f"customer {i}"),
        ]
        # Packets (unicast, multicast, broadcast; in 7-9, out 11-13), and
        # ifIn/OutDiscards (13, 19), ifIn/OutErrors (14, 20).
        recs += [((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, col, i), "70:numeric",
                  f"rate={max(1, base_rate * i // (100 * (col % 4 + 1)))},initial=5")
                 for col in (7, 8, 9, 11, 12, 13)]
        recs += [((1, 3, 6, 1, 2, 1, 2, 2, 1, col, i), "65:numeric",
                  f"rate={col % 3},initial=0,max=4294967295,wrap=1") for col in (13, 14, 19, 20)]
    recs.sort()
    with open(path, "w") as f:
        for oid, tag, value in recs:
            f.write(".".join(map(str, oid)) + f"|{tag}|{value}\n")


def wait_udp_agent(port, community, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        r = subprocess.run(["snmpget", "-v2c", "-c", community, "-r0", "-t0.5",
                            f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"],
                           capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.3)
    raise RuntimeError(f"agent on port {port} did not answer")


def start_simagent(data, port, procs, nice=0):
    """tests/sim/simagent serving the .snmprec files of data on 127.0.0.1:port
    (added to procs, so that stop_all() stops it), once it answers; at
    `nice` (os.nice) when not 0."""
    procs.append(subprocess.Popen(
        [os.path.join(TOP, "tests", "sim", "simagent"), "--data-dir", data,
         "--listen", f"127.0.0.1:{port}", "--max-varbinds", "64"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(nice)) if nice else None))
    wait_udp_agent(port, "dev0")
    return procs[-1]


def parse_stats(log_text):
    lines = [l for l in log_text.splitlines() if "stats:" in l]
    if not lines:
        return {}
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", lines[-1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--interfaces", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--agent", choices=["simagent", "snmpsimd"], default="simagent")
    ap.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    ap.add_argument("--collector", default=os.environ.get(
        "IFMON_COLLECTOR", os.path.join(TOP, "collector", "ifmon-collector")))
    ap.add_argument("--counters", default="octets,errors",
                    help="counter groups polled (the inventory's counters:), e.g. octets or "
                         "octets,packets,errors; several sets separated by / are alternated "
                         "and compared")
    ap.add_argument("--poll-grid", default=None, metavar="DURATION",
                    help="collector.poll_grid (the collector's default, 100ms, unless given)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    sets = args.counters.split("/")
    results = {c: [] for c in sets}
    for _ in range(args.runs):
        for c in sets:  # alternating: each set sees the same machine
            args.counters = c
            results[c].append(run_once(args))
    for c in sets:
        args.counters = c
        report(args, results[c])
    if len(sets) > 1:
        compare(args, sets, results)


def compare(args, sets, results):
    """Each set against the first: CPU per 1,000 samples, medians."""
    base = median([r["ms_per_1000"] for r in results[sets[0]]])
    print(f"counter sets compared ({args.runs} runs each, alternating; medians of "
          "CPU ms per 1,000 interface samples):")
    for c in sets:
        m = median([r["ms_per_1000"] for r in results[c]])
        runs = ", ".join(f"{r['ms_per_1000']:.2f}" for r in results[c])
        print(f"  [{c}]: {m:.2f} ms ({runs}), {m / base:.2f}x [{sets[0]}], "
              f"{median([r['core_share'] for r in results[c]]) * 100:.1f}% of a core, "
              f"late p99 {median([r['late_p99_ms'] for r in results[c]]):.2f} ms")


def run_once(args):
    tmp = tempfile.mkdtemp(prefix="ifmon-bench-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        os.chmod(data, 0o755)
        for d in range(args.devices):
            write_device(os.path.join(data, f"dev{d}.snmprec"), args.interfaces, 1000 + d)

        redis_port = free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL))

        agent_port = free_port(socket.SOCK_DGRAM)
        if args.agent == "simagent":
            agent = [os.path.join(TOP, "tests", "sim", "simagent"), "--data-dir", data,
                     "--listen", f"127.0.0.1:{agent_port}", "--max-varbinds", "64"]
        else:
            cache = os.path.join(tmp, "cache")
            os.mkdir(cache)
            if os.geteuid() == 0:
                shutil.chown(cache, "nobody", "nogroup")
            agent = ["snmpsimd", "--v2c-arch", f"--data-dir={data}",
                     f"--agent-udpv4-endpoint=127.0.0.1:{agent_port}", "--logging-method=null",
                     f"--cache-dir={cache}"]
            if os.geteuid() == 0:
                agent += ["--process-user=nobody", "--process-group=nogroup"]
        agent_proc = subprocess.Popen(agent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(agent_proc)
        wait_udp_agent(agent_port, "dev0")

        cfg = os.path.join(tmp, "bench.yml")
        with open(cfg, "w") as f:
            f.write(f"redis: {{host: 127.0.0.1, port: {redis_port}, prefix: bench, history: 60}}\n"
                    "defaults: {interval: 1s, timeout: 800ms, retries: 1, version: 2c, "
                    f"counters: [{args.counters}]}}\n")
            if getattr(args, "poll_grid", None):
                f.write(f"collector: {{poll_grid: {args.poll_grid}}}\n")
            f.write("devices:\n")
            for d in range(args.devices):
                f.write(f"  - {{name: dev{d}, site: site{d % 10}, "
                        f"address: '127.0.0.1:{agent_port}', community: dev{d}}}\n")
        log_path = os.path.join(tmp, "collector.log")
        log = open(log_path, "w")
        coll = subprocess.Popen([args.collector, "--config", cfg], stderr=log)
        procs.append(coll)

        time.sleep(args.warmup)
        coll.send_signal(signal.SIGUSR1)  # new lateness window from here
        c0, a0, t0 = cpu_seconds(coll.pid), cpu_seconds(agent_proc.pid), time.monotonic()
        time.sleep(0.3)
        s0 = parse_stats(open(log_path).read())
        time.sleep(max(0.0, args.duration - 0.3))
        c1, a1, t1 = cpu_seconds(coll.pid), cpu_seconds(agent_proc.pid), time.monotonic()
        rss = status_kib(coll.pid, "VmHWM")
        coll.send_signal(signal.SIGTERM)
        rc = coll.wait(timeout=30)
        log.close()
        s1 = parse_stats(open(log_path).read())
        window = t1 - t0
        samples = int(s1.get("samples", 0)) - int(s0.get("samples", 0))
        due = args.devices * args.interfaces * window
        return {
            "window_s": window,
            "cpu_s": c1 - c0,
            "agent_cpu_share": (a1 - a0) / window,
            "samples": samples,
            "due": due,
            "ms_per_1000": 1000.0 * (c1 - c0) / (samples / 1000.0) if samples else float("nan"),
            "core_share": (c1 - c0) / window,
            "rss_mib": rss / 1024.0,
            "late_p50_ms": float(s1.get("late_p50_ms", "nan")),
            "late_p99_ms": float(s1.get("late_p99_ms", "nan")),
            "late_max_ms": float(s1.get("late_max_ms", "nan")),
            "timeouts": int(s1.get("timeouts", 0)) - int(s0.get("timeouts", 0)),
            "skipped": int(s1.get("skipped", 0)) - int(s0.get("skipped", 0)),
            "exit": rc,
        }
    finally:
        stop_all(procs, tmp)


def report(args, results):
    keys = ["ms_per_1000", "core_share", "rss_mib", "late_p50_ms", "late_p99_ms",
            "late_max_ms", "agent_cpu_share"]
    med = {k: median([r[k] for r in results]) for k in keys}
    samples = sum(r["samples"] for r in results)
    due = sum(r["due"] for r in results)
    timeouts = sum(r["timeouts"] for r in results)
    skipped = sum(r["skipped"] for r in results)
    ifaces = args.devices * args.interfaces
    print(f"ifmon-collector benchmark: {args.devices} devices x {args.interfaces} interfaces "
          f"= {ifaces} interfaces at 1 s, {args.duration:.0f} s measured, {args.runs} run(s), "
          f"agent {args.agent}, counters [{args.counters}]")
    print(f"  machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"kernel {platform.release()}")
    for r in results:
        print(f"  run: {r['samples']} samples of {r['due']:.0f} due, CPU {r['cpu_s']:.2f} s "
              f"-> {r['ms_per_1000']:.2f} ms/1000 samples, late p50 {r['late_p50_ms']:.2f} ms "
              f"p99 {r['late_p99_ms']:.2f} ms, RSS {r['rss_mib']:.1f} MiB, "
              f"agent CPU {100 * r['agent_cpu_share']:.1f}% of a core, "
              f"timeouts {r['timeouts']}, skipped polls {r['skipped']}")
    print(f"  median CPU per 1,000 interface samples: {med['ms_per_1000']:.2f} ms "
          f"(target <= 20 ms) -> {med['core_share'] * 100:.1f}% of one core")
    print(f"  median peak RSS: {med['rss_mib']:.1f} MiB")
    print(f"  median poll-start lateness: p50 {med['late_p50_ms']:.2f} ms, "
          f"p99 {med['late_p99_ms']:.2f} ms (target < 10 ms)")
    limited = timeouts > 0 or skipped > 0 or samples < 0.99 * due or med["agent_cpu_share"] > 0.9
    if limited:
        print(f"  NOTE: the simulated agents, not the collector, were the limit: "
              f"{samples} of {due:.0f} samples answered, {timeouts} timeouts, {skipped} skipped "
              f"polls, agent at {100 * med['agent_cpu_share']:.0f}% of a core")
    else:
        print(f"  agents kept up: {samples} of {due:.0f} samples answered, no timeout")
    if args.markdown:
        print()
        print("| interfaces | CPU per 1,000 samples | share of one core | peak RSS "
              "| lateness p50 | lateness p99 | agent |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {ifaces} ({args.devices} x {args.interfaces}) | {med['ms_per_1000']:.2f} ms "
              f"| {100 * med['core_share']:.1f}% | {med['rss_mib']:.1f} MiB "
              f"| {med['late_p50_ms']:.2f} ms | {med['late_p99_ms']:.2f} ms "
              f"| {args.agent}{' (limit)' if limited else ''} |")
    bad = [r for r in results if r["exit"] != 0]
    if bad:
        print("  collector exited with a non-zero status", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
