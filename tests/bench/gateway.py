#!/usr/bin/python3
"""make bench-gateway: ifmon-gateway fanning Redis pub/sub out to N WebSockets.

Starts a private redis-server and ifmon-gateway (gateway/ifmon-gateway) on
127.0.0.1 high ports in a temporary folder, then tests/bench/gwload (our C
load generator, one epoll process) which opens N WebSocket connections,
subscribes each to K of C channels <prefix>:bench:<i> (every channel gets
N*K/C subscribers), and publishes every channel once a second in Redis,
spread over the second, with its send time in the message. After a warm-up
it measures, over the window:

  - deliveries per second received by the clients, against those due;
  - gateway CPU seconds (user+sys from /proc/PID/stat) per 100,000
    deliveries, and the CPU share of the gateway, the generator and Redis
    (all three share the machine's cores);
  - gateway RSS per idle connection: VmRSS with N subscribed idle
    connections (before publishing starts) minus VmRSS with none, over N;
    and the gateway's peak RSS (VmHWM) over the run;
  - p50/p99/max latency from PUBLISH to receipt by the client;
  - connection failures, closes, error replies and the gateway's
    ifmon_gateway_dropped_total.

Prints one table and, with --markdown, a Markdown block for
docs/BENCHMARKS.md. Figures are measured, never assumed.

--server runs the same load against a measuring stick instead, measured
the same way (the process's user+sys CPU, all its threads; VmRSS; latency
from gwload):

  relay  tests/bench/relay/relay.js, a Redis -> WebSocket relay written the
         usual way in Node.js (ws + ioredis from the root package.json; run
         npm ci first);
  bun    tests/bench/relay-bun/relay.js, the same relay on Bun's built-in
         uWebSockets pub/sub (Bun and ioredis from that folder's
         package-lock.json: scripts/install-deps.sh bench);
  floor  tests/bench/floor, a bare C epoll program that makes only the
         socket writes of the fan-out (one write() per message per socket,
         the gateway's bytes): the kernel's floor;
  floor-coalesced
         the same with --coalesce: one write() per socket of all the frames
         one read of Redis brought for it, as a loop that writes its queues
         once per turn (the gateway, uWebSockets) can.
  floor-uring
         tests/bench/floor-uring --uring: the coalesced writes of one read
         of Redis submitted to io_uring together (one io_uring_enter);
  floor-uring50
         the same with --window 50: a socket's frames wait up to 50 ms
         after the first and go out in one write, the floor of a server
         with gateway.flush_ms 50;
  flush50, flush100, flush250
         ifmon-gateway itself with gateway.flush_ms 50, 100 and 250.

--compare (make bench-compare) runs the gateway and the peers (--peers,
all of them by default), the order reversed run by run, and prints medians,
gateway/peer ratios and each one's CPU per delivery as a multiple of the
floor's, as a Markdown table with the machine, the versions and the command.
"""

import argparse
import json
import os
import platform
import re
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import cpu_seconds, doc_block, free_port, median, status_kib, stop_all

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(TOP, "tests", "bench")

TARGET_P99_MS = 20.0
TARGET_KIB_PER_CONN = 8.0
TARGET_CPU_RATIO = 5.0  # gateway deliveries per CPU second over the relay's
TARGET_BUN_RATIO = 1.5  # ... over the Bun relay's (issue 16)
TARGET_BUN_FLUSH_RATIO = 3.0  # ... with an opt-in flush window (issue 16)
TARGET_FLUSH_P99_MS = 150.0

# The gateway itself with an opt-in flush window (gateway.flush_ms); the
# windowed entries of the tables below are made from it.
FLUSH = {"ifmon": 0, "flush50": 50, "flush100": 100, "flush250": 250}
WINDOWED = [f for f in FLUSH if FLUSH[f]]

SERVER_NAMES = {"ifmon": "ifmon-gateway", "relay": "Node relay (ws + ioredis)",
                "bun": "Bun relay (uWebSockets pub/sub)",
                "floor": "floor (bare C, a write per message)",
                "floor-coalesced": "floor, coalesced (a write per socket per Redis read)",
                "floor-uring": "floor, coalesced, io_uring (one submission per Redis read)",
                "floor-uring50": "floor, io_uring, 50 ms window (a write per socket per window)",
                **{f: f"ifmon-gateway, flush_ms {FLUSH[f]}" for f in WINDOWED}}
