#!/usr/bin/env bash
# A province-sized fleet through the three-node cluster (issue 19, item 5).
#
# Seeds a fresh namespace with N cameras (vigilctl setup + registry seed),
# runs two enrichers, two writers and the API against the cluster, and two
# edge agents that simulate every camera at a scaled-down rate per camera,
# each sending a heartbeat per camera every interval:
#   edge A: cameras 1 .. N-1000, for the whole run;
#   edge B: the last 1,000 cameras, stopped after a tenth of the run, so the
#           writers must mark exactly those cameras offline before it ends.
# Every 30 s it prints events sent and written, heartbeats stored, the
# writers' consumer lag and the cameras marked offline; at the end the
# fleet as the API reports it (and how long FleetStatus took), and the
# RSS and CPU seconds of every process, services and cluster nodes.
#
# Usage: loadtest/province-bench.sh [cameras] [events/s] [minutes] [heartbeat s]
#   defaults: 100000 cameras, 25 events/s (about half of the cluster's
#   pipeline rate on a 2-core box), 10 minutes, a heartbeat every 240 s;
#   the writers mark a camera offline after two missed heartbeats
# Needs the cluster (deploy/local/stack --cluster up) and release builds
# (cargo build --release --workspace --bins).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cameras=${1:-100000}
rate=${2:-25}
minutes=${3:-10}
heartbeat_s=${4:-240}
dark=1000
bin=target/release
for tool in vigilctl vigil-edge vigil-enricher vigil-writer vigil-api; do
    [ -x "$bin/$tool" ] || { echo "province-bench: $bin/$tool is missing; run cargo build --release --workspace --bins" >&2; exit 1; }
done
deploy/local/stack --cluster status >/dev/null ||
    { echo "province-bench: the cluster is not running; start it with deploy/local/stack --cluster up" >&2; exit 1; }
while IFS= read -r setting; do export "${setting?}"; done < <(deploy/local/stack --cluster env)

work=$(mktemp -d /tmp/vigil-province-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; echo "logs kept in $work"' EXIT

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s { v += $2 } END { printf "%.0f", v }'; }
sum() { local total=0 port; for port in "${@:2}"; do total=$(( total + $(metric "$port" "$1") )); done; echo "$total"; }
wait_http() { until curl -sf "http://127.0.0.1:$1/healthz" >/dev/null; do sleep 0.5; done; }
rss_cpu() { # pid -> "RSS MiB, CPU s"
    awk -v hz="$(getconf CLK_TCK)" 'FNR == NR { if ($1 == "VmRSS:") rss = $2; next }
        { printf "%4d MiB RSS, %6.1f CPU s", rss / 1024, ($14 + $15) / hz }' "/proc/$1/status" "/proc/$1/stat"
}

stamp=$(date +%s)
prefix="province$stamp."
keyspace="province_$stamp"
export VIGIL_TOPIC_PREFIX=$prefix VIGIL_CQL_KEYSPACE=$keyspace VIGIL_LOG=warn
offline_after=$(( heartbeat_s * 2 ))
echo "==> $cameras cameras, $rate events/s in all, heartbeats every ${heartbeat_s}s ($(( cameras / heartbeat_s ))/s), offline after ${offline_after}s, ${minutes} min"
echo "==> namespace: topics $prefix*, keyspace $keyspace"
$bin/vigilctl setup >/dev/null
SECONDS=0
$bin/vigilctl registry seed --cameras "$cameras" >"$work/seed.log"
echo "==> registry seeded in ${SECONDS}s"

pids=()
start() { # name command...
    "${@:2}" >/dev/null 2>>"$work/$1.log" &
    pids+=("$1:$!")
}
for i in 1 2; do
    start "enricher-$i" $bin/vigil-enricher --metrics-listen "127.0.0.1:1908$i"
    start "writer-$i" $bin/vigil-writer --metrics-listen "127.0.0.1:1909$i" \
        --offline-after "${offline_after}s"
done
start api $bin/vigil-api --metrics-listen 127.0.0.1:19085 --listen 127.0.0.1:19051
for port in 19081 19082 19091 19092 19085; do wait_http "$port"; done
echo "==> services up: two enrichers, two writers, the API"

edge() { # name port (metrics and ingest) first count
    local per_camera
    per_camera=$(awk -v r="$rate" -v n="$cameras" 'BEGIN { printf "%.8f", r / n }')
    start "$1" $bin/vigil-edge --site-id "$1" --spool-dir "$work/spool-$1" \
        --http-listen "127.0.0.1:$2" --heartbeat-interval "${heartbeat_s}s" \
        --simulate-cameras "$4" --simulate-first-camera "$3" --simulate-rate "$per_camera" \
        --simulate-day-night false --simulate-bursts false
}
edge edge-a 19071 1 $(( cameras - dark ))
edge edge-b 19072 $(( cameras - dark + 1 )) "$dark"
edge_b_pid=$!
wait_http 19071
wait_http 19072

SECONDS=0
stop_b=$(( minutes * 60 / 10 ))
while [ "$SECONDS" -lt $(( minutes * 60 )) ]; do
    sleep 30
    if [ -n "$edge_b_pid" ] && [ "$SECONDS" -ge "$stop_b" ]; then
        kill -TERM "$edge_b_pid"
        edge_b_pid=
        echo "   t+${SECONDS}s: edge-b stopped; its $dark cameras should be marked offline ${offline_after}s after their last heartbeat"
    fi
    printf '   t+%4ss sent %7s written %7s heartbeats sent %7s stored %7s failed %s, writer lag %6s, offline %s\n' \
        "$SECONDS" "$(sum vigil_edge_events_sent_total 19071 19072)" \
        "$(sum vigil_writer_events_written_total 19091 19092)" \
        "$(sum vigil_edge_heartbeats_sent_total 19071 19072)" \
        "$(sum vigil_writer_heartbeats_stored_total 19091 19092)" \
        "$(sum vigil_edge_heartbeats_failed_total 19071 19072)" \
        "$(sum vigil_writer_consumer_lag_records 19091 19092)" \
        "$(sum vigil_writer_cameras_offline 19091 19092)"
done

# Edge B's cameras go offline 2 intervals after their last heartbeat was
# consumed: wait (3 min at most) for the writers to count them all.
until [ "$(sum vigil_writer_cameras_offline 19091 19092)" -ge "$dark" ] || [ "$SECONDS" -ge $(( minutes * 60 + 180 )) ]; do
    sleep 5
done
echo "   t+${SECONDS}s: the writers count $(sum vigil_writer_cameras_offline 19091 19092) cameras offline"

echo "==> the fleet through the API (FleetStatus of the province)"
$bin/vigilctl token issue --name province-bench --role province-operator --zone th \
    --output "$work/token" >/dev/null
VIGIL_API_TOKEN=$(cat "$work/token")
export VIGIL_API_TOKEN VIGIL_API_URL=http://127.0.0.1:19051
start_ns=$(date +%s%N)
$bin/vigilctl fleet --zone th >"$work/fleet.txt"
echo "   FleetStatus (province, $cameras cameras) answered in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
tail -n 3 "$work/fleet.txt"

echo "==> memory and CPU"
for entry in "${pids[@]}"; do
    name=${entry%%:*} pid=${entry#*:}
    kill -0 "$pid" 2>/dev/null && printf '   %-10s %s\n' "$name" "$(rss_cpu "$pid")"
done
deploy/local/stack --cluster status | sed 's/^/   /'
