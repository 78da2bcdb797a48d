# MediaMesh. `make run` starts the whole platform on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin/mediamesh
# The summariser of `make test`: follows `go test -json` (printing it as go test would) and writes the summary.
TESTSUMMARY := .tmp/bin/testsummary
export GOFLAGS := -buildvcs=false

.PHONY: all build run run-split generate migration check-generated compat release-specs lint test test-unit test-race test-fault test-contract test-security bench bench-split bench-search-1m tools-npm clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mediamesh

## run: every service and both gateways in one process on embedded defaults; flags in ARGS, e.g.
## make run ARGS="--data-dir=/tmp/mm --gateway.discovery-addr=127.0.0.1:9080".
run: build
	./$(BIN) --target=all --log.format=text $(ARGS)

## run-split: every service and both gateways as separate processes (deploy/run-split.sh; see deploy/README.md).
run-split:
	GO="$(GO)" bash deploy/run-split.sh

## generate: everything under gen/, the topic names (internal/eventbus/topics.gen.go), the gateway bundles, the Postman collections, the TypeScript SDK's types
## (sdk/typescript/src/{cms,discovery}.ts) and the Swagger UI and GraphiQL assets.
generate: tools-npm
	$(GO) generate ./gen/openapi/...
	$(GO) generate ./gen/events/...
	$(GO) generate ./internal/eventbus/
	$(GO) generate ./gen/graphql/...
	$(GO) generate ./ent/...
	$(GO) run ./tools/bundle -out gen/openapi/bundle
	$(GO) run ./tools/postmangen -in gen/openapi/bundle -out postman
	node_modules/.bin/openapi-typescript gen/openapi/bundle/cms.json -o sdk/typescript/src/cms.ts >/dev/null
	node_modules/.bin/openapi-typescript gen/openapi/bundle/discovery.json -o sdk/typescript/src/discovery.ts >/dev/null
	cp node_modules/swagger-ui-dist/{swagger-ui.css,swagger-ui-bundle.js,swagger-ui-standalone-preset.js,favicon-32x32.png,LICENSE} internal/docsui/dist/
	mkdir -p internal/graphiql/dist/{graphiql,react,react-dom}
	cp node_modules/graphiql/{graphiql.min.js,graphiql.min.css,LICENSE} internal/graphiql/dist/graphiql/
	cp node_modules/react/{umd/react.production.min.js,LICENSE} internal/graphiql/dist/react/
	cp node_modules/react-dom/{umd/react-dom.production.min.js,LICENSE} internal/graphiql/dist/react-dom/

