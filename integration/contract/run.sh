#!/usr/bin/env bash
# Contract tests: start the real binary in `all` mode, run Newman over the Postman collections, and
# let Schemathesis fuzz every operation of both gateways as an ADMIN, as an EDITOR and as a USER, and
# the GraphQL endpoint, anonymous and signed in as a USER (the personal fields). Then print, per operation,
# how many requests got a 2xx; an operation with a success response that never got one fails the run
# (coverage.py).
# Usage: integration/contract/run.sh [path/to/mediamesh]. Needs `st` (pip install schemathesis), and
# Newman and TypeScript (npm ci, which it runs when node_modules lacks them). It compiles the
# TypeScript SDK and runs its node test against the binary too. Results go to .tmp/contract for
# tools/testsummary: the JUnit reports, counts.tsv, status (the exit code) or not-run (why not).
#
# Budget (environment): MEDIAMESH_FUZZ_SECONDS is the time Schemathesis may take in all, shared among
# its eleven runs: each ADMIN run (the REST run of each gateway, the CMS hard-delete run, GraphQL) gets
# 4/21 of it, each EDITOR or USER run (one per role and gateway, over the operations that declare
# x-roles) 1/21, the two logout runs half of that; GraphQL's 4/21 is split between the anonymous run
# (three quarters) and the signed-in run of the personal fields (a quarter). Fuzzing and stateful testing repeat until a run's
# time is spent. The default, 630 s (120 s per ADMIN run, 30 s per role run, what CI gives: .ci/run),
# makes the whole run about 13 minutes with Newman; `make test` passes a smaller one (FUZZ_SECONDS in
# the Makefile). MAX_TIME and ROLE_MAX_TIME (seconds) set the two shares directly, MAX_EXAMPLES and
# ROLE_MAX_EXAMPLES the examples per operation of a fuzzing pass. At CI's budget or more, every
# operation with a success response must reach it (coverage.py's gate); below it the runs are too
# short for the stateful chains that lead to some success paths (measured: at 105 s, 25 operations
# got no 2xx), so the operations without one are reported, in the run's output and the summary, and
# do not fail the run. MEDIAMESH_CONTRACT_COVERAGE=gate or =report decides it whatever the budget.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-bin/mediamesh}
# Ports the kernel says are free, unless given: a process already on a fixed port used to make the
# run fail with misleading 401s. (The binary exits if it cannot listen, which the wait below sees.)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
DISCOVERY_PORT=${DISCOVERY_PORT:-$(free_port)}
CMS_PORT=${CMS_PORT:-$(free_port)}
while [ "$CMS_PORT" = "$DISCOVERY_PORT" ]; do CMS_PORT=$(free_port); done
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
SEED=${SEED:-20261125}
FUZZ_SECONDS=${MEDIAMESH_FUZZ_SECONDS:-630}
ROLE_MAX_EXAMPLES=${ROLE_MAX_EXAMPLES:-10}
ADMIN_PORT=${ADMIN_PORT:-$(free_port)}

rm -rf .tmp/contract
mkdir -p .tmp/contract
trap 'echo $? >.tmp/contract/status' EXIT # until the binary runs (cleanup below)
if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]] || [ "$FUZZ_SECONDS" -lt 21 ]; then
  echo "contract: MEDIAMESH_FUZZ_SECONDS must be a whole number of seconds, at least 21 (got \"$FUZZ_SECONDS\")" >&2; exit 2
fi
MAX_TIME=${MAX_TIME:-$(( FUZZ_SECONDS * 4 / 21 ))}
ROLE_MAX_TIME=${ROLE_MAX_TIME:-$(( FUZZ_SECONDS / 21 ))}
COVERAGE=${MEDIAMESH_CONTRACT_COVERAGE:-}
if [ -z "$COVERAGE" ]; then COVERAGE=report; [ "$FUZZ_SECONDS" -ge 630 ] && COVERAGE=gate; fi
case $COVERAGE in gate | report) ;; *) echo "contract: MEDIAMESH_CONTRACT_COVERAGE must be gate or report" >&2; exit 2 ;; esac
echo "contract: fuzzing budget ${FUZZ_SECONDS} s: ${MAX_TIME} s per ADMIN run, ${ROLE_MAX_TIME} s per role run (MEDIAMESH_FUZZ_SECONDS); success coverage: $COVERAGE"
echo "$FUZZ_SECONDS $COVERAGE" >.tmp/contract/budget
if ! [ -x node_modules/.bin/newman ] || ! [ -x node_modules/.bin/tsc ]; then
  echo "contract: installing Newman and TypeScript (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The TypeScript SDK compiles against the contracts (its node test runs below, against the binary).
