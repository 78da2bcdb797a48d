#!/usr/bin/env bash
# The engagement benchmark (issue 15): starts a MediaMesh binary in `all` mode on a fresh data
# directory (gateway rate limits off, the profiler on its admin address), seeds 20 programs of 10
# published episodes, then measures with wrk (lighter than the server):
#   1. a bare echo handler (tools/loadgen/echo): the cached browse read's twin (GET, 1 KB JSON) and
#      the event endpoint's twin (POST, decodes the batch, 202): the machine's ceiling, for ratios;
#   2. the cached browse read (GET /api/v1/discovery/programs?limit=20) alone;
#   3. the same read while other connections post batches of play events (recordEngagement) as
#      fast as they are answered: events/s taken, and the browse p99 beside them;
#   4. both at fixed rates (loadgen -browse-rate, open loop): the browse read at a quarter of what
#      step 2 served, alone and beside 5,000 play events a second (EVENTS_RATE), since a closed-loop
#      read that takes every core by itself says little about what other work costs its readers.
# With PROFILE=path it also writes a CPU profile of the server taken during step 3.
#   tools/loadgen/engagement.sh [seconds=10] [event connections=16] [batch=50] [browse connections=16]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin/mediamesh}
secs=${1:-10}
econns=${2:-16}
batch=${3:-50}
bconns=${4:-16}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
disc_port=$(free_port); cms_port=$(free_port); admin_port=$(free_port); echo_port=$(free_port)
password="bench-admin-$RANDOM$RANDOM"
pid="" echo_pid=""
trap 'kill $pid $echo_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN" --target=all --data-dir="$work/data" --log.level=warn --auth.admin-password="$password" --gateway.rate-limits=false \
  --gateway.discovery-addr=127.0.0.1:$disc_port --gateway.cms-addr=127.0.0.1:$cms_port --admin-addr=127.0.0.1:$admin_port --admin-pprof=true \
  >>"$work/mediamesh.log" 2>&1 &
pid=$!
for port in $disc_port $cms_port; do
  for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
go build -o "$work/echo-server" ./tools/loadgen/echo
"$work/echo-server" -addr 127.0.0.1:$echo_port &
echo_pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$echo_port/" >/dev/null 2>&1 && break; sleep 0.1; done

# Seed (loadgen's engagement scenario seeds 20 programs of 10 episodes when there are none; one
# second of it), then list the published episodes.
go run ./tools/loadgen -cms http://127.0.0.1:$cms_port -discovery http://127.0.0.1:$disc_port -admin-password "$password" \
  -engagement 1 -duration 1s -connections 2 >/dev/null
curl -fsS "http://127.0.0.1:$disc_port/api/v1/discovery/latest?limit=100" | python3 -c '
import json, sys
for it in json.load(sys.stdin)["items"]: print(it["id"])' >"$work/episodes"
printf 'GET /api/v1/discovery/programs?limit=20\n' >"$work/browse"
printf 'GET /\n' >"$work/bare"
echo "$(wc -l <"$work/episodes") published episodes; $secs s a step; browse $bconns connections, events $econns connections of $batch plays a post"

wrk_run() { # url connections script [script args...] -> wrk output
  local url=$1 conns=$2 script=$3; shift 3
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$script" "$url" -- "$@" 2>&1 || true
}
field() { awk -v k="$1" '$1==k {print $2}'; }
rps() { awk '/^Requests\/sec/ {print $2}'; }
errors() { awk '/Non-2xx/ {n+=$NF} /Socket errors/ {n+=1} END {print n+0}'; }
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }

