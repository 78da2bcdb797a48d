#!/usr/bin/env bash
# Load benchmark of the split deployment: deploy/run-split.sh on PostgreSQL, Redis and Kafka (one
# process per service and gateway), plus a second discovery gateway sharing the first one's Redis,
# seeded and measured the way tools/loadgen/bench.sh measures `all` mode: loadgen's writes and
# catch-up through the CMS gateway, then the read scenarios under wrk beside a bare echo handler,
# on each discovery gateway in turn (gateway cache on; rate limits off, so the load is measured).
#
# Usage: tools/loadgen/bench-split.sh [loadgen flags...]
# Needs MEDIAMESH_SPLIT_POSTGRES_URL (a server where the user may create databases), and takes
# MEDIAMESH_SPLIT_REDIS_URL (default redis://127.0.0.1:6379/0) and MEDIAMESH_SPLIT_KAFKA_BROKERS
# (default 127.0.0.1:9092); .ci/run's first steps start all three. WRK_SECONDS and WRK_CONNECTIONS
# tune wrk.sh. Never in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MEDIAMESH_SPLIT_POSTGRES_URL:?set MEDIAMESH_SPLIT_POSTGRES_URL=postgres://user:pass@127.0.0.1:5432/postgres?sslmode=disable}"
export MEDIAMESH_SPLIT_REDIS_URL=${MEDIAMESH_SPLIT_REDIS_URL:-redis://127.0.0.1:6379/0}
export MEDIAMESH_SPLIT_KAFKA_BROKERS=${MEDIAMESH_SPLIT_KAFKA_BROKERS:-127.0.0.1:9092}
work=$(mktemp -d)
password="bench-admin-$RANDOM$RANDOM"
# A fresh set of databases, a port range of its own.
export MEDIAMESH_SPLIT_DIR="$work/split" MEDIAMESH_SPLIT_PORT_OFFSET=${MEDIAMESH_SPLIT_PORT_OFFSET:-20000}
export MEDIAMESH_SPLIT_POSTGRES_PREFIX="bench$RANDOM"_ MEDIAMESH_SPLIT_SKIP_BUILD=1
export MEDIAMESH_AUTH_ADMIN_PASSWORD="$password" MEDIAMESH_AUTH_ACCESS_TTL=6h MEDIAMESH_GATEWAY_RATE_LIMITS=false MEDIAMESH_LOG_LEVEL=warn
make build >/dev/null
off=$MEDIAMESH_SPLIT_PORT_OFFSET
disc=http://127.0.0.1:$((8080 + off)) cms=http://127.0.0.1:$((8081 + off)) disc2=http://127.0.0.1:$((8090 + off))

bash deploy/run-split.sh >"$work/run-split.out" 2>&1 &
split=$!
gw2=""
cleanup() {
  [ -n "$gw2" ] && { kill "$gw2" 2>/dev/null || true; wait "$gw2" 2>/dev/null || true; }
  kill "$split" 2>/dev/null || true
  wait "$split" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "is running" "$work/run-split.out" 2>/dev/null && break
  kill -0 "$split" 2>/dev/null || { cat "$work/run-split.out"; exit 1; }
  sleep 0.5
done
grep -q "is running" "$work/run-split.out" || { echo "bench-split: the split deployment did not start"; cat "$work/run-split.out"; exit 1; }

# The second discovery gateway: the first one's settings (from its environment), its own address.
pid1=$(pgrep -f -- "--target=discovery-gateway" | head -1)
mapfile -t envs < <(tr '\0' '\n' </proc/"$pid1"/environ | grep '^MEDIAMESH_')
env -i PATH="$PATH" HOME="$HOME" "${envs[@]}" MEDIAMESH_GATEWAY_DISCOVERY_ADDR=127.0.0.1:$((8090 + off)) \
  MEDIAMESH_ADMIN_ADDR=127.0.0.1:$((9090 + off)) MEDIAMESH_DATA_DIR="$work/discovery-gateway-2" \
  bin/mediamesh --target=discovery-gateway >"$work/discovery-gateway-2.log" 2>&1 &
gw2=$!
for _ in $(seq 1 100); do curl -fsS "$disc2/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "split deployment: PostgreSQL, Redis $MEDIAMESH_SPLIT_REDIS_URL, Kafka $MEDIAMESH_SPLIT_KAFKA_BROKERS; two discovery gateways"
go run ./tools/loadgen -cms "$cms" -discovery "$disc" -admin-password "$password" -programs 200 -episodes 100 -duration 5s -connections 32 "$@"
for gw in "$disc" "$disc2"; do
  echo; echo "wrk against the discovery gateway at $gw, cache on:"
  bash tools/loadgen/wrk.sh "$gw" "${WRK_SECONDS:-10}" "${WRK_CONNECTIONS:-32}"
done
