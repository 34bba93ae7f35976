#!/usr/bin/env bash
# Measures vigil-api query latency with ghz (installed by deploy/local/go-tools,
# calls through server reflection) against whatever the store holds — fill
# it first, e.g. with a million events:
#   target/release/vigil-loadtest fill --events 1000000 --days 7
# and run enricher, writer and API (release) until the writer caught up.
# Four query shapes, each run closed-loop with C concurrent callers for N
# calls: a commune's last hour, the province's last 24 h (first page), a
# plate's 30-day trajectory, and a day of counts (commune and province).
# Prints p50/p90/p99 per shape.
# Usage: loadtest/api-bench.sh [calls] [concurrency]   (API on 127.0.0.1:50051)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
calls=${1:-1000}
concurrency=${2:-4}
api=${VIGIL_API_ADDRESS:-127.0.0.1:50051}
vigilctl=${VIGILCTL:-target/release/vigilctl}
ghz=$(deploy/local/go-tools ghz | awk '{ print $2 }')
work=$(mktemp -d /tmp/vigil-api-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

token=$("$vigilctl" token issue --name api-bench --role province-operator --zone th --expires-in 1h)
export VIGIL_API_TOKEN=$token
# The commune with the most cameras: the busiest partitions.
commune=$("$vigilctl" fleet --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(max(rows, key=lambda r: int(r["cameras"]))["commune"])')
now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
hour_ago=$(iso $((now - 3600))); day_ago=$(iso $((now - 86400)))
month_ago=$(iso $((now - 30 * 86400))); end=$(iso "$now")
stored=$("$vigilctl" counts --zone th --since 7days --json | python3 -c '
import json, sys; print(sum(int(r["count"]) for r in json.load(sys.stdin)))')
echo "store holds $stored events of the last 7 days; busiest commune $commune; $calls calls x $concurrency concurrent per shape"

bench() { # name method json
    local file
    file=$(tr -c 'a-z0-9' '_' <<<"$1")
    "$ghz" --insecure --call "$2" -d "$3" \
        -m "{\"authorization\":\"Bearer $token\"}" \
        -n "$calls" -c "$concurrency" --connections 1 -O json "$api" >"$work/$file.json" 2>"$work/$file.err" || {
        cat "$work/$file.err" >&2; exit 1; }
    python3 - "$1" "$work/$file.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
lat = {d["percentage"]: d["latency"] / 1e6 for d in r["latencyDistribution"] or []}
errors = sum(v for k, v in (r.get("statusCodeDistribution") or {}).items() if k != "OK")
print(f"{name:<34} p50 {lat.get(50, 0):8.1f} ms  p90 {lat.get(90, 0):8.1f} ms  "
      f"p99 {lat.get(99, 0):8.1f} ms  {r['rps']:7.1f} calls/s  errors {errors}")
PY
}

echo "shape                              latency (ms), closed loop"
bench "commune, last hour, 100/page" vigil.v1.QueryService/ListEvents \
    "{\"zone_id\":\"$commune\",\"window\":{\"start\":\"$hour_ago\",\"end\":\"$end\"},\"page_size\":100}"
bench "province, last 24 h, first page" vigil.v1.QueryService/ListEvents \
    "{\"zone_id\":\"th\",\"window\":{\"start\":\"$day_ago\",\"end\":\"$end\"},\"page_size\":100}"
bench "plate trajectory, 30 days" vigil.v1.QueryService/PlateTrajectory \
    "{\"plate\":\"36A-123.45\",\"window\":{\"start\":\"$month_ago\",\"end\":\"$end\"},\"reason\":\"benchmark\",\"page_size\":1000}"
bench "counts, commune, one day" vigil.v1.QueryService/CountEvents \
    "{\"zone_id\":\"$commune\",\"window\":{\"start\":\"$day_ago\",\"end\":\"$end\"}}"
bench "counts, province, one day" vigil.v1.QueryService/CountEvents \
    "{\"zone_id\":\"th\",\"window\":{\"start\":\"$day_ago\",\"end\":\"$end\"}}"
