#!/usr/bin/python3
"""make bench-compare, collector part: ifmon-collector against Prometheus'
SNMP exporter (Debian's prometheus-snmp-exporter) on the same agents.

Both poll the same simulated devices (tests/sim/simagent, N devices x M
interfaces, 64-bit counters) once per second, one after the other, in
alternating order over several runs:

  - ifmon-collector, as in make bench-collector (tests/bench/collector.py);
  - snmp_exporter, with a module of its own snmp.yml (the generator's
    output, written here) that walks exactly the objects the collector
    asks: ifHCInOctets, ifHCOutOctets, ifHighSpeed and ifOperStatus, and
    with --counters the packet counters (ifHCIn/OutUcastPkts,
    ...MulticastPkts, ...BroadcastPkts) and ifIn/OutErrors and
    ifIn/OutDiscards (no label lookups, the cheapest module that yields
    the same rates), scraped once per second per device by a small driver
    here, as Prometheus would with scrape_interval: 1s.

For each it measures the process's own CPU (user+sys from /proc) per 1,000
interface samples, its peak RSS (VmHWM), and the share of polls completed
on time (collector: samples published against due, with poll lateness;
exporter: scrapes answered within their 1 s period against due).
Medians over the runs; with --markdown, a block for docs/BENCHMARKS.md.
"""

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collector as cbench  # noqa: E402  (write_device, run_once, wait_udp_agent)
from benchlib import cpu_seconds, doc_block, free_port, median, status_kib, stop_all  # noqa: E402

TOP = cbench.TOP
EXPORTER = "prometheus-snmp-exporter"

IF_COLUMNS = [
    ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter"),
    ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter"),
    ("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge"),
]
# What `counters: [packets]` and `counters: [errors]` add, object by object.
PACKET_COLUMNS = [
    ("ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7", "counter"),
    ("ifHCInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.8", "counter"),
    ("ifHCInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.9", "counter"),
    ("ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11", "counter"),
    ("ifHCOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.12", "counter"),
    ("ifHCOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.13", "counter"),
]
ERROR_COLUMNS = [
    ("ifInErrors", "1.3.6.1.2.1.2.2.1.14", "counter"),
    ("ifOutErrors", "1.3.6.1.2.1.2.2.1.20", "counter"),
    ("ifInDiscards", "1.3.6.1.2.1.2.2.1.13", "counter"),
    ("ifOutDiscards", "1.3.6.1.2.1.2.2.1.19", "counter"),
]


def columns(counters):
    """The objects the collector asks for this counters: set."""
    groups = counters.split(",")
    return (IF_COLUMNS + (PACKET_COLUMNS if "packets" in groups else []) +
            (ERROR_COLUMNS if "errors" in groups else []))


def exporter_config(path, devices, counters):
    """snmp.yml (format of snmp_exporter 0.21, as its generator writes it):
    one module per device, as the community selects the simulated device,
    walking the objects the collector asks."""
    cols = columns(counters)
    with open(path, "w") as f:
        for d in range(devices):
            f.write(f"dev{d}:\n  walk:\n")
            for _, oid, _ in cols:
                f.write(f"  - {oid}\n")
            f.write("  metrics:\n")
            for name, oid, kind in cols:
                f.write(f"  - name: {name}\n    oid: {oid}\n    type: {kind}\n"
                        f"    help: {name}\n    indexes:\n"
                        f"    - labelname: ifIndex\n      type: gauge\n")
            f.write(f"  version: 2\n  max_repetitions: 25\n  retries: 1\n  timeout: 800ms\n"
                    f"  auth:\n    community: dev{d}\n")


def scrape_loop(url, start, end, out):
    """Scrape url at start, start+1, ... until end; out gets
    (on_time, interface_samples) per scrape."""
    k = 0
    while True:
        due = start + k
        if due >= end:
            return
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read().decode()
            n = body.count("\nifHCInOctets{")
            out.append((time.monotonic() < due + 1.0 and n > 0, n))
        except Exception:  # a failed scrape is a missed poll
            out.append((False, 0))
        k += 1
        # A scrape that overran skips the periods it covered, as
        # Prometheus does.
        k = max(k, int(time.monotonic() - start))


