#!/usr/bin/env bash
# Webhook throughput (issue 5): the release server, 100 active workflows
# Webhook -> Set -> If -> Respond to Webhook, executions saved, loaded with wrk on one of them.
# Prints requests/s, latency percentiles, how many executions were stored, and resident memory
# (idle with 100 active workflows, and after the load).
#   scripts/bench-webhook.sh [sqlite|postgres] [duration] [connections] [wrk threads]
# Postgres: set BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432); a fresh
# database is created and dropped. BENCH_PERF=FILE records a perf profile of the server
# during the run. BENCH_BIN=PATH runs that binary instead of building this checkout's (to
# compare two builds in one sitting). Needs wrk, curl, jq (and psql or sqlite3 for the count).
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
duration="${2:-10s}"
connections="${3:-64}"
threads="${4:-2}"
workflows=100

if [ -n "${BENCH_BIN:-}" ]; then
  bin="$BENCH_BIN"
else
  cargo build --release --quiet --features switchyard/jemalloc --bin switchyard
  bin=target/release/switchyard
fi
dir=$(mktemp -d)
pid=""
pg_base="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
pg_db="switchyard_bench_$$"
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "$backend" = postgres ]; then psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

export SWITCHYARD_DATA_DIR="$dir" SWITCHYARD_ENCRYPTION_KEY=$(openssl rand -hex 32) SWITCHYARD_LOG=warn
port=$((20000 + RANDOM % 20000))
export SWITCHYARD_LISTEN="127.0.0.1:$port"
base="http://127.0.0.1:$port"
case "$backend" in
  sqlite) ;;
  postgres)
    psql -q "$pg_base/postgres" -c "CREATE DATABASE $pg_db" >/dev/null
    export DATABASE_URL="$pg_base/$pg_db" ;;
  *) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
esac

key=$("$bin" api-key create --name bench | tail -n 1)
"$bin" start & pid=$!
until curl -fs -o /dev/null "$base/healthz"; do sleep 0.02; done

workflow() {
  jq -n --arg name "bench $1" --arg path "bench-$1" '{
    name: $name, settings: {executionOrder: "v1"},
    nodes: [
      {name: "Webhook", type: "n8n-nodes-base.webhook", typeVersion: 2, position: [0, 0],
       parameters: {httpMethod: "POST", path: $path, responseMode: "responseNode", options: {}}},
      {name: "Set", type: "n8n-nodes-base.set", typeVersion: 3.4, position: [200, 0],
       parameters: {assignments: {assignments: [
         {id: "a", name: "total", value: "={{ $json.body.qty * $json.body.price }}", type: "number"},
         {id: "b", name: "customer", value: "={{ $json.body.customer }}", type: "string"}]}}},
      {name: "If", type: "n8n-nodes-base.if", typeVersion: 2.2, position: [400, 0],
       parameters: {conditions: {conditions: [{leftValue: "={{ $json.total }}", rightValue: 100,
         operator: {type: "number", operation: "gt"}}], combinator: "and"}}},
      {name: "Big", type: "n8n-nodes-base.respondToWebhook", typeVersion: 1.1, position: [600, -100],
       parameters: {respondWith: "firstIncomingItem", options: {responseCode: 200}}},
      {name: "Small", type: "n8n-nodes-base.respondToWebhook", typeVersion: 1.1, position: [600, 100],
       parameters: {respondWith: "firstIncomingItem", options: {responseCode: 202}}}
    ],
    connections: {
      Webhook: {main: [[{node: "Set", type: "main", index: 0}]]},
      Set: {main: [[{node: "If", type: "main", index: 0}]]},
      If: {main: [[{node: "Big", type: "main", index: 0}], [{node: "Small", type: "main", index: 0}]]}
    }}'
}
for i in $(seq 0 $((workflows - 1))); do
  id=$(workflow "$i" | curl -fs -H "X-N8N-API-KEY: $key" -H 'content-type: application/json' \
         --data-binary @- "$base/api/v1/workflows" | jq -r .id)
  curl -fs -o /dev/null -X POST -H "X-N8N-API-KEY: $key" "$base/api/v1/workflows/$id/activate"
  [ "$i" = 0 ] && first="$id"
done
answer=$(curl -fs -H 'content-type: application/json' -d '{"qty": 3, "price": 50, "customer": "acme"}' "$base/webhook/bench-0")
[ "$(jq -r .total <<<"$answer")" = 150 ] || { echo "unexpected webhook answer: $answer" >&2; exit 1; }
sleep 3
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
idle_kb=$(rss_kb)

count() {
  local sql="SELECT status, COUNT(*) FROM executions WHERE workflow_id = '$first' GROUP BY status ORDER BY status"
  case "$backend" in
    sqlite) sqlite3 "$dir/switchyard.db" "$sql" | tr '\n' ' ' ;;
    postgres) psql -qtA "$pg_base/$pg_db" -c "$sql" | tr '\n' ' ' ;;
  esac
}
# Executions are recorded just after their answer: wait (at most 20 s) until the stored
# counts stop moving and none is running, so every figure counts executions actually saved.
settle() {
  local last="" now
  for _ in $(seq 100); do
    now=$(count)
    if [ "$now" = "$last" ] && [[ "$now" != *running* ]]; then break; fi
    last=$now
    sleep 0.2
  done
  echo "$now"
}
successes() { grep -o 'success|[0-9]*' <<<"$1" | cut -d'|' -f2; }

lua="$dir/post.lua"
cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"qty": 3, "price": 50, "customer": "acme"}'
wrk.headers["Content-Type"] = "application/json"
LUA
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
wrk -t"$threads" -c"$connections" -d3s -s "$lua" "$base/webhook/bench-0" >/dev/null   # warm-up
before=$(successes "$(settle)")
start_ns=$(date +%s%N)
if [ -n "${BENCH_PERF:-}" ]; then   # BENCH_PERF=FILE: also profile the server during the run
  perf record -F 499 -g -p "$pid" -o "$BENCH_PERF" -- sleep "${duration%s}" >/dev/null 2>&1 &
  perf_pid=$!
fi
out=$(wrk -t"$threads" -c"$connections" -d"$duration" -s "$lua" --latency "$base/webhook/bench-0")
[ -n "${perf_pid:-}" ] && wait "$perf_pid"
loaded_kb=$(rss_kb)
stored=$(settle)
saved=$(( $(successes "$stored") - before ))
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
echo "$out"
echo "---"
echo "backend: $backend, $connections connections, $threads wrk threads, $duration; load average before: $load_before"
echo "requests/s: $(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
echo "latency p50 / p99: $(awk '$1 == "50%" {print $2}' <<<"$out") / $(awk '$1 == "99%" {print $2}' <<<"$out")"
echo "non-2xx or errors: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')"
echo "executions saved (success) during the run: $saved, for $(awk '/requests in/ {print $1}' <<<"$out") requests; all saved ${elapsed_ms} ms after the run began"
echo "saved executions/s, counted until the last was saved (includes ~0.4 s of polling): $(( saved * 1000 / elapsed_ms ))"
echo "stored for the loaded workflow now (status|count): $stored"
echo "resident memory idle with $workflows active workflows: $((idle_kb / 1024)).$(( (idle_kb % 1024) * 10 / 1024 )) MB; after the load: $((loaded_kb / 1024)).$(( (loaded_kb % 1024) * 10 / 1024 )) MB"
