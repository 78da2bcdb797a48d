#!/usr/bin/env bash
# Run every MediaMesh service and both gateways as separate processes on this machine, without
# Docker: the split deployment, wired the way production wires it.
#
#   deploy/run-split.sh        (or: make run-split)
#
# It builds bin/mediamesh, starts the first service of its module table (auth), then the other
# services, then the gateways (each waits until its /readyz answers 200), prints the gateway URLs and
# stays in the foreground. Ctrl-C or SIGTERM stops every process it started (gateways first, the first
# service last). The services, their start order, the gateways and their ports are the binary's
# (`mediamesh modules`, from the module table in app/modules.go): this script keeps no list of them. A process that exits on its own is
# started again after a back-off (1 s, doubling to 30 s while it keeps dying within a minute of its
# start), with a log line saying so, while the others keep serving; MEDIAMESH_SPLIT_RESTART=0 stops
# everything instead and exits non-zero.
#
# Files (under MEDIAMESH_SPLIT_DIR, default ./data/split):
#   <target>/          data_dir of each process (SQLite databases unless Postgres is configured)
#   logs/<target>.log  stdout+stderr of each process (appended; JSON lines unless MEDIAMESH_LOG_FORMAT=text)
#
# Ports (all on MEDIAMESH_SPLIT_HOST, default 127.0.0.1; add MEDIAMESH_SPLIT_PORT_OFFSET to each): each
#   module's default address, as `mediamesh modules` lists them (today discovery-gateway 8080,
#   cms-gateway 8081, auth 9101, cms 9102, metadata 9103, media 9104, ingest 9105, discovery 9106,
#   search 9107).
#
# Environment (all optional):
#   MEDIAMESH_SPLIT_POSTGRES_URL   postgres://user:pass@host:5432/postgres?sslmode=disable. One database
#                                  per service, named <prefix><service> (mediamesh_auth, mediamesh_cms, ...),
#                                  on that server; created with psql when psql is installed and the user
#                                  may create databases, else they must exist. Unset: SQLite per process.
#   MEDIAMESH_SPLIT_POSTGRES_MODE  databases (default) or schemas: one schema per service, named
#                                  <prefix><service>, in the database of the URL (search_path URL parameter).
#   MEDIAMESH_SPLIT_POSTGRES_PREFIX  database/schema name prefix (default mediamesh_).
#   MEDIAMESH_SPLIT_REDIS_URL      redis://host:6379/0 for shared rate limits and idempotency keys.
#                                  Unset: every process keeps its own in memory.
#   MEDIAMESH_SPLIT_KAFKA_BROKERS  host:port[,host:port] for events. Unset: runs tools/kafka/start.sh
#                                  (needs java and mvn) and uses 127.0.0.1:9092 when it succeeds, else
#                                  runs without Kafka (each service keeps its events in its outbox).
#                                  "none": no Kafka and no start attempt.
#   MEDIAMESH_SPLIT_KEEP_KAFKA=1   leave a broker this script started running on exit (default: stop it;
#                                  a broker that was already running is never stopped).
#   MEDIAMESH_SPLIT_OPENSEARCH     the search index in OpenSearch (search.engine=opensearch): "start" runs
#                                  tools/opensearch/start.sh (needs java and mvn; a single local node,
#                                  started once and reused) and uses its URL; http(s)://host:port[,...]
#                                  uses those nodes. Unset: the search service's default engine
#                                  (postgres with MEDIAMESH_SPLIT_POSTGRES_URL, else memory).
#   MEDIAMESH_SPLIT_KEEP_OPENSEARCH=1  leave a node this script started running on exit (default: stop
#                                  it; a node that was already running is never stopped).
#   MEDIAMESH_SPLIT_HOST           listen address of every process (default 127.0.0.1).
#   MEDIAMESH_SPLIT_PORT_OFFSET    added to every port, to run beside `make run` (default 0).
#   MEDIAMESH_SPLIT_DIR            data and logs (default data/split).
#   MEDIAMESH_SPLIT_SKIP_BUILD=1   use the existing binary; MEDIAMESH_SPLIT_BIN names it (bin/mediamesh).
#   MEDIAMESH_SPLIT_READY_TIMEOUT  seconds to wait for each /readyz (default 60).
#   MEDIAMESH_SPLIT_STOP_TIMEOUT   seconds to wait for a process to stop before SIGKILL (default 20).
#   MEDIAMESH_SPLIT_RESTART        1 (default): restart a process that exits on its own; 0: stop all.
# Any other MEDIAMESH_* variable (e.g. MEDIAMESH_AUTH_ADMIN_PASSWORD, MEDIAMESH_LOG_LEVEL) reaches
# every process unchanged; the wiring variables this script sets win over yours.
# Media on S3 instead of local disk (media/media under the media process's data_dir): set
# MEDIAMESH_MEDIA_S3_ENDPOINT, MEDIAMESH_MEDIA_S3_ACCESS_KEY and MEDIAMESH_MEDIA_S3_SECRET_KEY
# (MEDIAMESH_MEDIA_S3_BUCKET, _REGION, _PRESIGN_ENDPOINT optional). At start the media process puts
# the bucket policy that lets anyone GET objects under public/ and nothing else
# (MEDIAMESH_MEDIA_S3_PUBLIC_READ_POLICY=false leaves the policy to you); deploy/README.md, "S3
# media store and public assets", has the policy and the CDN alternative.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GO="${GO:-go}"
BIN="${MEDIAMESH_SPLIT_BIN:-bin/mediamesh}"
DIR="${MEDIAMESH_SPLIT_DIR:-data/split}"
LOGS="$DIR/logs"
HOST="${MEDIAMESH_SPLIT_HOST:-127.0.0.1}"
OFFSET="${MEDIAMESH_SPLIT_PORT_OFFSET:-0}"
READY_TIMEOUT="${MEDIAMESH_SPLIT_READY_TIMEOUT:-60}"
STOP_TIMEOUT="${MEDIAMESH_SPLIT_STOP_TIMEOUT:-20}"
PG_MODE="${MEDIAMESH_SPLIT_POSTGRES_MODE:-databases}"
PG_PREFIX="${MEDIAMESH_SPLIT_POSTGRES_PREFIX:-mediamesh_}"

