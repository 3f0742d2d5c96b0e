#!/usr/bin/env bash
# Runs the system tests: the whole stack (redis-server, tests/sim/simagent,
# the collector, two gateways, WebSocket clients) under faults. Node's
# built-in runner; the summary ends with "# pass N" / "# fail N"; the
# measured figures are "# " lines; exits non-zero on failure.
#
#   tests/system/run.sh [node --test options...]
#
# IFMON_COLLECTOR  the collector binary (default collector/ifmon-collector)
# IFMON_GATEWAY    the gateway binary (default gateway/ifmon-gateway)
# IFMON_SAN=1      they are the ASan/UBSan builds (make asan): a sanitizer
#                  report fails a test, and RSS bounds are looser
# IFMON_KEEP_TMP=1 keeps the temp dir with the daemons' logs
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ -d node_modules/ws ] || npm ci --no-audit --no-fund --silent
[ -x tests/sim/simagent ] || make -s -C tests/sim
export IFMON_COLLECTOR=${IFMON_COLLECTOR:-collector/ifmon-collector}
export IFMON_GATEWAY=${IFMON_GATEWAY:-gateway/ifmon-gateway}
exec node --test --test-concurrency=1 "$@" tests/system/
