#!/usr/bin/env bash
# Where an idle session's memory goes: the release app under heaptrack with N
# idle WebSocket sessions (each subscribed to bench/#, as in a measurement),
# then the allocations still live while they are held, less those of the same
# app with no session. Usage: bench/scripts/heap-profile.sh [N] [OUT_DIR]
# Needs: mosquitto, heaptrack (heaptrack_print), a release build of
# example-app and mqtt-bench (cargo build --release -p example-app -p mqtt-bench).
set -euo pipefail
n=${1:-1000}
out=${2:-$(mktemp -d)}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/release
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'persistence false\nallow_anonymous true\nlistener %s 127.0.0.1\n' "$port" >"$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT

# One profile: the app under heaptrack, `sessions` idle sessions held, then the
# app killed while they are held, so that what heaptrack reports as leaked is
# exactly what was live in that idle state.
profile() {
    local sessions=$1 name=$2
    MQTT_BROKER_URL=127.0.0.1 MQTT_BROKER_PORT=$port HTTP_BIND=127.0.0.1:0 RUST_LOG=warn \
        WS_MAX_SESSIONS_PER_IP=1000000 WS_MAX_SESSIONS=1000000 \
        heaptrack -o "$out/$name" "$bin/example-app" >"$out/$name.stdout" 2>&1 &
    local tracker=$! holder=""
    local addr=""
    for _ in $(seq 600); do
        addr=$(sed -n 's|^listening on http://||p' "$out/$name.stdout" | head -1)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { echo "the app did not start: $(cat "$out/$name.stdout")" >&2; exit 1; }
    until curl -sf "http://$addr/readyz" >/dev/null; do sleep 0.1; done
    local app
    app=$(pgrep -n -f "^$bin/example-app" || true)
    if [ "$sessions" -gt 0 ]; then
        "$bin/mqtt-bench" --idle-sessions "$sessions" --app-addr "$addr" --hold-seconds 3600 &
        holder=$!
        # Wait until the app counts every session, then let it settle.
        until [ "$(curl -sf "http://$addr/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])')" -ge "$sessions" ]; do
            sleep 0.5
        done
    fi
    sleep 2
    grep VmRSS "/proc/$app/status" | tee "$out/$name.rss"
    kill -KILL "$app"
    if [ -n "$holder" ]; then kill "$holder"; wait "$holder" 2>/dev/null || true; fi
    wait "$tracker" 2>/dev/null || true
}
profile 0 idle0
profile "$n" "idle$n"
data() { ls "$out/$1".zst "$out/$1".gz 2>/dev/null | head -1; }
heaptrack_print -f "$(data "idle$n")" -d "$(data idle0)" --print-leaks -n 25 -s 3 >"$out/diff.txt" 2>&1 || true
echo "heap data and the diff (leaked = live while $n sessions were held) in $out"
