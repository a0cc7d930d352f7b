#!/usr/bin/env bash
# What touching one core node costs the developer (issue 8): after a warm build, touch the
# Set node's source and time `cargo build` (the server) and `cargo test --no-run` (every test
# binary), median of three each, and list the crates recompiled.
#   scripts/bench-rebuild.sh [checkout]   (default: this one; pass an older checkout to compare)
set -euo pipefail
tree="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$tree"
node=$(find crates \( -path '*/nodes/set.rs' -o -path '*/core-nodes/src/set.rs' \) | head -n 1)
[ -n "$node" ] || { echo "no Set node source under $tree/crates" >&2; exit 1; }
cargo build --quiet && cargo test --workspace --no-run --quiet 2>/dev/null
median() { sort -n | sed -n 2p; }
timed() { # timed CMD... -> seconds (one decimal) after touching the node
  touch "$node"
  local start end
  start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N)
  echo "scale=1; ($end - $start) / 1000000000" | bc
}
build=$(for _ in 1 2 3; do timed cargo build; done | median)
tests=$(for _ in 1 2 3; do timed cargo test --workspace --no-run; done | median)
touch "$node"
recompiled=$(cargo test --workspace --no-run 2>&1 | grep -E '^ *Compiling' | awk '{print $2}' | sort -u | tr '\n' ' ')
binaries=$(cargo test --workspace --no-run 2>&1 | grep -c 'Executable tests/' || true)
echo "checkout: $tree ($(git rev-parse --short HEAD)); node touched: $node; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cargo build after touching it: ${build} s (median of 3)"
echo "cargo test --workspace --no-run after touching it: ${tests} s (median of 3)"
echo "crates recompiled: $recompiled"
echo "integration-test binaries linked: $binaries"
