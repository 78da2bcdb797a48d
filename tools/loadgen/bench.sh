#!/usr/bin/env bash
# Load benchmark of the public side in `all` mode: starts bin/mediamesh on a fresh data directory
# (gateway rate limits off, so the load is measured, not the 429s; an access token that outlives
# the seeding), seeds it with tools/loadgen (by default 1,000 programs with 100 published episodes
# each: 100,000 episodes) and prints req/s, p50 and p99 per scenario.
# Usage: tools/loadgen/bench.sh [loadgen flags...]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin/mediamesh}
work=$(mktemp -d)
password="bench-admin-$RANDOM$RANDOM"
"$BIN" --target=all --data-dir="$work/data" --log.level=warn --auth.admin-password="$password" --auth.access-ttl=6h --gateway.rate-limits=false \
  --gateway.discovery-addr=127.0.0.1:18180 --gateway.cms-addr=127.0.0.1:18181 >"$work/mediamesh.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in 18180 18181; do
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
go run ./tools/loadgen -cms http://127.0.0.1:18181 -discovery http://127.0.0.1:18180 -admin-password "$password" "$@"
