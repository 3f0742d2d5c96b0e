#!/usr/bin/python3
"""make bench-compare, collector part: ifmon-collector against Prometheus'
SNMP exporter (Debian's prometheus-snmp-exporter) and collectd's snmp plugin
(Debian's collectd-core) on the same agents.

All poll the same simulated devices (tests/sim/simagent, N devices x M
interfaces, 64-bit counters) once per second, one after the other, the
order reversed run by run:

  - ifmon-collector, as in make bench-collector (tests/bench/collector.py);
  - snmp_exporter, with a module of its own snmp.yml (the generator's
    output, written here) that walks exactly the objects the collector
    asks: ifHCInOctets, ifHCOutOctets, ifHighSpeed and ifOperStatus, and
    with --counters the packet counters (ifHCIn/OutUcastPkts,
    ...MulticastPkts, ...BroadcastPkts) and ifIn/OutErrors and
    ifIn/OutDiscards (no label lookups, the cheapest module that yields
    the same rates), scraped once per second per device by a small driver
    here, as Prometheus would with scrape_interval: 1s;
  - collectd 5.12, configured as its users configure the snmp plugin for
    interface traffic: one <Data> block for the table (Table true, ifName as
    the instance, ifHCInOctets and ifHCOutOctets as the values of type
    if_octets), one <Host> per device with Interval 1, the csv writer into
    the run's folder, no other plugin. It runs with the counter set
    "octets" only (its if_octets carries the two octet counters; with more
    counters it would not poll the same objects). The csv files are read
    at the end: the values written in the window are its samples, and the
    script says whether every interface got one every second;
  - ifmon-collector again with `collector: {poll_grid: 0ms}` (peer
    "nogrid"; octets only): each device polled at its own moment, as
    before the grid existed, to show what the grid is worth.

For each it measures the process's own CPU (user+sys from /proc) per 1,000
interface samples, its peak RSS (VmHWM), and the share of polls completed
on time (collector: samples published against due, with poll lateness;
exporter: scrapes answered within their 1 s period against due).
Medians over the runs; with --markdown, a block for docs/BENCHMARKS.md.
"""

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collector as cbench  # noqa: E402  (write_device, run_once, start_simagent)
from benchlib import cpu_seconds, doc_block, free_port, median, status_kib, stop_all  # noqa: E402

TOP = cbench.TOP
EXPORTER = "prometheus-snmp-exporter"
COLLECTD = "/usr/sbin/collectd"
PEERS = ["exporter", "collectd", "nogrid"]

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
        agent = cbench.start_simagent(data, agent_port, procs)
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


def collectd_config(path, tmp, csv_dir, devices, agent_port):
    """collectd.conf: the snmp plugin as its documentation shows it for
    interface traffic (collectd-snmp(5), "std_traffic"), with the 64-bit
    counters and ifName; numeric OIDs, as Debian ships no IF-MIB file."""
    with open(path, "w") as f:
        f.write(f"""# collectd 5.12: interface octets of every simulated device, every second.
Hostname "bench"
FQDNLookup false
BaseDir "{tmp}"
PIDFile "{tmp}/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
Interval 1

LoadPlugin snmp
LoadPlugin csv

<Plugin csv>
  DataDir "{csv_dir}"
  StoreRates false
</Plugin>

<Plugin snmp>
  <Data "ifmib_if_octets64">
    Type "if_octets"
    Table true
    # IF-MIB::ifName
    TypeInstanceOID ".1.3.6.1.2.1.31.1.1.1.1"
    # IF-MIB::ifHCInOctets, IF-MIB::ifHCOutOctets
    Values ".1.3.6.1.2.1.31.1.1.1.6" ".1.3.6.1.2.1.31.1.1.1.10"
  </Data>
""")
        for d in range(devices):
            f.write(f"""  <Host "dev{d}">
    Address "127.0.0.1:{agent_port}"
    Version 2
    Community "dev{d}"
    Collect "ifmib_if_octets64"
    Interval 1
  </Host>
""")
        f.write("</Plugin>\n")