SHORT_NAMES = {"ifmon": "gateway", "relay": "Node relay", "bun": "Bun relay", "floor": "floor",
               "floor-coalesced": "coalesced floor", "floor-uring": "io_uring floor",
               "floor-uring50": "50 ms floor",
               **{f: f"gateway at {FLUSH[f]} ms" for f in WINDOWED}}
# What the server is called in the text of report().
ROLES = {"ifmon": "gateway", "relay": "relay", "bun": "relay", "floor": "floor",
         "floor-coalesced": "floor", "floor-uring": "floor", "floor-uring50": "floor",
         **{f: "gateway" for f in WINDOWED}}
# Its counter of data messages handed to sockets, on GET /metrics.
OUT_KEYS = {"ifmon": "ifmon_gateway_messages_out_total", "relay": "relay_messages_out_total",
            "bun": "relay_messages_out_total", "floor": "floor_messages_out_total",
            "floor-coalesced": "floor_messages_out_total", "floor-uring": "floor_messages_out_total",
            "floor-uring50": "floor_messages_out_total",
            **{f: "ifmon_gateway_messages_out_total" for f in WINDOWED}}
PEERS = ["relay", "bun", "floor", "floor-coalesced", "floor-uring", "floor-uring50"] + WINDOWED
DEFAULT_PEERS = ",".join(PEERS)
FLOORS = ["floor", "floor-coalesced", "floor-uring", "floor-uring50"]


