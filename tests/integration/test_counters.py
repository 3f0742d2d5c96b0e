"""ifmon-collector's counter groups against simulated agents whose counters
grow at known rates: packets (unicast + multicast + broadcast), errors and
discards must be as right as the bit rates, each group null with its own
reason when the agent cannot give it, and the interfaces' descriptions
(ifAlias) must reach the samples and the inventory."""

import json
import os
import statistics
import time
import unittest

from harness import (rate_errors, IF, IFX, NO_SUCH_OBJECT, Collector, RedisServer, SnmpSimVariations,
                     Subscriber, TempDir, snmpget, wait_for, write_config, write_device_groups)

# Per second. Large enough that a counter read as a whole number weighs
# nothing over a poll (the agent truncates: 1 in 2,000 at most).
FULL = [
    {"index": 1, "name": "xe-0/0/0", "descr": "TenGig uplink", "speed_mbps": 10000,
     "alias": "uplink to ISP-A, circuit 12345",
     "in_rate": 50000000, "out_rate": 12500000,
     "in_ucast": 40000, "in_mcast": 3000, "in_bcast": 1000,
     "out_ucast": 20000, "out_mcast": 500, "out_bcast": 250,
     "in_errors": 2000, "out_errors": 1500, "in_discards": 3000, "out_discards": 2500},
    {"index": 7, "name": "ge-0/0/7", "descr": "customer port", "speed_mbps": 1000,
     "alias": b"Port f\xfcr Kunde M\xfcller",  # Latin-1, as older gear sends it
     "in_rate": 1250000, "out_rate": 2500000,
     "in_ucast": 8000, "in_mcast": 1200, "in_bcast": 800,
     "out_ucast": 9000, "out_mcast": 600, "out_bcast": 400,
     "in_errors": 1000, "out_errors": 1200, "in_discards": 1100, "out_discards": 1300},
]
# The same interface, on an agent with no ifXTable at all (RFC 1213):
# packets are ifInUcastPkts + ifInNUcastPkts.
OLD = [dict(FULL[1], index=3, name="eth3", descr="eth3")]
# ifInErrors/ifOutErrors/ifInDiscards/ifOutDiscards answered noSuchObject.
NOERR = [dict(FULL[0], records={f"{IF}.{c}.1": NO_SUCH_OBJECT for c in (13, 14, 19, 20)})]
# SNMPv1 agent without the error counters: a GET asking them fails whole.
NOERR_V1 = [dict(OLD[0], records={f"{IF}.{c}.3": None for c in (13, 14, 19, 20)})]

TRUTH = [("in_bps", lambda i: 8 * i["in_rate"]), ("out_bps", lambda i: 8 * i["out_rate"]),
         ("in_pps", lambda i: i["in_ucast"] + i["in_mcast"] + i["in_bcast"]),
         ("out_pps", lambda i: i["out_ucast"] + i["out_mcast"] + i["out_bcast"]),
         ("in_errors_ps", lambda i: i["in_errors"]), ("out_errors_ps", lambda i: i["out_errors"]),
         ("in_discards_ps", lambda i: i["in_discards"]),
         ("out_discards_ps", lambda i: i["out_discards"])]


def near(value, expected, tolerance=0.01):
    return abs(value - expected) <= tolerance * expected


