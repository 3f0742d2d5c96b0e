# snmpsim variation module: the agent has no such object. A GET of the
# record's OID is answered with the noSuchObject exception (RFC 3416 4.2.1),
# as agents answer for a column they do not implement (ifInErrors on some
# virtual interfaces, the HC packet counters on older ones). A walk
# (GETNEXT, GETBULK) passing by gets 0, so that it goes on. Record value
# (snmprec): TAG:nosuchobject|x (the value is not used).
from pysnmp.proto import rfc1905


def init(**context):
    pass


def variate(oid, tag, value, **context):
    if not context["nextFlag"] and not context["exactMatch"]:
        return context["origOid"], tag, context["errorStatus"]
    if context["nextFlag"]:
        return oid, tag, 0
    return oid, tag, rfc1905.noSuchObject


def shutdown(**context):
    pass
