#!/usr/bin/env bash
# Stop the broker that tools/kafka/start.sh started in DIR (by its pid file).
#
#   tools/kafka/stop.sh [DIR]
#
# SIGTERM (controlled shutdown), waits up to KAFKA_STOP_TIMEOUT seconds (30),
# then SIGKILL. Exits 0 when nothing is running.
set -euo pipefail

DIR="${1:-${MEDIAMESH_KAFKA_HOME:-$HOME/.cache/mediamesh/kafka}}"
PIDFILE="$DIR/kafka.pid"
TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

log() { echo "kafka-stop: $*" >&2; }

is_kafka() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'kafka\.Kafka'; }

if [[ ! -f "$PIDFILE" ]]; then
  log "no pid file in $DIR; nothing to stop"
  exit 0
fi
pid="$(cat "$PIDFILE")"
if [[ -z "$pid" ]] || ! is_kafka "$pid"; then
  log "pid ${pid:-?} is not a running kafka.Kafka; removing stale pid file"
  rm -f "$PIDFILE"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + TIMEOUT))
clean=1
# /proc/PID exists until the JVM is gone (its class-data archive, if it is
# writing one, is complete by then).
while [[ -e "/proc/$pid" ]] && is_kafka "$pid"; do
  if ((SECONDS >= deadline)); then
    log "pid $pid still running after ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    clean=0
    sleep 0.5
    break
  fi
  sleep 0.2
done
rm -f "$PIDFILE"
# start.sh asks a first run to record a class-data-sharing archive at exit.
if [[ -f "$DIR/kafka.jsa.tmp" ]]; then
  if [[ $clean == 1 && -s "$DIR/kafka.jsa.tmp" ]]; then
    mv -f "$DIR/kafka.jsa.tmp" "$DIR/kafka.jsa"
  else
    rm -f "$DIR/kafka.jsa.tmp"
  fi
fi
log "stopped (pid $pid)"