log() { echo "run-split: $*" >&2; }
die() { log "$*"; exit 1; }

[[ "$OFFSET" =~ ^[0-9]+$ ]] || die "MEDIAMESH_SPLIT_PORT_OFFSET must be a number"

if [[ "${MEDIAMESH_SPLIT_SKIP_BUILD:-0}" != 1 ]]; then
  log "building $BIN"
  GOFLAGS="${GOFLAGS:--buildvcs=false}" "$GO" build -o "$BIN" ./cmd/mediamesh
fi
[[ -x "$BIN" ]] || die "$BIN is missing; build it or unset MEDIAMESH_SPLIT_SKIP_BUILD"

# The modules, from the binary's module table: services in start order (the first, auth, is needed
# by the others at their start), then the gateways; each one's default port and address variable.
SERVICES=() GATEWAYS=()
declare -A PORT=() ADDR_VAR=()
modules="$("$BIN" modules)" || die "$BIN modules failed"
while read -r kind name addr var _; do
  case "$kind" in
    service) SERVICES+=("$name") ;;
    gateway) GATEWAYS+=("$name") ;;
    *) continue ;;
  esac
  [[ "${addr##*:}" =~ ^[0-9]+$ ]] || die "$BIN modules: $name has no port in its address $addr"
  PORT[$name]=$((${addr##*:} + OFFSET))
  ADDR_VAR[$name]="$var"
done <<<"$modules"
((${#SERVICES[@]} > 0 && ${#GATEWAYS[@]} > 0)) || die "$BIN modules listed no services or no gateways"
FIRST="${SERVICES[0]}"
# Where the processes reach each other (and where we probe them).
case "$HOST" in "" | 0.0.0.0 | "::" | "[::]") CONNECT_HOST=127.0.0.1 ;; *) CONNECT_HOST="$HOST" ;; esac
[[ "$CONNECT_HOST" == *:* && "$CONNECT_HOST" != \[* ]] && CONNECT_HOST="[$CONNECT_HOST]"
LISTEN_HOST="$HOST"
[[ "$LISTEN_HOST" == *:* && "$LISTEN_HOST" != \[* ]] && LISTEN_HOST="[$LISTEN_HOST]"
url_of() { echo "http://$CONNECT_HOST:${PORT[$1]}"; }
env_key() { tr 'a-z-' 'A-Z_' <<<"$1"; } # cms -> CMS

# ---- processes and shutdown ---------------------------------------------------------------------
declare -A PID=()  # target -> pid
declare -A SINCE=() # target -> $SECONDS at its last start
STARTED=()         # targets in start order
KAFKA_STARTED=0
OPENSEARCH_STARTED=0
CLEANED=0

stop_targets() { # stop_targets TARGET...: SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL
  local t pid live deadline
  for t in "$@"; do
    pid="${PID[$t]:-}"
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  while :; do
    live=()
    for t in "$@"; do
      pid="${PID[$t]:-}"
      [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && live+=("$t")
    done
    ((${#live[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s, sending SIGKILL: ${live[*]}"
      for t in "${live[@]}"; do kill -KILL "${PID[$t]}" 2>/dev/null || true; done
      break
    fi
    sleep 0.2
  done
  for t in "$@"; do
    pid="${PID[$t]:-}"
    [[ -n "$pid" ]] && { wait "$pid" 2>/dev/null || true; }
    unset "PID[$t]"
  done
}

cleanup() {
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM
  if ((${#STARTED[@]} > 0)); then
    log "stopping ${STARTED[*]}"
    local gws=() svcs=() t
    for t in "${STARTED[@]}"; do
      if [[ " ${GATEWAYS[*]} " == *" $t "* ]]; then gws+=("$t"); elif [[ "$t" != "$FIRST" ]]; then svcs+=("$t"); fi
    done
    ((${#gws[@]})) && stop_targets "${gws[@]}"
    ((${#svcs[@]})) && stop_targets "${svcs[@]}"
    [[ -n "${PID[$FIRST]:-}" ]] && stop_targets "$FIRST"
    log "all MediaMesh processes stopped"
  fi
  if ((KAFKA_STARTED)); then
    if [[ "${MEDIAMESH_SPLIT_KEEP_KAFKA:-0}" == 1 ]]; then
      log "leaving the Kafka broker running (stop it with: bash tools/kafka/stop.sh)"
    else
      log "stopping the Kafka broker this script started"
      bash tools/kafka/stop.sh >>"$LOGS/kafka.log" 2>&1 || log "tools/kafka/stop.sh failed (see $LOGS/kafka.log)"
    fi
  fi
  if ((OPENSEARCH_STARTED)); then
    if [[ "${MEDIAMESH_SPLIT_KEEP_OPENSEARCH:-0}" == 1 ]]; then
      log "leaving the OpenSearch node running (stop it with: bash tools/opensearch/stop.sh)"
    else
      log "stopping the OpenSearch node this script started"
      bash tools/opensearch/stop.sh >>"$LOGS/opensearch.log" 2>&1 || log "tools/opensearch/stop.sh failed (see $LOGS/opensearch.log)"
    fi
  fi
}
trap 'cleanup' EXIT
trap 'log "SIGINT"; cleanup; exit 130' INT
trap 'log "SIGTERM"; cleanup; exit 143' TERM

# ---- preparation --------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed to probe /readyz"
mkdir -p "$LOGS"

busy=()
for t in "${SERVICES[@]}" "${GATEWAYS[@]}"; do
  # shellcheck disable=SC2016 # expanded by the inner bash
  if timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${CONNECT_HOST//[\[\]]/}" "${PORT[$t]}" 2>/dev/null; then
    busy+=("$t:${PORT[$t]}")
  fi
done
((${#busy[@]} == 0)) || die "ports already in use: ${busy[*]} (is MediaMesh already running? set MEDIAMESH_SPLIT_PORT_OFFSET)"

# Kafka.
KAFKA_NOTE=""
KAFKA="${MEDIAMESH_SPLIT_KAFKA_BROKERS:-}"
if [[ "$KAFKA" == none ]]; then
  KAFKA=""
  KAFKA_NOTE="none (MEDIAMESH_SPLIT_KAFKA_BROKERS=none): events stay in each service's outbox"
elif [[ -n "$KAFKA" ]]; then
  KAFKA_NOTE="$KAFKA (MEDIAMESH_SPLIT_KAFKA_BROKERS)"
else
  log "no MEDIAMESH_SPLIT_KAFKA_BROKERS: trying tools/kafka/start.sh (log $LOGS/kafka.log)"
  # setsid: a broker started here is not in our process group, so Ctrl-C does not reach it and
  # cleanup decides whether it stops.
  kout="$(mktemp)" kerr="$(mktemp)"
  starter=(bash tools/kafka/start.sh)
  command -v setsid >/dev/null && starter=(setsid "${starter[@]}")
  if "${starter[@]}" >"$kout" 2>"$kerr" </dev/null; then
    KAFKA="$(tail -n 1 "$kout")"
    KAFKA_NOTE="$KAFKA (tools/kafka/start.sh)"
  else
    KAFKA_NOTE="none: tools/kafka/start.sh failed (see $LOGS/kafka.log), so events stay in each service's outbox"
  fi
  # Only a broker this run started is ours to stop; one that already answered is left alone.
  grep -q "started kafka.Kafka" "$kerr" && KAFKA_STARTED=1
  cat "$kerr" >>"$LOGS/kafka.log"
  rm -f "$kout" "$kerr"
  [[ -z "$KAFKA" ]] && log "WARNING: running WITHOUT Kafka: $KAFKA_NOTE"
fi
REDIS="${MEDIAMESH_SPLIT_REDIS_URL:-}"

# OpenSearch, when asked for.
OPENSEARCH="${MEDIAMESH_SPLIT_OPENSEARCH:-}"
SEARCH_NOTE="the search service's default engine (search.engine)"
if [[ "$OPENSEARCH" == start ]]; then
  log "MEDIAMESH_SPLIT_OPENSEARCH=start: running tools/opensearch/start.sh (log $LOGS/opensearch.log)"
  oout="$(mktemp)" oerr="$(mktemp)"
  starter=(bash tools/opensearch/start.sh)
  command -v setsid >/dev/null && starter=(setsid "${starter[@]}")
  ok=0
  "${starter[@]}" >"$oout" 2>"$oerr" </dev/null && ok=1
  grep -q "started EmbeddedOpenSearch" "$oerr" && OPENSEARCH_STARTED=1
  cat "$oerr" >>"$LOGS/opensearch.log"
  OPENSEARCH="$(tail -n 1 "$oout")"
  rm -f "$oout" "$oerr"
  ((ok)) && [[ -n "$OPENSEARCH" ]] || die "tools/opensearch/start.sh failed (see $LOGS/opensearch.log)"
  SEARCH_NOTE="OpenSearch at $OPENSEARCH (tools/opensearch/start.sh)"
elif [[ -n "$OPENSEARCH" ]]; then
  [[ "$OPENSEARCH" =~ ^https?:// ]] || die "MEDIAMESH_SPLIT_OPENSEARCH: want start or http(s)://host:port[,...], not $OPENSEARCH"
  SEARCH_NOTE="OpenSearch at $OPENSEARCH (MEDIAMESH_SPLIT_OPENSEARCH)"
fi

# PostgreSQL: one database (or schema) per service.
declare -A DBURL=()
if [[ -n "${MEDIAMESH_SPLIT_POSTGRES_URL:-}" ]]; then
  base="$MEDIAMESH_SPLIT_POSTGRES_URL"
  [[ "$base" =~ ^(postgres(ql)?://[^/?#]*)(/[^?#]*)?(\?[^#]*)?$ ]] ||
    die "MEDIAMESH_SPLIT_POSTGRES_URL: want postgres://user:pass@host:port/db?params"
  authority="${BASH_REMATCH[1]}" path="${BASH_REMATCH[3]}" query="${BASH_REMATCH[4]}"
  [[ "$PG_PREFIX" =~ ^[a-z_][a-z0-9_]*$ ]] || die "MEDIAMESH_SPLIT_POSTGRES_PREFIX: lower-case letters, digits and _ only"
  have_psql=0
  command -v psql >/dev/null && have_psql=1
  ((have_psql)) || log "psql not found: the $PG_MODE ${PG_PREFIX}<service> must already exist"
  for s in "${SERVICES[@]}"; do
    name="$PG_PREFIX$s"
    case "$PG_MODE" in
      databases)
        DBURL[$s]="$authority/$name$query"
        if ((have_psql)); then
          if [[ "$(psql "$base" -XtAqc "SELECT 1 FROM pg_database WHERE datname = '$name'" 2>>"$LOGS/postgres.log")" != 1 ]]; then
            log "creating database $name"
            psql "$base" -XqAc "CREATE DATABASE \"$name\"" >>"$LOGS/postgres.log" 2>&1 ||
              log "could not create database $name (see $LOGS/postgres.log); it must exist"
          fi
        fi
        ;;
      schemas)
        sep='?'
        [[ -n "$query" ]] && sep='&'
        DBURL[$s]="$authority$path$query${sep}search_path=$name"
        if ((have_psql)); then
          psql "$base" -XqAc "CREATE SCHEMA IF NOT EXISTS \"$name\"" >>"$LOGS/postgres.log" 2>&1 ||
            log "could not create schema $name (see $LOGS/postgres.log); it must exist"
        fi
        ;;
      *) die "MEDIAMESH_SPLIT_POSTGRES_MODE: want databases or schemas, not $PG_MODE" ;;
    esac
  done
  DB_NOTE="PostgreSQL, one ${PG_MODE%s} per service (${PG_PREFIX}<service>)"
else
  DB_NOTE="SQLite under $DIR/<service>/"
fi

# The ingest service account's password (auth and ingest must agree) and the key that seals source
# credentials, kept under $DIR so restarts and a shared PostgreSQL see the same ones; a configured
# MEDIAMESH_INGEST_* variable wins.
secret() { # secret NAME: the base64 secret in $DIR/NAME, created on first use
  [[ -s "$DIR/$1" ]] || { mkdir -p "$DIR"; (umask 077; head -c 32 /dev/urandom | base64 >"$DIR/$1"); }
  cat "$DIR/$1"
}
INGEST_PASSWORD="${MEDIAMESH_INGEST_ACCOUNT_PASSWORD:-$(secret ingest-account.password)}"
INGEST_KEY="${MEDIAMESH_INGEST_CREDENTIALS_KEY:-$(secret ingest-credentials.key)}"

# ---- start --------------------------------------------------------------------------------------
start() { # start TARGET: run bin/mediamesh --target=TARGET in the background with the wiring
  local t="$1" s k logf="$LOGS/$1.log"
  mkdir -p "$DIR/$t"
  printf '=== run-split: starting %s at %s ===\n' "$t" "$(date -u +%FT%TZ)" >>"$logf"
  (
    export MEDIAMESH_DATA_DIR="$DIR/$t"
    # Metrics and readiness details on loopback, 1000 above the process's own port.
    export MEDIAMESH_ADMIN_ADDR="127.0.0.1:$((${PORT[$t]} + 1000))"
    export MEDIAMESH_REDIS_URL="$REDIS" MEDIAMESH_KAFKA_BROKERS="$KAFKA"
    for s in "${GATEWAYS[@]}"; do export "${ADDR_VAR[$s]}=$LISTEN_HOST:${PORT[$s]}"; done
    for s in "${SERVICES[@]}"; do
      export "${ADDR_VAR[$s]}=$LISTEN_HOST:${PORT[$s]}"
      export "MEDIAMESH_SERVICES_$(env_key "$s")_URL=$(url_of "$s")"
    done
    export MEDIAMESH_INGEST_ACCOUNT_PASSWORD="$INGEST_PASSWORD" MEDIAMESH_INGEST_CREDENTIALS_KEY="$INGEST_KEY"
    # The media service serves its local store itself (no S3 here).
    export MEDIAMESH_MEDIA_LOCAL_BASE_URL="$(url_of media)/media"
    if [[ " ${SERVICES[*]} " == *" $t "* ]]; then
      export "MEDIAMESH_SERVICES_$(env_key "$t")_DATABASE_URL=${DBURL[$t]:-}"
    fi
    if [[ "$t" == search && -n "$OPENSEARCH" ]]; then
      export MEDIAMESH_SEARCH_ENGINE=opensearch MEDIAMESH_SEARCH_OPENSEARCH_URLS="$OPENSEARCH"
    fi
    exec "$BIN" --target="$t"
  ) >>"$logf" 2>&1 </dev/null &
  PID[$t]=$!
  SINCE[$t]=$SECONDS
  [[ " ${STARTED[*]} " == *" $t "* ]] || STARTED+=("$t")
}

wait_ready() { # wait_ready TARGET...: until every /readyz answers 200
  local t code deadline=$((SECONDS + READY_TIMEOUT)) pending=("$@") left
  while ((${#pending[@]} > 0)); do
    left=()
    for t in "${pending[@]}"; do
      if ! kill -0 "${PID[$t]}" 2>/dev/null; then
        log "$t exited during start-up; last lines of $LOGS/$t.log:"
        tail -n 20 "$LOGS/$t.log" >&2
        exit 1
      fi
      code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$(url_of "$t")/readyz" || true)"
      [[ "$code" == 200 ]] || left+=("$t")
    done
    pending=("${left[@]+"${left[@]}"}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      log "not ready after ${READY_TIMEOUT}s: ${pending[*]}"
      for t in "${pending[@]}"; do
        log "$t /readyz: $(curl -s -m 2 "$(url_of "$t")/readyz" || echo unreachable)"
        tail -n 10 "$LOGS/$t.log" >&2
      done
      exit 1
    fi
    sleep 0.3
  done
}

REDIS_NOTE="none (rate limits and idempotency keys in memory, per process)"
[[ -n "$REDIS" ]] && REDIS_NOTE="$(sed -E 's#//[^@/]*@#//***@#' <<<"$REDIS")"
log "databases: $DB_NOTE; redis: $REDIS_NOTE; kafka: $KAFKA_NOTE; search: $SEARCH_NOTE"
start "$FIRST"
wait_ready "$FIRST"
for s in "${SERVICES[@]:1}"; do start "$s"; done
wait_ready "${SERVICES[@]:1}"
for g in "${GATEWAYS[@]}"; do start "$g"; done
wait_ready "${GATEWAYS[@]}"

d="$(url_of discovery-gateway)" c="$(url_of cms-gateway)"
cat <<EOF

MediaMesh (split) is running, every /readyz answers 200:
  discovery gateway  $d  docs $d/docs  openapi $d/openapi.json  graphql $d/graphql
  cms gateway        $c  docs $c/docs  openapi $c/openapi.json
EOF
for t in "${SERVICES[@]}"; do
  printf '  %-18s %s  pid %-7s log %s\n' "$t" "$(url_of "$t")" "${PID[$t]}" "$LOGS/$t.log"
done
for t in "${GATEWAYS[@]}"; do
  printf '  %-18s %s  pid %-7s log %s\n' "$t" "$(url_of "$t")" "${PID[$t]}" "$LOGS/$t.log"
done
echo "  databases: $DB_NOTE"
echo "  redis:     $REDIS_NOTE"
echo "  search:    $SEARCH_NOTE"
echo "  kafka:     $KAFKA_NOTE"
pw="$(grep -hoE 'one_time_password"?[:=]"?[^" ]+' "$LOGS/auth.log" 2>/dev/null | tail -n 1 | sed -E 's/^one_time_password"?[:=]"?//' || true)"
[[ -n "$pw" ]] && echo "  first ADMIN ${MEDIAMESH_AUTH_ADMIN_EMAIL:-admin@mediamesh.local}: one-time password $pw (from its first start, in $LOGS/auth.log)"
echo "Ctrl-C stops everything."

# ---- watch --------------------------------------------------------------------------------------
# A process that exits on its own is started again after a back-off: 1 s, doubled (up to 30 s) each
# time it dies within a minute of its start, back to 1 s once it stayed up a minute. The others keep
# serving meanwhile. A signal stops everything (the trap above).
declare -A DELAY=() DUE=()
while :; do
  for t in "${STARTED[@]}"; do
    if [[ -n "${DUE[$t]:-}" ]]; then
      if ((SECONDS >= DUE[$t])); then
        unset "DUE[$t]"
        log "restarting $t"
        start "$t"
      fi
      continue
    fi
    pid="${PID[$t]:-}"
    if [[ -z "$pid" ]] || kill -0 "$pid" 2>/dev/null; then continue; fi
    set +e
    wait "$pid" 2>/dev/null
    status=$?
    set -e
    unset "PID[$t]"
    up=$((SECONDS - ${SINCE[$t]:-0}))
    if [[ "${MEDIAMESH_SPLIT_RESTART:-1}" == 0 ]]; then
      log "$t (pid $pid) exited on its own (status $status, up ${up}s); stopping everything. Last lines of $LOGS/$t.log:"
      tail -n 20 "$LOGS/$t.log" >&2
      exit 1
    fi
    if ((up >= 60)); then DELAY[$t]=1; else DELAY[$t]=$(( ${DELAY[$t]:-0} == 0 ? 1 : (DELAY[$t] * 2 > 30 ? 30 : DELAY[$t] * 2) )); fi
    DUE[$t]=$((SECONDS + DELAY[$t]))
    log "$t (pid $pid) exited on its own (status $status, up ${up}s); restarting it in ${DELAY[$t]}s, the others keep serving. Last lines of $LOGS/$t.log:"
    tail -n 20 "$LOGS/$t.log" >&2
  done
  sleep 0.5
done
