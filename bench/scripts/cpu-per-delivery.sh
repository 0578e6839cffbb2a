#!/usr/bin/env bash
# App CPU per million deliveries, by `perf stat` (task-clock of the app
# process, which is less sensitive to the machine's load than throughput):
# one fixed-rate step of mqtt-bench against the app only, with `perf stat`
# attached to the app from the moment every receiver is connected until the
# step has drained. Prints one line: load, task-clock, deliveries, CPU s per
# million deliveries (perf, and /proc as a cross-check), p99.
# Usage: bench/scripts/cpu-per-delivery.sh [RECEIVERS] [RATE] [SECONDS] [BROKER] [DECODE] [APP]
# (defaults: 1000 200 10 nodelay stamp target/release/example-app).
# Needs: linux-perf, jq, mosquitto, a release build of example-app and mqtt-bench
# (MQTT_BENCH=path picks another mqtt-bench binary).
set -euo pipefail
n=${1:-1000}
rate=${2:-200}
secs=${3:-10}
broker=${4:-nodelay}
decode=${5:-stamp}
root=$(cd "$(dirname "$0")/../.." && pwd)
app=${6:-$root/target/release/example-app}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Made here, not by the background job's redirection, which may come late.
: >"$out/progress.log"
"${MQTT_BENCH:-$root/target/release/mqtt-bench}" --json --targets app --receivers "$n" --no-ladder \
    --fixed-rates "$rate" --seconds "$secs" --broker "$broker" --decode "$decode" \
    --app "$app" >"$out/report.json" 2>"$out/progress.log" &
bench=$!
pid=""
until [ -n "$pid" ] && grep -q "^app x$n: connected" "$out/progress.log"; do
    kill -0 "$bench" 2>/dev/null || { cat "$out/progress.log" >&2; exit 1; }
    pid=$(sed -n 's/.*app pid \([0-9]*\) on.*/\1/p' "$out/progress.log" | head -1 || true)
    sleep 0.05
done
# The settle before the step (0.2 s and more), the step, its drain.
window=$(echo "$secs + 1.5" | bc)
if [ -n "${PERF_RECORD:-}" ]; then
    # A profile instead (call graphs, software clock): perf report -i "$PERF_RECORD".
    timeout -s INT "$window" perf record -e cpu-clock -g -o "$PERF_RECORD" -p "$pid" >/dev/null 2>&1 || true
    perf report -i "$PERF_RECORD" --stdio 2>/dev/null | grep -m1 "^# Event count" |
        awk '{printf "task-clock,%f\n", $NF / 1e6}' >"$out/perf.csv" || true
else
    perf stat -e task-clock,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev \
        -x, -o "$out/perf.csv" -p "$pid" -- sleep "$window" >/dev/null 2>&1
fi
wait "$bench"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
task_ms=$(grep task-clock "$out/perf.csv" | cut -d, -f1)
# Writes to sockets: one per chunk a session hands to its connection.
writes=$(grep -E "sys_enter_(sendto|write|writev)" "$out/perf.csv" | cut -d, -f1 | paste -sd+ | bc 2>/dev/null || echo 0)
jq -r --arg writes "${writes:-0}" --arg task "$task_ms" --arg lb "$load_before" --arg la "$load_after" \
    --arg cfg "$broker/$decode" '
    .configs[0].runs[0][0].app.fixed[0].step as $s
    | "\($cfg) x\(.configs[0].runs[0][0].receivers) @ \($s.offered) msg/s: load \($lb) -> \($la); "
      + "task-clock \(($task|tonumber)/1000 | .*1000|round/1000) s, deliveries \($s.delivered) "
      + "(worst receiver \($s.min_fraction*100|.*100|round/100)%, lagged \($s.lagged)); "
      + "CPU s per million deliveries: perf \(($task|tonumber)/1000/$s.delivered*1e6 | .*1000|round/1000), "
      + "/proc (step only) \($s.cpu_s/$s.delivered*1e6 | .*1000|round/1000); "
      + "writes per delivery \(($writes|tonumber)/$s.delivered | .*1000|round/1000), "
      + "CPU per write \(if ($writes|tonumber) > 0 then ($task|tonumber)*1000/($writes|tonumber) | .*100|round/100 else 0 end) us; "
      + "p50 \($s.p50_ms|.*100|round/100) ms, p99 \($s.p99_ms|.*100|round/100) ms"' "$out/report.json"
