#!/usr/bin/env bash
# Assemble a runnable Apache Kafka (KRaft) classpath from Maven Central, without
# Docker and without the Kafka tarball: kafka_2.13 + kafka-tools with all their
# runtime dependencies, plus the slf4j-reload4j backend that matches the
# slf4j-api Kafka resolves to.
#
#   tools/kafka/install.sh [DIR]
#
# DIR defaults to ${MEDIAMESH_KAFKA_HOME:-$HOME/.cache/mediamesh/kafka}.
# Result: DIR/libs/*.jar, DIR/config/log4j.properties, DIR/.installed (version).
# Idempotent: returns at once when DIR/.installed names the wanted version.
#
# Environment: KAFKA_VERSION (default 3.9.2), MVN (default mvn),
# MAVEN_REPO_LOCAL (optional -Dmaven.repo.local).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
SCALA_VERSION="2.13"
DIR="${1:-${MEDIAMESH_KAFKA_HOME:-$HOME/.cache/mediamesh/kafka}}"
MVN="${MVN:-mvn}"
MARKER="$DIR/.installed"
WANT="kafka_${SCALA_VERSION}-${KAFKA_VERSION}"

log() { echo "kafka-install: $*" >&2; }

write_log4j() {
  mkdir -p "$DIR/config" "$DIR/logs"
  # WARN and above to stderr (which start.sh sends to DIR/logs/kafka.out).
  cat >"$DIR/config/log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
# Keep the one line that says the broker started.
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka$=INFO
EOF
}

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]] && compgen -G "$DIR/libs/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" >/dev/null; then
  [[ -f "$DIR/config/log4j.properties" ]] || write_log4j
  log "$WANT already installed in $DIR"
  exit 0
fi

# One install at a time per DIR; the winner's marker satisfies the others.
mkdir -p "$DIR"
exec 8>"$DIR/.install.lock"
flock -w 900 8 || { log "timed out waiting for another install on $DIR"; exit 1; }
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]]; then
  log "$WANT installed in $DIR by a concurrent run"
  exit 0
fi

command -v java >/dev/null || { log "java not found (Kafka ${KAFKA_VERSION} needs Java 11+; 17 recommended)"; exit 1; }
command -v "$MVN" >/dev/null || { log "$MVN not found"; exit 1; }

mvn_args=(-q -B -Dstyle.color=never)
[[ -n "${MAVEN_REPO_LOCAL:-}" ]] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")

work="$(mktemp -d "$DIR/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/libs"

pom() { # pom FILE DEPENDENCIES_XML
  cat >"$1" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mediamesh.local</groupId>
  <artifactId>kafka-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$2
  </dependencies>
</project>
EOF
}

copy_deps() { # copy_deps POM  (Maven's output goes to a log, shown on failure)
  if ! "$MVN" "${mvn_args[@]}" -f "$1" dependency:copy-dependencies \
    -DoutputDirectory="$stage" -DincludeScope=runtime -DexcludeTransitive=false \
    >"$work/mvn.log" 2>&1; then
    cat "$work/mvn.log" >&2
    log "mvn dependency:copy-dependencies failed"
    exit 1
  fi
}

log "resolving $WANT from Maven Central (a cold Maven cache downloads ~75 MB)"
pom "$work/pom.xml" "
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA_VERSION}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_VERSION}</version></dependency>"
copy_deps "$work/pom.xml"

# Logging backend matching the slf4j-api Kafka resolved to.
shopt -s nullglob
slf4j_jars=("$stage"/slf4j-api-*.jar)
shopt -u nullglob
if ((${#slf4j_jars[@]} == 0)); then
  log "no slf4j-api jar among Kafka's dependencies; cannot pick a logging backend"
  exit 1
fi
slf4j_jar="${slf4j_jars[0]##*/}"
slf4j_version="${slf4j_jar#slf4j-api-}"
slf4j_version="${slf4j_version%.jar}"
if ! compgen -G "$stage/slf4j-reload4j-*.jar" >/dev/null && ! compgen -G "$stage/slf4j-log4j12-*.jar" >/dev/null; then
  log "adding slf4j-reload4j $slf4j_version"
  mkdir -p "$work/log"
  pom "$work/log/pom.xml" "
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${slf4j_version}</version></dependency>"
  copy_deps "$work/log/pom.xml"
fi

# Sanity: the classes start.sh and the tests use must be there.
for cls in kafka/Kafka.class kafka/tools/StorageTool.class; do
  found=0
  for j in "$stage"/kafka_*.jar; do
    if unzip -l "$j" "$cls" >/dev/null 2>&1; then found=1; break; fi
  done
  [[ $found == 1 ]] || { log "missing $cls in kafka jar"; exit 1; }
done

# Swap in atomically enough: replace libs, then write the marker last.
rm -rf "$DIR/libs.old"
[[ -d "$DIR/libs" ]] && mv "$DIR/libs" "$DIR/libs.old"
mv "$stage" "$DIR/libs"
rm -rf "$DIR/libs.old"
rm -f "$DIR/kafka.jsa" "$DIR/kafka.jsa.tmp" # class-data archive of the old jars
write_log4j
echo "$WANT" >"$MARKER"
jars=("$DIR"/libs/*.jar)
log "installed $WANT (${#jars[@]} jars, slf4j $slf4j_version) in $DIR"
