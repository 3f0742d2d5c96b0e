#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 10) on its seed corpus,
# under ASan+UBSan, printing one TAP line per target. A crash is kept in
# build/fuzz/crashes/<target>/ and fails the run; turn it into a seed of
# corpus/<target>/ and a unit test once fixed.
#
#   tests/fuzz/run.sh [SECONDS]
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-10}
bin=$top/build/fuzz
n=0
bad=0
for t in config request rate http snmp answer ber_netsnmp rxscan json resp; do
    n=$((n + 1))
    work=$(mktemp -d)
    crashes=$bin/crashes/fuzz_$t
    mkdir -p "$crashes"
    cp "$top/tests/fuzz/corpus/$t/"* "$work/"
    log=$(mktemp)
    if "$bin/fuzz_$t" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
        -artifact_prefix="$crashes/" "$work" > "$log" 2>&1; then
        runs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
        echo "ok $n - fuzz_$t: ${runs:-0} inputs in ${seconds} s, no crash"
    else
        echo "not ok $n - fuzz_$t: crash (input kept in $crashes)"
        grep -E "ERROR|SUMMARY|runtime error" "$log" | head -5 | sed 's/^/#   /'
        bad=$((bad + 1))
    fi
    rm -rf "$work" "$log"
done
exit $((bad > 0))
