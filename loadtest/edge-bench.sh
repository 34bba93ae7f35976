#!/usr/bin/env bash
# Measures the edge agent against the local stack (release build):
#   1. sustained publish rate per CPU core: a saturating simulator, events
#      sent to Kafka divided by the agent's CPU seconds;
#   2. replay rate from the disk spool: Kafka stopped while the agent spools,
#      then started; spooled entries drained per second;
#   3. resident memory serving 64 simulated cameras at the default rate.
# Usage: loadtest/edge-bench.sh [seconds-per-phase]   (default 30)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
phase=${1:-30}
agent=target/release/vigil-edge
work=$(mktemp -d /tmp/vigil-edge-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "==> building (release)"
cargo build --quiet --release -p vigil-edge -p vigilctl
deploy/local/stack up >/dev/null
prefix="bench$(date +%s)."
target/release/vigilctl setup --topic-prefix "$prefix" --keyspace vigil >/dev/null

metric() { # metric PORT SERIES
    curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s { print $2 }' | head -1
}
cpu_seconds() { # utime+stime of PID, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
start_agent() { # start_agent PORT DIR ARGS...; sets $pid
    local port=$1 dir=$2; shift 2
    "$agent" --site-id bench --topic-prefix "$prefix" --spool-dir "$dir" \
        --http-listen "127.0.0.1:$port" --log warn "$@" >/dev/null 2>>"$work/agent.log" &
    pid=$!
}
wait_http() { until curl -sf "http://127.0.0.1:$1/healthz" >/dev/null; do sleep 0.2; done; }

echo "==> 1. publish rate (saturating simulator, ${phase}s)"
start_agent 18070 "$work/p1" --simulate-cameras 2000 --simulate-rate 50 \
    --simulate-day-night false --simulate-bursts false
wait_http 18070
sleep 3
sent0=$(metric 18070 vigil_edge_events_sent_total); cpu0=$(cpu_seconds "$pid")
sleep "$phase"
sent1=$(metric 18070 vigil_edge_events_sent_total); cpu1=$(cpu_seconds "$pid")
kill -TERM "$pid"; wait "$pid" || true
awk -v s0="$sent0" -v s1="$sent1" -v c0="$cpu0" -v c1="$cpu1" -v t="$phase" 'BEGIN {
    printf "   sent %d in %ds = %.0f events/s using %.2f cores -> %.0f events/s per core\n",
        s1 - s0, t, (s1 - s0) / t, (c1 - c0) / t, (s1 - s0) / (c1 - c0) }'

echo "==> 2. replay rate from the spool"
deploy/local/stack stop-kafka >/dev/null
start_agent 18071 "$work/p2" --simulate-cameras 2000 --simulate-rate 50 \
    --simulate-day-night false --simulate-bursts false --simulate-limit 200000
wait_http 18071
until [ "$(metric 18071 'vigil_edge_events_accepted_total{source="simulator"}')" = 200000 ]; do sleep 1; done
spooled=$(metric 18071 vigil_edge_spool_entries)
deploy/local/stack start-kafka >/dev/null
start=$(date +%s.%N)
until [ "$(metric 18071 vigil_edge_events_sent_total)" = 200000 ]; do sleep 0.2; done
end=$(date +%s.%N)
kill -TERM "$pid"; wait "$pid" || true
awk -v n=200000 -v s="$start" -v e="$end" -v sp="$spooled" 'BEGIN {
    printf "   %d spooled while Kafka was down; all 200000 sent %.1fs after it returned = %.0f events/s\n",
        sp, e - s, n / (e - s) }'

echo "==> 3. memory serving 64 simulated cameras (default rate, ${phase}s)"
start_agent 18072 "$work/p3" --simulate-cameras 64 --heartbeat-interval 5s
wait_http 18072
sleep "$phase"
echo "   RSS $(rss_mib "$pid") MiB after ${phase}s; sent $(metric 18072 vigil_edge_events_sent_total) events, $(metric 18072 vigil_edge_heartbeats_sent_total) heartbeats"
kill -TERM "$pid"; wait "$pid" || true
