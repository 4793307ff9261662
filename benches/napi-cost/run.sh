#!/usr/bin/env bash
# Builds the four variants (one feature per build: cargo unifies features only within one build,
# so the variants share the target folder's dependencies but never each other's napi features)
# and runs the driver: `./run.sh [rounds]`, or `./run.sh smoke` for the quick check CI runs
# (debug builds, a few calls, every variant answering the same).
# Writes ../results/napi-cost.json (not in smoke mode) and prints the tables quoted in
# ../README.md.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-7}
target=${CARGO_TARGET_DIR:-target}
profile=release
flags=(--release)
if [ "$mode" = smoke ]; then
  profile=debug
  flags=()
fi
mkdir -p "$target/variants"
for v in raw raw-registered napi compat; do
  cargo build --quiet "${flags[@]}" --features "$v" --target-dir "$target"
  cp "$target/$profile/libultra_napi_cost.so" "$target/variants/$v.node"
done
if [ "$mode" = smoke ]; then
  exec node bench.mjs "$target/variants" smoke
fi
exec node bench.mjs "$target/variants" "$mode" ../results/napi-cost.json
