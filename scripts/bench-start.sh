#!/usr/bin/env bash
# Measures `switchyard start` on SQLite: time from exec to the first 200 from /healthz
# (median of N fresh starts), and resident memory once idle. Uses the release binary.
#   scripts/bench-start.sh [runs]     (default 21)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-21}"
cargo build --release --quiet --features switchyard/jemalloc --bin switchyard
bin=target/release/switchyard
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export SWITCHYARD_DATA_DIR="$dir" SWITCHYARD_ENCRYPTION_KEY=$(openssl rand -hex 32) SWITCHYARD_LOG=warn
port=$((20000 + RANDOM % 20000))
export SWITCHYARD_LISTEN="127.0.0.1:$port"
"$bin" api-key create --name bench >/dev/null   # first start creates and migrates the database

times=()
for _ in $(seq "$runs"); do
  t0=$(date +%s%N)
  "$bin" start & pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.002; done
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
  kill -TERM "$pid"; wait "$pid"
done
median_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

"$bin" start & pid=$!
until curl -fs -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.01; done
sleep 2
rss_kb=$(ps -o rss= -p "$pid" | tr -d ' ')
kill -TERM "$pid"; wait "$pid"

echo "start to healthy (SQLite, median of $runs): $((median_us / 1000)).$(( (median_us % 1000) / 100 )) ms"
echo "idle resident memory: $((rss_kb / 1024)).$(( (rss_kb % 1024) * 10 / 1024 )) MB"
