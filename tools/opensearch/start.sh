#!/usr/bin/env bash
# Start a single-node OpenSearch on 127.0.0.1 for development and tests, from the installation
# that install.sh assembled (runs install.sh first when needed).
#
#   tools/opensearch/start.sh [DIR]      # prints the node's URL on stdout
#
# DIR defaults to ${MEDIAMESH_OPENSEARCH_HOME:-$HOME/.cache/mediamesh/opensearch}.
# Files: DIR/data (kept across runs), DIR/opensearch.pid, DIR/logs/opensearch.out.
# Idempotent: when the node from DIR already answers on the port, says so, prints the URL and
# exits 0. Fails fast when the port is held by something else, or the node from DIR runs on
# another port.
#
# Environment: OPENSEARCH_PORT (9200), OPENSEARCH_TRANSPORT_PORT (OPENSEARCH_PORT+100),
# OPENSEARCH_HEAP (512m), OPENSEARCH_JAVA_OPTS (extra JVM flags), OPENSEARCH_START_TIMEOUT
# seconds (180), OPENSEARCH_RESET=1 (start from empty data; only when no node is running),
# JAVA_HOME. There is no TLS and no authentication: loopback only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:-${MEDIAMESH_OPENSEARCH_HOME:-$HOME/.cache/mediamesh/opensearch}}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
PORT="${OPENSEARCH_PORT:-9200}"
TPORT="${OPENSEARCH_TRANSPORT_PORT:-$((PORT + 100))}"
HOST=127.0.0.1
URL="http://$HOST:$PORT"
TIMEOUT="${OPENSEARCH_START_TIMEOUT:-180}"
HEAP="${OPENSEARCH_HEAP:-512m}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
PIDFILE="$DIR/opensearch.pid"
OUT="$DIR/logs/opensearch.out"

log() { echo "opensearch-start: $*" >&2; }

# node_pid: the pid of the node running from DIR (checked against its command line, so that a
# reused pid is not taken for it).
node_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "EmbeddedOpenSearch -Epath.home=$DIR " || return 1
  echo "$pid"
}
node_port() { tr '\0' '\n' <"/proc/$1/cmdline" | sed -n 's/^-Ehttp.port=//p'; }
# answers: an OpenSearch node answers GET / on the port.
answers() { curl -fsS -m "${1:-2}" "$URL/" 2>/dev/null | grep -q '"distribution" *: *"opensearch"'; }
# shellcheck disable=SC2016
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null; }

command -v curl >/dev/null || { log "curl is needed"; exit 1; }

if pid="$(node_pid)" && [[ "$(node_port "$pid")" == "$PORT" ]] && answers; then
  log "OpenSearch from $DIR already answers on $URL (pid $pid)"
  echo "$URL"
  exit 0
fi

# One start at a time per DIR; a waiter then finds the node answering.
exec 9>"$DIR/.start.lock"
flock -w "$TIMEOUT" 9 || { log "timed out waiting for another start.sh on $DIR"; exit 1; }

if pid="$(node_pid)"; then
  if [[ "$(node_port "$pid")" != "$PORT" ]]; then
    log "the node from $DIR already runs (pid $pid) on port $(node_port "$pid"); run stop.sh first"
    exit 1
  fi
  log "the node from $DIR (pid $pid) is starting; waiting for it"
else
  rm -f "$PIDFILE"
  for p in "$PORT" "$TPORT"; do
    if port_open "$p"; then
      log "port $p on $HOST is in use by something else; set OPENSEARCH_PORT/OPENSEARCH_TRANSPORT_PORT"
      exit 1
    fi
  done
  "$HERE/install.sh" "$DIR"
  command -v "$JAVA" >/dev/null || { log "java not found"; exit 1; }
  major="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1)"
  if [[ "${OPENSEARCH_RESET:-0}" == 1 ]]; then
    log "OPENSEARCH_RESET=1: removing $DIR/data"
    rm -rf "$DIR/data"
  fi
  mkdir -p "$DIR/data" "$DIR/logs" "$DIR/tmp"
  jvm=(
    -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow
    -Djava.io.tmpdir="$DIR/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true
    -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true
  )
  # Lucene 9.12 calls java.lang.foreign; JDK 22+ warns unless native access is enabled.
  if [[ "${major:-0}" -ge 22 ]]; then jvm+=(--enable-native-access=ALL-UNNAMED); fi
  # shellcheck disable=SC2206 # a list of JVM options
  if [[ -n "${OPENSEARCH_JAVA_OPTS:-}" ]]; then jvm+=($OPENSEARCH_JAVA_OPTS); fi
  echo "=== $(date -Is) starting on $URL" >>"$OUT"
  nohup "$JAVA" "${jvm[@]}" -cp "$DIR/lib/*:$DIR/launcher" \
    EmbeddedOpenSearch -Epath.home="$DIR" -Ehttp.port="$PORT" -Etransport.port="$TPORT" \
    -Enode.pidfile="$PIDFILE" >>"$OUT" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE" # the launcher writes the same pid, and removes the file on a clean exit
  log "started EmbeddedOpenSearch (pid $pid, heap $HEAP), log $OUT"
fi

deadline=$((SECONDS + TIMEOUT))
until answers 1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 40 "$OUT" >&2 || true
    rm -f "$PIDFILE"
    log "the node exited during start-up (see $OUT)"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    tail -n 40 "$OUT" >&2 || true
    log "the node did not answer on $URL within ${TIMEOUT}s (still running, pid $pid; stop.sh ends it)"
    exit 1
  fi
  sleep 0.25
done
log "ready on $URL"
echo "$URL"
