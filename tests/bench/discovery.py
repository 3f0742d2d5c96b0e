#!/usr/bin/python3
"""make bench-discovery: one device with very many interfaces among small ones.

The collector walks a device's interface table on its loop (discovery.c).
This measures what a large table costs the other devices: one simulated
device with --interfaces interfaces (default 20,000) and --small devices of
50 interfaces each, all on tests/sim/simagent, the large one rediscovered
every --rediscover seconds. It reports

  - how long the large device took from the collector's start to its whole
    interface list in the inventory (wall clock);
  - the small devices' poll-start lateness (p50, p99, max: the collector's
    own histogram, which every device's ticks feed) over a window holding
    several rediscoveries of the large one;
  - the collector's CPU over that window.

Run it against two binaries (--collector) to compare. Figures are
measured, never assumed.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

from benchlib import cpu_seconds, free_port, median, stop_all

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "bench"))
from collector import parse_stats, wait_udp_agent, write_device  # noqa: E402


def run_once(args):
    tmp = tempfile.mkdtemp(prefix="ifmon-bench-disc-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        os.chmod(data, 0o755)
        write_device(os.path.join(data, "big.snmprec"), args.interfaces, 100)
        for d in range(args.small):
            write_device(os.path.join(data, f"dev{d}.snmprec"), 50, 1000 + d)
        redis_port = free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL))
        agent_port = free_port(socket.SOCK_DGRAM)
        agent = subprocess.Popen([os.path.join(TOP, "tests", "sim", "simagent"), "--data-dir", data,
                                  "--listen", f"127.0.0.1:{agent_port}", "--max-varbinds", "64"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(agent)
        wait_udp_agent(agent_port, "dev0")
        cfg = os.path.join(tmp, "disc.yml")
        with open(cfg, "w") as f:
            f.write(f"redis: {{host: 127.0.0.1, port: {redis_port}, prefix: bench, history: 10}}\n"
                    "defaults: {interval: 1s, timeout: 800ms, retries: 1, version: 2c}\n"
                    "devices:\n"
                    f"  - {{name: big, address: '127.0.0.1:{agent_port}', community: big, "
                    f"rediscover: {args.rediscover}s}}\n")
            for d in range(args.small):
                f.write(f"  - {{name: dev{d}, address: '127.0.0.1:{agent_port}', "
                        f"community: dev{d}}}\n")
        log_path = os.path.join(tmp, "collector.log")
        log = open(log_path, "w")
        t_start = time.monotonic()
        coll = subprocess.Popen([args.collector, "--config", cfg], stderr=log)
        procs.append(coll)
        r = redis.Redis(host="127.0.0.1", port=redis_port)
        discovered = None
        while time.monotonic() - t_start < 120:
            raw = r.get("bench:inventory")
            if raw:
                devs = [d for s in json.loads(raw)["sites"] for d in s["devices"]]
                big = [d for d in devs if d["name"] == "big"]
                if big and len(big[0]["interfaces"]) == args.interfaces:
                    discovered = time.monotonic() - t_start
                    break
            time.sleep(0.05)
        coll.send_signal(signal.SIGUSR1)  # a new lateness window from here
        time.sleep(0.3)
        ps = r.pubsub(ignore_subscribe_messages=True)
        ps.subscribe("bench:inventory")
        c0, t0 = cpu_seconds(coll.pid), time.monotonic()
        snapshots = 0
        while time.monotonic() - t0 < args.duration:
            if ps.get_message(timeout=0.1):
                snapshots += 1
        c1, t1 = cpu_seconds(coll.pid), time.monotonic()
        ps.close()
        coll.send_signal(signal.SIGTERM)
        rc = coll.wait(timeout=60)
        log.close()
        text = open(log_path).read()
        stats = parse_stats(text)
        return {
            "discovered_s": discovered,
            "late_p50_ms": float(stats.get("late_p50_ms", "nan")),
            "late_p99_ms": float(stats.get("late_p99_ms", "nan")),
            "late_max_ms": float(stats.get("late_max_ms", "nan")),
            "cpu_share": (c1 - c0) / (t1 - t0),
            "skipped": int(stats.get("skipped", 0)),
            "snapshots": snapshots,
            "exit": rc,
        }
    finally:
        stop_all(procs, tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--interfaces", type=int, default=20000)
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--rediscover", type=int, default=10)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--collector", default=os.environ.get(
        "IFMON_COLLECTOR", os.path.join(TOP, "collector", "ifmon-collector")))
    args = ap.parse_args()
    results = [run_once(args) for _ in range(args.runs)]
    print(f"discovery benchmark: 1 device of {args.interfaces} interfaces, rediscovered every "
          f"{args.rediscover} s, among {args.small} devices of 50; {args.duration:.0f} s measured; "
          f"{args.collector}")
    for r in results:
        disc = f"{r['discovered_s']:.2f} s" if r["discovered_s"] is not None else "not within 120 s"
        print(f"  run: large device listed after {disc}; lateness p50 {r['late_p50_ms']:.2f} ms "
              f"p99 {r['late_p99_ms']:.2f} ms max {r['late_max_ms']:.2f} ms; collector "
              f"{100 * r['cpu_share']:.0f}% of a core; polls skipped {r['skipped']}; inventory "
              f"rewritten {r['snapshots']} times")
    ok = [r for r in results if r["discovered_s"] is not None]
    if ok:
        print(f"  median: listed after {median([r['discovered_s'] for r in ok]):.2f} s, lateness "
              f"p99 {median([r['late_p99_ms'] for r in ok]):.2f} ms, max "
              f"{median([r['late_max_ms'] for r in ok]):.2f} ms")
    if any(r["exit"] != 0 for r in results):
        print("  collector exited with a non-zero status", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
