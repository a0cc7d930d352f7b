#!/usr/bin/env bash
# Memory per item and per webhook byte (issue 12, items 7 and 8): the release server on SQLite,
# executions saved (default policy, run data included), resident memory (VmRSS of
# /proc/PID/status) sampled every 100 ms.
#   scripts/bench-memory.sh [items|bodies|all]
# items:  one execution of Webhook -> Split Out -> Set over 100,000 items (a ~10 MB JSON body
#         Split Out turns into 100,000 items), run twice. Prints idle, peak during each run
#         (and above idle), and RSS 30 s after each run's answer.
# bodies: 24 concurrent webhook calls with a 15 MiB JSON body each (Webhook -> Set). Prints
#         idle, peak, and peak above idle as a multiple of the bytes in flight.
# BENCH_BIN=path runs another build of the server (default target/release/switchyard, built
# here as the Dockerfile builds it, with jemalloc); extra settings can be passed in the
# environment (the allocator's too: _RJEM_MALLOC_CONF, MALLOC_ARENA_MAX, MIMALLOC_PURGE_DELAY).
# Needs curl, jq, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release --quiet --features switchyard/jemalloc --bin switchyard
  BENCH_BIN=target/release/switchyard
fi
bin="$BENCH_BIN"
dir=$(mktemp -d)
pid=""
sampler=""
cleanup() {
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

export SWITCHYARD_DATA_DIR="$dir" SWITCHYARD_ENCRYPTION_KEY=$(openssl rand -hex 32) SWITCHYARD_LOG=warn
port=$((20000 + RANDOM % 20000))
export SWITCHYARD_LISTEN="127.0.0.1:$port"
base="http://127.0.0.1:$port"
key=$("$bin" api-key create --name bench | tail -n 1)
"$bin" start & pid=$!
until curl -fs -o /dev/null "$base/healthz"; do sleep 0.02; done

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
# Samples VmRSS every 100 ms into $dir/rss ("epoch-ms kB" per line) until killed.
python3 - "$pid" "$dir/rss" <<'PY' &
import sys, time
pid, out = sys.argv[1], sys.argv[2]
with open(out, "w", buffering=1) as f:
    while True:
        try:
            with open(f"/proc/{pid}/status") as s:
                kb = next(int(l.split()[1]) for l in s if l.startswith("VmRSS"))
        except (FileNotFoundError, StopIteration):
            break
        f.write(f"{int(time.time() * 1000)} {kb}\n")
        time.sleep(0.1)
PY
sampler=$!
now_ms() { date +%s%3N; }
# Highest sample taken between two epoch-ms times.
peak_kb() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 > m { m = $2 } END { print m + 0 }' "$dir/rss"; }

create() {   # workflow JSON on stdin; prints nothing, activates it
  local id
  id=$(curl -fs -H "X-N8N-API-KEY: $key" -H 'content-type: application/json' \
         --data-binary @- "$base/api/v1/workflows" | jq -r .id)
  curl -fs -o /dev/null -X POST -H "X-N8N-API-KEY: $key" "$base/api/v1/workflows/$id/activate"
}

jq -n '{
  name: "memory items", settings: {executionOrder: "v1"},
  nodes: [
    {name: "Webhook", type: "n8n-nodes-base.webhook", typeVersion: 2, position: [0, 0],
     parameters: {httpMethod: "POST", path: "mem-items", responseMode: "onReceived", options: {}}},
    {name: "Split Out", type: "n8n-nodes-base.splitOut", typeVersion: 1, position: [200, 0],
     parameters: {fieldToSplitOut: "body.items", options: {}}},
    {name: "Set", type: "n8n-nodes-base.set", typeVersion: 3.4, position: [400, 0],
     parameters: {includeOtherFields: true, assignments: {assignments: [
       {id: "a", name: "total", value: "={{ $json.qty * $json.price }}", type: "number"},
       {id: "b", name: "label", value: "={{ $json.name }}", type: "string"}]}, options: {}}}
  ],
  connections: {
    Webhook: {main: [[{node: "Split Out", type: "main", index: 0}]]},
    "Split Out": {main: [[{node: "Set", type: "main", index: 0}]]}
  }}' | create