def machine_busy():
    """(busy, total) jiffies of all cores from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def metrics(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^((?:ifmon_gateway|relay|floor)_\w+) (\S+)$", text, re.M)}


def wait_healthy(port, proc, timeout=15, name="the gateway"):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not become healthy")


def build_gwload(path):
    src = os.path.join(HERE, "gwload.c")
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-Wall", "-o", path, src], check=True)


def build_floor(path, uring=False):
    """tests/bench/floor (and floor-uring, which needs liburing-dev), by
    their Makefile rules (warnings are errors)."""
    if path == os.path.join(HERE, "floor"):
        subprocess.run(["make", "-s", "-C", HERE, "floor"] + (["floor-uring"] if uring else []),
                       check=True)


def bun_binary(args):
    """Bun from tests/bench/relay-bun/node_modules: the bun package's binary
    once its postinstall has put it in place (it takes it from the
    @oven/bun-linux-x64 package beside it, no download), or that package's
    own binary when install scripts were not run."""
    if args.bun:
        return args.bun
    base = os.path.join(HERE, "relay-bun", "node_modules")
    for path in (os.path.join(base, "bun", "bin", "bun.exe"),
                 os.path.join(base, "@oven", "bun-linux-x64", "bin", "bun")):
        try:
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    return path
        except OSError:
            pass
    raise RuntimeError("Bun is missing from tests/bench/relay-bun/node_modules: run "
                       "scripts/install-deps.sh bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--per-client", type=int, default=20, help="channels per client")
    ap.add_argument("--channels", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--slices", type=int, default=100,
                    help="gwload publishes each round in this many bursts of consecutive "
                    "channels (100: 10 channels every 10 ms; 20: 50 channels, a device's "
                    "worth, every 50 ms)")
    ap.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    ap.add_argument("--server", choices=["ifmon"] + PEERS, default="ifmon",
                    help="ifmon: gateway/ifmon-gateway; relay: the Node.js relay "
                    "tests/bench/relay/relay.js; bun: the Bun relay "
                    "tests/bench/relay-bun/relay.js; floor: tests/bench/floor; "
                    "floor-coalesced: floor --coalesce (measuring sticks)")
    ap.add_argument("--compare", action="store_true",
                    help="run the gateway and the --peers, the order reversed run by run, "
                    "--runs times each, and print a Markdown comparison (make bench-compare)")
    ap.add_argument("--peers", default=DEFAULT_PEERS,
                    help="with --compare, the measuring sticks to run, comma-separated "
                    "(default: %(default)s)")
    ap.add_argument("--gateway", default=os.environ.get(
        "IFMON_GATEWAY", os.path.join(TOP, "gateway", "ifmon-gateway")))
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    ap.add_argument("--relay", default=os.path.join(HERE, "relay", "relay.js"))
    ap.add_argument("--bun", default=os.environ.get("BUN"),
                    help="the bun binary (default: tests/bench/relay-bun/node_modules)")
    ap.add_argument("--relay-bun", default=os.path.join(HERE, "relay-bun", "relay.js"))
    ap.add_argument("--floor", default=os.path.join(HERE, "floor"))
    ap.add_argument("--gwload", default=os.path.join(HERE, "gwload"))
    ap.add_argument("--json", action="store_true", help="also print each run as JSON")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--doc", metavar="SECTION",
                    help="with --compare, also write the comparison into docs/BENCHMARKS.md")
    args = ap.parse_args()
    args.peers = [p for p in args.peers.split(",") if p]
    if any(p not in PEERS for p in args.peers) or len(set(args.peers)) != len(args.peers):
        ap.error(f"--peers: a comma-separated subset of {','.join(PEERS)}")

    build_gwload(args.gwload)
    wanted = set(args.peers if args.compare else [args.server])
    if set(FLOORS) & wanted:
        build_floor(args.floor, bool({"floor-uring", "floor-uring50"} & wanted))
    if "bun" in wanted:
        bun_binary(args)  # missing: say so now, not after the runs before it
    if args.compare:
        compare(args)
        return
    results = []
    for i in range(args.runs):
        r = run_once(args, args.server)
        results.append(r)
        if args.json:
            print(json.dumps(r), flush=True)
    if not report(args, results, args.server):
        sys.exit(1)


def start_server(args, server, tmp, redis_port):
    """Start the server under test; returns (process, port, log path)."""
    port = free_port()
    log_path = os.path.join(tmp, "server.log")
    log = open(log_path, "w")
    if server in FLUSH:
        cfg = os.path.join(tmp, "bench.yml")
        with open(cfg, "w") as f:
            f.write(f"redis: {{host: 127.0.0.1, port: {redis_port}, prefix: bench, "
                    f"history: 60}}\n"
                    f"gateway:\n  listen: 127.0.0.1:{port}\n"
                    f"  web_root: {os.path.join(tmp, 'www')}\n"
                    f"  allowed_origins: []\n  token: \"\"\n"
                    f"  max_connections: {args.clients + 100}\n"
                    # Every gwload client comes from 127.0.0.1: the limits
                    # per address must let the whole load in.
                    f"  max_connections_per_address: {args.clients + 100}\n"
                    f"  max_subscriptions_per_address: "
                    f"{max(16384, args.clients * args.per_client)}\n"
                    f"  max_channels: {max(256, args.per_client)}\n  max_frame: 65536\n"
                    f"  flush_ms: {FLUSH[server]}\n")
        os.mkdir(os.path.join(tmp, "www"))
        proc = subprocess.Popen([args.gateway, "--config", cfg], stderr=log)
    else:
        want = args.clients + 256

        def raise_nofile():
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if soft != resource.RLIM_INFINITY and soft < want:
                new_hard = hard if hard == resource.RLIM_INFINITY or hard >= want else want
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, new_hard))

        ports = ["--port", str(port), "--redis-port", str(redis_port)]
        if server == "relay":
            if not os.path.exists(os.path.join(TOP, "node_modules", "ioredis")):
                raise RuntimeError("node_modules/ioredis is missing: run npm ci in " + TOP)
            cmd = [args.node, args.relay] + ports
        elif server == "bun":
            cmd = [bun_binary(args), args.relay_bun] + ports
        else:
            cmd = [args.floor] + ports + (["--coalesce"] if server == "floor-coalesced" else [])
            if server == "floor-uring":
                cmd = [args.floor + "-uring"] + ports + ["--uring"]
            if server == "floor-uring50":
                cmd = [args.floor + "-uring"] + ports + ["--uring", "--window", "50"]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=raise_nofile, cwd=tmp)
    log.close()
    wait_healthy(port, proc, name=SERVER_NAMES[server])
    return proc, port, log_path


def run_once(args, server):
    tmp = tempfile.mkdtemp(prefix="ifmon-gwbench-")
    procs = []
    try:
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp, "--maxclients", "1000"],
            stdout=subprocess.DEVNULL)
        procs.append(redis)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

        gw, gw_port, log_path = start_server(args, server, tmp, redis_port)
        procs.append(gw)
        time.sleep(0.5)
        rss_empty = status_kib(gw.pid, "VmRSS")

        gen = subprocess.Popen(
            [args.gwload, "--port", str(gw_port), "--redis-port", str(redis_port),
             "--connections", str(args.clients), "--per-conn", str(args.per_client),
             "--channels", str(args.channels), "--prefix", "bench",
             "--warmup", str(args.warmup), "--duration", str(args.duration),
             "--slices", str(args.slices), "--wait-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(gen)
        r = {"server": server, "rss_empty_kib": rss_empty}
        for line in gen.stdout:
            ev = json.loads(line)
            e = ev["event"]
            if e == "subscribed":
                time.sleep(2.0)  # let the gateway settle: history fetches, queues drained
                r["rss_idle_kib"] = status_kib(gw.pid, "VmRSS")
                r["idle_subscribed"] = ev["subscribed"]
                m = metrics(gw_port)
                r["gw_connections"] = m.get("ifmon_gateway_connections", -1)
                r["gw_subscriptions"] = m.get("ifmon_gateway_subscriptions", -1)
                gen.stdin.write("go\n")
                gen.stdin.flush()
            elif e == "window_start":
                t0 = time.monotonic()
                c0 = (cpu_seconds(gw.pid), cpu_seconds(gen.pid), cpu_seconds(redis.pid))
                b0 = machine_busy()
                m0 = metrics(gw_port)
            elif e == "window_end":
                c1 = (cpu_seconds(gw.pid), cpu_seconds(gen.pid), cpu_seconds(redis.pid))
                b1 = machine_busy()
                t1 = time.monotonic()
                m1 = metrics(gw_port)
            elif e == "result":
                res = ev
        gen.wait(timeout=30)
        r["rss_peak_kib"] = status_kib(gw.pid, "VmHWM")
        window = t1 - t0
        deliveries = res["deliveries"]
        gw_cpu = c1[0] - c0[0]
        out_key = OUT_KEYS[server]
        n = max(1, r["idle_subscribed"])
        gw.terminate()
        rc = gw.wait(timeout=30)
        log_text = open(log_path).read()
        problems = [l for l in log_text.splitlines()
                    if re.search(r"\b(warning|error|fatal)\b", l) and "web_root" not in l]
        r.update({
            "window_s": window,
            "clients": args.clients,
            "connected": res["connections"] - res["connect_failed"] - res["handshake_failed"],
            "subscribed": res["subscribed"],
            "setup_s": res["setup_s"],
            "deliveries": deliveries,
            "expected": res["expected"],
            "per_s": deliveries / res["window_s"],
            "gw_cpu_s": gw_cpu,
            "gw_cpu_per_100k": gw_cpu / (deliveries / 100000.0) if deliveries else float("nan"),
            "per_cpu_s": deliveries / gw_cpu if gw_cpu > 0 else float("nan"),
            "gw_share": gw_cpu / window,
            "gen_share": (c1[1] - c0[1]) / window,
            "redis_share": (c1[2] - c0[2]) / window,
            "machine_busy": (b1[0] - b0[0]) / max(1, b1[1] - b0[1]),  # of all cores
            "kib_per_conn": (r["rss_idle_kib"] - rss_empty) / n,
            "gen_cpu_self_s": res["cpu_s"],
            # Data messages per WebSocket frame the clients received during
            # the window (by receipt time): above 1 when the server puts
            # several messages in one frame.
            "msgs_per_frame": res["received_window"] / max(1, res["frames_window"]),
            "p50_ms": res["lat_p50_ms"],
            "p99_ms": res["lat_p99_ms"],
            "p999_ms": res["lat_p999_ms"],
            "max_ms": res["lat_max_ms"],
            "pub_late_max_ms": res["pub_late_max_ms"],
            "dropped": m1.get("ifmon_gateway_dropped_total", 0) -
                       m0.get("ifmon_gateway_dropped_total", 0),
            "gw_out": m1.get(out_key, 0) - m0.get(out_key, 0),
            "lost_conns": res["lost_after_setup"],
            "closed_by_server": res["closed_by_server"],
            "error_replies": res["error_replies"],
            "first_error": res["first_error"],
            "gw_log_problems": len(problems),
            "gw_log_sample": problems[:3],
            "exit": rc,
        })
        # Messages the server handed to its sockets in the window, per CPU
        # second: the same figure counted by the server, whatever the clients
        # received by the end of the drain (a server that falls behind still
        # spends the window's CPU on older messages).
        # A saturated relay may not answer /metrics within its timeout:
        # then there is no figure (None), not a zero.
        r["out_per_cpu_s"] = (r["gw_out"] / gw_cpu if gw_cpu > 0 and out_key in m0
                              and out_key in m1 else None)
        # CPU used by everything else on the machine (other users, builds),
        # in cores: busy share of all cores minus our three processes.
        r["other_share"] = (r["machine_busy"] * os.cpu_count() - r["gw_share"] -
                            r["gen_share"] - r["redis_share"])
        return r
    finally:
        stop_all(procs, tmp)


def report(args, results, server="ifmon"):
    """Print the runs and medians of one server; False if it exited badly."""
    name = SERVER_NAMES[server]
    gw = ROLES[server]
    keys = ["per_s", "per_cpu_s", "gw_cpu_per_100k", "gw_share", "gen_share", "redis_share",
            "machine_busy", "other_share", "kib_per_conn", "rss_peak_kib", "p50_ms", "p99_ms", "max_ms",
            "setup_s"]
    med = {k: median([r[k] for r in results]) for k in keys}
    due = args.clients * args.per_client  # deliveries a second
    cores = os.cpu_count()
    print(f"{name} benchmark: {args.clients} clients x {args.per_client} of "
          f"{args.channels} channels, every channel published once a second "
          f"(= {due} deliveries/s due), {args.duration:.0f} s measured after "
          f"{args.warmup:.0f} s warm-up, {args.runs} run(s)")
    print(f"  machine: {platform.machine()}, {cores} cores, kernel {platform.release()}; "
          f"{gw}, gwload and redis-server share them")
    for r in results:
        print(f"  run: {r['connected']}/{r['clients']} connected, {r['subscribed']} subscribed "
              f"in {r['setup_s']:.1f} s; {r['deliveries']} of {r['expected']} deliveries "
              f"({r['per_s']:.0f}/s); {gw} CPU {r['gw_cpu_s']:.2f} s -> "
              f"{r['gw_cpu_per_100k']:.3f} s/100k ({100 * r['gw_share']:.0f}% of a core); "
              f"gwload {100 * r['gen_share']:.0f}%, redis {100 * r['redis_share']:.0f}%, "
              f"machine {100 * r['machine_busy']:.0f}% busy of {cores} cores "
              f"(other processes {100 * r['other_share']:.0f}% of a core); "
              f"latency p50 {r['p50_ms']:.2f} p99 {r['p99_ms']:.2f} p99.9 {r['p999_ms']:.2f} "
              f"max {r['max_ms']:.2f} ms; RSS {r['rss_empty_kib']} KiB empty, "
              f"{r['rss_idle_kib']} KiB idle -> {r['kib_per_conn']:.2f} KiB/conn, "
              f"peak {r['rss_peak_kib'] / 1024:.1f} MiB; dropped {r['dropped']:.0f}, "
              f"lost connections {r['lost_conns']}, error replies {r['error_replies']}, "
              f"publisher late max {r['pub_late_max_ms']:.1f} ms, "
              f"{gw} log warnings/errors {r['gw_log_problems']}")
        if r["first_error"]:
            print(f"    first problem seen by gwload: {r['first_error']}")
        for l in r["gw_log_sample"]:
            print(f"    {gw} log: {l}")
    ok = lambda good: "ok" if good else "MISSED"
    print(f"  median deliveries: {med['per_s']:.0f}/s of {due}/s due")
    print(f"  median {gw} CPU per 100,000 deliveries: {med['gw_cpu_per_100k']:.3f} s "
          f"({100 * med['gw_share']:.0f}% of one core) = {med['per_cpu_s']:.0f} deliveries "
          f"per CPU second")
    print(f"  median latency PUBLISH -> client: p50 {med['p50_ms']:.2f} ms, "
          f"p99 {med['p99_ms']:.2f} ms (target < {TARGET_P99_MS:.0f} ms: "
          f"{ok(med['p99_ms'] < TARGET_P99_MS)}), max {med['max_ms']:.1f} ms")
    print(f"  median {gw} RSS per idle subscribed connection: {med['kib_per_conn']:.2f} KiB "
          f"(target < {TARGET_KIB_PER_CONN:.0f} KB: "
          f"{ok(med['kib_per_conn'] * 1.024 < TARGET_KIB_PER_CONN)}); "
          f"peak RSS {med['rss_peak_kib'] / 1024:.1f} MiB")
    print(f"  median CPU shares (of one core): {gw} {100 * med['gw_share']:.0f}%, "
          f"gwload {100 * med['gen_share']:.0f}%, redis {100 * med['redis_share']:.0f}%; "
          f"machine {100 * med['machine_busy']:.0f}% busy of {cores} cores, of which "
          f"{100 * med['other_share']:.0f}% of a core by other processes")
    limits = []
    noisy = [i + 1 for i, r in enumerate(results) if r["other_share"] > 0.2]
    if noisy:
        limits.append(f"other processes on the machine (over 20% of a core in run(s) "
                      f"{', '.join(map(str, noisy))}; their latency tail may not be the "
                      f"{gw}'s)")
    if med["gen_share"] > 0.9:
        limits.append(f"the load generator (gwload at {100 * med['gen_share']:.0f}% of a core)")
    if med["redis_share"] > 0.9:
        limits.append(f"Redis ({100 * med['redis_share']:.0f}% of a core)")
    if med["machine_busy"] > 0.9:
        limits.append(f"the machine ({100 * med['machine_busy']:.0f}% of all {cores} cores busy)")
    if max(r["pub_late_max_ms"] for r in results) > 50:
        limits.append("the publisher's schedule (a 10 ms slice was sent "
                      f"{max(r['pub_late_max_ms'] for r in results):.0f} ms late: gwload "
                      "did not get the CPU in time)")
    if limits:
        print("  NOTE: possibly limited by " + "; ".join(limits) + f", not only the {gw}")
    else:
        print("  the generator and Redis kept up (each under 90% of a core, machine not "
              "saturated)")
    missing = sum(r["expected"] - r["deliveries"] for r in results)
    bad = [r for r in results if r["lost_conns"] or r["connected"] < r["clients"]
           or r["error_replies"] or r["gw_log_problems"] or r["dropped"]]
    if missing or bad:
        print(f"  PROBLEMS: {missing} deliveries missing over all runs; "
              f"{len(bad)} run(s) with lost/failed connections, error replies, drops or "
              f"{gw} log warnings (see the run lines)")
    if args.markdown:
        print()
        print(f"| clients x channels | deliveries/s | {gw} CPU per 100k | {gw} core share "
              "| gwload / redis share | RSS per idle conn | peak RSS | latency p50 "
              "| latency p99 | latency max |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {args.clients} x {args.per_client} of {args.channels} "
              f"| {med['per_s']:.0f} of {due} | {med['gw_cpu_per_100k']:.3f} s "
              f"| {100 * med['gw_share']:.0f}% | {100 * med['gen_share']:.0f}% / "
              f"{100 * med['redis_share']:.0f}% | {med['kib_per_conn']:.2f} KiB "
              f"| {med['rss_peak_kib'] / 1024:.1f} MiB | {med['p50_ms']:.2f} ms "
              f"| {med['p99_ms']:.2f} ms | {med['max_ms']:.1f} ms |")
    if any(r["exit"] != 0 for r in results):
        print(f"  the {gw} exited with a non-zero status", file=sys.stderr)
        return False
    return True


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def npm_version(pkg, top=TOP):
    try:
        with open(os.path.join(top, "node_modules", pkg, "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def lws_version(gateway):
    v = command_output(["pkg-config", "--modversion", "libwebsockets"]).rstrip("-")
    if v:
        return v
    m = re.search(r"libwebsockets\.so\.(\d+)", command_output(["ldd", gateway]))
    return f"soname {m.group(1)}" if m else "?"


def versions(args, servers):
    """One line of the versions of what ran."""
    parts = [f"ifmon {open(os.path.join(TOP, 'VERSION')).read().strip()}, libwebsockets "
             f"{lws_version(args.gateway)}"]
    if "relay" in servers:
        parts.append(f"Node.js {command_output([args.node, '--version'])}, ws "
                     f"{npm_version('ws')}, ioredis {npm_version('ioredis')}")
    if "bun" in servers:
        try:
            bun_v = command_output([bun_binary(args), "--version"])
        except RuntimeError:
            bun_v = "?"
        parts.append(f"Bun {bun_v}, ioredis "
                     f"{npm_version('ioredis', os.path.join(HERE, 'relay-bun'))}")
    if set(FLOORS) & set(servers):
        cc = command_output(["cc", "--version"]).splitlines()
        parts.append(f"floor built by {cc[0] if cc else 'cc'} -O2")
    redis_v = re.search(r"v=(\S+)", command_output(["redis-server", "--version"]))
    parts.append(f"redis-server {redis_v.group(1) if redis_v else '?'}")
    return "; ".join(parts)


def compare(args):
    """The gateway and its peers under the same gwload load, the order
    reversed run by run (ABC..., ...CBA)."""
    servers = ["ifmon"] + args.peers
    results = {srv: [] for srv in servers}
    for i in range(args.runs):
        order = servers if i % 2 == 0 else servers[::-1]
        for server in order:
            print(f"run {i + 1}/{args.runs}: {SERVER_NAMES[server]} ...", file=sys.stderr,
                  flush=True)
            r = run_once(args, server)
            results[server].append(r)
            if args.json:
                print(json.dumps(r), flush=True)
    ok = True
    for server in servers:
        ok = report(args, results[server], server) and ok
        print()

    keys = ["per_s", "per_cpu_s", "gw_share", "gen_share", "redis_share", "machine_busy",
            "other_share", "kib_per_conn", "rss_peak_kib", "p50_ms", "p99_ms", "max_ms",
            "setup_s", "delivered", "msgs_per_frame"]
    for rs in results.values():
        for r in rs:
            r["delivered"] = r["deliveries"] / r["expected"] if r["expected"] else 0.0
    med = {srv: {k: median([r[k] for r in rs]) for k in keys} for srv, rs in results.items()}
    for srv, rs in results.items():
        outs = [r["out_per_cpu_s"] for r in rs if r["out_per_cpu_s"] is not None]
        med[srv]["out_per_cpu_s"] = median(outs) if outs else None
    g = med["ifmon"]
    relays = [p for p in args.peers if p not in FLOORS and p not in FLUSH]  # gateway / peer columns
    due = args.clients * args.per_client
    ratio = lambda a, b: f"{a / b:.3g}x" if a is not None and b else "-"
    cmd = shlex.join(["tests/bench/gateway.py"] + sys.argv[1:])
    cores = os.cpu_count()

    def row(label, cell, key=None, bold=False):
        """One table line: cell(median) per server, then gateway / relay of
        med[.][key] per relay (blank without a key)."""
        cells = [cell(med[srv]) for srv in servers]
        cells += [ratio(g[key], med[p][key]) if key else "" for p in relays]
        if bold:
            label = f"**{label}**"
            cells = [f"**{c}**" if c else c for c in cells]
        print(f"| {label} | " + " | ".join(cells) + " |")

    with doc_block(args.doc):
        print(f"#### {args.clients} clients x {args.per_client} of {args.channels} channels")
        print()
        print(f"Same gwload load for each: {args.clients} WebSocket clients, each subscribed "
              f"to {args.per_client} of {args.channels} channels, every channel published once "
              f"a second ({due} deliveries/s due); {args.warmup:.0f} s warm-up, "
              f"{args.duration:.0f} s measured, {args.runs} run(s) of each server, in the "
              f"order {', '.join(SHORT_NAMES[s] for s in servers)}, then the "
              f"reverse; medians. CPU is the server process's "
              f"user+sys over the measured window; deliveries are the messages published "
              f"in the window that the clients received by its end plus 2 s; RSS per "
              f"connection is VmRSS with the clients subscribed and idle minus VmRSS with "
              f"none, over the clients.")
        print()
        print("| | " + " | ".join(SERVER_NAMES[s] for s in servers) + " | " +
              " | ".join(f"gateway / {SHORT_NAMES[p]}" for p in relays) + " |")
        print("|---|" + "---|" * (len(servers) + len(relays)))
        row(f"deliveries/s (of {due} due)",
            lambda m: f"{m['per_s']:.0f} ({100 * m['delivered']:.1f}%)", "per_s")
        row("deliveries per CPU second", lambda m: f"{m['per_cpu_s']:.0f}", "per_cpu_s", True)
        for fl in (f for f in FLOORS if f in servers):
            f_cpu = med[fl]["per_cpu_s"]
            row(f"CPU per delivery, as a multiple of the {SHORT_NAMES[fl]}'s",
                lambda m, f_cpu=f_cpu: f"{f_cpu / m['per_cpu_s']:.2f}x", bold=True)
        fmt = lambda v: "n/a (no /metrics answer)" if v is None else f"{v:.0f}"
        row("messages handed to sockets per CPU second (server's counter)",
            lambda m: fmt(m["out_per_cpu_s"]), "out_per_cpu_s")
        row("messages per WebSocket frame (as gwload received them in the window)",
            lambda m: f"{m['msgs_per_frame']:.2f}")
        row("server CPU (share of one core)", lambda m: f"{100 * m['gw_share']:.1f}%",
            "gw_share")
        row("latency p50 (PUBLISH -> client)", lambda m: f"{m['p50_ms']:.2f} ms", "p50_ms")
        row("latency p99", lambda m: f"{m['p99_ms']:.2f} ms", "p99_ms", True)
        row("latency max", lambda m: f"{m['max_ms']:.1f} ms", "max_ms")
        row("RSS per idle subscribed connection", lambda m: f"{m['kib_per_conn']:.2f} KiB",
            "kib_per_conn", True)
        row("peak RSS", lambda m: f"{m['rss_peak_kib'] / 1024:.1f} MiB", "rss_peak_kib")
        row("gwload / redis-server CPU (share of one core)",
            lambda m: f"{100 * m['gen_share']:.0f}% / {100 * m['redis_share']:.0f}%")
        row("other processes on the machine (share of one core)",
            lambda m: f"{100 * m['other_share']:.0f}%")
        row(f"setup: connect + subscribe {args.clients} clients",
            lambda m: f"{m['setup_s']:.1f} s")
        print()
        print("Per run, deliveries per CPU second / p50 / p99 / KiB per connection:")
        print()
        for srv in servers:
            runs = "; ".join(f"{r['per_cpu_s']:.0f} / {r['p50_ms']:.2f} ms / {r['p99_ms']:.2f} ms / "
                             f"{r['kib_per_conn']:.2f} KiB" for r in results[srv])
            print(f"- {SERVER_NAMES[srv]}: {runs}")
        print()
        print(f"Machine: {cpu_model()}, {cores} cores, {platform.machine()}, kernel "
              f"{platform.release()}; the server, gwload and redis-server share the cores.  ")
        print(f"Versions: {versions(args, servers)}.  ")
        print(f"Command: `{cmd}`")
        print()
        if "relay" in servers:
            n = med["relay"]
            cpu_ratio = g["per_cpu_s"] / n["per_cpu_s"] if n["per_cpu_s"] else float("inf")
            goal_cpu = cpu_ratio >= TARGET_CPU_RATIO
            goal_p99 = g["p99_ms"] < n["p99_ms"]
            print(f"Goal: at least {TARGET_CPU_RATIO:.0f}x the relay's deliveries per CPU second "
                  f"({cpu_ratio:.2f}x: {'met' if goal_cpu else 'MISSED'}) and a lower p99 "
                  f"({g['p99_ms']:.2f} against {n['p99_ms']:.2f} ms: "
                  f"{'met' if goal_p99 else 'MISSED'}).")
        if "bun" in servers:
            b = med["bun"]
            bun_ratio = g["per_cpu_s"] / b["per_cpu_s"] if b["per_cpu_s"] else float("inf")
            goal = bun_ratio >= TARGET_BUN_RATIO and g["p99_ms"] < TARGET_P99_MS
            print(f"Goal (issue 16): at least {TARGET_BUN_RATIO:g}x the Bun relay's deliveries "
                  f"per CPU second with p99 under {TARGET_P99_MS:.0f} ms ({bun_ratio:.2f}x, "
                  f"p99 {g['p99_ms']:.2f} ms: {'met' if goal else 'MISSED'}).")
            for fw in (f for f in FLUSH if f != "ifmon" and f in servers):
                w = med[fw]
                r = w["per_cpu_s"] / b["per_cpu_s"] if b["per_cpu_s"] else float("inf")
                goal = r >= TARGET_BUN_FLUSH_RATIO and w["p99_ms"] < TARGET_FLUSH_P99_MS
                print(f"Goal (issue 16) with gateway.flush_ms {FLUSH[fw]}: at least "
                      f"{TARGET_BUN_FLUSH_RATIO:g}x the Bun relay's deliveries per CPU second "
                      f"with p99 under {TARGET_FLUSH_P99_MS:.0f} ms ({r:.2f}x, p99 "
                      f"{w['p99_ms']:.2f} ms: {'met' if goal else 'MISSED'}).")
            for fl in (f for f in FLOORS if f in servers):
                r = med[fl]["per_cpu_s"] / b["per_cpu_s"] if b["per_cpu_s"] else float("inf")
                print(f"The {SHORT_NAMES[fl]} itself: {r:.2f}x the Bun relay's deliveries per "
                      f"CPU second.")
        for fl in (f for f in FLOORS if f in servers):
            f_cpu = med[fl]["per_cpu_s"]
            print(f"CPU per delivery against the {SHORT_NAMES[fl]}'s: " +
                  "; ".join(f"{SHORT_NAMES[s]} {f_cpu / med[s]['per_cpu_s']:.2f}x"
                            for s in servers if s != fl) + ".")
        for p in args.peers:
            m = med[p]
            if m["delivered"] < 0.99:
                print(f"The {SHORT_NAMES[p]} did not keep up: {m['per_s']:.0f} of {due} "
                      f"deliveries/s due ({100 * m['delivered']:.1f}%) reached the clients "
                      f"within the window and the drain.")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