def csv_values(csv_dir, t0, t1):
    """Values collectd's csv writer wrote with a time in [t0, t1), per
    file (one file per device and interface and day)."""
    per_file = {}
    for root, _, files in os.walk(csv_dir):
        for name in files:
            key = (os.path.basename(os.path.dirname(root)), name.rsplit("-", 3)[0])
            n = 0
            with open(os.path.join(root, name)) as f:
                for line in f:
                    t = line.split(",", 1)[0]
                    if t != "epoch" and t0 <= float(t) < t1:
                        n += 1
            per_file[key] = per_file.get(key, 0) + n
    return per_file


def run_collectd(args):
    tmp = tempfile.mkdtemp(prefix="ifmon-cmp-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        for d in range(args.devices):
            cbench.write_device(os.path.join(data, f"dev{d}.snmprec"), args.interfaces, 1000 + d)
        agent_port = free_port(socket.SOCK_DGRAM)
        agent = cbench.start_simagent(data, agent_port, procs)
        csv_dir = os.path.join(tmp, "csv")
        cfg = os.path.join(tmp, "collectd.conf")
        collectd_config(cfg, tmp, csv_dir, args.devices, agent_port)
        log_path = os.path.join(tmp, "collectd.log")
        cd = subprocess.Popen([COLLECTD, "-f", "-C", cfg], stdout=subprocess.DEVNULL,
                              stderr=open(log_path, "w"))
        procs.append(cd)
        time.sleep(args.warmup)
        if cd.poll() is not None:
            raise RuntimeError("collectd exited at start: " + open(log_path).read()[-2000:])
        c0, a0, w0, t0 = (cpu_seconds(cd.pid), cpu_seconds(agent.pid), time.monotonic(),
                          time.time())
        time.sleep(args.duration)
        c1, a1, w1, t1 = (cpu_seconds(cd.pid), cpu_seconds(agent.pid), time.monotonic(),
                          time.time())
        rss = status_kib(cd.pid, "VmHWM")
        cd.terminate()
        cd.wait(timeout=30)
        per_iface = csv_values(csv_dir, t0, t1)
        samples = sum(per_iface.values())
        window = w1 - w0
        ifaces = args.devices * args.interfaces
        # Every second of the window: floor(window) values at least.
        every_second = sum(1 for n in per_iface.values() if n >= int(window))
        return {
            "cpu_s": c1 - c0,
            "samples": samples,
            "due": ifaces * window,
            "ms_per_1000": 1000.0 * (c1 - c0) / (samples / 1000.0) if samples else float("nan"),
            "core_share": (c1 - c0) / window,
            "rss_mib": rss / 1024.0,
            "on_time": min(1.0, samples / (ifaces * int(window))),
            "agent_cpu_share": (a1 - a0) / window,
            "interfaces_seen": len(per_iface),
            "interfaces_every_second": every_second,
            "values_min": min(per_iface.values()) if per_iface else 0,
            "values_max": max(per_iface.values()) if per_iface else 0,
            "window_s": window,
            "log_lines": sum(1 for _ in open(log_path)),
        }
    finally:
        stop_all(procs, tmp)


def run_collector(args, poll_grid=None):
    args.poll_grid = poll_grid
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
    ap.add_argument("--peers", default=",".join(PEERS),
                    help="what ifmon is compared with, comma-separated (default: %(default)s); "
                         "collectd only with the counters octets")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--doc", metavar="SECTION",
                    help="also write the Markdown block into docs/BENCHMARKS.md")
    args = ap.parse_args()
    args.agent = "simagent"
    args.peers = [p for p in args.peers.split(",") if p]
    if any(p not in PEERS for p in args.peers):
        ap.error(f"--peers: a comma-separated subset of {','.join(PEERS)}")
    if "exporter" in args.peers and shutil.which(EXPORTER) is None:
        sys.exit(f"{EXPORTER} is not installed (apt-get install prometheus-snmp-exporter)")
    if "collectd" in args.peers and not os.access(COLLECTD, os.X_OK):
        sys.exit(f"{COLLECTD} is not installed (apt-get install collectd-core)")
    sets = args.counters.split("/")
    measured = []
    for c in sets:
        args.counters = c
        measured.append((c, compare_once(args)))
    if args.markdown or args.doc:
        print()
        with doc_block(args.doc):
            for c, res in measured:
                args.counters = c
                markdown(args, res)


