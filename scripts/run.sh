#!/usr/bin/env bash
# make run: the whole system on embedded defaults, in the foreground.
#
#   scripts/run.sh                 private Redis + simulated sites + this host's snmpd
#   scripts/run.sh --config FILE   poll the devices of FILE instead
#
# Everything runs in a temporary folder on 127.0.0.1 and stops on Ctrl-C,
# leaving nothing behind.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
config=
while [ $# -gt 0 ]; do
    case "$1" in
    --config) config=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--config FILE]" >&2; exit 2 ;;
    esac
done

run=$(mktemp -d /tmp/ifmon-run.XXXXXX)
chmod 755 "$run"
pids=()
cleanup() {
    trap - EXIT INT TERM
    # Daemons first, Redis last: nothing logs a lost connection on the way out.
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
udp_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_redis() { # port
    # Its own session: Ctrl-C reaches the daemons, and Redis is stopped last.
    setsid redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --dir "$run" \
        --logfile "$run/redis.log" &
    pids+=($!)
    for _ in $(seq 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
    echo "run: redis-server did not start (see $run/redis.log)" >&2
    exit 1
}

prefix=ifmon
if [ -z "$config" ]; then
    redis_port=6379
    port_free $redis_port || redis_port=16379
    start_redis $redis_port

    # Simulated sites: snmpsimd serves one data file per device (the
    # community selects it).
    sim_port=$(udp_port)
    mkdir -p "$run/sim" "$run/cache"
    [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$run/cache"
    web_port=8080
    port_free $web_port || web_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    /usr/bin/python3 "$top/tests/sim/sites.py" --data-dir "$run/sim" --port "$sim_port" \
        --redis-port "$redis_port" --config "$run/ifmon.yml" \
        --listen "127.0.0.1:$web_port" --web-root "$top/web"
    sim_user=()
    [ "$(id -u)" -eq 0 ] && sim_user=(--process-user=nobody --process-group=nogroup)
    # snmpsimd looks for its variation modules after dropping to nobody,
    # who may not be able to enter this checkout: give it a copy it can read.
    cp -r "$top/tests/sim/variation" "$run/variation"
    chmod -R a+rX "$run/variation"
    chmod 755 "$run"
    snmpsimd --data-dir="$run/sim" --agent-udpv4-endpoint="127.0.0.1:$sim_port" \
        --cache-dir="$run/cache" --logging-method=file:"$run/snmpsimd.log" "${sim_user[@]}" \
        --variation-modules-dir="$run/variation" \
        >/dev/null 2>&1 &
    pids+=($!)

    # This machine's own interfaces, through the real net-snmp agent.
    snmpd_port=$(udp_port)
    cat > "$run/snmpd.conf" <<CONF
agentaddress udp:127.0.0.1:$snmpd_port
rocommunity ifmon-local 127.0.0.1
CONF
    SNMP_PERSISTENT_DIR="$run/snmpd-state" snmpd -f -Lf "$run/snmpd.log" -C -c "$run/snmpd.conf" \
        -p "$run/snmpd.pid" >/dev/null 2>&1 &
    pids+=($!)
    cat >> "$run/ifmon.yml" <<CONF
  - name: $(hostname -s | tr -c 'A-Za-z0-9_.\n-' '-')
    site: this-host
    address: 127.0.0.1:$snmpd_port
    community: ifmon-local
CONF
    config="$run/ifmon.yml"
    for _ in $(seq 100); do
        snmpget -v2c -c ifmon-local -r0 -t0.3 "127.0.0.1:$snmpd_port" 1.3.6.1.2.1.1.3.0 \
            >/dev/null 2>&1 && break
        sleep 0.2
    done
else
    "$top/collector/ifmon-collector" --config "$config" --check
    read -r redis_host redis_port prefix < <(/usr/bin/python3 - "$config" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1])) or {}
r = c.get("redis") or {}
print(r.get("host", "127.0.0.1"), r.get("port", 6379), r.get("prefix", "ifmon"))
PY
)
    if [ "$redis_host" = 127.0.0.1 ] || [ "$redis_host" = localhost ]; then
        port_free "$redis_port" && start_redis "$redis_port"
    fi
fi

"$top/collector/ifmon-collector" --config "$config" &
pids+=($!)
collector=$!
(cd "$top" && exec "$top/gateway/ifmon-gateway" --config "$config") &
pids+=($!)
listen=$(/usr/bin/python3 - "$config" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1])) or {}
print((c.get("gateway") or {}).get("listen", "127.0.0.1:8080"))
PY
)

cat <<MSG

ifmon is running (files in $run).

Open http://$listen/ in a browser (the overview: each site's total, its
busiest interfaces and the alerts; http://$listen/?kiosk=1 for a wall
screen), or watch the rates in Redis:

    redis-cli -p $redis_port psubscribe '$prefix:*'
    redis-cli -p $redis_port get $prefix:inventory

Ctrl-C stops everything.

MSG
wait "$collector"
