"""collector.shared: several collectors on one inventory and one Redis,
each device polled by the one collector holding its lease
(collector/lease.h, docs/PROTOCOL.md part 1 "Several collectors").

Real processes: a Redis, one simagent serving 12 devices of 2 to 6
interfaces (48 interfaces), and collectors started from the same
inventory. Asserted: every device is polled by exactly one collector,
the load is balanced by interfaces within 10%, the inventory names each
device's holder; kill -9 of a collector: its devices have samples from
the others within 3 s, the first of each a `first` gap; a collector
joining takes its share within 10 s with no interface silent for more
than two intervals; a collector frozen 10 s (SIGSTOP) publishes nothing
for what it lost, and no interface has samples from two collectors in
more than one interval; SIGTERM hands over at once."""

import json
import os
import re
import signal
import socket
import threading
import time
import unittest
import urllib.request

from harness import (Collector, RedisServer, Subscriber, TempDir, free_port, start_agent,
                     wait_for, write_config, write_device)

SIZES = [2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 4, 4]  # interfaces per device: 48 in all
DEVICES = [f"dev-{i:02d}" for i in range(len(SIZES))]


def ifaces(n):
    return [{"index": k + 1, "name": f"ge-0/0/{k}", "in_rate": 1000 * (k + 1),
             "out_rate": 500 * (k + 1), "speed_mbps": 1000} for k in range(n)]


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(ifmon_collector_\w+) (\S+)$", body, re.M)}


class Proxy:
    """A TCP relay to a port of 127.0.0.1 that can be paused: while paused
    it reads nothing from either side, so the connections stay up and what
    is sent waits, as behind a network path that stopped carrying."""

    def __init__(self, target_port):
        self.target = target_port
        self.open = threading.Event()
        self.open.set()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        while True:
            self.open.wait()
            try:
                d = a.recv(65536)
                if not d:
                    break
                self.open.wait()
                b.sendall(d)
            except OSError:
                break
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.open.set()
        self.ls.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


