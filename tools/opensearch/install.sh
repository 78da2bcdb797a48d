#!/usr/bin/env bash
# Assemble a runnable single-node OpenSearch from Maven Central, without Docker and without the
# OpenSearch tarball: the server jar, the modules MediaMesh uses as classpath plugins (netty4
# transport, analysis-common, painless, reindex, mapper-extras) with their runtime dependencies,
# log4j-core, and a small launcher (EmbeddedOpenSearch.java, compiled here) that starts the node.
#
#   tools/opensearch/install.sh [DIR]
#
# DIR defaults to ${MEDIAMESH_OPENSEARCH_HOME:-$HOME/.cache/mediamesh/opensearch}.
# Result: DIR/lib/*.jar, DIR/launcher/EmbeddedOpenSearch*.class, DIR/config/{opensearch.yml,
# log4j2.properties} (written only when missing, so local edits survive), DIR/.installed.
# Idempotent: returns at once when DIR/.installed names the wanted version and launcher.
# Never rewrites lib/ or launcher/ under a node running from DIR (stop it first).
#
# Environment: OPENSEARCH_VERSION (default 2.19.6), LOG4J_VERSION (2.25.4, the log4j-api the
# server resolves to), MVN (mvn), MAVEN_REPO_LOCAL (optional -Dmaven.repo.local), JAVA_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OPENSEARCH_VERSION="${OPENSEARCH_VERSION:-2.19.6}"
LOG4J_VERSION="${LOG4J_VERSION:-2.25.4}"
DIR="${1:-${MEDIAMESH_OPENSEARCH_HOME:-$HOME/.cache/mediamesh/opensearch}}"
MVN="${MVN:-mvn}"
JAVAC="${JAVA_HOME:+$JAVA_HOME/bin/}javac"
MARKER="$DIR/.installed"

log() { echo "opensearch-install: $*" >&2; }

launcher_sum="$(sha256sum "$HERE/EmbeddedOpenSearch.java" | cut -c1-16)"
WANT="opensearch-${OPENSEARCH_VERSION} log4j-${LOG4J_VERSION} launcher-${launcher_sum}"

write_config() {
  mkdir -p "$DIR/config" "$DIR/logs"
  if [[ ! -f "$DIR/config/opensearch.yml" ]]; then
    cat >"$DIR/config/opensearch.yml" <<'YML'
# Single node for development and tests (tools/opensearch). http.port, transport.port and
# node.pidfile come from start.sh as -E arguments.
cluster.name: mediamesh-dev
node.name: node-1
network.host: 127.0.0.1
discovery.type: single-node
# No disk watermarks: on a nearly full shared disk indices would otherwise turn read-only.
cluster.routing.allocation.disk.threshold_enabled: false
# Tests create and drop many small indices; no automatic index creation by a stray write.
action.auto_create_index: false
YML
  fi
  if [[ ! -f "$DIR/config/log4j2.properties" ]]; then
    cat >"$DIR/config/log4j2.properties" <<'LOG'
# Console logging (start.sh sends it to DIR/logs/opensearch.out); WARN and above, plus the start line.
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.launcher.name = EmbeddedOpenSearch
logger.launcher.level = info
LOG
  fi
}

installed() {
  [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]] &&
    compgen -G "$DIR/lib/opensearch-${OPENSEARCH_VERSION}.jar" >/dev/null &&
    [[ -f "$DIR/launcher/EmbeddedOpenSearch.class" ]]
}

if installed; then
  write_config
  log "$WANT already installed in $DIR"
  exit 0
fi

# One install at a time per DIR; the winner's marker satisfies the others.
mkdir -p "$DIR"
exec 8>"$DIR/.install.lock"
flock -w 900 8 || { log "timed out waiting for another install on $DIR"; exit 1; }
if installed; then
  write_config
  log "$WANT installed in $DIR by a concurrent run"
  exit 0
fi

pid="$(cat "$DIR/opensearch.pid" 2>/dev/null || true)"
if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q EmbeddedOpenSearch; then
  log "a node runs from $DIR (pid $pid) on an older installation; stop it first (tools/opensearch/stop.sh)"
  exit 1
fi

command -v "$JAVAC" >/dev/null || { log "$JAVAC not found (OpenSearch ${OPENSEARCH_VERSION} needs a JDK 11+; 17 recommended)"; exit 1; }
command -v "$MVN" >/dev/null || { log "$MVN not found"; exit 1; }

mvn_args=(-q -B -Dstyle.color=never)
[[ -n "${MAVEN_REPO_LOCAL:-}" ]] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")

work="$(mktemp -d "$DIR/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

dep() { echo "    <dependency><groupId>$1</groupId><artifactId>$2</artifactId><version>$3</version></dependency>"; }
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mediamesh.local</groupId>
  <artifactId>opensearch-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$(dep org.opensearch opensearch "$OPENSEARCH_VERSION")
$(dep org.opensearch.plugin transport-netty4-client "$OPENSEARCH_VERSION")
$(dep org.opensearch.plugin analysis-common "$OPENSEARCH_VERSION")
$(dep org.opensearch.plugin lang-painless "$OPENSEARCH_VERSION")
$(dep org.opensearch.plugin reindex-client "$OPENSEARCH_VERSION")
$(dep org.opensearch.plugin mapper-extras-client "$OPENSEARCH_VERSION")
    <!-- optional in the server's pom, so not pulled in; the same version as its log4j-api -->
$(dep org.apache.logging.log4j log4j-core "$LOG4J_VERSION")
  </dependencies>
</project>
POM

log "resolving OpenSearch ${OPENSEARCH_VERSION} from Maven Central (a cold Maven cache downloads ~62 MB)"
if ! "$MVN" "${mvn_args[@]}" -f "$work/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$work/lib" -DincludeScope=runtime >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  log "mvn dependency:copy-dependencies failed"
  exit 1
fi

log "compiling the launcher"
mkdir -p "$work/launcher"
if ! "$JAVAC" -nowarn -d "$work/launcher" -cp "$work/lib/*" "$HERE/EmbeddedOpenSearch.java" >"$work/javac.log" 2>&1; then
  cat "$work/javac.log" >&2
  log "javac failed"
  exit 1
fi

rm -rf "$DIR/lib" "$DIR/launcher"
mv "$work/lib" "$DIR/lib"
mv "$work/launcher" "$DIR/launcher"
write_config
echo "$WANT" >"$MARKER"
jars=("$DIR"/lib/*.jar)
log "installed $WANT (${#jars[@]} jars) in $DIR"
