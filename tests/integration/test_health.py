"""The collector's own section, `collector:`: its identity (collector.id,
in every sample, device state and the inventory, docs/PROTOCOL.md part 1)
and its GET /healthz and GET /metrics on collector.listen (part 3):
healthy while Redis takes what is published, 503 while it is away;
metrics that follow the polling; and the server's bounds (16
connections, a 4 KiB head, 5 s per connection), held against raw
sockets. Two simulated devices (simagent), a real Redis."""

import http.client
import json
import os
import re
import socket
import time
import unittest

from harness import (Collector, RedisServer, Subscriber, TempDir, free_port, start_agent,
                     wait_for, write_config, write_device)

IFACES = [
    {"index": 1, "name": "ge-0/0/0", "in_rate": 10000, "out_rate": 5000, "speed_mbps": 1000},
    {"index": 2, "name": "ge-0/0/1", "in_rate": 20000, "out_rate": 7000, "speed_mbps": 1000},
]


def get(port, path, method="GET"):
    """(status, headers, body) of one request."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def metrics(port):
    status, headers, body = get(port, "/metrics")
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    values = {}
    for line in body.splitlines():
        m = re.match(r'^(ifmon_collector_\w+(?:\{le="[^"]+"\})?) (\S+)$', line)
        if m:
            values[m.group(1)] = float(m.group(2))
    return values


def raw(port, data=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        s.sendall(data)
    return s


def read_all(s):
    got = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        got += d
    return got


class TestHealth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        data = cls.tmp.join("data")
        os.makedirs(data)
        for community in ("dev-a", "dev-b"):
            write_device(data, community, IFACES)
        agent_port = free_port(udp=True)
        cls.agent = start_agent(cls.tmp, "agent", data, f"127.0.0.1:{agent_port}")
        cls.redis = RedisServer(cls.tmp).start()
        cls.port = free_port()
        cfg = cls.tmp.join("c.yml")
        write_config(cfg, cls.redis.port, [
            {"name": n, "site": "s", "address": f"127.0.0.1:{agent_port}", "community": n,
             "interfaces": ["*"]} for n in ("dev-a", "dev-b")])
        with open(cfg, "a") as f:
            f.write(f'collector:\n  listen: "127.0.0.1:{cls.port}"\n  id: "noc-a.example:1"\n')
        cls.sub = Subscriber(cls.redis.port, "ifmon:dev-a*")
        cls.collector = Collector(cls.tmp, cfg).start()
        wait_for(lambda: "health and metrics on" in cls.collector.text(), 10,
                 what="the collector to listen")

    @classmethod
    def tearDownClass(cls):
        cls.sub.close()
        try:
            cls.collector.stop()
        finally:
            cls.redis.stop()
            cls.agent.stop()
            cls.tmp.cleanup()

    def test_samples_states_and_the_inventory_name_the_collector(self):
        wait_for(lambda: self.sub.on("ifmon:dev-a:ge-0/0/1") and self.sub.on("ifmon:dev-a"), 10,
                 what="a sample and a device state")
        self.assertEqual(self.sub.on("ifmon:dev-a:ge-0/0/1")[-1][1]["collector"], "noc-a.example:1")
        state = self.sub.on("ifmon:dev-a")[-1][1]
        self.assertEqual((state["status"], state["collector"]), ("up", "noc-a.example:1"))
        inv = json.loads(self.redis.client().get("ifmon:inventory"))
        devices = [d for site in inv["sites"] for d in site["devices"]]
        self.assertEqual([d["collector"] for d in devices], ["noc-a.example:1"] * 2)

    def test_metrics_follow_the_polling(self):
        wait_for(lambda: metrics(self.port).get("ifmon_collector_samples_total", 0) >= 8, 10,
                 what="samples")
        a = metrics(self.port)
        wait_for(lambda: metrics(self.port)["ifmon_collector_polls_total"]
                 >= a["ifmon_collector_polls_total"] + 4, 10, what="four more polls")
        b = metrics(self.port)
        self.assertEqual(b["ifmon_collector_devices"], 2)
        self.assertEqual(b["ifmon_collector_devices_up"], 2)
        self.assertEqual(b["ifmon_collector_interfaces"], 4)
        self.assertEqual(b["ifmon_collector_redis_up"], 1)
        self.assertGreater(b["ifmon_collector_samples_total"], a["ifmon_collector_samples_total"])
        self.assertGreater(b["ifmon_collector_redis_commands_total"],
                           a["ifmon_collector_redis_commands_total"])
        # The lateness histogram: cumulative buckets, +Inf is the count,
        # one observation per poll started.
        self.assertEqual(self.histogram(b, "poll_lateness_seconds", 9),
                         b["ifmon_collector_polls_total"])
        # The loop's busy time per turn: the same shape, and it turned.
        self.assertGreater(self.histogram(b, "loop_busy_seconds", 10),
                           a.get("ifmon_collector_loop_busy_seconds_count", 0))

    def histogram(self, m, name, buckets):
        """Checks histogram ifmon_collector_<name> in metrics m (so many
        cumulative buckets, +Inf the count) and returns its count."""
        full = f"ifmon_collector_{name}"
        les = [v for k, v in m.items() if k.startswith(f"{full}_bucket")]
        self.assertEqual(len(les), buckets)
        self.assertEqual(les, sorted(les))
        self.assertEqual(m[f'{full}_bucket{{le="+Inf"}}'], m[f"{full}_count"])
        return m[f"{full}_count"]

    def test_healthz_says_503_while_redis_is_away(self):
        status, _, body = get(self.port, "/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        status, headers, body = get(self.port, "/healthz", method="HEAD")
        self.assertEqual((status, body, headers["Content-Length"]), (200, "", "3"))
        self.redis.stop()
        try:
            wait_for(lambda: get(self.port, "/healthz")[0] == 503, 10, what="503")
            status, headers, body = get(self.port, "/healthz")
            self.assertEqual(body, "redis down\n")
            self.assertEqual(headers["Retry-After"], "5")
            self.assertEqual(metrics(self.port)["ifmon_collector_redis_up"], 0)
        finally:
            self.redis.start()
        wait_for(lambda: get(self.port, "/healthz")[0] == 200, 15, what="200 again")

    def test_other_requests_are_answered_not_served(self):
        self.assertEqual(get(self.port, "/")[0], 404)
        self.assertEqual(get(self.port, "/metrics/../etc")[0], 404)
        status, headers, _ = get(self.port, "/metrics", method="POST")
        self.assertEqual((status, headers["Allow"]), (405, "GET, HEAD"))
        self.assertEqual(get(self.port, "/healthz?x=1")[0], 200)
        s = raw(self.port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n")
        self.assertTrue(read_all(s).startswith(b"HTTP/1.1 431 "))
        s.close()
        s = raw(self.port, b"nonsense\r\n\r\n")
        self.assertTrue(read_all(s).startswith(b"HTTP/1.1 400 "))
        s.close()

    def test_connections_are_bounded_in_number_and_time(self):
        held = [raw(self.port) for _ in range(16)]
        t0 = time.monotonic()
        # The 17th is closed at once, without an answer.
        extra = raw(self.port)
        self.assertEqual(read_all(extra), b"")
        self.assertLess(time.monotonic() - t0, 4)
        extra.close()
        # The 16 idle ones are closed after 5 s, without an answer.
        for s in held:
            self.assertEqual(read_all(s), b"")
            s.close()
        waited = time.monotonic() - t0
        self.assertGreater(waited, 4.5)
        self.assertLess(waited, 9)
        # And the server answers again.
        self.assertEqual(get(self.port, "/healthz")[0], 200)


class TestCollectorSection(unittest.TestCase):
    def test_without_an_id_the_collector_is_its_host_name_and_pid(self):
        tmp = TempDir()
        redis_server = RedisServer(tmp).start()
        try:
            data = tmp.join("data")
            os.makedirs(data)
            write_device(data, "dev-a", IFACES)
            agent_port = free_port(udp=True)
            agent = start_agent(tmp, "agent", data, f"127.0.0.1:{agent_port}")
            cfg = tmp.join("c.yml")
            write_config(cfg, redis_server.port, [
                {"name": "dev-a", "site": "s", "address": f"127.0.0.1:{agent_port}",
                 "community": "dev-a", "interfaces": ["*"]}])
            c = Collector(tmp, cfg).start()
            want = f"{socket.gethostname()}:{c.proc.p.pid}"
            r = redis_server.client()
            wait_for(lambda: r.get("ifmon:inventory"), 10, what="the inventory")
            inv = json.loads(r.get("ifmon:inventory"))
            self.assertEqual(inv["sites"][0]["devices"][0]["collector"], want)
            self.assertIn(f"(collector.id {want})", c.text())
            # SIGHUP with an id in the file: kept until the next start.
            with open(cfg, "a") as f:
                f.write("collector: {id: other}\n")
            c.sighup()
            wait_for(lambda: "collector.id changes at the next start only" in c.text(), 10,
                     what="the reload's warning")
            c.stop()
            agent.stop()
        finally:
            redis_server.stop()
            tmp.cleanup()

    def test_a_port_in_use_stops_the_start_with_a_clear_line(self):
        tmp = TempDir()
        try:
            busy = socket.socket()
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            cfg = tmp.join("c.yml")
            write_config(cfg, free_port(), [])
            with open(cfg, "a") as f:
                f.write(f'collector:\n  listen: "127.0.0.1:{port}"\n')
            c = Collector(tmp, cfg).start()
            wait_for(lambda: not c.alive(), 10, what="the collector to exit")
            self.assertEqual(c.proc.p.returncode, 1)
            self.assertIn(f"collector.listen 127.0.0.1:{port}: address already in use", c.text())
            c.assert_clean()
            busy.close()
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
