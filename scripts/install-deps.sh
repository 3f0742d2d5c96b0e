#!/usr/bin/env bash
# Install whatever ifmon needs that this Debian machine lacks. Called by
# `make run` and `make test`; does nothing when everything is there.
#   scripts/install-deps.sh [run|test|bench]
set -euo pipefail

want=(gcc make pkg-config libsnmp-dev libhiredis-dev libyaml-dev libjansson-dev libuv1-dev
      libwebsockets-dev liburing-dev redis-server redis-tools snmpsim snmpd snmp python3 python3-yaml)
if [ "${1:-run}" = test ] || [ "${1:-run}" = bench ]; then
    want+=(libcmocka-dev python3 python3-redis iproute2 procps haproxy docker-compose chromium
           clang libclang-rt-14-dev valgrind nftables)
fi
# make bench-compare measures the collector against Prometheus' exporter
# and collectd's snmp plugin (collectd-core: the daemon and its plugins,
# without the collectd package's system-wide configuration and service).
[ "${1:-run}" = bench ] && want+=(prometheus-snmp-exporter collectd-core)

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm bring the page's chart library (uPlot) and run the
# WebSocket and browser tests; the machines have Node 20. Debian 12's own
# nodejs (18) is only a fallback where there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    sudo=
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages (uPlot for the page, ws and playwright-core for the tests),
# exactly as package-lock.json says. playwright-core never downloads a
# browser: the tests use Debian's chromium.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$top/node_modules/.package-lock.json" ] ||
   [ "$top/package-lock.json" -nt "$top/node_modules/.package-lock.json" ]; then
    (cd "$top" && npm ci --no-audit --no-fund --silent)
fi
# make bench-compare's Bun relay (tests/bench/relay-bun/relay.js): Bun and
# ioredis as that folder's package-lock.json says. Bun's binary is inside
# the npm package @oven/bun-linux-x64 (the bun package's postinstall only
# moves it into place); nothing is downloaded from elsewhere.
if [ "${1:-run}" = bench ]; then
    relay_bun="$top/tests/bench/relay-bun"
    if [ ! -f "$relay_bun/node_modules/.package-lock.json" ] ||
       [ "$relay_bun/package-lock.json" -nt "$relay_bun/node_modules/.package-lock.json" ]; then
        (cd "$relay_bun" && npm ci --no-audit --no-fund --silent)
    fi
fi
# The snmpd package starts a system agent on port 161; ifmon starts its own
# on a private port and does not need that one.
