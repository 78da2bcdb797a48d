#!/usr/bin/env bash
# Contract tests: start the real binary in `all` mode and let Schemathesis fuzz every implemented
# operation of both gateways (tools/implemented decides which) and the GraphQL endpoint.
# Usage: integration/contract/run.sh [path/to/mediamesh]. Needs `st` (pip install schemathesis).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-bin/mediamesh}
DISCOVERY_PORT=${DISCOVERY_PORT:-18080}
CMS_PORT=${CMS_PORT:-18081}
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
SEED=${SEED:-20261125}
MAX_TIME=${MAX_TIME:-120}

if ! command -v st >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then echo "contract: schemathesis (st) is not installed" >&2; exit 1; fi
  echo "contract: SKIP, schemathesis (st) is not installed (pip install schemathesis)"; exit 0
fi

work=$(mktemp -d)
ADMIN_PASSWORD="contract-admin-$RANDOM$RANDOM"
# The gateways' x-rate-limit is off here so that the fuzzer reaches the logic behind every operation
# instead of 429s; rate limiting has tests of its own (internal/ratelimit, internal/gateway).
"$BIN" --target=all --data-dir="$work/data" --log.level=warn --auth.admin-password="$ADMIN_PASSWORD" --gateway.rate-limits=false \
  --gateway.discovery-addr=127.0.0.1:$DISCOVERY_PORT --gateway.cms-addr=127.0.0.1:$CMS_PORT >"$work/mediamesh.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for port in $DISCOVERY_PORT $CMS_PORT; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "contract: mediamesh exited:"; cat "$work/mediamesh.log"; exit 1; }
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "contract: gateway on $port not ready"; cat "$work/mediamesh.log"; exit 1; }
done

# An ADMIN token, so secured operations are fuzzed past authentication (Schemathesis's ignored_auth
# check still sends requests without it and expects 401).
TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@mediamesh.local\",\"password\":\"$ADMIN_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

mkdir -p .tmp/contract
status=0

# Newman: the generated Postman collections, for every folder (tag) whose operations are all
# implemented, as the collection's example user (made an ADMIN here so every request is allowed).
if [ -x node_modules/.bin/newman ]; then
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$CMS_PORT/api/v1/auth/users" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{"email":"layla.hassan@example.com","display_name":"Layla","password":"correct-horse-battery-staple","roles":["ADMIN"]}'
  for gw in discovery:$DISCOVERY_PORT cms:$CMS_PORT; do
    name=${gw%%:*} port=${gw##*:}
    mapfile -t folders < <(go run ./tools/implemented -bundle "gen/openapi/bundle/$name.json" -tags)
    [ ${#folders[@]} -gt 0 ] || continue
    args=()
    for f in "${folders[@]}"; do args+=(--folder "$f"); done
    echo "== newman: $name (${folders[*]})"
    if ! node_modules/.bin/newman run "postman/$name.postman_collection.json" -e postman/environments/embedded.postman_environment.json \
        --env-var "${name}_url=http://127.0.0.1:$port" "${args[@]}" --reporters cli,junit \
        --reporter-junit-export ".tmp/contract/newman-$name.xml" --disable-unicode; then
      status=1
    fi
  done
elif [ "${CI:-}" = "true" ]; then
  echo "contract: newman is not installed (npm ci)"; status=1
fi
run_st() { # name, then st arguments
  local name=$1; shift
  echo "== schemathesis: $name"
  if ! PYTHONPATH="$PWD/integration/contract${PYTHONPATH:+:$PYTHONPATH}" st --config-file integration/contract/schemathesis.toml run "$@" --seed "$SEED" --max-time "$MAX_TIME" --no-color --report junit \
      --report-junit-path ".tmp/contract/$name.xml" --generation-database none; then
    status=1
  fi
}

for gw in discovery:$DISCOVERY_PORT cms:$CMS_PORT; do
  name=${gw%%:*} port=${gw##*:}
  mapfile -t ops < <(go run ./tools/implemented -bundle "gen/openapi/bundle/$name.json")
  if [ ${#ops[@]} -eq 0 ]; then
    echo "== schemathesis: $name gateway has no implemented operation yet; its REST contract is not fuzzed"
    continue
  fi
  args=()
  for op in "${ops[@]}"; do args+=(--include-operation-id "$op"); done
  # ensure_resource_availability is off: the fuzzer reuses Idempotency-Key values, and a create
  # replayed by key (the contract) returns the first response even after that resource was deleted,
  # which the check reads as "created resource not found". On the CMS gateway use_after_free is off
  # too: programs and episodes are soft-deleted and stay readable until purged (the contract), and
  # Schemathesis applies per-operation check settings to neither of its stateful checks; the
  # resources deleted for good there (categories, users, assets, sources) get a use_after_free run of
  # their own below.
  exclude=ensure_resource_availability
  [ "$name" = cms ] && exclude=ensure_resource_availability,use_after_free
  run_st "$name-rest" "http://127.0.0.1:$port/openapi.json" --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $TOKEN" --checks all --exclude-checks "$exclude" \
    --max-examples "$MAX_EXAMPLES" "${args[@]}"
done
run_st cms-hard-deletes "http://127.0.0.1:$CMS_PORT/openapi.json" --url "http://127.0.0.1:$CMS_PORT" \
  -H "Authorization: Bearer $TOKEN" --phases stateful --checks use_after_free,not_a_server_error \
  --include-path-regex '^/api/v1/(metadata/categories|auth/users|media/assets|ingest/sources)' --max-examples "$MAX_EXAMPLES"

# GraphQL: Schemathesis's not_a_server_error counts every resolver error as a failure, so hooks.py
# replaces it with a check that every error is classified and nothing is a 5xx or INTERNAL.
SCHEMATHESIS_HOOKS=hooks run_st discovery-graphql "http://127.0.0.1:$DISCOVERY_PORT/graphql" \
  --checks graphql_classified_errors --max-examples "$MAX_EXAMPLES"

if grep -q '"level":"ERROR"' "$work/mediamesh.log"; then
  echo "contract: the binary logged errors during the run:"; grep '"level":"ERROR"' "$work/mediamesh.log" | head -20
  status=1
fi
exit $status