def run_exporter(args):
    tmp = tempfile.mkdtemp(prefix="ifmon-cmp-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        for d in range(args.devices):
            cbench.write_device(os.path.join(data, f"dev{d}.snmprec"), args.interfaces, 1000 + d)
        agent_port = free_port(socket.SOCK_DGRAM)
        agent = subprocess.Popen([os.path.join(TOP, "tests", "sim", "simagent"), "--data-dir", data,
                                  "--listen", f"127.0.0.1:{agent_port}", "--max-varbinds", "64"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(agent)
        cbench.wait_udp_agent(agent_port, "dev0")
        cfg = os.path.join(tmp, "snmp.yml")
        exporter_config(cfg, args.devices, args.counters)
        port = free_port()
        exp = subprocess.Popen([EXPORTER, f"--config.file={cfg}",
                                f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "exp.log"), "w"))
        procs.append(exp)
        end = time.time() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except Exception:
                if time.time() > end or exp.poll() is not None:
                    raise RuntimeError("snmp_exporter did not start: " +
                                       open(os.path.join(tmp, "exp.log")).read())
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/snmp?module=dev{{d}}&target=127.0.0.1:{agent_port}"
        t0 = time.monotonic() + 0.5
        t_measure = t0 + args.warmup
        t_end = t_measure + args.duration
        results = [[] for _ in range(args.devices)]
        warm = [[] for _ in range(args.devices)]
        threads = []
        for d in range(args.devices):
            # Spread the devices over the second, as Prometheus spreads targets.
            off = d / args.devices
            th = threading.Thread(target=lambda d=d, off=off: (
                scrape_loop(url.format(d=d), t0 + off, t_measure + off, warm[d]),
                scrape_loop(url.format(d=d), t_measure + off, t_end + off, results[d])), daemon=True)
            threads.append(th)
            th.start()
        while time.monotonic() < t_measure:
            time.sleep(0.05)
        c0, a0, d0, w0 = (cpu_seconds(exp.pid), cpu_seconds(agent.pid),
                          cpu_seconds(os.getpid()), time.monotonic())
        for th in threads:
            th.join(timeout=args.duration + args.warmup + 30)
        c1, a1, d1, w1 = (cpu_seconds(exp.pid), cpu_seconds(agent.pid),
                          cpu_seconds(os.getpid()), time.monotonic())
        rss = status_kib(exp.pid, "VmHWM")
        flat = [r for dev in results for r in dev]
        samples = sum(n for _, n in flat)
        due_polls = args.devices * int(args.duration)
        on_time = sum(1 for ok, _ in flat if ok)
        window = w1 - w0
        return {
            "cpu_s": c1 - c0,
            "samples": samples,
            "due": args.devices * args.interfaces * int(args.duration),
            "ms_per_1000": 1000.0 * (c1 - c0) / (samples / 1000.0) if samples else float("nan"),
            "core_share": (c1 - c0) / window,
            "rss_mib": rss / 1024.0,
            "on_time": on_time / due_polls if due_polls else 0.0,
            "agent_cpu_share": (a1 - a0) / window,
            "driver_cpu_share": (d1 - d0) / window,
        }
    finally:
        stop_all(procs, tmp)


def run_collector(args):
    r = cbench.run_once(args)
    if r["exit"] != 0:
        raise RuntimeError("the collector exited with a non-zero status")
    # On time: samples published against due, and polls started within
    # 100 ms of their schedule (its own lateness histogram says p99). The
    # window between the two stats lines is not aligned with the polls, so
    # "due" (interfaces x window) is known to one poll of each device: a
    # count short of it by less than that is every poll published.
    slack = args.devices * args.interfaces
    r["on_time"] = (min(1.0, r["samples"] / max(1.0, r["due"] - slack))
                    if r["late_p99_ms"] < 100 else 0.0)
    return r


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001
        return f"unknown ({e})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--interfaces", type=int, default=50)
    ap.add_argument("--duration", type=float, default=30.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=6.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--collector", default=os.environ.get(
        "IFMON_COLLECTOR", os.path.join(TOP, "collector", "ifmon-collector")))
    ap.add_argument("--counters", default="octets/octets,packets,errors",
                    help="counter groups both poll: octets (the four objects of the first "
                         "comparison), octets,errors, octets,packets,errors (every counter); "
                         "several sets separated by / are compared one after the other")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--doc", metavar="SECTION",
                    help="also write the Markdown block into docs/BENCHMARKS.md")
    args = ap.parse_args()
    args.agent = "simagent"
    if shutil.which(EXPORTER) is None:
        sys.exit(f"{EXPORTER} is not installed (apt-get install prometheus-snmp-exporter)")
    sets = args.counters.split("/")
    measured = []
    for c in sets:
        args.counters = c
        measured.append((c, *compare_once(args)))
    if args.markdown or args.doc:
        print()
        with doc_block(args.doc):
            for c, ours, theirs in measured:
                args.counters = c
                markdown(args, ours, theirs)