jq -n '{
  name: "memory bodies", settings: {executionOrder: "v1"},
  nodes: [
    {name: "Webhook", type: "n8n-nodes-base.webhook", typeVersion: 2, position: [0, 0],
     parameters: {httpMethod: "POST", path: "mem-bodies", responseMode: "onReceived", options: {}}},
    {name: "Set", type: "n8n-nodes-base.set", typeVersion: 3.4, position: [200, 0],
     parameters: {assignments: {assignments: [
       {id: "a", name: "first", value: "={{ $json.body.records[0].id }}", type: "number"}]}, options: {}}}
  ],
  connections: {Webhook: {main: [[{node: "Set", type: "main", index: 0}]]}}}' | create

python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
# 100,000 small records (~90 bytes of JSON each).
items = [{"id": i, "name": f"item {i}", "email": f"user{i}@example.com", "qty": i % 10, "price": 1.5}
         for i in range(100_000)]
with open(f"{d}/items.json", "w") as f:
    json.dump({"items": items}, f)
# A body of exactly 15 MiB: records with a 200-character note, padded at the end.
target = 15 * 1024 * 1024
records, size, i = [], 20, 0
while True:
    r = {"id": i, "note": "x" * 200, "tags": ["a", "b"]}
    n = len(json.dumps(r)) + 2
    if size + n > target - 64:
        break
    records.append(r); size += n; i += 1
body = json.dumps({"records": records, "pad": ""})
body = body[:-2] + "x" * (target - len(body)) + '"}'
assert len(body) == target, len(body)
with open(f"{d}/body.json", "w") as f:
    f.write(body)
PY

sleep 2
idle_kb=$(rss_kb)
echo "idle (two active workflows): $(mb "$idle_kb")"

run_items() {   # one execution over 100,000 items; prints peak and RSS 30 s after the answer
  local start end code after
  start=$(now_ms)
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
           --data-binary @"$dir/items.json" "$base/webhook/mem-items")
  end=$(now_ms)
  [ "$code" = 200 ] || { echo "webhook answered $code" >&2; exit 1; }
  sleep 30
  after=$(rss_kb)
  local peak
  peak=$(peak_kb "$start" "$((end + 30000))")
  echo "run $1 (100,000 items, answered in $((end - start)) ms): peak $(mb "$peak"), $(mb $((peak - idle_kb))) above idle ($(( (peak - idle_kb) * 1024 / 100000 )) bytes per item); 30 s after: $(mb "$after"), $(mb $((after - idle_kb))) above idle"
}

run_bodies() {   # 24 concurrent 15 MiB calls
  local start end peak after calls=24 pids=() failed=0
  start=$(now_ms)
  for _ in $(seq "$calls"); do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' \
      --data-binary @"$dir/body.json" "$base/webhook/mem-bodies" >>"$dir/codes" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  end=$(now_ms)
  [ "$failed" = 0 ] && [ "$(sort -u "$dir/codes")" = 200 ] \
    || { echo "calls failed: $(sort "$dir/codes" | uniq -c | tr '\n' ' ')" >&2; exit 1; }
  rm -f "$dir/codes"
  sleep 30
  after=$(rss_kb)
  peak=$(peak_kb "$start" "$end")
  local flight=$((calls * 15 * 1024))   # kB
  echo "bodies ($calls x 15 MiB = $(mb "$flight") in flight, all answered in $((end - start)) ms): peak $(mb "$peak"), $(mb $((peak - idle_kb))) above idle = $(awk -v p=$((peak - idle_kb)) -v f="$flight" 'BEGIN { printf "%.2f", p / f }')x the bytes in flight; 30 s after: $(mb "$after")"
}

case "$what" in
  items) run_items 1; run_items 2 ;;
  bodies) run_bodies ;;
  all) run_items 1; run_items 2; run_bodies ;;
  *) echo "usage: $0 [items|bodies|all]" >&2; exit 2 ;;
esac
