#!/usr/bin/env bash
# Load benchmark of the public side and the write path in `all` mode: starts bin/mediamesh on a fresh
# data directory (gateway rate limits off, so the load is measured, not the 429s; an access token
# that outlives the seeding), seeds it through the CMS gateway with tools/loadgen (by default 200
# programs with 100 published episodes each, created and published by 8 writers: the write figure
# and how far the read models were behind the last write), then measures the read scenarios with
# wrk (tools/loadgen/wrk.sh) beside a bare echo handler, with the gateway cache and then without it
# (--gateway.cache=false, the same data directory). With the cache on it also measures the hit ratio
# of a Zipf read mix under 10 publishes a second (loadgen -mix) and the first read after a publish
# with and without cache warming (loadgen -first-reads, --gateway.cache-warm=0). The searches are drawn from the vocabulary the
# corpus was seeded with (loadgen's -vocabulary). Before the seeding, on the empty platform, the bulk
# import of 20,000 items (published programs of 99 published episodes) in one NDJSON request, in
# items/s beside a bare echo handler reading the same body (loadgen -import). With the cache on it
# also times takedowns (unpublish until gone from browse and search) while 8 writers create and
# publish (loadgen -takedowns), and it records the process's resident memory idle after the first
# start and at its peak. It ends with one table of every figure, each throughput beside its ratio to
# the bare echo handler of the same run (tools/loadgen/benchtable.sh).
# Usage: tools/loadgen/bench.sh [loadgen flags...]   (WRK_SECONDS, WRK_CONNECTIONS tune wrk.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin/mediamesh}
work=$(mktemp -d)
password="bench-admin-$RANDOM$RANDOM"
pid=""
start() {
  "$BIN" --target=all --data-dir="$work/data" --log.level=warn --auth.admin-password="$password" --auth.access-ttl=6h --gateway.rate-limits=false \
    --gateway.discovery-addr=127.0.0.1:18180 --gateway.cms-addr=127.0.0.1:18181 "$@" >>"$work/mediamesh.log" 2>&1 &
  pid=$!
  for port in 18180 18181; do
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
stop() {
  # The peak resident memory of the process that ran the scenarios since its start.
  if [ -n "${BENCH_LABEL:-}" ] && [ -r "/proc/$pid/status" ]; then
    printf 'resident memory, peak (%s)\t%s\tMB\t\t\n' "$BENCH_LABEL" "$(awk '/^VmHWM/ {print $2 / 1024}' "/proc/$pid/status")" >>"$BENCH_ROWS"
  fi
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}
trap 'stop; rm -rf "$work"' EXIT
export BENCH_ROWS="$work/rows"
: >"$BENCH_ROWS"
VOCABULARY=0
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    -vocabulary | --vocabulary) VOCABULARY=${args[$((i + 1))]} ;;
    -vocabulary=* | --vocabulary=*) VOCABULARY=${args[$i]#*=} ;;
  esac
done
export VOCABULARY
start
sleep 2
printf 'resident memory, idle after start\t%s\tMB\t\t\n' "$(ps -o rss= -p "$pid" | awk '{print $1 / 1024}')" >>"$BENCH_ROWS"
export BENCH_LABEL="cache on"
# The bulk import first, on the empty platform: 20,000 items in one NDJSON request, beside a bare
# echo handler that reads the same body (loadgen -import).
go build -o "$work/echo-server" ./tools/loadgen/echo
"$work/echo-server" -addr 127.0.0.1:18198 &
echo_pid=$!
for _ in $(seq 1 50); do curl -fsS http://127.0.0.1:18198/ >/dev/null 2>&1 && break; sleep 0.1; done
echo "bulk import (POST /api/v1/cms/imports):"
go run ./tools/loadgen -rows "$BENCH_ROWS" -cms http://127.0.0.1:18181 -admin-password "$password" -import 20000 -echo http://127.0.0.1:18198
kill "$echo_pid" 2>/dev/null || true
echo
go run ./tools/loadgen -rows "$BENCH_ROWS" -cms http://127.0.0.1:18181 -discovery http://127.0.0.1:18180 -admin-password "$password" -programs 200 -episodes 100 -duration 5s -connections 32 "$@"
echo; echo "wrk, gateway cache on:"
bash tools/loadgen/wrk.sh http://127.0.0.1:18180 "${WRK_SECONDS:-10}" "${WRK_CONNECTIONS:-32}"
echo; echo "takedowns while 8 writers create and publish:"
go run ./tools/loadgen -rows "$BENCH_ROWS" -cms http://127.0.0.1:18181 -discovery http://127.0.0.1:18180 -admin-password "$password" -takedowns 20 -writers 8
echo; echo "cache hit ratio of a Zipf read mix while 10 episodes a second are published:"
go run ./tools/loadgen -rows "$BENCH_ROWS" -cms http://127.0.0.1:18181 -discovery http://127.0.0.1:18180 -admin-password "$password" -mix -publish-rate 10 -duration 20s -connections 16
echo; echo "the first read after a publish, with cache warming (gateway.cache_warm=64):"
go run ./tools/loadgen -rows "$BENCH_ROWS" -label "cache warming on" -cms http://127.0.0.1:18181 -discovery http://127.0.0.1:18180 -admin-password "$password" -first-reads 30
stop
BENCH_LABEL=""
start --gateway.cache-warm=0
echo; echo "the first read after a publish, without cache warming (--gateway.cache-warm=0):"
go run ./tools/loadgen -rows "$BENCH_ROWS" -label "cache warming off" -cms http://127.0.0.1:18181 -discovery http://127.0.0.1:18180 -admin-password "$password" -first-reads 30
stop
export BENCH_LABEL="cache off"
start --gateway.cache=false
sleep 2
printf 'resident memory, idle with the corpus\t%s\tMB\t\t\n' "$(ps -o rss= -p "$pid" | awk '{print $1 / 1024}')" >>"$BENCH_ROWS"
echo; echo "wrk, gateway cache off (--gateway.cache=false):"
bash tools/loadgen/wrk.sh http://127.0.0.1:18180 "${WRK_SECONDS:-10}" "${WRK_CONNECTIONS:-32}"
stop
echo; echo "== one table (value ÷ the bare echo handler of this run, for throughputs):"
bash tools/loadgen/benchtable.sh "$BENCH_ROWS"
