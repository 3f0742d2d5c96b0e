# snmpsim variation module for ifmon's alert tests: a value that changes at
# given wall-clock times, so that a test knows to the second when a rate
# crosses a threshold, or an interface goes down.
#
# Record value (snmprec): TAG:steps|initial=V,rate=R,at=T1/X1/T2/X2/...
#   counters (Counter32 65, Counter64 70): the counter is initial plus the
#     exact integral since the agent started of a rate that is R until the
#     Unix time T1, X1 from T1 to T2, X2 from T2 on...; a Counter32 wraps at
#     2^32, a Counter64 at 2^64.
#   other tags (INTEGER 2, Gauge32 66): the value is initial until T1, X1
#     from T1 to T2, ... (rate is not used).
import time

from snmpsim.mltsplit import split

tboot = time.time()


def init(**context):
    pass


def _settings(value):
    s = {"initial": 0.0, "rate": 0.0, "at": []}
    for k, v in [split(x, "=") for x in split(value, ",")]:
        if k == "at":
            parts = [float(p) for p in v.split("/") if p]
            s["at"] = list(zip(parts[0::2], parts[1::2]))
        else:
            s[k] = float(v)
    return s


def _integral(s, t0, t1):
    """The rate's integral from t0 to t1 (t0 <= t1)."""
    total, start, rate = 0.0, t0, s["rate"]
    for when, r in s["at"]:
        if when > start:
            end = min(when, t1)
            if end > start:
                total += rate * (end - start)
                start = end
        rate = r if when <= t1 else rate
        if when > t1:
            break
    if t1 > start:
        total += rate * (t1 - start)
    return total


def _level(s, t):
    v = s["initial"]
    for when, x in s["at"]:
        if t >= when:
            v = x
    return v


def variate(oid, tag, value, **context):
    if not context["nextFlag"] and not context["exactMatch"]:
        return context["origOid"], tag, context["errorStatus"]
    if "settings" not in recordContext:
        recordContext["settings"] = _settings(value)
    s = recordContext["settings"]
    now = time.time()
    if tag.startswith("65") or tag.startswith("70"):
        v = int(s["initial"] + _integral(s, tboot, now))
        v %= 2 ** 32 if tag.startswith("65") else 2 ** 64
    else:
        v = int(_level(s, now))
    return oid, tag, v


def shutdown(**context):
    pass
