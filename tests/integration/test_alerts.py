"""ifmon-collector's alerts against simulated agents whose rates and status
change at known seconds (tests/sim/variation/steps.py): each alert raised
and cleared at the right second, a value hovering at its threshold neither
raising nor clearing one, status changes and dead devices as events, and
the events of the last hour kept in Redis through a Redis restart and a
collector restart. Every wait is for an event, never a sleep."""

import json
import os
import time
import unittest

from harness import (IF, IFX, Collector, RedisServer, SnmpSimVariations, Subscriber, TempDir,
                     events_of, free_port, start_agent, steps, wait_for, write_config,
                     write_device_groups)

SPEED_MBPS = 10  # 10 Mb/s: 1,250,000 octets a second is 100%


def octets_at(percent):
    return int(SPEED_MBPS * 10**6 * percent / 100 / 8)


def hover(start, seconds, high, low, period=2):
    """Steps of `period` seconds alternately at high and low from start."""
    return [(start + k * period, high if k % 2 == 0 else low)
            for k in range(int(seconds // period))]


class AlertsTest(unittest.TestCase):
    """One Redis per test; one snmpsimd per test, its timeline written just
    before it starts."""

    def setUp(self):
        self.tmp = TempDir()
        self.data = self.tmp.join("data")
        os.mkdir(self.data)
        os.chmod(self.data, 0o755)
        self.redis = RedisServer(self.tmp).start()
        self.r = self.redis.client()
        self.procs, self.subs, self.collectors = [], [], []
        self.sim = None

    def tearDown(self):
        for s in self.subs:
            s.close()
        for c in self.collectors:
            if c.alive():
                c.stop()
        for p in self.procs:
            p.stop()
        if self.sim:
            self.sim.stop()
        self.redis.stop()
        self.tmp.cleanup()

    def simulate(self, community, interfaces):
        write_device_groups(self.data, community, interfaces)
        self.sim = SnmpSimVariations(self.tmp, self.data, probe_community=community).start()

    def start(self, devices, name="collector", **defaults):
        path = self.tmp.join(f"{name}.yml")
        write_config(path, self.redis.port, devices, defaults=defaults)
        c = Collector(self.tmp, path, name=name).start()
        self.collectors.append(c)
        return c

    def subscribe(self, pattern="ifmon:*"):
        s = Subscriber(self.redis.port, pattern)
        self.subs.append(s)
        return s

    def device(self, name, community, **kw):
        return dict({"name": name, "site": "lab", "address": f"127.0.0.1:{self.sim.port}",
                     "community": community}, **kw)

    def event(self, sub, device, timeout, **match):
        """The first event of device with every field of match."""
        def found():
            for e in events_of(sub, device):
                if all(e.get(k) == v for k, v in match.items()):
                    return e
            return None
        return wait_for(found, timeout, interval=0.1, what=f"event {match} of {device}")

    def active(self):
        raw = self.r.get("ifmon:alerts")
        return json.loads(raw)["alerts"] if raw else None


class TestThresholds(AlertsTest):
    def test_utilization_is_raised_and_cleared_at_the_right_second_and_never_flaps(self):
        t1 = time.time() + 12  # the link fills at t1, after discovery and first rates
        # 96% from t1; hovering (2 s at 99%, 2 s at 60%) from t1 + 12, the
        # last 99% lasting to t1 + 28; 20% from t1 + 28; hovering again from
        # t1 + 40 to t1 + 56; 20%.
        timeline = ([(t1, octets_at(96))] + hover(t1 + 12, 14, octets_at(99), octets_at(60)) +
                    [(t1 + 28, octets_at(20))] + hover(t1 + 40, 16, octets_at(99), octets_at(60))
                    + [(t1 + 56, octets_at(20))])
        self.simulate("util", [{
            "index": 1, "name": "ge-0/0/1", "alias": "uplink to ISP-A", "speed_mbps": SPEED_MBPS,
            "records": {f"{IFX}.6.1": steps("70", rate=octets_at(20), at=timeline),
                        f"{IFX}.10.1": steps("70", rate=octets_at(10))}}])
        sub = self.subscribe()
        self.start([self.device("edge1", "util")], alerts={"utilization": {"above": "90%",
                                                                            "for": "5s"}})
        raised = self.event(sub, "edge1", t1 + 20 - time.time(), kind="utilization",
                            state="raised")
        # Above from t1: held for 5 s at t1 + 5, seen at the poll after.
        self.assertGreaterEqual(raised["ts"], t1 + 5 - 1.0, raised)
        self.assertLessEqual(raised["ts"], t1 + 5 + 1.5, raised)
        self.assertTrue(95 < raised["value"] < 97, raised)
        self.assertEqual((raised["threshold"], raised["unit"], raised["for"]), (90, "%", 5))
        self.assertEqual((raised["interface"], raised["alias"], raised["direction"]),
                         ("ge-0/0/1", "uplink to ISP-A", "in"))
        self.assertLessEqual(abs(raised["since"] - t1), 1.0, raised)
        wait_for(lambda: [a for a in self.active() or [] if a["kind"] == "utilization"], 3,
                 what="the alert in the active set")
        # 16 s hovering around the threshold, then low from t1 + 28: cleared
        # 5 s later, and only then.
        cleared = self.event(sub, "edge1", t1 + 40 - time.time(), kind="utilization",
                             state="cleared")
        self.assertGreaterEqual(cleared["ts"], t1 + 28 + 5 - 1.0, cleared)
        self.assertLessEqual(cleared["ts"], t1 + 28 + 5 + 1.5, cleared)
        self.assertTrue(19 < cleared["value"] < 21, cleared)
        wait_for(lambda: self.active() == [], 3, what="an empty active set")
        # Hovering again from t1 + 40 to t1 + 56: never raised.
        last = sub.on("ifmon:edge1:ge-0/0/1")
        wait_for(lambda: sub.on("ifmon:edge1:ge-0/0/1")[-1][1]["ts"] > t1 + 58, t1 + 65 - time.time(),
                 what="samples past the second hover")
        util = [e for e in events_of(sub, "edge1") if e["kind"] == "utilization"]
        self.assertEqual([e["state"] for e in util], ["raised", "cleared"], util)
        self.assertTrue(last)
        # The rates really did cross the threshold while hovering.
        hovering = [d["in_bps"] / 1e5 for _, d in sub.on("ifmon:edge1:ge-0/0/1")
                    if t1 + 42 < d["ts"] < t1 + 56 and d["in_bps"] is not None]
        self.assertTrue(max(hovering) > 90 and min(hovering) < 90, hovering)
        # Both are in the list of the last hour, in order.
        listed = [json.loads(x) for x in self.r.lrange("ifmon:events", 0, -1)]
        self.assertEqual([(e["kind"], e["state"]) for e in listed],
                         [("utilization", "raised"), ("utilization", "cleared")])
        self.assertEqual(listed[0], raised)

    def test_errors_and_discards_are_raised_and_cleared_when_they_stay_over_and_under(self):
        t1 = time.time() + 10
        self.simulate("err", [{
            "index": 2, "name": "xe-0/0/2", "speed_mbps": 10000, "in_rate": 1000,
            "records": {f"{IF}.20.2": steps("65", rate=0, at=[(t1, 20), (t1 + 10, 0)]),
                        f"{IF}.13.2": steps("65", rate=2, at=[(t1 + 2, 50), (t1 + 6, 2)])}}])
        sub = self.subscribe()
        self.start([self.device("edge2", "err", alerts={
            "errors": {"above": 5, "for": "3s"}, "discards": {"above": 10, "for": "2s"}})])
        raised = self.event(sub, "edge2", t1 + 15 - time.time(), kind="errors", state="raised")
        self.assertGreaterEqual(raised["ts"], t1 + 3 - 1.0, raised)
        self.assertLessEqual(raised["ts"], t1 + 3 + 1.5, raised)
        self.assertEqual((raised["direction"], raised["unit"], raised["threshold"]),
                         ("out", "/s", 5))
        self.assertTrue(19 < raised["value"] < 21, raised)
        disc = self.event(sub, "edge2", t1 + 15 - time.time(), kind="discards", state="raised")
        self.assertGreaterEqual(disc["ts"], t1 + 2 + 2 - 1.0, disc)
        self.assertLessEqual(disc["ts"], t1 + 2 + 2 + 1.5, disc)
        disc = self.event(sub, "edge2", t1 + 15 - time.time(), kind="discards", state="cleared")
        self.assertGreaterEqual(disc["ts"], t1 + 6 + 2 - 1.0, disc)
        self.assertLessEqual(disc["ts"], t1 + 6 + 2 + 1.5, disc)
        cleared = self.event(sub, "edge2", t1 + 20 - time.time(), kind="errors",
                             state="cleared")
        self.assertGreaterEqual(cleared["ts"], t1 + 10 + 3 - 1.0, cleared)
        self.assertLessEqual(cleared["ts"], t1 + 10 + 3 + 1.5, cleared)
        self.assertEqual(cleared["value"], 0)


class TestStatus(AlertsTest):
    def test_an_interface_going_down_and_up_is_raised_and_cleared_at_once(self):
        t1 = time.time() + 10
        self.simulate("oper", [{
            "index": 3, "name": "ge-0/0/3", "speed_mbps": 1000, "in_rate": 1000,
            "records": {f"{IF}.8.3": steps("2", initial=1, at=[(t1, 2), (t1 + 5, 1)])}}])
        sub = self.subscribe()
        self.start([self.device("edge3", "oper")])
        down = self.event(sub, "edge3", t1 + 10 - time.time(), kind="oper", state="raised")
        self.assertEqual((down["value"], down["interface"]), ("down", "ge-0/0/3"))
        self.assertIsNone(down["threshold"])
        self.assertGreaterEqual(down["ts"], t1)
        self.assertLessEqual(down["ts"], t1 + 1.5)
        wait_for(lambda: [a for a in self.active() or [] if a["kind"] == "oper"], 3,
                 what="the status alert in the active set")
        up = self.event(sub, "edge3", t1 + 12 - time.time(), kind="oper", state="cleared")
        self.assertEqual(up["value"], "up")
        self.assertGreaterEqual(up["ts"], t1 + 5)
        self.assertLessEqual(up["ts"], t1 + 5 + 1.5)
        wait_for(lambda: self.active() == [], 3, what="an empty active set")

    def test_a_device_going_down_and_up_again_is_raised_and_cleared(self):
        write_device_groups(self.data, "dev4", [{"index": 1, "name": "eth0", "speed_mbps": 100}])
        port = free_port(udp=True)
        agent = start_agent(self.tmp, "agent", self.data, f"127.0.0.1:{port}")
        self.procs.append(agent)
        sub = self.subscribe()
        self.start([{"name": "edge4", "site": "lab", "address": f"127.0.0.1:{port}",
                     "community": "dev4", "timeout": "300ms"}])
        wait_for(lambda: sub.on("ifmon:edge4:eth0"), 15, what="samples")
        agent.stop()
        stopped = time.time()
        down = self.event(sub, "edge4", 10, kind="device", state="raised")
        self.assertIsNone(down["interface"])
        self.assertEqual((down["value"], down["error"]), ("down", "timeout"))
        self.assertLess(down["ts"] - stopped, 3.0)
        self.assertEqual([a["kind"] for a in self.active()], ["device"])
        self.procs.append(start_agent(self.tmp, "agent2", self.data, f"127.0.0.1:{port}"))
        up = self.event(sub, "edge4", 10, kind="device", state="cleared")
        self.assertEqual(up["value"], "up")
        wait_for(lambda: self.active() == [], 3, what="an empty active set")


class TestEventsKept(AlertsTest):
    def test_the_events_of_the_last_hour_survive_a_redis_and_a_collector_restart(self):
        t1 = time.time() + 8
        self.simulate("kept", [{
            "index": 5, "name": "ge-0/0/5", "speed_mbps": 1000, "in_rate": 1000,
            "records": {f"{IF}.8.5": steps("2", initial=1, at=[(t1, 2)])}}])
        dead = free_port(udp=True)
        sub = self.subscribe()
        c = self.start([self.device("edge5", "kept"),
                        {"name": "dead5", "site": "lab", "address": f"127.0.0.1:{dead}",
                         "timeout": "300ms"}])
        self.event(sub, "dead5", 10, kind="device", state="raised")
        self.event(sub, "edge5", t1 + 10 - time.time(), kind="oper", state="raised")
        listed = wait_for(lambda: len(self.r.lrange("ifmon:events", 0, -1)) == 2 and
                          self.r.lrange("ifmon:events", 0, -1), 3, what="two events listed")
        active = wait_for(lambda: len(self.active() or []) == 2 and self.active(), 3,
                          what="two active alerts")

        # Redis restarts empty: the list and the active set are written
        # again, as they were.
        self.redis.kill9()
        self.redis.start()
        self.r = self.redis.client()
        wait_for(lambda: self.r.lrange("ifmon:events", 0, -1) == listed, 5,
                 what="the list written again")
        wait_for(lambda: self.active() == active, 5, what="the active set written again")

        # The collector restarts: what happened in the last hour stays
        # listed (read back, not duplicated), and its alerts, evaluated
        # afresh, are raised again.
        c.stop()
        sub2 = self.subscribe()
        self.start([self.device("edge5", "kept"),
                    {"name": "dead5", "site": "lab", "address": f"127.0.0.1:{dead}",
                     "timeout": "300ms"}], name="collector2")
        self.event(sub2, "dead5", 10, kind="device", state="raised")
        again = wait_for(lambda: len(self.r.lrange("ifmon:events", 0, -1)) == 3 and
                         self.r.lrange("ifmon:events", 0, -1), 5, what="three events listed")
        self.assertEqual(again[:2], listed)
        self.assertEqual(json.loads(again[2])["kind"], "device")
        # The interface was down before this collector saw it: not an event.
        self.assertEqual([a["kind"] for a in wait_for(self.active, 3, what="the active set")],
                         ["device"])

    def test_an_empty_alerts_map_on_reload_clears_what_was_raised_without_a_gap(self):
        t1 = time.time() + 8
        self.simulate("reload", [{
            "index": 6, "name": "ge-0/0/6", "speed_mbps": 10000, "in_rate": 1000,
            "records": {f"{IF}.14.6": steps("65", rate=0, at=[(t1, 50)])}}])
        sub = self.subscribe()
        dev = self.device("edge6", "reload", alerts={"errors": {"above": 5, "for": "1s"}})
        c = self.start([dev])
        self.event(sub, "edge6", t1 + 10 - time.time(), kind="errors", state="raised")
        seq = sub.on("ifmon:edge6:ge-0/0/6")[-1][1]["seq"]
        write_config(c.config_path, self.redis.port, [dict(dev, alerts={})])
        c.sighup()
        cleared = self.event(sub, "edge6", 5, kind="errors", state="cleared")
        self.assertTrue(cleared["value"] > 5, cleared)  # cleared by the reload, not the rate
        wait_for(lambda: self.active() == [], 3, what="an empty active set")
        # The device was kept: its samples went on without starting again.
        n = len(sub.on("ifmon:edge6:ge-0/0/6"))
        wait_for(lambda: len(sub.on("ifmon:edge6:ge-0/0/6")) > n, 5, what="one more sample")
        after = [d for _, d in sub.on("ifmon:edge6:ge-0/0/6") if d["seq"] > seq]
        self.assertTrue(after and all(d["in_errors_ps"] is not None for d in after), after)


if __name__ == "__main__":
    unittest.main()
