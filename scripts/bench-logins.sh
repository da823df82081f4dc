#!/usr/bin/env bash
# Failed-login flood benchmark (docs/BENCHMARKS.md, issue 4/8 item 2):
# `trackd serve` on embedded SQLite with one real user, then
# `trackd bench logins`: ATTACKERS concurrent bad logins from 127.0.0.1 for
# SECONDS while the real user logs in from 127.0.0.2; prints the server's
# memory growth and the real user's login times.
# Usage: scripts/bench-logins.sh [ATTACKERS] [SECONDS] [ADDRESSES]
# ADDRESSES > 1 spreads the attackers over 127.0.1.1, 127.0.1.2, ...
# TRACKD_SERVER_BIN runs another build as the server (e.g. an older one);
# the bench client is always this tree's release build.
set -euo pipefail
attackers=${1:-500}
seconds=${2:-10}
addresses=${3:-1}
cd "$(dirname "$0")/.."
cargo build --release -p trackd >/dev/null
bin=target/release/trackd
server_bin=${TRACKD_SERVER_BIN:-$bin}
data=$(mktemp -d)
port=${TRACKD_BENCH_HTTP_PORT:-18082}
cat >"$data/trackd.toml" <<TOML
[[listeners]]
protocol = "teltonika"
transport = "tcp"
enabled = false
[[listeners]]
protocol = "teltonika"
transport = "udp"
enabled = false
[[listeners]]
protocol = "gt06"
transport = "tcp"
enabled = false
[[listeners]]
protocol = "osmand"
transport = "http"
enabled = false
TOML
export TRACKD_PASSWORD="the real user's password"
"$server_bin" user add --email real@example.com --admin --data-dir "$data" >/dev/null
"$server_bin" serve --config "$data/trackd.toml" --data-dir "$data" \
  --bind 127.0.0.1 --http-port "$port" --log warn &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
sleep 1
echo "server: $("$server_bin" --version), $(nproc) cores"
"$bin" bench logins --http "127.0.0.1:$port" --server-pid "$server" \
  --attackers "$attackers" --duration "$seconds" --email real@example.com \
  --attacker-addresses "$addresses" \
  --attacker-from "$(if [ "$addresses" -gt 1 ]; then echo 127.0.1.1; else echo 127.0.0.1; fi)"
kill -TERM $server
wait $server || true
