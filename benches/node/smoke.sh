#!/usr/bin/env bash
# Runs every Node bench once with --quick (tiny counts), so none of them rots. Fails on the
# first error. Results go to a temporary folder, never over benches/results/.
#
# Installs this folder's devDependencies (npm ci) and ultra-node's own dependencies when they
# are missing. Uses the native addon when node/ has been built (`npm run build` in node/),
# the pure-JS fallback otherwise; ULTRA_BENCH_REQUIRE_NATIVE=1 makes a missing addon an error.
set -euo pipefail
cd "$(dirname "$0")"

npm_quiet() { npm "$@" --no-audit --no-fund --loglevel=error >/dev/null; }
[ -d ../../node/node_modules ] || (cd ../../node && npm_quiet ci)
[ -d node_modules/tinybench ] || npm_quiet ci

export ULTRA_BENCH_RESULTS="${ULTRA_BENCH_RESULTS:-$(mktemp -d)}"
native=$(node -p "require('ultra-node').isNative")
echo "bench smoke: ultra-node native=$native, results in $ULTRA_BENCH_RESULTS"
if [ "${ULTRA_BENCH_REQUIRE_NATIVE:-0}" = 1 ] && [ "$native" != true ]; then
  echo "bench smoke: the native addon did not load (build node/ first)" >&2
  exit 1
fi

start=$SECONDS
for script in cache hash json fallback gateway http-gateway startup steady; do
  t=$SECONDS
  timeout 120 node --expose-gc "$script.mjs" --quick >"$ULTRA_BENCH_RESULTS/$script.log" 2>&1 || {
    echo "bench smoke: $script.mjs failed; its output:" >&2
    cat "$ULTRA_BENCH_RESULTS/$script.log" >&2
    exit 1
  }
  echo "  $script.mjs ok ($((SECONDS - t)) s)"
done
node plot.mjs --quick >"$ULTRA_BENCH_RESULTS/plot.log" 2>&1 || { cat "$ULTRA_BENCH_RESULTS/plot.log" >&2; exit 1; }
echo "  plot.mjs ok"
echo "bench smoke: all Node benches ran ($((SECONDS - start)) s)"
