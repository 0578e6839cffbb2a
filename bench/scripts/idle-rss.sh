#!/usr/bin/env bash
# RSS per idle session: the release app (no profiler) on a stock Mosquitto,
# its RSS before and after N idle WebSocket sessions (each subscribed to
# bench/#) opened by `mqtt-bench --idle-sessions`, and how long they took to
# connect. Usage: bench/scripts/idle-rss.sh [N] [APP]
# Needs: mosquitto, curl, a release build of example-app and mqtt-bench.
set -euo pipefail
n=${1:-10000}
root=$(cd "$(dirname "$0")/../.." && pwd)
app=${2:-$root/target/release/example-app}
out=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'persistence false\nallow_anonymous true\nmax_connections -1\nlistener %s 127.0.0.1\n' "$port" \
    >"$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
broker=$!
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
MQTT_BROKER_URL=127.0.0.1 MQTT_BROKER_PORT=$port HTTP_BIND=127.0.0.1:0 RUST_LOG=warn \
    WS_MAX_SESSIONS_PER_IP=1000000 WS_MAX_SESSIONS=1000000 \
    "$app" >"$out/app.stdout" 2>&1 &
pid=$!
holder=""
trap 'kill $holder $pid $broker 2>/dev/null || true; rm -rf "$out"' EXIT
addr=""
for _ in $(seq 600); do
    addr=$(sed -n 's|^listening on http://||p' "$out/app.stdout" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "the app did not start: $(cat "$out/app.stdout")" >&2; exit 1; }
until curl -sf -m 10 "http://$addr/readyz" >/dev/null; do sleep 0.1; done
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
before=$(rss)
load=$(cut -d' ' -f1-3 /proc/loadavg)
"$root/target/release/mqtt-bench" --idle-sessions "$n" --app-addr "$addr" --hold-seconds 3600 \
    2>"$out/holder.log" &
holder=$!
sessions() { curl -sf -m 10 "http://$addr/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])'; }
until [ "$(sessions || echo 0)" -ge "$n" ]; do sleep 0.5; done
sleep 3
after=$(rss)
connect=$(sed -n 's/.*connected in \(.*\))/\1/p' "$out/holder.log")
echo "$n idle sessions: load $load; app RSS $before -> $after KiB: $(( (after - before) * 1024 / n )) bytes per session; connected in $connect"
