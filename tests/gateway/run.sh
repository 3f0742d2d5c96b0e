#!/usr/bin/env bash
# Runs the gateway integration tests (Node's built-in runner; the summary
# ends with "# pass N" / "# fail N").
#
#   tests/gateway/run.sh [node --test options...]
#
# IFMON_GATEWAY  the binary (default gateway/ifmon-gateway)
# IFMON_SAN=1    it is the ASan/UBSan build: a sanitizer report fails a test
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ -d node_modules/ws ] || npm ci --no-audit --no-fund --silent
export IFMON_GATEWAY=${IFMON_GATEWAY:-gateway/ifmon-gateway}
exec node --test --test-concurrency=1 "$@" tests/gateway/