echo "== tsc: sdk/typescript"
node_modules/.bin/tsc -p sdk/typescript
if ! command -v st >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then echo "contract: FAIL, schemathesis (st) is not installed" >&2; exit 1; fi
  echo "schemathesis (st) is not installed: pip install schemathesis" >.tmp/contract/not-run
  echo "contract: NOT RUN, schemathesis (st) is not installed (pip install schemathesis)"; exit 0
fi

for port in $DISCOVERY_PORT $CMS_PORT; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "contract: port $port is taken by another process; set DISCOVERY_PORT and CMS_PORT" >&2; exit 1
  fi
done

work=$(mktemp -d)
ADMIN_PASSWORD="contract-admin-$RANDOM$RANDOM"
# Every /readyz of the process names this instance: the wait below knows the answer is from the
# process it started, not from another one on the port.
INSTANCE="contract-$$-$RANDOM$RANDOM"
# The gateways' x-rate-limit is off here, and the login limit high, so that the fuzzer reaches the
# logic behind every operation instead of 429s (and fixtures.py can log a session in a few times);
# rate limiting has tests of its own (internal/ratelimit, internal/gateway, services/auth).
"$BIN" --target=all --data-dir="$work/data" --log.level=warn --instance-id="$INSTANCE" --admin-addr=127.0.0.1:$ADMIN_PORT --auth.admin-password="$ADMIN_PASSWORD" --gateway.rate-limits=false \
  --auth.login-rate=600/min \
  --gateway.discovery-addr=127.0.0.1:$DISCOVERY_PORT --gateway.cms-addr=127.0.0.1:$CMS_PORT >"$work/mediamesh.log" 2>&1 &
pid=$!
cleanup() { echo "$1" >.tmp/contract/status; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap 'cleanup $?' EXIT

instance() { # port; prints the instance its /readyz names
  curl -fsS "http://127.0.0.1:$1/readyz" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("instance",""))' 2>/dev/null || true
}
for port in $DISCOVERY_PORT $CMS_PORT $ADMIN_PORT; do
  for _ in $(seq 1 100); do
    [ "$(instance "$port")" = "$INSTANCE" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "contract: mediamesh exited:"; cat "$work/mediamesh.log"; exit 1; }
    sleep 0.1
  done
  got=$(instance "$port")
  if [ "$got" != "$INSTANCE" ]; then
    echo "contract: port $port is not answered by the mediamesh this run started (instance \"$got\", want $INSTANCE)"
    cat "$work/mediamesh.log"; exit 1
  fi
done

# An ADMIN token, so secured operations are fuzzed past authentication (Schemathesis's ignored_auth
# check still sends requests without it and expects 401).
TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@mediamesh.local\",\"password\":\"$ADMIN_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

status=0

