#!/usr/bin/env bash
# Stop the node that tools/opensearch/start.sh started from DIR (by its pid file).
#
#   tools/opensearch/stop.sh [DIR]
#
# SIGTERM (the launcher's shutdown hook closes the node, about 2 s), waits up to
# OPENSEARCH_STOP_TIMEOUT seconds (30), then SIGKILL. Exits 0 when nothing is running.
set -euo pipefail

DIR="${1:-${MEDIAMESH_OPENSEARCH_HOME:-$HOME/.cache/mediamesh/opensearch}}"
PIDFILE="$DIR/opensearch.pid"
TIMEOUT="${OPENSEARCH_STOP_TIMEOUT:-30}"

log() { echo "opensearch-stop: $*" >&2; }

is_node() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "EmbeddedOpenSearch -Epath.home=$DIR "; }

if [[ ! -f "$PIDFILE" ]]; then
  log "no pid file in $DIR; nothing to stop"
  exit 0
fi
pid="$(tr -dc '0-9' <"$PIDFILE")"
if [[ -z "$pid" ]] || ! is_node "$pid"; then
  log "pid ${pid:-?} is not a node running from $DIR; removing stale pid file"
  rm -f "$PIDFILE"
  exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + TIMEOUT))
while [[ -e "/proc/$pid" ]] && is_node "$pid"; do
  if ((SECONDS >= deadline)); then
    log "pid $pid still running after ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    break
  fi
  sleep 0.2
done
rm -f "$PIDFILE"
log "stopped (pid $pid)"
