#!/usr/bin/python3
"""make bench-compare, Redis part: how many interface samples per second
one Redis can take on this machine, the ceiling of the whole system.

The collector writes each sample as RPUSH + LTRIM + PUBLISH (pipelined,
docs/PROTOCOL.md); every gateway holding the channel receives it once.
redis-benchmark (from redis-tools) measures each command alone on a
private redis-server, pipelined like the collector (-P 32), with the
sample's real size; PUBLISH is measured with 0, 1 and 4 subscribers (a
subscriber stands for a gateway). The samples-per-second ceiling is
1 / (1/RPUSH + 1/LTRIM + 1/PUBLISH). Medians over --runs.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import doc_block, free_port, median

SAMPLE = ('{"device":"tokyo-edge1","site":"tokyo","interface":"ge-0/0/0","ifindex":3,'
          '"ts":1764052800.123,"interval":1.001,"in_bps":8000362,"out_bps":4000185,'
          '"speed_bps":1000000000,"oper":"up","seq":42}')


def bench(port, args, n):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", str(n), "-c", "4",
                          "-P", "32", *args], capture_output=True, text=True, check=True).stdout
    # "-q" prints "CMD ...: 123456.79 requests per second, p50=..." (last value wins)
    m = re.findall(r"([\d.]+) requests per second", out)
    if not m:
        raise RuntimeError(f"unexpected redis-benchmark output: {out!r}")
    return float(m[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("-n", type=int, default=400000, help="requests per measurement")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--doc", metavar="SECTION",
                    help="also write the Markdown block into docs/BENCHMARKS.md")
    args = ap.parse_args()
    args.markdown = args.markdown or bool(args.doc)
    if shutil.which("redis-benchmark") is None:
        sys.exit("redis-benchmark is missing (apt-get install redis-tools)")

    tmp = tempfile.mkdtemp(prefix="ifmon-redis-")
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", tmp],
                             stdout=subprocess.DEVNULL)
    subs = []
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        key = "ifmon:history:bench:eth0"
        cases = {
            "RPUSH": ["RPUSH", key, SAMPLE],
            "LTRIM": ["LTRIM", key, "-300", "-1"],
        }
        res = {k: [] for k in ["RPUSH", "LTRIM", "PUBLISH, 0 subscribers",
                               "PUBLISH, 1 subscriber", "PUBLISH, 4 subscribers"]}
        for _ in range(args.runs):
            for name, cmd in cases.items():
                res[name].append(bench(port, cmd, args.n))
            for count in (0, 1, 4):
                while len(subs) < count:
                    subs.append(subprocess.Popen(["redis-cli", "-p", str(port), "SUBSCRIBE",
                                                  "ifmon:bench:eth0"], stdout=subprocess.DEVNULL))
                time.sleep(0.3)
                label = f"PUBLISH, {count} subscriber{'s' if count != 1 else ''}"
                res[label].append(bench(port, ["PUBLISH", "ifmon:bench:eth0", SAMPLE], args.n))
            for s in subs:
                s.terminate()
                s.wait()
            subs.clear()
        med = {k: median(v) for k, v in res.items()}
        version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"Redis ceiling: {version}; redis-benchmark -c 4 -P 32 -n {args.n}, "
              f"{len(SAMPLE)}-byte sample, {args.runs} runs, medians")
        for k, v in med.items():
            print(f"  {k}: {v:,.0f} per second (runs: " +
                  ", ".join(f"{x:,.0f}" for x in res[k]) + ")")
        ceilings = {}
        for count in (0, 1, 4):
            label = f"PUBLISH, {count} subscriber{'s' if count != 1 else ''}"
            ceilings[count] = 1 / (1 / med["RPUSH"] + 1 / med["LTRIM"] + 1 / med[label])
            print(f"  samples per second (RPUSH + LTRIM + PUBLISH), {count} gateway(s): "
                  f"{ceilings[count]:,.0f}")
        if args.markdown:
            print()
            with doc_block(args.doc):
                print("| command (pipelined, -P 32) | per second (median) |")
                print("|---|---|")
                for k, v in med.items():
                    print(f"| {k} | {v:,.0f} |")
                for count, c in ceilings.items():
                    print(f"| **one sample** (RPUSH + LTRIM + PUBLISH), {count} gateway(s) "
                          f"subscribed | **{c:,.0f}** |")
                print()
                print("Runs: " + "; ".join(f"{k} " + " / ".join(f"{x:,.0f}" for x in res[k])
                                           for k in med) + ".  ")
                print(f"Version: {version}. Command: `tests/bench/redis_ceiling.py "
                      f"--runs {args.runs} -n {args.n}`.")
    finally:
        for s in subs:
            s.terminate()
        redis.terminate()
        redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