# An EDITOR and a USER account, made by the ADMIN, for the role runs.
role_token() { # role [name, default the role's]
  local email password
  email="contract-$(echo "${2:-$1}" | tr '[:upper:]' '[:lower:]')@example.com" password="contract-$1-$RANDOM$RANDOM$RANDOM"
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/users" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"display_name\":\"Contract $1\",\"password\":\"$password\",\"roles\":[\"$1\"]}"
  curl -fsS -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
EDITOR_TOKEN=$(role_token EDITOR)
USER_TOKEN=$(role_token USER)
# A USER account of the signed-in GraphQL run (the role runs' USER token is logged out before it).
VIEWER_TOKEN=$(role_token USER viewer)
user_id() { # token
  curl -fsS "http://127.0.0.1:$CMS_PORT/api/v1/auth/me" -H "Authorization: Bearer $1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# The contracts' example user (the login example's credentials), made an ADMIN so that Newman's
# requests as that user are all allowed and Schemathesis's login example succeeds.
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/users" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"email":"layla.hassan@example.com","display_name":"Layla","password":"correct-horse-battery-staple","roles":["ADMIN"]}'
# hooks.py gives the fuzzer's bodies these language codes (any two letters fit the schema)...
MEDIAMESH_CONTRACT_LANGUAGES=$(curl -fsS "http://127.0.0.1:$CMS_PORT/api/v1/metadata/languages" -H "Authorization: Bearer $TOKEN" |
  python3 -c 'import json,sys; print(",".join(i["code"] for i in json.load(sys.stdin)["items"]))')
export MEDIAMESH_CONTRACT_LANGUAGES
# ...and keeps it from changing these accounts (their roles, their tokens).
MEDIAMESH_CONTRACT_KEEP_USERS="$(user_id "$TOKEN"),$(user_id "$EDITOR_TOKEN"),$(user_id "$USER_TOKEN"),$(user_id "$VIEWER_TOKEN")"
export MEDIAMESH_CONTRACT_KEEP_USERS
# hooks.py's metadata_agrees also reads discovery's view of a published program it checks.
export MEDIAMESH_CONTRACT_DISCOVERY_URL="http://127.0.0.1:$DISCOVERY_PORT"

# A published program with a published episode, so that the discovery gateway's reads of single
# items have something to find (Newman and the fuzzer get their ids through the lists' links). Made
# before Newman and again before the discovery runs, as the CMS runs may take the first one down.
post() { # path, body; prints the answer's id
  curl -fsS -X POST "http://127.0.0.1:$CMS_PORT$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
seed() { # slug
  local program episode
  program=$(post /api/v1/cms/programs "{\"kind\":\"show\",\"title\":\"Contract $1\",\"slug\":\"$1\",\"language\":\"en\"}")
  post "/api/v1/cms/programs/$program/publish" '{}' >/dev/null
  episode=$(post "/api/v1/cms/programs/$program/episodes" '{"episode_number":1,"title":"Contract episode","language":"en"}')
  post "/api/v1/cms/episodes/$episode/publish" '{}' >/dev/null
}
seed contract-seed-1

# Each ADMIN REST run starts from fixtures.py's items (hooks.py points part of its requests at them and
# at what it creates): things the run may change or take down, items in the states that the publish,
# purge and create-episode operations need, a ready asset, and sessions of an account the fuzzer does
# not know (a refresh token is single use, so each run gets its own).
session_password="contract-session-$RANDOM$RANDOM$RANDOM"
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/users" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"email\":\"contract-session@example.com\",\"display_name\":\"Contract session\",\"password\":\"$session_password\",\"roles\":[\"USER\"]}"
session_token=$(curl -fsS -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"contract-session@example.com\",\"password\":\"$session_password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
MEDIAMESH_CONTRACT_KEEP_USERS="$MEDIAMESH_CONTRACT_KEEP_USERS,$(user_id "$session_token")"
known() { # slug; prints MEDIAMESH_CONTRACT_KNOWN
  python3 integration/contract/fixtures.py "http://127.0.0.1:$CMS_PORT" "$TOKEN" "$1" contract-session@example.com "$session_password"
}

# Newman: the generated Postman collections, every request, as the collection's example user.
for gw in discovery:$DISCOVERY_PORT cms:$CMS_PORT; do
  name=${gw%%:*} port=${gw##*:}
  echo "== newman: $name"
  if ! node_modules/.bin/newman run "postman/$name.postman_collection.json" -e postman/environments/embedded.postman_environment.json \
      --env-var "${name}_url=http://127.0.0.1:$port" --reporters cli,junit \
      --reporter-junit-export ".tmp/contract/newman-$name.xml" --disable-unicode; then
    status=1
  fi
done
# The TypeScript SDK (sdk/typescript): list programs, sign in, create and publish a program, as the ADMIN.
echo "== node: the TypeScript SDK against the binary"
if ! MEDIAMESH_SDK_DISCOVERY_URL="http://127.0.0.1:$DISCOVERY_PORT" MEDIAMESH_SDK_CMS_URL="http://127.0.0.1:$CMS_PORT" \
    MEDIAMESH_SDK_EMAIL=admin@mediamesh.local MEDIAMESH_SDK_PASSWORD="$ADMIN_PASSWORD" \
    node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit \
    --test-reporter-destination=.tmp/contract/sdk.xml sdk/typescript/dist/test/; then
  status=1
fi
# The Go clients' example (examples/goclient): the same steps through the generated Go clients.
echo "== go: examples/goclient against the binary"
go run ./examples/goclient -cms "http://127.0.0.1:$CMS_PORT" -discovery "http://127.0.0.1:$DISCOVERY_PORT" \
  -email admin@mediamesh.local -password "$ADMIN_PASSWORD" || status=1
# Every run loads hooks.py: a fresh Idempotency-Key per request, the count of answers per operation
# (into $counts, for coverage.py), and the role_allowed and graphql_classified_errors checks.
counts=$work/counts.tsv
: >"$counts"
run_st() { # name, max-time, then st arguments
  local name=$1 max_time=$2; shift 2
  echo "== schemathesis: $name"
  if ! PYTHONPATH="$PWD/integration/contract${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks \
      MEDIAMESH_CONTRACT_COUNTS="$counts" MEDIAMESH_CONTRACT_RUN="$name" \
      st --config-file integration/contract/schemathesis.toml run "$@" --seed "$SEED" --max-time "$max_time" --no-color --report junit \
      --report-junit-path ".tmp/contract/$name.xml" --generation-database none; then
    status=1
  fi
}

# Role runs first, before the ADMIN runs change and delete users (hooks.py keeps them off the accounts
# the runs use, but not off the example user's).
# role_allowed fails a 2xx for a role outside the operation's x-roles, any answer but the documented
# 401/403 there, and any 5xx. Only the operations that declare x-roles are fuzzed here; the public
# ones are the same for every caller. use_after_free is off on the CMS gateway for the reason below.
for gw in cms:$CMS_PORT discovery:$DISCOVERY_PORT; do
  name=${gw%%:*} port=${gw##*:}
  mapfile -t ops < <(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); [print(o["operationId"]) for i in b["paths"].values() for o in i.values() if isinstance(o,dict) and "x-roles" in o and o["operationId"] != "logout"]' "gen/openapi/bundle/$name.json")
  [ ${#ops[@]} -gt 0 ] || continue
  args=()
  for op in "${ops[@]}"; do args+=(--include-operation-id "$op"); done
  exclude=graphql_classified_errors
  [ "$name" = cms ] && exclude=graphql_classified_errors,use_after_free
  for role in EDITOR USER; do
    token=$EDITOR_TOKEN
    [ "$role" = USER ] && token=$USER_TOKEN
    MEDIAMESH_CONTRACT_ROLE=$role run_st "$name-$(echo "$role" | tr '[:upper:]' '[:lower:]')" "$ROLE_MAX_TIME" \
      "http://127.0.0.1:$port/openapi.json" --url "http://127.0.0.1:$port" -H "Authorization: Bearer $token" \
      --checks all --exclude-checks "$exclude" --max-examples "$ROLE_MAX_EXAMPLES" "${args[@]}"
  done
done

# The CMS gateway first: what its runs publish is there for the discovery gateway's reads.
for gw in cms:$CMS_PORT discovery:$DISCOVERY_PORT; do
  name=${gw%%:*} port=${gw##*:}
  mapfile -t ops < <(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); [print(o["operationId"]) for i in b["paths"].values() for o in i.values() if isinstance(o,dict) and "operationId" in o and o["operationId"] != "logout"]' "gen/openapi/bundle/$name.json")
  args=()
  for op in "${ops[@]}"; do args+=(--include-operation-id "$op"); done
  # On the CMS gateway use_after_free is off: programs and episodes are soft-deleted and stay
  # readable until purged (the contract), and Schemathesis applies per-operation check settings to
  # neither of its stateful checks; the resources deleted for good there (categories, users, assets,
  # sources) get a use_after_free run of their own below.
  exclude=graphql_classified_errors
  [ "$name" = cms ] && exclude=graphql_classified_errors,use_after_free
  if [ "$name" = discovery ]; then seed contract-seed-2 || echo "contract: could not publish a second seed program"; fi
  known=$(known "contract-known-$name") || { echo "contract: could not seed the fixtures of $name-rest"; status=1; }
  MEDIAMESH_CONTRACT_KNOWN=$known run_st "$name-rest" "$MAX_TIME" "http://127.0.0.1:$port/openapi.json" --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $TOKEN" --checks all --exclude-checks "$exclude" \
    --max-examples "$MAX_EXAMPLES" "${args[@]}"
done
run_st cms-hard-deletes "$MAX_TIME" "http://127.0.0.1:$CMS_PORT/openapi.json" --url "http://127.0.0.1:$CMS_PORT" \
  -H "Authorization: Bearer $TOKEN" --phases stateful --checks use_after_free,not_a_server_error \
  --include-path-regex '^/api/v1/(metadata/categories|auth/users|media/assets|ingest/sources)' --max-examples "$MAX_EXAMPLES"

# logout with all_sessions ends every token of its caller (access tokens too), which would turn the
# rest of a run into 401s: the other runs leave it out, and it is fuzzed last, on each gateway with a
# token nothing else needs any more (the EDITOR's, the USER's; logging the ADMIN in again could meet
# the login limit, which the fuzzer's logins count against).
for gw in discovery:$DISCOVERY_PORT:$EDITOR_TOKEN cms:$CMS_PORT:$USER_TOKEN; do
  IFS=: read -r name port token <<<"$gw"
  run_st "$name-logout" "$(( (ROLE_MAX_TIME + 1) / 2 ))" "http://127.0.0.1:$port/openapi.json" --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $token" --checks all --exclude-checks graphql_classified_errors \
    --phases examples,coverage,fuzzing --max-examples "$ROLE_MAX_EXAMPLES" --include-operation-id logout
done

# GraphQL: Schemathesis's not_a_server_error counts every resolver error as a failure, so hooks.py
# replaces it with a check that every error is classified and nothing is a 5xx or INTERNAL.
# Anonymous first (every field; the personal ones answer UNAUTHENTICATED), then signed in as a USER
# over the personal fields and mutations, which must each reach an answer without error
# (coverage.py --require). That account has followed a published program and played one of its
# episodes, so its follows, continue watching, history and feed have items; hooks.py points half
# the follow mutations at that program (publishedProgramId).
graphql_time=$(( MAX_TIME * 3 / 4 > 0 ? MAX_TIME * 3 / 4 : 1 ))
personal_time=$(( MAX_TIME - graphql_time > 0 ? MAX_TIME - graphql_time : 1 ))
run_st discovery-graphql "$graphql_time" "http://127.0.0.1:$DISCOVERY_PORT/graphql" \
  --checks graphql_classified_errors --max-examples "$MAX_EXAMPLES"
personal_fields=(Query.myFollows Query.myContinueWatching Query.myHistory Query.myFeed Mutation.followProgram Mutation.unfollowProgram Mutation.deleteHistory)
read -r viewer_episode viewer_program < <(curl -fsS "http://127.0.0.1:$DISCOVERY_PORT/api/v1/discovery/latest?limit=1" |
  python3 -c 'import json,sys; i=json.load(sys.stdin)["items"][0]; print(i["id"], i["program_id"])') ||
  echo "contract: no published episode for the signed-in GraphQL run"
if [ -n "${viewer_program:-}" ]; then
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$DISCOVERY_PORT/api/v1/discovery/me/follows/$viewer_program" \
    -H "Authorization: Bearer $VIEWER_TOKEN" || echo "contract: the viewer could not follow $viewer_program"
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$DISCOVERY_PORT/api/v1/discovery/events" -H "Authorization: Bearer $VIEWER_TOKEN" \
    -H 'Content-Type: application/json' -A 'MediaMeshContract/1.0' \
    -d "{\"client_id\":\"contract-viewer\",\"events\":[{\"event_id\":\"$(python3 -c 'import uuid; print(uuid.uuid4())')\",\"type\":\"play\",\"content_type\":\"episode\",\"content_id\":\"$viewer_episode\",\"position_seconds\":30}]}" ||
    echo "contract: the viewer could not play $viewer_episode"
fi
personal_regex="^($(IFS='|'; echo "${personal_fields[*]}" | sed 's/\./\\./g'))\$"
MEDIAMESH_CONTRACT_KNOWN="publishedProgramId=${viewer_program:-}" run_st discovery-graphql-personal "$personal_time" \
  "http://127.0.0.1:$DISCOVERY_PORT/graphql" -H "Authorization: Bearer $VIEWER_TOKEN" \
  --checks graphql_classified_errors --max-examples "$MAX_EXAMPLES" --include-name-regex "$personal_regex"

echo "== success coverage (2xx per operation, all REST runs)"
coverage_args=(--missing .tmp/contract/no-2xx)
for field in "${personal_fields[@]}"; do coverage_args+=(--require "discovery $field"); done
[ "$COVERAGE" = report ] && coverage_args+=(--report-only)
python3 integration/contract/coverage.py "${coverage_args[@]}" "$counts" gen/openapi/bundle/discovery.json gen/openapi/bundle/cms.json || status=1
cp "$counts" .tmp/contract/counts.tsv

if grep -q '"level":"ERROR"' "$work/mediamesh.log"; then
  echo "contract: the binary logged errors during the run:"; grep '"level":"ERROR"' "$work/mediamesh.log" | head -20
  status=1
fi
exit $status