def compare_once(args):
    """Both, alternating, args.runs times each, for args.counters."""
    ours, theirs = [], []
    for k in range(args.runs):
        order = [("ifmon", run_collector, ours), ("exporter", run_exporter, theirs)]
        if k % 2:
            order.reverse()
        for name, fn, into in order:
            r = fn(args)
            into.append(r)
            print(f"  [{args.counters}] run {k + 1} {name}: {r['samples']} samples of {r['due']} "
                  f"due, CPU {r['cpu_s']:.2f} s -> {r['ms_per_1000']:.2f} ms/1000 samples, "
                  f"RSS {r['rss_mib']:.1f} MiB, on time {100 * r['on_time']:.1f}%", flush=True)
    mo, mt, ratio = medians(ours, theirs)
    print(f"collector vs snmp_exporter: {args.devices} devices x {args.interfaces} interfaces = "
          f"{args.devices * args.interfaces} interfaces at 1 s, {args.duration:.0f} s measured, "
          f"{args.runs} runs each, alternating; counters [{args.counters}]: "
          f"{len(columns(args.counters))} objects per interface")
    print(f"  machine: {cpu_model()}, {os.cpu_count()} cores, kernel {platform.release()}")
    print(f"  versions: {version([EXPORTER, '--version'])}; ifmon {open(os.path.join(TOP, 'VERSION')).read().strip()}")
    print(f"  median CPU per 1,000 interface samples: ifmon {mo['ms_per_1000']:.2f} ms, "
          f"snmp_exporter {mt['ms_per_1000']:.2f} ms: exporter / ifmon = {ratio:.1f}x (goal >= 10x)")
    return ours, theirs


def medians(ours, theirs):
    keys = ["ms_per_1000", "core_share", "rss_mib", "on_time"]
    mo = {k: median([r[k] for r in ours]) for k in keys}
    mt = {k: median([r[k] for r in theirs]) for k in keys}
    return mo, mt, mt["ms_per_1000"] / mo["ms_per_1000"]


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def markdown(args, ours, theirs):
    mo, mt, ratio = medians(ours, theirs)
    cpu = cpu_model()
    print(f"Counters [{args.counters}]: {len(columns(args.counters))} objects per interface, "
          "the same for both.")
    print()
    print("| | CPU per 1,000 interface samples | share of one core | peak RSS | polls on time |")
    print("|---|---|---|---|---|")
    for name, m in (("ifmon-collector", mo), ("snmp_exporter 0.21 + 1 s scrapes", mt)):
        print(f"| {name} | {m['ms_per_1000']:.2f} ms | {100 * m['core_share']:.1f}% "
              f"| {m['rss_mib']:.1f} MiB | {100 * m['on_time']:.1f}% |")
    print(f"| ratio (exporter / ifmon) | {ratio:.1f}x | | "
          f"{mt['rss_mib'] / mo['rss_mib']:.1f}x | |")
    print()
    print("Raw runs (CPU ms per 1,000 samples): ifmon " +
          ", ".join(f"{r['ms_per_1000']:.2f}" for r in ours) + "; snmp_exporter " +
          ", ".join(f"{r['ms_per_1000']:.2f}" for r in theirs) +
          f". Driver CPU (scrapes) {100 * median([r['driver_cpu_share'] for r in theirs]):.0f}% "
          "of a core, not counted for the exporter.")
    print()
    print(f"Machine: {cpu}, {os.cpu_count()} cores, kernel {platform.release()}.  ")
    print(f"Versions: {version([EXPORTER, '--version'])}; ifmon "
          f"{open(os.path.join(TOP, 'VERSION')).read().strip()}.  ")
    print(f"Command: `tests/bench/compare_collector.py --runs {args.runs} --devices "
          f"{args.devices} --interfaces {args.interfaces} --duration {args.duration:g} "
          f"--counters {args.counters}`")
    print()
    late = mo["on_time"] < 1.0
    print(f"Goal: at most a tenth of the exporter's CPU per interface sample "
          f"({ratio:.1f}x less: {'met' if ratio >= 10 else 'MISSED'}), no sample late "
          f"({100 * mo['on_time']:.1f}% of polls on time: "
          f"{'MISSED' if late else 'met'}).")
    print()


if __name__ == "__main__":
    main()