RUNNERS = {"ifmon": run_collector, "exporter": run_exporter, "collectd": run_collectd,
           "nogrid": lambda args: run_collector(args, "0ms")}
NAMES = {"ifmon": "ifmon-collector", "exporter": "snmp_exporter 0.21 + 1 s scrapes",
         "collectd": "collectd 5.12 snmp plugin + csv",
         "nogrid": "ifmon-collector, `poll_grid: 0ms`"}
SHORT = {"ifmon": "ifmon", "exporter": "snmp_exporter", "collectd": "collectd",
         "nogrid": "ifmon without grid"}


def peers_for(args):
    """The peers that poll the same objects as the collector for
    args.counters: collectd's if_octets only has the octet counters. The
    collector without its poll grid (what the grid is worth) runs with
    octets only too."""
    return [p for p in args.peers if p == "exporter" or args.counters == "octets"]


def compare_once(args):
    """ifmon and its peers, the order reversed run by run, args.runs times
    each, for args.counters; {name: [run, ...]}."""
    names = ["ifmon"] + peers_for(args)
    res = {n: [] for n in names}
    for k in range(args.runs):
        for name in (names if k % 2 == 0 else names[::-1]):
            r = RUNNERS[name](args)
            res[name].append(r)
            extra = ""
            if name == "collectd":
                extra = (f", {r['interfaces_every_second']} of {r['interfaces_seen']} interfaces "
                         f"with a value every second ({r['values_min']}-{r['values_max']} values "
                         f"in {r['window_s']:.1f} s)")
            print(f"  [{args.counters}] run {k + 1} {name}: {r['samples']} samples of "
                  f"{r['due']:.0f} due, CPU {r['cpu_s']:.2f} s -> {r['ms_per_1000']:.2f} "
                  f"ms/1000 samples, RSS {r['rss_mib']:.1f} MiB, on time "
                  f"{100 * r['on_time']:.1f}%{extra}", flush=True)
    med = medians(res)
    print(f"collector vs {', '.join(SHORT[n] for n in names[1:])}: {args.devices} devices x "
          f"{args.interfaces} interfaces = {args.devices * args.interfaces} interfaces at 1 s, "
          f"{args.duration:.0f} s measured, {args.runs} runs each, order reversed run by run; "
          f"counters [{args.counters}]: {len(columns(args.counters))} objects per interface")
    print(f"  machine: {cpu_model()}, {os.cpu_count()} cores, kernel {platform.release()}")
    print(f"  versions: {versions(names)}")
    for n in names[1:]:
        # A run too short for one clock tick of the collector's CPU has no ratio.
        ours = med['ifmon']['ms_per_1000']
        ratio = f"{med[n]['ms_per_1000'] / ours:.1f}x" if ours > 0 else "not measured (0 ms)"
        print(f"  median CPU per 1,000 interface samples: ifmon {ours:.2f} "
              f"ms, {SHORT[n]} {med[n]['ms_per_1000']:.2f} ms: {SHORT[n]} / ifmon = "
              f"{ratio}" + (f" (goal >= {GOALS[n]:g}x)" if n in GOALS else ""))
    return res


GOALS = {"exporter": 10.0, "collectd": 4.0}  # peer CPU per sample over ifmon's


