#!/usr/bin/python3
"""latprobe: the latency of samples as Redis hands them out, before any
gateway (make bench-scale's second opinion on where a stall arises).

Subscribes to the channels listed in a file (one per line) on a Redis at
127.0.0.1:PORT and, for each message, notes when it arrived (wall clock)
and how long after its `ts` (the collector's, the same clock on this
machine). On SIGTERM it writes one line per message, "ARRIVED LATENCY_MS",
to --out and exits. Cheap on purpose: the `ts` is found with a regular
expression, not by parsing the JSON, so that a few thousand messages a
second cost the machine little.

Usage: latprobe.py --port P --channels FILE --out FILE
"""

import argparse
import re
import signal
import sys
import time

import redis

TS = re.compile(rb'"ts":(-?[0-9.eE+-]+)')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--channels", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.channels) as f:
        channels = [line.strip() for line in f if line.strip()]
    seen = []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    r = redis.Redis(host="127.0.0.1", port=args.port)
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe(*channels)
    print("subscribed", flush=True)
    while not stop:
        m = p.get_message(timeout=0.2)
        if m is None or m["type"] != "message":
            continue
        now = time.time()
        t = TS.search(m["data"])
        if t:
            seen.append((now, 1000 * (now - float(t.group(1)))))
    with open(args.out, "w") as f:
        for now, ms in seen:
            f.write(f"{now:.4f} {ms:.2f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
