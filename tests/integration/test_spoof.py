"""ifmon-collector takes answers only from the agent: a datagram that
carries a request-id in flight but comes from another address is not an
answer, on both receive paths (v1/v2c polls read with recvmmsg, and
net-snmp's, which does the walks and SNMPv3).

A relay stands between the collector and a simulated agent. For each
request it forwards, it first sends a forged answer with the same
request-id from another local port: absurd counters for a poll GET, a
made-up interface for a walk. The collector must publish the agent's
rates and interfaces and none of the forger's. Only 127.0.0.1 is used.
"""

import os
import sys
import unittest

from harness import (Collector, Proc, RedisServer, Subscriber, TempDir, free_port, start_agent,
                     wait_for, write_config, write_device)

IFACES = [
    {"index": 1, "name": "ge-0/0/0", "in_rate": 1250000, "out_rate": 625000, "speed_mbps": 1000},
    {"index": 2, "name": "xe-0/0/1", "in_rate": 12500000, "out_rate": 2500000,
     "speed_mbps": 10000},
]

# The relay: front socket (the collector's peer) at 127.0.0.1:PORT, one
# socket towards the agent per client, and the forger's socket on another
# port. Community "spoofget" gets forged poll answers, "spoofwalk" forged
# walk answers; every forged answer is logged.
RELAY = r"""
import select, socket, sys
listen_port, agent_port = int(sys.argv[1]), int(sys.argv[2])

def tlv(tag, body):
    n = len(body)
    if n < 128:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body

def uint(tag, v):
    return tlv(tag, v.to_bytes(v.bit_length() // 8 + 1, "big"))

def sint(v):
    return tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))

def parse(buf, pos):
    tag, n = buf[pos], buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, pos, pos + n

def oid_decode(b):
    out = [b[0] // 40, b[0] % 40]
    v = 0
    for x in b[1:]:
        v = (v << 7) | (x & 0x7F)
        if not x & 0x80:
            out.append(v)
            v = 0
    return tuple(out)

def oid_encode(o):
    body = bytes([40 * o[0] + o[1]])
    for v in o[2:]:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, body)

def request(pkt):
    _, s, _ = parse(pkt, 0)
    _, a, b = parse(pkt, s)
    version = int.from_bytes(pkt[a:b], "big")
    _, a, b = parse(pkt, b)
    community = pkt[a:b]
    pdu, ps, _ = parse(pkt, b)
    _, a, b = parse(pkt, ps)
    reqid = int.from_bytes(pkt[a:b], "big", signed=True)
    _, _, b = parse(pkt, b)
    _, _, b = parse(pkt, b)
    _, vs, ve = parse(pkt, b)
    oids, p = [], vs
    while p < ve:
        _, s1, e1 = parse(pkt, p)
        _, os_, oe = parse(pkt, s1)
        oids.append(oid_decode(pkt[os_:oe]))
        p = e1
    return version, community, pdu, reqid, oids

SYSUPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IFT = (1, 3, 6, 1, 2, 1, 2, 2, 1)
FORGED_OCTETS = 123456789  # per poll: about 1 Gb/s, below the forged speed
polls = {}

def forged_value(o, n):
    col = o[:-1]
    if o == SYSUPTIME:
        return uint(0x43, 100 * n)
    if col in (IFX + (6,), IFX + (10,)):
        return uint(0x46, FORGED_OCTETS * n)
    if col in (IFT + (10,), IFT + (16,)):
        return uint(0x41, (FORGED_OCTETS * n) % 2**32)
    if col == IFX + (15,):
        return uint(0x42, 100000)
    if col == IFT + (5,):
        return uint(0x42, 4294967295)
    if col == IFT + (8,):
        return sint(1)
    return tlv(0x05, b"")

def walk_value(o):
    # A column start gets a made-up row 999; what follows it, the end.
    if o in (IFX + (1,), IFT + (2,), IFT + (3,)):
        row = o + (999,)
        return row, sint(6) if o == IFT + (3,) else tlv(0x04, b"forged")
    return o, tlv(0x82, b"")

def forge(pkt):
    version, community, pdu, reqid, oids = request(pkt)
    if community == b"spoofget" and pdu == 0xA0:
        n = polls[community] = polls.get(community, 1000) + 1
        vbs = [tlv(0x30, oid_encode(o) + forged_value(o, n)) for o in oids]
        kind = "get"
    elif community == b"spoofwalk" and pdu in (0xA1, 0xA5):
        vbs = [tlv(0x30, oid_encode(r) + v) for r, v in map(walk_value, oids)]
        kind = "walk"
    else:
        return None, None
    body = sint(reqid) + sint(0) + sint(0) + tlv(0x30, b"".join(vbs))
    return kind, tlv(0x30, sint(version) + tlv(0x04, community) + tlv(0xA2, body))

front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(("127.0.0.1", listen_port))
forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
forger.bind(("127.0.0.1", 0))
towards_agent, clients = {}, {}
print("relay: listening on 127.0.0.1:%d, forging from port %d"
      % (listen_port, forger.getsockname()[1]), flush=True)
while True:
    ready, _, _ = select.select([front] + list(clients), [], [])
    for s in ready:
        if s is not front:
            front.sendto(s.recv(65536), clients[s])
            continue
        data, client = front.recvfrom(65536)
        try:
            kind, answer = forge(data)
        except (IndexError, ValueError):
            kind = None
        if kind:
            forger.sendto(answer, client)
            print("forged %s" % kind, flush=True)
        a = towards_agent.get(client)
        if a is None:
            a = towards_agent[client] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            a.bind(("127.0.0.1", 0))
            clients[a] = client
        a.sendto(data, ("127.0.0.1", agent_port))
"""