def medians(res):
    keys = ["ms_per_1000", "core_share", "rss_mib", "on_time"]
    return {n: {k: median([r[k] for r in rs]) for k in keys} for n, rs in res.items()}


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def versions(names):
    v = []
    if "exporter" in names:
        v.append(version([EXPORTER, "--version"]))
    if "collectd" in names:
        out = subprocess.run([COLLECTD, "-h"], capture_output=True, text=True).stdout
        m = re.search(r"^collectd (\S+?),?\s", out, re.M)
        pkg = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "collectd-core"],
                             capture_output=True, text=True).stdout
        v.append(f"collectd {m.group(1) if m else '?'} (Debian collectd-core {pkg or '?'})")
    v.append(f"ifmon {open(os.path.join(TOP, 'VERSION')).read().strip()}")
    return "; ".join(v)


def markdown(args, res):
    med = medians(res)
    names = list(res)
    mo = med["ifmon"]
    print(f"Counters [{args.counters}]: {len(columns(args.counters))} objects per interface" +
          (", the same for ifmon and the exporter" if "exporter" in names else " for ifmon") +
          ("; collectd walks ifName, ifHCInOctets and ifHCOutOctets." if "collectd" in names
           else "."))
    print()
    print("| | CPU per 1,000 interface samples | share of one core | peak RSS | polls on time |")
    print("|---|---|---|---|---|")
    for n in names:
        m = med[n]
        print(f"| {NAMES[n]} | {m['ms_per_1000']:.2f} ms | {100 * m['core_share']:.1f}% "
              f"| {m['rss_mib']:.1f} MiB | {100 * m['on_time']:.1f}% |")
    for n in names[1:]:
        print(f"| ratio ({SHORT[n]} / ifmon) | {med[n]['ms_per_1000'] / mo['ms_per_1000']:.1f}x "
              f"| | {med[n]['rss_mib'] / mo['rss_mib']:.1f}x | |")
    print()
    raw = "; ".join(f"{SHORT[n]} " + ", ".join(f"{r['ms_per_1000']:.2f}" for r in res[n])
                    for n in names)
    print(f"Raw runs (CPU ms per 1,000 samples): {raw}." + (
        f" Driver CPU (scrapes) {100 * median([r['driver_cpu_share'] for r in res['exporter']]):.0f}% "
        "of a core, not counted for the exporter." if "exporter" in names else ""))
    if "collectd" in names:
        cd = res["collectd"]
        print()
        print("collectd's csv files, counted per run: " + "; ".join(
            f"{r['samples']} values of {r['due']:.0f} due in {r['window_s']:.1f} s, "
            f"{r['interfaces_every_second']} of {r['interfaces_seen']} interfaces with one every "
            f"second ({r['values_min']}-{r['values_max']} each)" for r in cd) + ".")
    print()
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores, kernel {platform.release()}.  ")
    print(f"Versions: {versions(names)}.  ")
    extra = "" if args.peers == PEERS else f" --peers {','.join(args.peers)}"
    if args.collector != os.path.join(TOP, "collector", "ifmon-collector"):
        extra += f" --collector {args.collector}"
    print(f"Command: `tests/bench/compare_collector.py --runs {args.runs} --devices "
          f"{args.devices} --interfaces {args.interfaces} --duration {args.duration:g} "
          f"--counters {args.counters}{extra}`")
    print()
    late = mo["on_time"] < 1.0
    goals = []
    for n in [n for n in names[1:] if n in GOALS]:
        ratio = med[n]["ms_per_1000"] / mo["ms_per_1000"]
        what = "a tenth of the exporter's" if n == "exporter" else "a quarter of collectd's"
        goals.append(f"at most {what} CPU per interface sample ({ratio:.1f}x less: "
                     f"{'met' if ratio >= GOALS[n] else 'MISSED'})")
    print(f"Goal: {', '.join(goals)}, no sample late ({100 * mo['on_time']:.1f}% of polls on "
          f"time: {'MISSED' if late else 'met'}).")
    print()


if __name__ == "__main__":
    main()