class CountersTest(unittest.TestCase):
    """One Redis, one snmpsimd serving every simulated device; a collector
    per test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.data = cls.tmp.join("data")
        os.mkdir(cls.data)
        os.chmod(cls.data, 0o755)
        write_device_groups(cls.data, "full", FULL)
        write_device_groups(cls.data, "nohc", FULL[:1], hc_packets=False)
        write_device_groups(cls.data, "old", OLD, ifx=False)
        write_device_groups(cls.data, "noerr", NOERR)
        write_device_groups(cls.data, "noerrv1", NOERR_V1, ifx=False)
        cls.redis = RedisServer(cls.tmp).start()
        cls.sim = SnmpSimVariations(cls.tmp, cls.data, probe_community="full").start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.redis.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.collectors, self.subs = [], []
        self.r = self.redis.client()
        self.r.flushall()

    def tearDown(self):
        for s in self.subs:
            s.close()
        for c in self.collectors:
            if c.alive():
                c.stop()

    def start(self, devices, **kw):
        path = self.tmp.join(f"{self._testMethodName}.yml")
        # Polls every 2 s: snmpsimd (Python) answers with a few milliseconds
        # of jitter, which 1% of a 1 s span would barely hold.
        write_config(path, self.redis.port, devices,
                     defaults=dict({"interval": "2s", "timeout": "1500ms"},
                                   **kw.pop("defaults", {})), **kw)
        c = Collector(self.tmp, path, name=self._testMethodName).start()
        self.collectors.append(c)
        return c

    def subscribe(self, pattern="ifmon:*"):
        s = Subscriber(self.redis.port, pattern)
        self.subs.append(s)
        return s

    def device(self, name, community, **kw):
        return dict({"name": name, "site": "lab", "address": f"127.0.0.1:{self.sim.port}",
                     "community": community}, **kw)

    def rated(self, sub, channel, n, field="in_bps", timeout=40):
        """The messages of channel from the first with a rate in field on,
        once there are n of them."""
        def enough():
            msgs = [d for _, d in sub.on(channel)]
            first = next((k for k, d in enumerate(msgs) if d.get(field) is not None), None)
            return msgs[first:] if first is not None and len(msgs) - first >= n else None
        return wait_for(enough, timeout, what=f"{n} rates of {field} on {channel}")

    def assert_truth(self, msgs, iface, fields):
        for field, truth in TRUTH:
            if field not in fields:
                continue
            want = truth(iface)
            got = [d[field] for d in msgs]
            self.assertNotIn(None, got, f"{iface['name']} {field}: a gap after the first rate")
            bad = rate_errors(msgs, field, want)
            self.assertFalse(bad, f"{iface['name']} {field}: {bad} not within 1% of {want} "
                             f"(median {statistics.median(got)})")


class TestCounterGroups(CountersTest):
    def test_every_rate_of_every_group_is_within_one_percent_of_the_truth(self):
        sub = self.subscribe()
        self.start([self.device("edge1", "full", counters=["octets", "packets", "errors"])])
        fields = [f for f, _ in TRUTH]
        for iface in FULL:
            msgs = self.rated(sub, f"ifmon:edge1:{iface['name']}", 6)
            self.assert_truth(msgs, iface, fields)
            for d in msgs:
                for gap in ("gap", "packets_gap", "errors_gap", "discards_gap"):
                    self.assertNotIn(gap, d)
                self.assertTrue(1.9 < d["interval"] < 2.1, d)

    def test_descriptions_reach_the_samples_and_the_inventory_as_utf8(self):
        sub = self.subscribe()
        self.start([self.device("edge1", "full", site_total=["*ISP*"])])
        wait_for(lambda: sub.on("ifmon:edge1:ge-0/0/7") and self.r.get("ifmon:inventory"), 20,
                 what="a sample and the inventory")
        alias = {"xe-0/0/0": "uplink to ISP-A, circuit 12345",
                 "ge-0/0/7": "Port f\u00fcr Kunde M\u00fcller"}
        for name, text in alias.items():
            self.assertEqual(sub.on(f"ifmon:edge1:{name}")[-1][1]["alias"], text)
        inv = json.loads(self.r.get("ifmon:inventory"))
        dev = inv["sites"][0]["devices"][0]
        got = {i["name"]: (i["alias"], i["site_total"]) for i in dev["interfaces"]}
        self.assertEqual(got, {"xe-0/0/0": (alias["xe-0/0/0"], True),
                               "ge-0/0/7": (alias["ge-0/0/7"], False)})
        self.assertEqual(dev["counters"], ["octets", "errors"])  # the default
        self.assertEqual(dev["events"], "ifmon:events:edge1")

    def test_an_interface_picked_by_its_alias_says_so_in_the_log(self):
        sub = self.subscribe()
        c = self.start([self.device("edge1", "full", interfaces=["*ISP-A*"])])
        wait_for(lambda: sub.on("ifmon:edge1:xe-0/0/0"), 20, what="the uplink's samples")
        wait_for(lambda: "ifAlias \"uplink to ISP-A, circuit 12345\" matches \"*ISP-A*\""
                 in c.text(), 5, what="the log line")
        n = len(sub.on("ifmon:edge1:xe-0/0/0"))
        wait_for(lambda: len(sub.on("ifmon:edge1:xe-0/0/0")) > n + 1, 10, what="two more polls")
        self.assertEqual({ch for ch in sub.channels() if ch.startswith("ifmon:edge1:")},
                         {"ifmon:edge1:xe-0/0/0"})

    def test_groups_not_polled_are_null_and_say_so(self):
        sub = self.subscribe()
        self.start([self.device("edge1", "full", counters=["octets"])])
        msgs = self.rated(sub, "ifmon:edge1:xe-0/0/0", 3)
        self.assert_truth(msgs, FULL[0], ["in_bps", "out_bps"])
        for d in msgs:
            self.assertIsNone(d["in_pps"])
            self.assertIsNone(d["in_errors_ps"])
            self.assertEqual((d["packets_gap"], d["errors_gap"], d["discards_gap"]),
                             ("not_polled", "not_polled", "not_polled"))
            self.assertNotIn("gap", d)


class TestAgentsWithout(CountersTest):
    def test_an_agent_without_ifxtable_gives_packets_from_ucast_and_nucast(self):
        sub = self.subscribe()
        self.start([self.device("old2c", "old", counters=["packets", "errors"]),
                    self.device("old1", "old", version="1", counters=["packets", "errors"])])
        fields = [f for f, _ in TRUTH]
        for dev in ("old2c", "old1"):
            msgs = self.rated(sub, f"ifmon:{dev}:eth3", 5)
            self.assert_truth(msgs, OLD[0], fields)
            self.assertEqual(msgs[-1]["alias"], "")  # no ifXTable, no ifAlias

    def test_noSuchObject_for_the_error_counters_nulls_them_alone(self):
        sub = self.subscribe()
        self.start([self.device("edge2", "noerr", counters=["packets", "errors"])])
        msgs = self.rated(sub, "ifmon:edge2:xe-0/0/0", 5)
        self.assert_truth(msgs, NOERR[0], ["in_bps", "out_bps", "in_pps", "out_pps"])
        for d in msgs:
            self.assertIsNone(d["in_errors_ps"])
            self.assertIsNone(d["out_discards_ps"])
            self.assertEqual((d["errors_gap"], d["discards_gap"]), ("no_data", "no_data"))
            self.assertNotIn("gap", d)
            self.assertNotIn("packets_gap", d)

    def test_an_snmpv1_agent_without_error_counters_is_polled_without_them(self):
        sub = self.subscribe()
        c = self.start([self.device("v1old", "noerrv1", version="1",
                                    counters=["packets", "errors"])])
        msgs = self.rated(sub, "ifmon:v1old:eth3", 4)
        self.assert_truth(msgs, NOERR_V1[0], ["in_bps", "out_bps", "in_pps", "out_pps"])
        for d in msgs:
            self.assertEqual(d["errors_gap"], "no_data")
        self.assertIn("the agent has no ifInErrors", c.text())

    def test_an_agent_without_hc_packet_counters_gives_its_counter32_ones(self):
        sub = self.subscribe()
        c = self.start([self.device("nohc", "nohc", counters=["packets"])])
        msgs = self.rated(sub, "ifmon:nohc:xe-0/0/0", 5, field="in_pps")
        self.assert_truth(msgs, FULL[0], ["in_bps", "out_bps", "in_pps", "out_pps"])
        self.assertIn("has no ifHC*Pkts; using 32-bit counters", c.text())


class TestErrorCounterWrap(unittest.TestCase):
    def test_counter32_error_counters_across_a_wrap_give_right_rates_and_no_gap(self):
        rate = 2000000  # errors a second on a 100 Gb/s port: wraps every 36 min...
        # ...so they start 16 s before the wrap, whenever snmpsimd starts.
        iface = dict(FULL[0], speed_mbps=100000, in_errors=rate, out_errors=rate // 2,
                     in_discards=rate // 4, out_discards=rate // 8,
                     initial32=2**32 - 16 * rate)
        tmp = TempDir()
        redis_ = sim = coll = sub = None
        try:
            data = tmp.join("data")
            os.mkdir(data)
            os.chmod(data, 0o755)
            write_device_groups(data, "wrap", [iface])
            redis_ = RedisServer(tmp).start()
            sim = SnmpSimVariations(tmp, data, probe_community="wrap").start()
            sub = Subscriber(redis_.port, "ifmon:*")
            path = tmp.join("wrap.yml")
            write_config(path, redis_.port, [{"name": "wrap", "site": "lab", "community": "wrap",
                                              "address": f"127.0.0.1:{sim.port}"}],
                         defaults={"interval": "2s", "timeout": "1500ms"})
            before = int(snmpget(sim.port, "wrap", f"{IF}.14.1"))
            coll = Collector(tmp, path, name="wrap").start()
            unwrapped = [time.time()]

            def wrapped():
                t = time.time()
                now = snmpget(sim.port, "wrap", f"{IF}.14.1")
                if now is not None and int(now) >= before:
                    unwrapped[0] = t
                return now is not None and int(now) < before
            wait_for(wrapped, 40, interval=0.5, what="ifInErrors to wrap")
            n = len(sub.on("ifmon:wrap:xe-0/0/0"))
            wait_for(lambda: len(sub.on("ifmon:wrap:xe-0/0/0")) >= n + 3, 15,
                     what="three samples after the wrap")
            msgs = [d for _, d in sub.on("ifmon:wrap:xe-0/0/0")]
            first = next(k for k, d in enumerate(msgs) if d["in_errors_ps"] is not None)
            rated = msgs[first:]
            self.assertGreaterEqual(len(rated), 5)
            # Rates from before the wrap to after it.
            self.assertLess(rated[0]["ts"], unwrapped[0], "no rate before the wrap")
            for d in rated:
                self.assertNotIn("errors_gap", d, d)
                self.assertTrue(near(d["in_errors_ps"], rate), d)
                self.assertTrue(near(d["out_errors_ps"], rate / 2), d)
                self.assertTrue(near(d["in_discards_ps"], rate / 4), d)
                self.assertTrue(near(d["out_discards_ps"], rate / 8), d)
            coll.stop()
        finally:
            if sub:
                sub.close()
            if coll and coll.alive():
                coll.stop()
            for p in (sim, redis_):
                if p:
                    p.stop()
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
