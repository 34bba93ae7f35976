#!/usr/bin/env bash
# Measures enricher + writer against the local stack (release builds):
#   A. catch-up: a backlog of N detections is produced first (edge agent,
#      saturating simulator), then enricher and writer start; the time until
#      the writer has stored all N gives the pipeline's ceiling;
#   B. open loop: the edge simulator offers a fixed rate for a while with
#      the pipeline running; lag (sent by the edge - written) is sampled to
#      show whether it stays bounded.
# Both report CPU seconds per 1,000 events for each service.
# Usage: loadtest/pipeline-bench.sh [backlog] [open-loop-rate] [seconds]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
backlog=${1:-50000}
rate=${2:-1000}
seconds=${3:-60}
bin=target/release
work=$(mktemp -d /tmp/vigil-pipeline-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "==> building (release)"
cargo build --quiet --release -p vigil-edge -p vigil-enricher -p vigil-writer -p vigilctl
deploy/local/stack up >/dev/null

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s { print $2 }' | head -1; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
wait_http() { until curl -sf "http://127.0.0.1:$1/healthz" >/dev/null; do sleep 0.2; done; }
n() { printf '%.0f' "${1:-0}"; }

setup_run() { # a fresh topic prefix and keyspace, seeded with the province's cameras
    prefix="bench$(date +%s%N | cut -c1-13)."
    keyspace="bench_$(date +%s%N | cut -c1-13)"
    $bin/vigilctl setup --topic-prefix "$prefix" --keyspace "$keyspace" >/dev/null
    $bin/vigilctl registry --topic-prefix "$prefix" --keyspace "$keyspace" seed --cameras 10000 >/dev/null
    common=(--topic-prefix "$prefix" --log warn)
}
start_edge() { # start_edge ARGS...; sets edge
    $bin/vigil-edge "${common[@]}" --site-id bench --spool-dir "$work/spool-$prefix" \
        --http-listen 127.0.0.1:19070 --simulate-day-night false --simulate-bursts false "$@" \
        >/dev/null 2>>"$work/edge.log" &
    edge=$!
    wait_http 19070
}
start_pipeline() { # sets enricher, writer
    $bin/vigil-enricher "${common[@]}" --metrics-listen 127.0.0.1:19071 >/dev/null 2>>"$work/enricher.log" &
    enricher=$!
    $bin/vigil-writer "${common[@]}" --keyspace "$keyspace" --metrics-listen 127.0.0.1:19072 \
        >/dev/null 2>>"$work/writer.log" &
    writer=$!
    wait_http 19071
    wait_http 19072
}
written() { n "$(metric 19072 vigil_writer_events_written_total)"; }
per_thousand() { awk -v c="$1" -v e="$2" 'BEGIN { printf "%.2f", 1000 * c / e }'; }

echo "==> A. catch-up from a backlog of $backlog detections"
setup_run
start_edge --simulate-cameras 10000 --simulate-rate 10 --simulate-limit "$backlog"
until [ "$(n "$(metric 19070 vigil_edge_events_sent_total)")" -ge "$backlog" ]; do sleep 1; done
kill -TERM "$edge"; wait "$edge" || true
start_pipeline
start=$(date +%s.%N)
until [ "$(written)" -ge "$backlog" ]; do sleep 0.5; done
end=$(date +%s.%N)
e_cpu=$(cpu "$enricher"); w_cpu=$(cpu "$writer")
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')
echo "   $backlog events enriched and written in ${elapsed}s = $(awk -v n="$backlog" -v t="$elapsed" 'BEGIN { printf "%.0f", n / t }') events/s"
echo "   CPU s per 1,000 events: enricher $(per_thousand "$e_cpu" "$backlog"), writer $(per_thousand "$w_cpu" "$backlog") (start-up included)"
kill -TERM "$enricher" "$writer"; wait "$enricher" "$writer" || true

echo "==> B. open loop at $rate events/s for ${seconds}s"
setup_run
start_pipeline
cameras=$(( rate * 10 ))  # 0.1 events/s per camera
start_edge --simulate-cameras "$cameras" --simulate-rate 0.1
e_cpu0=$(cpu "$enricher"); w_cpu0=$(cpu "$writer"); x_cpu0=$(cpu "$edge"); w0=$(written)
max_lag=0
for _ in $(seq 1 $(( seconds / 5 ))); do
    sleep 5
    sent=$(n "$(metric 19070 vigil_edge_events_sent_total)")
    lag=$(( sent - $(written) ))
    [ "$lag" -gt "$max_lag" ] && max_lag=$lag
    printf '   t+%3ss sent %7d written %7d lag %6d\n' "$(( SECONDS ))" "$sent" "$(written)" "$lag"
done
events=$(( $(written) - w0 ))
echo "   $events events written at $(( events / seconds ))/s; max lag sampled $max_lag"
echo "   CPU s per 1,000 events: edge $(per_thousand "$(awk -v a="$(cpu "$edge")" -v b="$x_cpu0" 'BEGIN{print a-b}')" "$events"), enricher $(per_thousand "$(awk -v a="$(cpu "$enricher")" -v b="$e_cpu0" 'BEGIN{print a-b}')" "$events"), writer $(per_thousand "$(awk -v a="$(cpu "$writer")" -v b="$w_cpu0" 'BEGIN{print a-b}')" "$events")"