# 1. The echo baselines.
echo_browse=$(wrk_run "http://127.0.0.1:$echo_port" "$bconns" tools/loadgen/wrk.lua "$work/bare")
echo_events=$(wrk_run "http://127.0.0.1:$echo_port" "$econns" tools/loadgen/engagement.lua "$work/episodes" "$batch")
# 2. Browse alone.
alone=$(wrk_run "http://127.0.0.1:$disc_port" "$bconns" tools/loadgen/wrk.lua "$work/browse")
# 3. Browse beside the events (and the profile, when asked).
prof_pid=""
if [ -n "${PROFILE:-}" ]; then
  (sleep 1; curl -fsS -o "$PROFILE" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=$((secs - 2))") &
  prof_pid=$!
fi
wrk_run "http://127.0.0.1:$disc_port" "$econns" tools/loadgen/engagement.lua "$work/episodes" "$batch" >"$work/events.out" &
epid=$!
during=$(wrk_run "http://127.0.0.1:$disc_port" "$bconns" tools/loadgen/wrk.lua "$work/browse")
wait $epid || true
events=$(cat "$work/events.out")
[ -z "$prof_pid" ] || wait "$prof_pid" || true

e_echo=$(rps <<<"$echo_events"); e_mm=$(rps <<<"$events")
b_echo=$(rps <<<"$echo_browse")
printf '%-52s %12s %8s %10s %10s %7s\n' scenario rate ratio p50 p99 errors
printf '%-52s %10.0f/s %8s %10s %10s %7s\n' "echo: GET 1 KB JSON (req)" "$b_echo" 1.000 "$(field 50% <<<"$echo_browse")" "$(field 99% <<<"$echo_browse")" "$(errors <<<"$echo_browse")"
printf '%-52s %10.0f/s %8s %10s %10s %7s\n' "echo: POST $batch events, decoded (events)" "$(awk -v r="$e_echo" -v b="$batch" 'BEGIN {print r*b}')" 1.000 "$(field 50% <<<"$echo_events")" "$(field 99% <<<"$echo_events")" "$(errors <<<"$echo_events")"
printf '%-52s %10.0f/s %8.3f %10s %10s %7s\n' "cached browse alone (req)" "$(rps <<<"$alone")" "$(awk -v a="$(rps <<<"$alone")" -v b="$b_echo" 'BEGIN {print a/b}')" "$(field 50% <<<"$alone")" "$(field 99% <<<"$alone")" "$(errors <<<"$alone")"
printf '%-52s %10.0f/s %8.3f %10s %10s %7s\n' "recordEngagement, $batch plays a post (events)" "$(awk -v r="$e_mm" -v b="$batch" 'BEGIN {print r*b}')" "$(awk -v a="$e_mm" -v b="$e_echo" 'BEGIN {print a/b}')" "$(field 50% <<<"$events")" "$(field 99% <<<"$events")" "$(errors <<<"$events")"
printf '%-52s %10.0f/s %8.3f %10s %10s %7s\n' "cached browse beside the events (req)" "$(rps <<<"$during")" "$(awk -v a="$(rps <<<"$during")" -v b="$b_echo" 'BEGIN {print a/b}')" "$(field 50% <<<"$during")" "$(field 99% <<<"$during")" "$(errors <<<"$during")"
p_alone=$(field 99% <<<"$alone" | ms); p_during=$(field 99% <<<"$during" | ms)
echo "browse p99 with the events: $(awk -v a="$p_alone" -v b="$p_during" 'BEGIN {printf "%+.0f%%", 100*(b/a-1)}') ($p_alone ms -> $p_during ms)"
# The events counted: what the consumer applied by the end (popular, all time, of every episode).
sleep 2
curl -fsS "http://127.0.0.1:$disc_port/api/v1/discovery/popular?period=all_time&type=episode&limit=100" | python3 -c '
import json, sys
print("plays counted by the consumer:", sum(it["plays"] for it in json.load(sys.stdin)["items"]))'
# 4. Fixed rates: browse at a quarter of step 2's rate, alone and beside EVENTS_RATE events a second.
browse_rate=$(awk -v r="$(rps <<<"$alone")" 'BEGIN {printf "%d", r / 4}')
go run ./tools/loadgen -cms http://127.0.0.1:$cms_port -discovery http://127.0.0.1:$disc_port -admin-password "$password" \
  -engagement "$batch" -duration "${secs}s" -browse-rate "$browse_rate" -events-rate "${EVENTS_RATE:-5000}" ${BENCH_ROWS:+-rows "$BENCH_ROWS"}
