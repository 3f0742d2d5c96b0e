# snmpsim variation module for ifmon's simulated sites: octet counters whose
# rate rises and falls like a day of traffic, so that `make run` draws
# graphs worth looking at.
#
# Record value (snmprec): TAG:diurnal|base=RATE,period=SECONDS,phase=RADIANS
#   rate(t) = base * (0.55 + 0.45 * sin(2 pi t / period + phase)) octets/s
# and the counter is its exact integral since the agent started, so every
# poller sees the same, consistent curve. Counter32 (tag 65) wraps at 2^32.
# A small, steady ripple (period / 37) keeps neighbouring interfaces apart.
import math
import time

from snmpsim.mltsplit import split

tboot = time.time()


def init(**context):
    pass


def _settings(value):
    s = {"base": 1000000.0, "period": 600.0, "phase": 0.0}
    for k, v in [split(x, "=") for x in split(value, ",")]:
        s[k] = float(v)
    return s


def _integral(s, t):
    w = 2 * math.pi / s["period"]
    w2 = w * 37
    main = 0.55 * t - 0.45 / w * (math.cos(w * t + s["phase"]) - math.cos(s["phase"]))
    ripple = -0.03 / w2 * (math.cos(w2 * t + s["phase"]) - math.cos(s["phase"]))
    return s["base"] * (main + ripple)


def variate(oid, tag, value, **context):
    if not context["nextFlag"] and not context["exactMatch"]:
        return context["origOid"], tag, context["errorStatus"]
    if "settings" not in recordContext:
        recordContext["settings"] = _settings(value)
    v = int(_integral(recordContext["settings"], time.time() - tboot))
    if tag.startswith("65"):
        v %= 2 ** 32
    return oid, tag, v


def shutdown(**context):
    pass
