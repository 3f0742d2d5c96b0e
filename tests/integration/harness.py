"""Fixtures for the integration tests: real redis-server, snmpsimd, snmpd
and ifmon binaries on 127.0.0.1 high ports, in a temporary folder, always
stopped at the end (also on failure).

Environment: IFMON_COLLECTOR (binary under test), IFMON_SAN=1 for the
sanitizer build (longer timeouts, and any sanitizer report in a daemon's
log fails the test), IFMON_KEEP_TMP=1 keeps the temporary folders.
"""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAN = os.environ.get("IFMON_SAN") == "1"
SLOW = 3.0 if SAN else 1.0
COLLECTOR = os.environ.get("IFMON_COLLECTOR", os.path.join(TOP, "collector", "ifmon-collector"))

_live = []


def _cleanup_all():
    for p in list(_live):
        p.stop(check=False)


atexit.register(_cleanup_all)


def free_port(udp=False):
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, interval=0.05, what="condition"):
    end = time.monotonic() + timeout * SLOW
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * SLOW:.1f} s waiting for {what}")


class TempDir:
    def __init__(self, prefix="ifmon-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        if os.environ.get("IFMON_KEEP_TMP") != "1":
            shutil.rmtree(self.path, ignore_errors=True)


class Proc:
    """A child process in its own process group, logged to a file."""

    def __init__(self, name, argv, log_path, env=None):
        self.name, self.argv, self.log_path, self.env = name, argv, log_path, env
        self.p = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True, env=self.env)
        _live.append(self)
        return self

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        self.p.send_signal(sig)

    def kill9(self):
        if self.alive():
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self._forget()

    def stop(self, check=False, timeout=10):
        """SIGTERM, then SIGKILL. With check, the exit status must be 0."""
        if self.p is None:
            return None
        rc = self.p.poll()
        if rc is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                rc = self.p.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
                rc = "killed"
        self._forget()
        if check and rc != 0:
            raise AssertionError(f"{self.name} exited with {rc}; log:\n{self.text()[-3000:]}")
        return rc

    def _forget(self):
        if self in _live:
            _live.remove(self)
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class RedisServer:
    def __init__(self, tmp, port=None, extra=()):
        self.tmp, self.port = tmp, port or free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self):
        self.proc = Proc("redis-server", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", self.tmp.path, *self.extra],
            self.tmp.join(f"redis-{self.port}.log")).start()
        wait_for(self._ping, 10, what="redis-server")
        return self

    def _ping(self):
        try:
            return self.client().ping()
        except redis.exceptions.ConnectionError:
            return False

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=5)

    def kill9(self):
        self.proc.kill9()

    def stop(self):
        if self.proc:
            self.proc.stop()


