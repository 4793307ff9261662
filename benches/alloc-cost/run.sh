#!/usr/bin/env bash
# Builds each allocator variant into its own target folder (so cargo never unifies the
# baseline's features with ultra's), then runs them interleaved: `./run.sh [rounds]`.
# Writes ../results/alloc-cost.json and prints the tables quoted in ../README.md.
# `./run.sh [rounds] [group]` runs only the groups whose name contains `group` (e.g.
# `./run.sh 5 profiling` for the heap-profiling rows) and then writes
# ../results/alloc-cost-<group>.json instead.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}
group=${2:-}
for v in raw raw-stats counting attribution profiling; do
  cargo build --release --quiet --no-default-features --features "$v" --target-dir "target/$v"
done
out=../results/alloc-cost${group:+-${group// /-}}.json
exec "target/raw/release/compare" target "$rounds" "$out" "$group"