class TestLeases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        data = cls.tmp.join("data")
        os.makedirs(data)
        for name, n in zip(DEVICES, SIZES):
            write_device(data, name, ifaces(n))
        agent_port = free_port(udp=True)
        cls.agent = start_agent(cls.tmp, "agent", data, f"127.0.0.1:{agent_port}")
        cls.redis = RedisServer(cls.tmp).start()
        cls.inventory = [{"name": n, "site": f"site-{i % 3}", "address": f"127.0.0.1:{agent_port}",
                          "community": n, "interfaces": ["*"]} for i, n in enumerate(DEVICES)]
        cls.channels = {f"ifmon:{d}:ge-0/0/{k}" for d, n in zip(DEVICES, SIZES) for k in range(n)}
        cls.collectors = {}
        cls.serial = 0

    @classmethod
    def tearDownClass(cls):
        try:
            for c in cls.collectors.values():
                if c.alive():
                    c.stop()
        finally:
            cls.redis.stop()
            cls.agent.stop()
            cls.tmp.cleanup()

    def setUp(self):
        self.sub = Subscriber(self.redis.port, "ifmon:*")

    def tearDown(self):
        self.sub.close()
        for name in list(self.collectors):
            c = self.collectors.pop(name)
            if c.alive():
                c.stop()

    def write(self, path, name, port, inventory, redis_port=None):
        write_config(path, redis_port or self.redis.port, inventory)
        with open(path, "a") as f:
            f.write(f'collector: {{shared: true, id: "{name}", listen: "127.0.0.1:{port}"}}\n')

    def start(self, name, inventory=None, redis_port=None):
        """A collector of the shared inventory, collector.id `name`."""
        TestLeases.serial += 1
        port = free_port()
        cfg = self.tmp.join(f"{name}-{self.serial}.yml")
        self.write(cfg, name, port, inventory or self.inventory, redis_port)
        c = Collector(self.tmp, cfg, name=f"{name}-{self.serial}").start()
        c.port, c.name, c.cfg = port, name, cfg
        wait_for(lambda: "health and metrics on" in c.text() or not c.alive(), 10,
                 what=f"{name} to listen")
        self.assertTrue(c.alive(), c.text())
        self.collectors[name] = c
        return c

    def owners(self, since):
        """channel -> the set of collectors whose samples arrived after since."""
        out = {}
        with self.sub.lock:
            for t, ch, d in self.sub.items:
                if t >= since and ch in self.channels and isinstance(d, dict):
                    out.setdefault(ch, set()).add(d["collector"])
        return out

    def wait_settled(self, names, timeout, channels=None):
        """Until, over the last 2 s, every interface had samples from one of
        names and only one."""
        def settled():
            t = time.monotonic()
            if t - t0 < 2.5:
                return False
            o = self.owners(t - 2)
            return (set(o) == (channels or self.channels) and all(len(s) == 1 for s in o.values())
                    and set().union(*o.values()) == set(names))
        t0 = time.monotonic()
        wait_for(settled, timeout, interval=0.2, what=f"{names} to share every interface")
        return {ch: next(iter(s)) for ch, s in self.owners(time.monotonic() - 2).items()}

    def load(self, owner_of):
        per = {}
        for ch, who in owner_of.items():
            per[who] = per.get(who, 0) + 1
        return per

    def assert_balanced(self, owner_of, names):
        per = self.load(owner_of)
        share = len(self.channels) / len(names)
        for n in names:
            self.assertLessEqual(abs(per.get(n, 0) - share), 0.1 * share,
                                 f"interfaces per collector {per}, share {share}")

    def test_each_device_one_collector_balanced_and_listed(self):
        a, b = self.start("col-a"), self.start("col-b")
        owner_of = self.wait_settled({"col-a", "col-b"}, 20)
        self.assert_balanced(owner_of, ["col-a", "col-b"])
        # Over 5 more seconds: one collector per interface, one sample per
        # interval (seq +1 each), no interface silent.
        t0 = time.monotonic()
        wait_for(lambda: time.monotonic() > t0 + 5, 6)
        o = self.owners(t0)
        self.assertEqual(set(o), self.channels)
        self.assertTrue(all(len(s) == 1 for s in o.values()), o)
        # The inventory: every device, each with its holder, up, with its
        # interfaces; device states name the same collector and an epoch.
        def listed():
            inv = json.loads(self.redis.client().get("ifmon:inventory") or "{}")
            devs = {d["name"]: d for s in inv.get("sites", []) for d in s["devices"]}
            return devs if len(devs) == len(DEVICES) and all(
                d["status"] == "up" and len(d["interfaces"]) == SIZES[DEVICES.index(n)]
                for n, d in devs.items()) else None
        wait_for(listed, 10, what="the merged inventory")
        devs = listed()
        for name, d in devs.items():
            self.assertEqual(d["collector"], owner_of[f"ifmon:{name}:ge-0/0/0"], name)
            self.assertGreaterEqual(d["epoch"], 1)
            state = self.sub.on(f"ifmon:{name}")
            self.assertTrue(state, name)
            self.assertEqual(state[-1][1]["collector"], d["collector"])
        ma, mb = metrics(a.port), metrics(b.port)
        self.assertEqual(ma["ifmon_collector_devices_held"] + mb["ifmon_collector_devices_held"],
                         len(DEVICES))
        self.assertEqual(ma["ifmon_collector_lease_members"], 2)
        self.assertEqual(ma["ifmon_collector_lease_leader"] + mb["ifmon_collector_lease_leader"], 1)
        self.assertEqual(ma["ifmon_collector_interfaces"] + mb["ifmon_collector_interfaces"],
                         len(self.channels))

    def test_kill9_devices_taken_within_3s_first_a_gap(self):
        self.start("col-a")
        self.start("col-b")
        owner_of = self.wait_settled({"col-a", "col-b"}, 20)
        lost = {ch for ch, who in owner_of.items() if who == "col-a"}
        self.assertTrue(lost)
        killed = time.monotonic()
        self.collectors.pop("col-a").proc.kill9()

        def taken():
            o = self.owners(killed)
            return all("col-b" in o.get(ch, ()) for ch in lost)
        wait_for(taken, 10, interval=0.05, what="col-b to poll col-a's interfaces")
        took = []
        for ch in lost:
            after = [(t, d) for t, d in self.sub.on(ch) if t >= killed and d["collector"] == "col-b"]
            took.append(after[0][0] - killed)
            # A fresh start: never a rate across the other's counters.
            self.assertIsNone(after[0][1]["in_bps"], (ch, after[0][1]))
            self.assertEqual(after[0][1]["gap"], "first", (ch, after[0][1]))
        print(f"# kill -9: interfaces back after {min(took):.2f} to {max(took):.2f} s", flush=True)
        self.assertLessEqual(max(took), 3.0)
        # The inventory follows: every device now col-b's.
        wait_for(lambda: {d["collector"] for s in json.loads(
            self.redis.client().get("ifmon:inventory"))["sites"] for d in s["devices"]}
            == {"col-b"}, 10, what="the inventory to name col-b only")

    def test_join_takes_its_share_without_a_silent_interface(self):
        self.start("col-b")
        self.wait_settled({"col-b"}, 20)
        joined = time.monotonic()
        c = self.start("col-c")
        owner_of = self.wait_settled({"col-b", "col-c"}, 10)
        settled = time.monotonic() - joined
        self.assert_balanced(owner_of, ["col-b", "col-c"])
        # No interface without a message for more than two intervals.
        worst = 0
        for ch in self.channels:
            ts = [t for t, _ in self.sub.on(ch) if t >= joined - 1]
            worst = max(worst, max(b - a for a, b in zip(ts, ts[1:])))
        print(f"# join: settled in {settled:.1f} s, longest silence {worst:.2f} s", flush=True)
        self.assertLessEqual(worst, 2.0 + 0.25)
        self.assertGreater(metrics(c.port)["ifmon_collector_leases_acquired_total"], 0)

    def test_frozen_collector_is_fenced(self):
        a = self.start("col-a")
        self.start("col-b")
        self.wait_settled({"col-a", "col-b"}, 20)
        a.proc.signal(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            wait_for(lambda: time.monotonic() > stopped + 10, 11)
        finally:
            a.proc.signal(signal.SIGCONT)
        resumed = time.monotonic()
        self.wait_settled({"col-a", "col-b"}, 20)
        # Per interface, in the order the samples were taken: col-a's,
        # then col-b's, then (those handed back at the balance) col-a's.
        # Never interleaved.
        changes = self.handovers(stopped)
        self.assertLessEqual(max(changes.values()), 2, changes)
        # col-a published nothing while frozen, and right after SIGCONT nothing
        # but what its leases still cover: it lost them all to col-b.
        early = [d for t, ch, d in self.sub.items
                 if resumed <= t < resumed + 0.4 and ch in self.channels
                 and isinstance(d, dict) and d["collector"] == "col-a"]
        self.assertLessEqual(len(early), len(self.channels), early[:3])
        m = metrics(a.port)
        self.assertGreater(m["ifmon_collector_leases_lost_total"] + m["ifmon_collector_fenced_total"],
                           0)

    def handovers(self, since):
        """Per interface, how often the collector changes along its
        samples in the order of their ts (when each was taken), counting
        those that arrived since `since`. A hand-over is one change; a
        collector still publishing after another took over (fencing
        failed) interleaves, a change per sample. Counting 1 s buckets
        with two collectors instead would find two in a test with two
        clean hand-overs (away and back) when both land mid-second."""
        changes = {}
        for ch in self.channels:
            got = sorted((d["ts"], d["collector"]) for t, d in self.sub.on(ch) if t >= since)
            changes[ch] = sum(1 for (_, a), (_, b) in zip(got, got[1:]) if a != b)
        return changes

    def test_cut_off_from_redis_stops_before_the_takeover(self):
        """col-a's path to Redis stops carrying for 6 s while its agents
        still answer: it must stop publishing (fencing by its own clock)
        before col-b takes over, so what it sent into the stalled path
        comes out late but never overlaps col-b's samples."""
        proxy = Proxy(self.redis.port)
        try:
            a = self.start("col-a", redis_port=proxy.port)
            self.start("col-b")
            self.wait_settled({"col-a", "col-b"}, 20)
            cut = time.monotonic()
            proxy.open.clear()
            try:
                wait_for(lambda: time.monotonic() > cut + 6, 7)
            finally:
                proxy.open.set()
            self.wait_settled({"col-a", "col-b"}, 20)
            # What col-a sent into the stalled path arrives late, but
            # every sample of it was taken before col-b's first: per
            # interface, the collector changes at the takeover and, for
            # those handed back, once more.
            changes = self.handovers(cut)
            print(f"# cut off: collector changes per interface {sorted(set(changes.values()))}",
                  flush=True)
            self.assertLessEqual(max(changes.values()), 2, changes)
            self.assertGreater(metrics(a.port)["ifmon_collector_fenced_total"], 0)
        finally:
            proxy.close()

    def test_sigterm_hands_over_at_once(self):
        self.start("col-a")
        self.start("col-b")
        owner_of = self.wait_settled({"col-a", "col-b"}, 20)
        lost = {ch for ch, who in owner_of.items() if who == "col-a"}
        stopped = time.monotonic()
        self.collectors.pop("col-a").stop()
        wait_for(lambda: all("col-b" in self.owners(stopped).get(ch, ()) for ch in lost), 3,
                 what="col-b to take over at its next tick")

    def test_an_inventory_rolled_out_one_collector_at_a_time(self):
        """SIGHUP with a new file on one collector: while the files differ
        nothing moves but the device only the new file has; once the other
        follows, the load is balanced again over every device."""
        old = self.inventory[:-1]
        new_dev = self.inventory[-1]["name"]
        old_channels = {ch for ch in self.channels if not ch.startswith(f"ifmon:{new_dev}:")}
        a, b = self.start("col-a", old), self.start("col-b", old)
        before = self.wait_settled({"col-a", "col-b"}, 20, old_channels)
        hup = time.monotonic()
        self.write(a.cfg, "col-a", a.port, self.inventory)
        a.sighup()
        wait_for(lambda: self.owners(hup).get(f"ifmon:{new_dev}:ge-0/0/0") == {"col-a"}, 10,
                 what="col-a to poll the device only its file has")
        wait_for(lambda: time.monotonic() > hup + 3, 4)
        o = self.owners(hup)
        moved = {ch for ch in old_channels if o.get(ch) != {before[ch]}}
        self.assertEqual(moved, set(), "devices moved while the files differed")
        self.write(b.cfg, "col-b", b.port, self.inventory)
        b.sighup()
        after = self.wait_settled({"col-a", "col-b"}, 15)
        self.assert_balanced(after, ["col-a", "col-b"])
        wait_for(lambda: new_dev in {d["name"] for s in json.loads(
            self.redis.client().get("ifmon:inventory"))["sites"] for d in s["devices"]}, 10,
            what="the inventory to list the new device")
