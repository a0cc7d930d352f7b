#!/usr/bin/env bash
# The Salesforce node through the engine (issue 9): the release server and the fake org
# (release binary, loopback), a client credentials credential, and manual runs of
#   Manual Trigger -> Code (makes N items) -> Salesforce contact create
# for N = 100,000 (Bulk API 2.0), then, with the server restarted so its peak memory is the
# search's own,
#   Manual Trigger -> Salesforce search "SELECT Id, LastName FROM Contact" over those 100,000,
# then N = 1,000 and 10,000 (sObject Collections).
# Calls are counted from the fake org's per-endpoint counters (/__fake/counters), before and
# after each run; time is the wall clock of `POST /run?wait=true` (the execution stored).
#   scripts/bench-salesforce.sh     (BENCH_BULK_N=20000: a smaller bulk run and search)
# Needs curl, jq, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_BIN=target/debug: use already built binaries (a quick check of the script).
bin="${BENCH_BIN:-target/release}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet --features switchyard/jemalloc --bin switchyard --bin salesforce-fake
bulk="${BENCH_BULK_N:-100000}"
dir=$(mktemp -d)
fake_pid=""
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$fake_pid" ]; then kill -TERM "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

SALESFORCE_FAKE_LOG=warn "$bin/salesforce-fake" --client-credentials-user bench@example.com \
  --consumer-key bench-key --consumer-secret bench-secret --daily-limit 10000000 >"$dir/fake.out" &
fake_pid=$!
until [ -s "$dir/fake.out" ]; do sleep 0.02; done
org=$(head -n 1 "$dir/fake.out" | awk '{print $NF}')

export SWITCHYARD_DATA_DIR="$dir" SWITCHYARD_ENCRYPTION_KEY=$(openssl rand -hex 32) SWITCHYARD_LOG=warn
export SWITCHYARD_ALLOW_INSECURE_HOSTS=true
port=$((20000 + RANDOM % 20000))
export SWITCHYARD_LISTEN="127.0.0.1:$port"
base="http://127.0.0.1:$port"
key=$("$bin/switchyard" api-key create --name bench | tail -n 1)
start() {
  "$bin/switchyard" start & pid=$!
  until curl -fs -o /dev/null "$base/healthz"; do sleep 0.02; done
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
api() { curl -sS --fail-with-body -H "X-N8N-API-KEY: $key" -H 'content-type: application/json' "$@"; }

start
credential=$(jq -n --arg url "$org" '{name: "bench", type: "salesforceClientCredentialsApi",
  data: {url: $url, clientId: "bench-key", clientSecret: "bench-secret"}}' \
  | api --data-binary @- "$base/api/v1/credentials" | jq -r .id)

# REST calls so far (the token endpoint is not a REST call).
calls() { curl -fs "$org/__fake/counters" | jq '[to_entries[] | select(.key | contains("/services/data")) | .value] | add // 0'; }
by_endpoint() { curl -fs "$org/__fake/counters" | jq -c 'with_entries(select(.key | contains("/services/data")))'; }

create_workflow() {
  jq -n --argjson n "$1" --arg cred "$credential" '{
    name: "create \($n) contacts", settings: {executionOrder: "v1"},
    nodes: [
      {name: "Start", type: "n8n-nodes-base.manualTrigger", typeVersion: 1, parameters: {}},
      {name: "Make", type: "n8n-nodes-base.code", typeVersion: 2,
       parameters: {jsCode: "return Array.from({length: \($n)}, (_, i) => ({json: {last: `Bench \($n)-${i}`, email: `c${i}@example.com`}}));"}},
      {name: "Create", type: "n8n-nodes-base.salesforce", typeVersion: 1,
       parameters: {authentication: "clientCredentials", resource: "contact", operation: "create",
                    lastname: "={{ $json.last }}", additionalFields: {email: "={{ $json.email }}"}},
       credentials: {salesforceClientCredentialsApi: {id: $cred, name: "bench"}}}
    ],
    connections: {Start: {main: [[{node: "Make", type: "main", index: 0}]]},
                  Make: {main: [[{node: "Create", type: "main", index: 0}]]}}}' \
  | api --data-binary @- "$base/api/v1/workflows" | jq -r .id
}

search_workflow() {
  jq -n --arg cred "$credential" '{
    name: "search contacts", settings: {executionOrder: "v1"},
    nodes: [
      {name: "Start", type: "n8n-nodes-base.manualTrigger", typeVersion: 1, parameters: {}},
      {name: "Search", type: "n8n-nodes-base.salesforce", typeVersion: 1,
       parameters: {authentication: "clientCredentials", resource: "search",
                    query: "SELECT Id, LastName FROM Contact"},
       credentials: {salesforceClientCredentialsApi: {id: $cred, name: "bench"}}}
    ],
    connections: {Start: {main: [[{node: "Search", type: "main", index: 0}]]}}}' \
  | api --data-binary @- "$base/api/v1/workflows" | jq -r .id
}

# Runs workflow $1 and prints: status, items out of node $2, REST calls, ms, per-endpoint calls.
run() {
  local before after start_ns ms out status items
  before=$(calls)
  start_ns=$(date +%s%N)
  out=$(api -d "{}" "$base/api/v1/workflows/$1/run?wait=true") || { echo "run answered: $out" >&2; exit 1; }
  ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  after=$(calls)
  status=$(jq -r .status <<<"$out")
  items=$(jq --arg n "$2" '.data.resultData.runData[$n][0].data.main[0] | length' <<<"$out")
  [ "$status" = success ] || { echo "run failed: $(jq -c .error <<<"$out" | head -c 2000)" >&2; exit 1; }
  echo "$status items=$items calls=$((after - before)) ms=$ms"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $load_before"
# 100,000 first, so that the search reads exactly those 100,000 contacts.
id=$(create_workflow "$bulk"); [ "$id" != null ]
r=$(run "$id" Create); echo "create $bulk: $r"
echo "  endpoints so far: $(by_endpoint)"
stop

start
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
idle_kb=$(hwm_kb)
id=$(search_workflow)
r=$(run "$id" Search); echo "search: $r"
peak_kb=$(hwm_kb)
echo "server peak resident memory: before the search $((idle_kb / 1024)) MB, after it $((peak_kb / 1024)) MB"
echo "  endpoints so far: $(by_endpoint)"

for n in 1000 10000; do
  id=$(create_workflow "$n")
  r=$(run "$id" Create); echo "create $n: $r"
done
echo "  endpoints so far: $(by_endpoint)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
