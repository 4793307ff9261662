#!/usr/bin/env bash
# Builds each allocator variant into its own target folder (so cargo never unifies the
# baseline's features with ultra's), then runs them interleaved: `./run.sh [rounds]`.
# Writes ../results/alloc-cost.json and prints the tables quoted in ../README.md.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5}
for v in raw raw-stats counting attribution; do
  cargo build --release --quiet --no-default-features --features "$v" --target-dir "target/$v"
done
exec "target/raw/release/compare" target "$rounds" ../results/alloc-cost.json