def note(text):
    """A measured figure, printed as a TAP comment."""
    print(f"#   {text}", flush=True)


def near(value, expected, tolerance=0.03):
    return abs(value - expected) <= tolerance * expected


class TestSpoofedAnswers(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir(prefix="ifmon-spoof-")
        self.addCleanup(self.tmp.cleanup)
        data = self.tmp.join("data")
        os.mkdir(data)
        os.chmod(data, 0o755)
        for community in ("spoofget", "spoofwalk"):
            write_device(data, community, IFACES)
        self.redis = RedisServer(self.tmp).start()
        self.addCleanup(self.redis.stop)
        agent_port = free_port(udp=True)
        agent = start_agent(self.tmp, "simagent", data, f"127.0.0.1:{agent_port}")
        self.addCleanup(agent.stop)
        self.relay_port = free_port(udp=True)
        self.relay = Proc("relay", [sys.executable, "-c", RELAY, str(self.relay_port),
                                    str(agent_port)], self.tmp.join("relay.log")).start()
        self.addCleanup(self.relay.stop)
        wait_for(lambda: "listening" in self.relay.text() or not self.relay.alive(), 10,
                 what="the relay")
        self.assertTrue(self.relay.alive(), self.relay.text())

    def forged(self, kind):
        return self.relay.text().count(f"forged {kind}\n")

    def run_collector(self, device):
        """A collector polling `device` (a community of the relay) through
        the relay; returns (collector, subscriber, its interface channels)."""
        sub = Subscriber(self.redis.port, "sp:*")
        self.addCleanup(sub.close)
        path = self.tmp.join(f"{device}.yml")
        write_config(path, self.redis.port,
                     [{"name": device, "site": "lab", "address": f"127.0.0.1:{self.relay_port}",
                       "community": device}], prefix="sp")
        c = Collector(self.tmp, path, name=f"collector-{device}").start()
        self.addCleanup(lambda: c.stop() if c.alive() else None)
        return c, sub, [f"sp:{device}:{i['name']}" for i in IFACES]

    def check_rates(self, sub, channels, least):
        for ch in channels:
            i = next(x for x in IFACES if ch.endswith(x["name"]))
            msgs = [d for _, d in sub.on(ch) if d.get("in_bps") is not None]
            wrong = [(d["in_bps"], d["out_bps"]) for d in msgs
                     if not (near(d["in_bps"], 8 * i["in_rate"]) and
                             near(d["out_bps"], 8 * i["out_rate"]))]
            self.assertFalse(wrong, f"{ch}: forged rates published (the agent's are "
                                    f"{8 * i['in_rate']}/{8 * i['out_rate']}): {wrong[:3]}")
            self.assertGreaterEqual(len(msgs), least, f"{ch}: too few rates")

    def test_forged_poll_answers_from_another_port_are_not_read(self):
        # v1/v2c polls: direct_poll.c's recvmmsg path.
        c, sub, channels = self.run_collector("spoofget")
        wait_for(lambda: all(sum(d.get("in_bps") is not None for _, d in sub.on(ch)) >= 6
                             for ch in channels), 30, what="six rates of every interface")
        c.stop()
        seen = sorted({round(d["in_bps"]) for ch in channels for _, d in sub.on(ch)
                       if d.get("in_bps") is not None})
        note(f"relay forged {self.forged('get')} poll answers; in_bps published: {seen[:6]}")
        self.check_rates(sub, channels, 6)
        # Every GET got its forged answer first: the check above is worth it.
        self.assertGreaterEqual(self.forged("get"), 6, "the relay forged too few poll answers")

    def test_forged_walk_answers_from_another_port_are_not_read(self):
        # Discovery's GETBULK walk: net-snmp's receive path (session.c).
        c, sub, channels = self.run_collector("spoofwalk")

        def settled():
            made_up = [ch for ch in sub.channels() if "forged" in ch]
            return made_up or all(sum(d.get("in_bps") is not None for _, d in sub.on(ch)) >= 3
                                  for ch in channels)

        wait_for(settled, 30, what="three rates of every interface (or a made-up interface)")
        c.stop()
        published = sorted(ch for ch in sub.channels() if ch.count(":") == 2)
        note(f"relay forged {self.forged('walk')} walk answers; interfaces published: "
             f"{published}")
        self.assertEqual(published, sorted(channels),
                         "interfaces made up by a forged walk answer were published")
        self.check_rates(sub, channels, 3)
        self.assertGreaterEqual(self.forged("walk"), 1, "the relay forged no walk answer")


if __name__ == "__main__":
    unittest.main()
