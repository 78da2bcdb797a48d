#!/usr/bin/env bash
# The read scenarios of the performance issue, measured with wrk (lighter than the server, so the
# client is not the bottleneck) against a running `all`-mode MediaMesh, beside a bare echo handler
# (tools/loadgen/echo) measured in the same run: each row is printed with its ratio to the echo
# figure, so runs on a noisy, shared machine compare.
#
#   tools/loadgen/wrk.sh http://127.0.0.1:18180 [seconds] [connections]
#
# The gateway should run with --gateway.rate-limits=false and, to measure the uncached paths,
# --gateway.cache=false; the corpus is whatever the server holds (tools/loadgen seeds one). Searches
# are drawn from the vocabulary the corpus was seeded with: set VOCABULARY as loadgen's -vocabulary.
# With BENCH_ROWS set, every row is also appended to that file as loadgen's -rows does (its
# scenario prefixed with BENCH_LABEL, e.g. "cache off"), for tools/loadgen/benchtable.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
disc=${1:?usage: wrk.sh DISCOVERY_URL [seconds] [connections]}
secs=${2:-10}
conns=${3:-32}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
echo_addr=127.0.0.1:18199
go build -o "$work/echo-server" ./tools/loadgen/echo
"$work/echo-server" -addr "$echo_addr" &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fsS "http://$echo_addr/" >/dev/null 2>&1 && break; sleep 0.1; done

# Request lists: program ids from the public programs list, searches from the corpus's vocabulary.
go run ./tools/loadgen -queries 5000 -vocabulary "${VOCABULARY:-0}" >"$work/queries"
python3 - "$disc" "$work" <<'PY'
import json, sys, urllib.request
disc, work = sys.argv[1], sys.argv[2]
ids, cursor = [], None
while len(ids) < 2000:
    url = disc + "/api/v1/discovery/programs?limit=100" + ("&cursor=" + cursor if cursor else "")
    page = json.load(urllib.request.urlopen(url))
    ids += [p["id"] for p in page["items"]]
    cursor = page.get("page", {}).get("next_cursor")
    if not cursor:
        break
queries = open(f"{work}/queries").read().split()
def write(name, lines):
    with open(f"{work}/{name}", "w") as f:
        f.write("\n".join(lines) + "\n")
write("bare", ["GET /"])
write("list", ["GET /api/v1/discovery/programs?limit=20"])
write("program", [f"GET /api/v1/discovery/programs/{i}" for i in ids])
write("episodes", [f"GET /api/v1/discovery/programs/{i}/episodes?limit=20" for i in ids])
write("search", ["GET /api/v1/discovery/search?limit=20&q=" + q for q in queries])
write("search_facets", ["GET /api/v1/discovery/search?limit=20&facets=type,language,kind&q=" + q for q in queries])
q = "{ programs(first: 10) { edges { node { id title episodes(first: 5) { edges { node { id title } } } } } } }"
write("graphql", ["POST /graphql " + json.dumps({"query": q})])
print(f"{len(ids)} programs", file=sys.stderr)
PY

run() { # name base-url list -> "req/s p50 p99 errors"
  local out
  out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s tools/loadgen/wrk.lua "$2" -- "$work/$3" 2>&1)
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {n+=1} END {print n+0}' <<<"$out")
  echo "$rps $p50 $p99 $errs"
}
printf '%-36s %10s %8s %10s %10s %7s\n' scenario req/s ratio p50 p99 errors
read -r echo_rps p50 p99 errs < <(run echo "http://$echo_addr" bare)
printf '%-36s %10.0f %8s %10s %10s %7s\n' "bare echo handler (1 KB JSON)" "$echo_rps" 1.000 "$p50" "$p99" "$errs"
rows() { # scenario rate p50 p99
  [ -n "${BENCH_ROWS:-}" ] && printf '%s\t%s\treq/s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_ROWS"
  return 0
}
rows "bare echo handler (1 KB JSON)${BENCH_LABEL:+, ${BENCH_LABEL}}" "$echo_rps" "$p50" "$p99"
for sc in "programs list, page of 20:list" "one program:program" "a program's episodes, page of 20:episodes" \
  "search, two random words:search" "search with facets:search_facets" "GraphQL 10 programs x 5 episodes:graphql"; do
  read -r rps p50 p99 errs < <(run "${sc%%:*}" "$disc" "${sc##*:}")
  printf '%-36s %10.0f %8.3f %10s %10s %7s\n' "${sc%%:*}" "$rps" "$(awk -v a="$rps" -v b="$echo_rps" 'BEGIN {print a / b}')" "$p50" "$p99" "$errs"
  rows "${BENCH_LABEL:+${BENCH_LABEL}: }${sc%%:*}" "$rps" "$p50" "$p99"
done
