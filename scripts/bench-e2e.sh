#!/usr/bin/env bash
# End-to-end ingest benchmark (docs/BENCHMARKS.md, figure 2): `trackd serve`
# on embedded SQLite and `trackd simulate` against it over loopback.
# Usage: scripts/bench-e2e.sh [DEVICES] [RATE_PER_DEVICE] [SECONDS]
set -euo pipefail
devices=${1:-1000}
rate=${2:-100}
seconds=${3:-60}
cd "$(dirname "$0")/.."
cargo build --release -p trackd >/dev/null
bin=target/release/trackd
data=$(mktemp -d)
port=${TRACKD_BENCH_PORT:-15027}
"$bin" serve --data-dir "$data" --register-unknown --bind 127.0.0.1 \
  --teltonika-port "$port" --http-port 0 --log warn &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
sleep 1
"$bin" simulate --target "127.0.0.1:$port" --devices "$devices" --rate "$rate" \
  --duration "$seconds" | tail -n 6
echo "server RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
kill -TERM $server
wait $server || true
bytes=$(du -cb "$data"/trackd.db* | tail -n 1 | cut -f1)
echo "database after shutdown: $bytes bytes"
