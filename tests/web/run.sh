#!/usr/bin/env bash
# Runs the web page tests: headless Chromium (Debian's chromium package,
# never a downloaded browser) against the real stack. Node's test runner;
# the summary ends with "# pass N" / "# fail N"; exits non-zero on failure.
#
#   tests/web/run.sh [node --test options...]
#
# IFMON_COLLECTOR  the collector binary (default collector/ifmon-collector)
# IFMON_GATEWAY    the gateway binary (default gateway/ifmon-gateway)
# IFMON_CHROMIUM   the browser (default /usr/bin/chromium)
# IFMON_KEEP_TMP=1 keeps the temp dir with the daemons' logs
# Screenshots: tests/out/web/*.png
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/uplot ]; then
    npm ci --no-audit --no-fund --silent
fi
web/build.sh >/dev/null
chromium=${IFMON_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y chromium >/dev/null
    else
        echo "not ok - $chromium missing (apt-get install chromium)" >&2
        exit 1
    fi
fi
export IFMON_COLLECTOR=${IFMON_COLLECTOR:-collector/ifmon-collector}
export IFMON_GATEWAY=${IFMON_GATEWAY:-gateway/ifmon-gateway}
exec node --test --test-concurrency=1 "$@" tests/web/