tools-npm:
	@if [ ! -d node_modules/swagger-ui-dist ] || [ ! -d node_modules/graphiql ] || [ ! -d node_modules/newman ] || [ ! -d node_modules/openapi-typescript ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

## migration: the next versioned migration of SERVICE's database (cms, metadata, discovery) after a change to its
## x-ent annotations and `make generate`, e.g. `make migration SERVICE=cms NAME=add_rating`. Needs a
## PostgreSQL server for the throwaway dev database (MEDIAMESH_TEST_POSTGRES_URL).
migration:
	$(GO) run ./tools/entmigrate -service "$(SERVICE)" -name "$(NAME)"

## check-generated: fails when `make generate` changes or adds any file.
check-generated: generate
	@changed=$$(git status --porcelain -- gen ent postman sdk/typescript/src internal/docsui/dist internal/graphiql/dist internal/eventbus/topics.gen.go specs go.mod go.sum); \
	if [ -n "$$changed" ]; then echo "make generate changed these files; run it and commit:"; echo "$$changed"; git diff --stat -- gen ent postman; exit 1; fi
	@echo "generated code is current"

## compat: fails when a contract breaks what specs/released holds.
compat:
	$(GO) run ./tools/compat -released specs/released -current specs

## release-specs: record the current contracts as released (only after compat passes).
release-specs: compat
	$(GO) run ./tools/compat -release

## lint: go vet everywhere, then golangci-lint (pinned in tools/lint/go.mod; rules in .golangci.yml): the
## boundary rules (depguard: no service imports another, internal/ imports no service outside the
## composition root, gen/ imports nothing hand-written), staticcheck, unused, ineffassign, and the gofmt
## and goimports check; generated code is checked for its imports only.
lint:
	$(GO) vet ./...
	$(GO) tool -modfile=tools/lint/go.mod golangci-lint run --allow-parallel-runners ./...

## test: unit tests, the race detector on the concurrent packages and the contract tests (Newman,
## Schemathesis, the SDKs) against the real binary at once (TEST_JOBS of them; each part's output shows
## when it ends), then the fault suite alone; every part runs even when one fails, and the run ends
## with one summary (tools/testsummary): packages, tests passed, failed and skipped with the skip reasons
## grouped, contract cases run. The binary is built once. The results stay in .tmp/test and .tmp/contract.
## FUZZ_SECONDS is the time Schemathesis may take in all (integration/contract/run.sh shares it among its
## ten runs; MEDIAMESH_FUZZ_SECONDS there): the default keeps the contract part short and reports the
## operations that reached no 2xx in that time instead of failing; from 630 s (CI's, .ci/run) every
## operation must reach one. TEST_JOBS=1 runs the parts one after another (CI does: on a busy machine
## the end-to-end tests' latency bounds can miss with the other parts beside them).
FUZZ_SECONDS ?= 105
TEST_JOBS ?= 3
test: build tools-npm $(TESTSUMMARY)
	@rm -rf .tmp/test .tmp/contract; status=0; \
	echo "make test: test-unit, test-race and test-contract at once (TEST_JOBS=$(TEST_JOBS), fuzzing budget FUZZ_SECONDS=$(FUZZ_SECONDS) s), then test-fault alone"; \
	$(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target BUILT=1 test-unit test-race test-contract || status=1; \
	$(MAKE) --no-print-directory BUILT=1 test-fault || status=1; \
	echo; $(TESTSUMMARY) -report .tmp || status=1; exit $$status

$(TESTSUMMARY): $(wildcard tools/testsummary/*.go)
	$(GO) build -o $@ ./tools/testsummary

test-unit: $(TESTSUMMARY)
	@mkdir -p .tmp/test
	$(GO) test -json -count=1 $$($(GO) list ./... | grep -v '/integration/fault$$') | $(TESTSUMMARY) -follow .tmp/test/unit.json

## test-race: the packages that share state between goroutines (cache, rate limit, event bus, outbox, inbox,
## gateway, database group commit, token revocations, idempotency, object store locks, the search index)
## under the race detector, on their embedded backends (the real servers are exercised by test-unit;
## under -race they only slow the run). About 2 minutes.
RACE_PKGS := ./internal/cache/... ./internal/ratelimit/... ./internal/eventbus/... ./internal/outbox/... ./internal/inbox/... \
	./internal/gateway/... ./internal/database/... ./internal/authn/... ./internal/idempotency/... ./internal/objectstore/... \
	./services/search/index/...
test-race: $(TESTSUMMARY)
	@mkdir -p .tmp/test
	env -u MEDIAMESH_TEST_POSTGRES_URL -u MEDIAMESH_TEST_POSTGRES_BIN -u MEDIAMESH_TEST_REDIS_URL -u MEDIAMESH_TEST_KAFKA_BROKERS \
		-u MEDIAMESH_TEST_KAFKA_FAULT_HOME -u MEDIAMESH_TEST_OPENSEARCH_URL -u MEDIAMESH_TEST_OPENSEARCH_FAULT_HOME \
		-u MEDIAMESH_TEST_VERSITYGW_BIN -u MEDIAMESH_TEST_CHROMIUM CI=false $(GO) test -json -race -count=1 $(RACE_PKGS) | $(TESTSUMMARY) -follow .tmp/test/race.json

## test-fault: the fault suite (integration/fault, issue 19) alone, so no other test competes with it for
## the CPU its latency bounds assume: split mode on a PostgreSQL, Redis, Kafka and VersityGW of its own
## (see .ci/run), every process killed and every dependency stopped and paused in turn; its table of
## results goes to .tmp/fault/table.md.
test-fault: $(if $(BUILT),,build) $(TESTSUMMARY)
	@mkdir -p .tmp/test
	MEDIAMESH_FAULT_BIN=$(CURDIR)/$(BIN) $(GO) test -json -count=1 -timeout 10m -v -run TestFaults ./integration/fault/ | $(TESTSUMMARY) -follow .tmp/test/fault.json -v

test-contract: $(if $(BUILT),,build tools-npm)
	MEDIAMESH_FUZZ_SECONDS=$(FUZZ_SECONDS) bash integration/contract/run.sh $(BIN)

## test-security: the abuse cases alone (they also run in test-unit): GraphQL exhaustion, token revocation
## (all and split), upload integrity, CORS, the docs CSP and GraphiQL in Chromium, the GraphQL switches, strict input, slow clients, login
## limits, token error messages, the one rule for human text. Needs what test-unit needs (PostgreSQL, Kafka, VersityGW, Chromium).
test-security:
	$(GO) test -count=1 -run 'GraphQLBounds|GraphQLSpendsRESTBudgets|GraphQLPersistedQueriesSpend|IntrospectionSwitch|GraphQLPlayground|GraphQLSwitches|BrowserGraphiQL|TokenRevocation|Revocations|TokensRevokedEvents|BrowserCORS|TestCORS|StrictJSON|BodyDeadline|LoginRateLimitPerAccount|TokenProblems|UnauthorizedChallenges|UploadSession|TestStore|BadRequests|NetworkMessages|ClientAddress|HumanText|DisplayNames|SourceNames|PipelineInvisibleText|ParseFeedInvisibleText|ContractPatterns|PatternsAgree' \
		./internal/... ./services/... ./app/... ./integration/e2e/...

## bench: Go benchmarks (events: on Kafka when MEDIAMESH_TEST_KAFKA_BROKERS is set; search over 100,000
## episodes: also on PostgreSQL when MEDIAMESH_TEST_POSTGRES_URL is set), then the load benchmark in `all`
## mode (tools/loadgen/bench.sh: the bulk import of 20,000 items in items/s, writes by 8 writers, read-model catch-up, and the read scenarios under
## wrk with the gateway cache on and off, each beside a bare echo handler; needs wrk), on 200 x 100
## episodes, then on 100,000 of the fixed 40 words (the worst case for search) and of a Zipf vocabulary
## of 20,000 words per language; then the engagement load (tools/loadgen/engagement.sh: events/s taken by
## recordEngagement and the cached browse p99 beside them, against echo twins of both). Never in CI.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./internal/outbox ./internal/ratelimit
	$(GO) test -run '^$$' -bench . -benchtime 200x -timeout 30m ./services/search/index
	$(GO) test -run '^$$' -bench . -benchtime 20x ./services/media/thumbnail ./services/ingest/feed
	bash tools/loadgen/bench.sh
	bash tools/loadgen/bench.sh -programs 1000
	bash tools/loadgen/bench.sh -programs 1000 -vocabulary 20000
	bash tools/loadgen/engagement.sh

## bench-split: the load benchmark of the split deployment (deploy/run-split.sh on PostgreSQL, Redis and Kafka,
## two discovery gateways sharing Redis); needs MEDIAMESH_SPLIT_POSTGRES_URL (see tools/loadgen/bench-split.sh). Never in CI.
bench-split: build
	bash tools/loadgen/bench-split.sh

## bench-relevance: search quality on the judged Arabic and English query set (tools/relevance): recall@10, MRR@10
## and nDCG@10 per engine and category, side by side, with the queries each engine misses; the in-memory engine
## always, PostgreSQL with MEDIAMESH_TEST_POSTGRES_URL, OpenSearch with MEDIAMESH_TEST_OPENSEARCH_URL. See
## docs/search-relevance.md.
bench-relevance:
	$(GO) run ./tools/relevance -misses

## bench-search-1m: the three search engines on one corpus of 1,000,000 episodes (tools/searchbench): indexing
## docs/s, then searches over HTTP at 32 connections (q/s, p50, p99) beside a bare echo handler; the in-memory
## engine always, PostgreSQL with MEDIAMESH_TEST_POSTGRES_URL, OpenSearch with MEDIAMESH_TEST_OPENSEARCH_URL.
## Heavy (several GB, minutes of every core): never in CI. SEARCHBENCH_FLAGS adds flags (-episodes, -engines,
## -duration, -vocabulary 0, -keep NAME: keep the PostgreSQL and OpenSearch corpora and search them again
## without indexing, -samples, -cpuprofile). See docs/search-scale.md.
bench-search-1m:
	$(GO) run ./tools/searchbench $(SEARCHBENCH_FLAGS)

clean:
	rm -rf bin .tmp