def snmpget(port, community, oid, version="2c", extra=()):
    r = subprocess.run(["snmpget", f"-v{version}", "-c", community, "-r0", "-t0.5", "-Onqv",
                        *extra, f"127.0.0.1:{port}", oid], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


class SnmpSim:
    """snmpsimd serving DATA/<community>.snmprec (and v3 contexts)."""

    V3 = ["--v3-user=monitor", "--v3-auth-key=authpass1", "--v3-auth-proto=SHA",
          "--v3-priv-key=privpass1", "--v3-priv-proto=AES"]

    def __init__(self, tmp, data_dir, port=None, probe_community=None):
        self.tmp, self.data_dir = tmp, data_dir
        self.port = port or free_port(udp=True)
        self.probe_community = probe_community
        self.proc = None
        self.cache = tmp.join("snmpsim-cache")

    def start(self):
        os.makedirs(self.cache, exist_ok=True)
        argv = ["snmpsimd", f"--data-dir={self.data_dir}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}", "--logging-method=null",
                f"--cache-dir={self.cache}", *self.V3]
        if os.geteuid() == 0:  # snmpsimd refuses to run as root
            shutil.chown(self.cache, "nobody", "nogroup")
            argv += ["--process-user=nobody", "--process-group=nogroup"]
        self.proc = Proc("snmpsimd", argv, self.tmp.join("snmpsimd.log")).start()
        wait_for(lambda: snmpget(self.port, self.probe_community, "1.3.6.1.2.1.1.3.0"), 30,
                 interval=0.2, what="snmpsimd")
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()

    def restart(self):
        self.proc.kill9()
        return self.start()


class Snmpd:
    """net-snmp's real agent, private: community 'public' on a high port."""

    def __init__(self, tmp, port=None):
        self.tmp, self.port = tmp, port or free_port(udp=True)

    def start(self):
        conf = self.tmp.join("snmpd.conf")
        with open(conf, "w") as f:
            f.write(f"agentaddress udp:127.0.0.1:{self.port}\nrocommunity public 127.0.0.1\n")
        env = dict(os.environ, SNMP_PERSISTENT_DIR=self.tmp.join("snmpd-state"))
        self.proc = Proc("snmpd", ["snmpd", "-f", "-Lo", "-C", "-c", conf, "-p",
                                   self.tmp.join("snmpd.pid")],
                         self.tmp.join("snmpd.log"), env=env).start()
        wait_for(lambda: snmpget(self.port, "public", "1.3.6.1.2.1.1.3.0"), 20, interval=0.2,
                 what="snmpd")
        return self

    def stop(self):
        self.proc.stop()


class Collector:
    def __init__(self, tmp, config_path, name="collector"):
        self.tmp, self.config_path = tmp, config_path
        self.proc = Proc(name, [COLLECTOR, "--config", config_path],
                         tmp.join(f"{name}.log"))

    def start(self):
        self.proc.start()
        return self

    def sighup(self):
        self.proc.signal(signal.SIGHUP)

    def text(self):
        return self.proc.text()

    def alive(self):
        return self.proc.alive()

    def stop(self):
        """SIGTERM: must exit 0 with a clean sanitizer report."""
        self.proc.stop(check=True)
        self.assert_clean()

    def assert_clean(self):
        text = self.text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError(f"sanitizer report in the collector log:\n{text[-5000:]}")


class Subscriber:
    """PSUBSCRIBE in a thread; keeps (arrival, channel, message) tuples,
    messages decoded from JSON."""

    def __init__(self, port, pattern="*"):
        self.r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        self.ps = self.r.pubsub(ignore_subscribe_messages=True)
        self.ps.psubscribe(pattern)
        self.items = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                m = self.ps.get_message(timeout=0.1)
            except (redis.exceptions.ConnectionError, ValueError, OSError):
                time.sleep(0.1)
                continue
            if m and m["type"] == "pmessage":
                try:
                    data = json.loads(m["data"])
                except ValueError:
                    data = m["data"]
                with self.lock:
                    self.items.append((time.monotonic(), m["channel"], data))

    def on(self, channel):
        with self.lock:
            return [(t, d) for t, c, d in self.items if c == channel]

    def channels(self):
        with self.lock:
            return {c for _, c, _ in self.items}

    def close(self):
        self.stopping = True
        self.thread.join(2)
        try:
            self.ps.close()
        except Exception:
            pass


def rate_errors(msgs, field, want, nominal=1.0, each=0.01):
    """What is wrong with the rates in field of msgs (messages that all
    carry a rate) against the truth want, as a list of texts (empty when
    right). Each rate must be within 1% of the truth. The simulator
    (snmpsimd, Python) reads its counters a few ms before the collector
    receives them; when a stall of this shared machine delays one answer
    more than the others, that reading's time is off and its two rates
    move apart by as much (12 ms: 1.2% each, one up, one down). Such a
    rate gets 3% when it and a neighbour together, weighted by the span
    each covers, are within half the 1%; so does a rate whose span is more
    than 1.5% off the interval. Over all of them the rates must be within
    0.5% (nothing lost, nothing counted twice). `each` widens the 1% for
    every rate, for a test about something else than precision."""
    bad = []
    total = span = 0.0
    rates = [(d[field], d["interval"], d["ts"]) for d in msgs if d[field] is not None]
    for d in msgs:
        if d[field] is None:
            bad.append(f"a gap at ts {d['ts']} ({d.get('gap')})")

    def paired(k):
        v, dt, _ = rates[k]
        for j in (k - 1, k + 1):
            if 0 <= j < len(rates):
                w, dw, _ = rates[j]
                if abs((v * dt + w * dw) / (dt + dw) - want) <= each / 2 * want:
                    return True
        return False

    for k, (v, dt, ts) in enumerate(rates):
        off = abs(v - want) / want
        if off > each and (off > max(each, 0.03) or
                           (abs(dt - nominal) <= 0.015 * nominal and not paired(k))):
            bad.append(f"{v} over {dt} s at ts {ts}")
        total += v * dt
        span += dt
    if span and abs(total / span - want) > 0.005 * want:
        bad.append(f"mean {total / span:.1f} over {span:.3f} s")
    return bad


def rates(samples):
    """(in_bps, out_bps) of the samples that carry a rate."""
    return [(d["in_bps"], d["out_bps"]) for _, d in samples if d.get("in_bps") is not None]


# ---------------------------------------------------------------- data files

def oid(text):
    return tuple(int(x) for x in text.split("."))


def snmprec(interfaces, ifx=True):
    """Records of one simulated device. interfaces: list of dicts with
    index, name, descr, in_rate, out_rate (octets/s), speed_mbps, oper,
    and optionally initial32 (start value of the Counter32s, to make them
    wrap soon)."""
    recs = [(oid("1.3.6.1.2.1.1.1.0"), "4", "ifmon test agent"),
            (oid("1.3.6.1.2.1.1.3.0"), "67:numeric", "rate=100")]
    for i in interfaces:
        n = i["index"]
        init32 = i.get("initial32", 0)
        recs += [
            (oid(f"1.3.6.1.2.1.2.2.1.1.{n}"), "2", str(n)),
            (oid(f"1.3.6.1.2.1.2.2.1.2.{n}"), "4", i.get("descr", i["name"])),
            (oid(f"1.3.6.1.2.1.2.2.1.5.{n}"), "66", str(min(i["speed_mbps"] * 10**6, 2**32 - 1))),
            (oid(f"1.3.6.1.2.1.2.2.1.8.{n}"), "2", str(i.get("oper", 1))),
            (oid(f"1.3.6.1.2.1.2.2.1.10.{n}"), "65:numeric",
             f"rate={i['in_rate']},initial={init32},max=4294967295,wrap=1"),
            (oid(f"1.3.6.1.2.1.2.2.1.16.{n}"), "65:numeric",
             f"rate={i['out_rate']},initial={init32},max=4294967295,wrap=1"),
        ]
        # ifIn/OutDiscards, ifIn/OutErrors, still (the default `counters`
        # polls them): every agent has them, and one that lacks them answers
        # noSuchObject, which snmpsimd finds slowly enough to skew timing.
        recs += [(oid(f"1.3.6.1.2.1.2.2.1.{col}.{n}"), "65", "0") for col in (13, 14, 19, 20)]
        if ifx:
            recs += [
                (oid(f"1.3.6.1.2.1.31.1.1.1.1.{n}"), "4", i["name"]),
                (oid(f"1.3.6.1.2.1.31.1.1.1.6.{n}"), "70:numeric", f"rate={i['in_rate']},initial=7"),
                (oid(f"1.3.6.1.2.1.31.1.1.1.10.{n}"), "70:numeric",
                 f"rate={i['out_rate']},initial=7"),
                (oid(f"1.3.6.1.2.1.31.1.1.1.15.{n}"), "66", str(i["speed_mbps"])),
            ]
    recs.sort()
    return "".join(".".join(map(str, o)) + f"|{t}|{v}\n" for o, t, v in recs)


def write_device(data_dir, community, interfaces, ifx=True):
    with open(os.path.join(data_dir, f"{community}.snmprec"), "w") as f:
        f.write(snmprec(interfaces, ifx))


def write_config(path, redis_port, devices, history=300, prefix="ifmon", defaults=None,
                 collector=None):
    """devices: list of dicts of device keys (values written as YAML);
    collector: the collector: section's keys, when given."""
    d = {"interval": "1s", "timeout": "800ms", "retries": 1, "version": "2c"}
    d.update(defaults or {})
    lines = [f"redis: {{host: 127.0.0.1, port: {redis_port}, prefix: {prefix}, history: {history}}}",
             "defaults: {" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in d.items()) + "}",
             "devices:"]
    if collector:
        lines.insert(2, "collector: {" + ", ".join(f"{k}: {json.dumps(v)}"
                                                   for k, v in collector.items()) + "}")
    for dev in devices:
        lines.append("  - " + "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in dev.items())
                     + "}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ------------------------------------------- simulated agents, namespaces

SIMAGENT = os.path.join(TOP, "tests", "sim", "simagent")


def require_simagent():
    """Builds tests/sim/simagent if it is missing."""
    if not os.access(SIMAGENT, os.X_OK):
        r = subprocess.run(["make", "-s", "-C", os.path.join(TOP, "tests", "sim")],
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.access(SIMAGENT, os.X_OK):
            raise AssertionError(f"cannot build {SIMAGENT}: {r.stdout}{r.stderr}")


def start_agent(tmp, name, data_dir, listen):
    """simagent serving data_dir/<community>.snmprec on listen (ADDR:PORT),
    once it says it listens."""
    require_simagent()
    p = Proc(name, [SIMAGENT, "--data-dir", data_dir, "--listen", listen],
             tmp.join(f"{name}.log")).start()
    wait_for(lambda: "listening on" in p.text() or not p.alive(), 10, what=f"{name} to listen")
    if not p.alive():
        raise AssertionError(f"{name} did not start:\n{p.text()}")
    return p


def in_mount_namespace(argv, binds):
    """argv run in a mount namespace of its own (unshare -m, private
    propagation: nothing leaks to the host) in which each (file, target) of
    binds is bind-mounted over target, e.g. a resolv.conf over
    /etc/resolv.conf. The command is exec'd: signals reach it directly.
    Needs root (CAP_SYS_ADMIN)."""
    flat = [x for pair in binds for x in pair]
    mounts = " && ".join(f'mount --bind "${2 * i + 1}" "${2 * i + 2}"'
                         for i in range(len(binds)))
    script = f'{mounts} && shift {len(flat)} && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *flat, *argv]


def stats_lines(text):
    """The collector's "stats:" lines (SIGUSR1, periodic), each as a dict of
    its key=value fields."""
    out = []
    for line in text.splitlines():
        if "stats:" not in line:
            continue
        fields = {}
        for kv in line.split("stats:", 1)[1].split():
            k, _, v = kv.partition("=")
            fields[k] = v
        out.append(fields)
    return out


# ------------------------- every counter group, descriptions, alert steps

VARIATIONS = os.path.join(TOP, "tests", "sim", "variation")


class SnmpSimVariations(SnmpSim):
    """snmpsimd with the variation modules of tests/sim/variation (steps:
    values that change at given times; nosuchobject: a column the agent
    lacks) besides its own (numeric)."""

    def start(self):
        os.makedirs(self.cache, exist_ok=True)
        # snmpsimd looks for its variation modules after dropping to nobody,
        # who may not be able to enter this checkout (a clone in a 0700
        # folder): it gets a copy in the test's folder (0755).
        variations = self.tmp.join("variation")
        shutil.copytree(VARIATIONS, variations, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(variations):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
        os.chmod(variations, 0o755)
        argv = ["snmpsimd", f"--data-dir={self.data_dir}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}", "--logging-method=null",
                f"--cache-dir={self.cache}", f"--variation-modules-dir={variations}", *self.V3]
        if os.geteuid() == 0:  # snmpsimd refuses to run as root
            shutil.chown(self.cache, "nobody", "nogroup")
            argv += ["--process-user=nobody", "--process-group=nogroup"]
        self.proc = Proc("snmpsimd", argv, self.tmp.join("snmpsimd.log")).start()
        wait_for(lambda: snmpget(self.port, self.probe_community, "1.3.6.1.2.1.1.3.0"), 30,
                 interval=0.2, what="snmpsimd")
        return self


def counter32(rate, initial=0):
    """A Counter32 record growing at rate per second, wrapping at 2^32."""
    return ("65:numeric", f"rate={rate},initial={initial},max=4294967295,wrap=1")


def counter64(rate, initial=7):
    return ("70:numeric", f"rate={rate},initial={initial}")


def steps(tag, initial=0, rate=0, at=()):
    """A record of tests/sim/variation/steps.py: at is ((unix_time, value), ...):
    counters (65, 70) change their rate then, other tags their value."""
    spec = "/".join(f"{t:.3f}/{v}" for t, v in at)
    return (f"{tag}:steps", f"initial={initial},rate={rate},at={spec}")


NO_SUCH_OBJECT = ("65:nosuchobject", "x")

IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"


def snmprec_groups(interfaces, ifx=True, hc_packets=True):
    """Records of one simulated device with every counter group of RFC 2863.
    interfaces: dicts of index, name, descr, alias (str, or bytes for text
    that is not UTF-8), speed_mbps, oper, and per second: in_rate and
    out_rate (octets), in_ucast, in_mcast, in_bcast, out_ucast, out_mcast,
    out_bcast (packets), in_errors, out_errors, in_discards, out_discards;
    initial32 (start of every Counter32, to make them wrap soon); and
    `records`: {oid: (tag, value), or None to leave the object out} to
    replace any record (steps(), NO_SUCH_OBJECT...). Without ifx, no
    ifXTable at all; without hc_packets, no 64-bit packet counters (the
    Counter32 ones of ifXTable remain)."""
    recs = {"1.3.6.1.2.1.1.1.0": ("4", "ifmon test agent"),
            "1.3.6.1.2.1.1.3.0": ("67:numeric", "rate=100")}
    for i in interfaces:
        n = i["index"]
        g = lambda k: i.get(k, 0)  # noqa: E731
        init = i.get("initial32", 0)
        alias = i.get("alias", "")
        r = {
            f"{IF}.1.{n}": ("2", str(n)),
            f"{IF}.2.{n}": ("4", i.get("descr", i["name"])),
            f"{IF}.5.{n}": ("66", str(min(i["speed_mbps"] * 10**6, 2**32 - 1))),
            f"{IF}.8.{n}": ("2", str(i.get("oper", 1))),
            f"{IF}.10.{n}": counter32(g("in_rate"), init),
            f"{IF}.11.{n}": counter32(g("in_ucast"), init),
            f"{IF}.12.{n}": counter32(g("in_mcast") + g("in_bcast"), init),
            f"{IF}.13.{n}": counter32(g("in_discards"), init),
            f"{IF}.14.{n}": counter32(g("in_errors"), init),
            f"{IF}.16.{n}": counter32(g("out_rate"), init),
            f"{IF}.17.{n}": counter32(g("out_ucast"), init),
            f"{IF}.18.{n}": counter32(g("out_mcast") + g("out_bcast"), init),
            f"{IF}.19.{n}": counter32(g("out_discards"), init),
            f"{IF}.20.{n}": counter32(g("out_errors"), init),
        }
        if ifx:
            r.update({
                f"{IFX}.1.{n}": ("4", i["name"]),
                f"{IFX}.2.{n}": counter32(g("in_mcast"), init),
                f"{IFX}.3.{n}": counter32(g("in_bcast"), init),
                f"{IFX}.4.{n}": counter32(g("out_mcast"), init),
                f"{IFX}.5.{n}": counter32(g("out_bcast"), init),
                f"{IFX}.6.{n}": counter64(g("in_rate")),
                f"{IFX}.10.{n}": counter64(g("out_rate")),
                f"{IFX}.15.{n}": ("66", str(i["speed_mbps"])),
                f"{IFX}.18.{n}": (("4x", alias.hex()) if isinstance(alias, bytes)
                                  else ("4", alias)),
            })
            if hc_packets:
                for col, k in ((7, "in_ucast"), (8, "in_mcast"), (9, "in_bcast"),
                               (11, "out_ucast"), (12, "out_mcast"), (13, "out_bcast")):
                    r[f"{IFX}.{col}.{n}"] = counter64(g(k))
        r.update(i.get("records", {}))
        recs.update({k: v for k, v in r.items() if v is not None})
    lines = sorted(recs.items(), key=lambda kv: oid(kv[0]))
    return "".join(f"{o}|{t}|{v}\n" for o, (t, v) in lines)


def write_device_groups(data_dir, community, interfaces, **kw):
    with open(os.path.join(data_dir, f"{community}.snmprec"), "w") as f:
        f.write(snmprec_groups(interfaces, **kw))


def events_of(sub, device):
    """The events published on <prefix>:events:<device> (ifmon prefix)."""
    return [d for _, d in sub.on(f"ifmon:events:{device}")]
