#!/usr/bin/env bash
# Runs the whole test suite: for each build variant (plain, then ASan+UBSan)
# the cmocka unit tests and the integration tests against the real
# binaries. The last line is "N passed, N failed".
#
#   tests/run.sh [plain|asan] [-k FILTER]
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variants=(plain asan)
filter=()
while [ $# -gt 0 ]; do
    case "$1" in
    plain|asan) variants=("$1"); shift ;;
    -k) filter=(-k "$2"); shift 2 ;;
    *) echo "usage: $0 [plain|asan] [-k FILTER]" >&2; exit 2 ;;
    esac
done

passed=0
failed=0

count_tap() { # file: adds "ok"/"not ok" lines of a TAP stream
    local p f
    p=$(grep -cE '^ok ' "$1" || true)
    f=$(grep -cE '^not ok ' "$1" || true)
    passed=$((passed + p))
    failed=$((failed + f))
}

count_node() { # file rc what: adds Node test runner's "# pass N" / "# fail N"
    local p f c
    p=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$1" | tail -1)
    f=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$1" | tail -1)
    # A cancelled (hook failed) or skipped test hides a failure: count it.
    c=$(sed -n 's/^# \(cancelled\|skipped\|todo\) \([0-9][0-9]*\)$/\2/p' "$1" |
        awk '{s += $1} END {print s + 0}')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0} + ${c:-0}))
    if [ "$2" -ne 0 ] && [ "${f:-0}" -eq 0 ] && [ "${c:-0}" -eq 0 ]; then
        echo "not ok - $3 exited with status $2"
        failed=$((failed + 1))
    fi
}

run_node() { # part: tests/<part>/run.sh against this variant's binaries
    local out rc
    out=$(mktemp)
    IFMON_COLLECTOR="$collector" IFMON_GATEWAY="$gateway" IFMON_SAN=$san \
        "$top/tests/$1/run.sh" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    count_node "$out" "$rc" "$variant $1 tests"
    rm -f "$out"
}

for variant in "${variants[@]}"; do
    if [ "$variant" = plain ]; then
        bin="$top/tests/bin"
        collector="$top/collector/ifmon-collector"
        gateway="$top/gateway/ifmon-gateway"
        san=0
    else
        bin="$top/build/asan/tests/bin"
        collector="$top/build/asan/collector/ifmon-collector"
        gateway="$top/build/asan/gateway/ifmon-gateway"
        san=1
    fi
    echo "=== $variant build"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0

    for t in test_config test_rate test_ber test_message test_alerts test_assign test_rxstamp test_common test_gateway_client_request test_gateway_channel test_gateway_ratelimit test_gateway_outqueue test_gateway_chantable test_gateway_history test_gateway_fanout test_gateway_invscan test_gateway_inventory test_gateway_hostile test_gateway_access test_gateway_admit test_gateway_sendbatch; do
        out=$(mktemp)
        if [ ! -x "$bin/$t" ]; then
            echo "not ok - $variant $t: binary missing ($bin/$t)"
            failed=$((failed + 1))
            continue
        fi
        CMOCKA_MESSAGE_OUTPUT=TAP "$bin/$t" > "$out" 2>&1
        rc=$?
        sed "s/^/[$variant $t] /" "$out"
        count_tap "$out"
        if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out"; then
            echo "not ok - $variant $t exited with status $rc"
            failed=$((failed + 1))
        fi
        rm -f "$out"
    done

    out=$(mktemp)
    IFMON_COLLECTOR="$collector" IFMON_SAN=$san IFMON_VARIANT=$variant \
        /usr/bin/python3 "$top/tests/integration/run.py" "${filter[@]}" | tee "$out"
    rc=${PIPESTATUS[0]}
    count_tap "$out"
    if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out"; then
        echo "not ok - $variant integration runner exited with status $rc"
        failed=$((failed + 1))
    fi
    rm -f "$out"

    # Node's test runner, whose summary is "# pass N" / "# fail N": the
    # gateway alone, the web page in headless Chromium against the real
    # stack, and the whole stack under faults (Redis killed ten times).
    for part in gateway web system; do
        run_node "$part"
    done
done

# Fuzz targets (built with ASan+UBSan), 10 s each on their seed corpora.
if [ -x "$top/build/fuzz/fuzz_config" ]; then
    echo "=== fuzz targets"
    out=$(mktemp)
    "$top/tests/fuzz/run.sh" 10 | tee "$out"
    count_tap "$out"
    rm -f "$out"
else
    echo "not ok - fuzz targets not built (make -C tests/fuzz)"
    failed=$((failed + 1))
fi

# Both daemons under Valgrind memcheck through a short soak (make
# valgrind runs it longer): no memory error, no definite leak at exit.
if [ -z "${filter[*]}" ] && [ "${#variants[@]}" -eq 2 ]; then
    echo "=== valgrind memcheck"
    out=$(mktemp)
    IFMON_WRAP=tests/valgrind/memcheck.sh node "$top/tests/soak/soak.js" --seconds 30 --every 10 \
        --devices 10 --clients 10 --churn 2 2>&1 | tee "$out"
    if grep -q '^soak: passed' "$out"; then
        echo "ok - valgrind memcheck: collector and two gateways, 30 s with churning clients"
        passed=$((passed + 1))
    else
        echo "not ok - valgrind memcheck: collector and two gateways, 30 s with churning clients"
        failed=$((failed + 1))
    fi
    rm -f "$out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
