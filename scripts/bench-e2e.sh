#!/usr/bin/env bash
# End-to-end ingest benchmark (docs/BENCHMARKS.md, figures 2 and 6): `trackd
# serve` on embedded SQLite and `trackd simulate` against it over loopback.
# Usage: scripts/bench-e2e.sh [DEVICES] [RATE_PER_DEVICE] [SECONDS] [PROTOCOL]
# PROTOCOL is teltonika (default), gt06 or osmand (one HTTP request per location).
set -euo pipefail
devices=${1:-1000}
rate=${2:-100}
seconds=${3:-60}
protocol=${4:-teltonika}
cd "$(dirname "$0")/.."
cargo build --release -p trackd >/dev/null
bin=target/release/trackd
data=$(mktemp -d)
base=${TRACKD_BENCH_PORT:-15027}
case "$protocol" in
  teltonika) port=$base ;;
  gt06) port=$((base + 1)) ;;
  osmand) port=$((base + 2)) ;;
  *) echo "unknown protocol $protocol" >&2; exit 2 ;;
esac
cat >"$data/listeners.toml" <<TOML
[[listeners]]
protocol = "teltonika"
transport = "tcp"
port = $base
[[listeners]]
protocol = "teltonika"
transport = "udp"
port = $base
[[listeners]]
protocol = "gt06"
transport = "tcp"
port = $((base + 1))
[[listeners]]
protocol = "osmand"
transport = "http"
port = $((base + 2))
TOML
"$bin" serve --config "$data/listeners.toml" --data-dir "$data" --register-unknown \
  --bind 127.0.0.1 --http-port 0 --log warn &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
sleep 1
"$bin" simulate --protocol "$protocol" --target "127.0.0.1:$port" --devices "$devices" \
  --rate "$rate" --duration "$seconds" | tail -n 6
echo "server RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
kill -TERM $server
wait $server || true
bytes=$(du -cb "$data"/trackd.db* | tail -n 1 | cut -f1)
echo "database after shutdown: $bytes bytes"
