# Touchline's front door. `make help` lists the targets.
GO      ?= go
BIN     := bin/touchline
OUT     := out
GOFLAGS ?=

.DEFAULT_GOAL := help

.PHONY: help build run demo test vet lint bench fuzz clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/touchline
	$(GO) build -o $(BIN) ./cmd/touchline

LISTEN ?= 127.0.0.1:8080
# What make run serves with. TestREADME (cmd/touchline) starts the same,
# with $(LISTEN) on a free port, and runs the README's shell blocks
# against it.
RUN_ARGS = serve --sim --listen $(LISTEN) --demo-upload examples/prospects.csv

run: build ## the server on the simulated mail world: database up, migrate, serve, upload examples/prospects.csv
	@url=$$(deploy/local-postgres.sh url) || { echo "make run: no database (see above)" >&2; exit 1; }; \
	DATABASE_URL="$$url" ./$(BIN) migrate && \
	echo "Starting touchline serve --sim on $(LISTEN) (Ctrl-C stops it)..." && \
	DATABASE_URL="$$url" ./$(BIN) $(RUN_ARGS)

demo: build ## no database: clean examples/prospects.csv with the CLI against the simulated world and score it
	@mkdir -p $(OUT)
	./$(BIN) demo --list examples/prospects.csv --answers examples/prospects.answers.csv --output $(OUT)/prospects.cleaned.csv

test: vet chromium ## go vet, then every test with the race detector (database: DATABASE_URL, else a throwaway local cluster)
	@url=$$(deploy/local-postgres.sh url) || { echo "make test: no database (see above)" >&2; exit 1; }; \
	echo "TOUCHLINE_TEST_DATABASE_URL=$$url $(GO) test -race -count=1 ./..."; \
	TOUCHLINE_TEST_DATABASE_URL="$$url" $(GO) test -race -count=1 ./...

# The dashboard's end-to-end test drives Debian's headless Chromium. Quiet
# when it is there; otherwise installed as root, or with sudo when that
# needs no password, else a warning (the test then skips, and fails in CI).
.PHONY: chromium
chromium: ## install Debian's chromium for the dashboard's browser test, when missing
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
		else echo "make: chromium is missing and cannot be installed here (not root, no passwordless sudo); the dashboard's browser test will skip, and fail in CI. Install it with: sudo apt-get install -y chromium" >&2; exit 0; fi; \
		echo "make: installing chromium (Debian package) for the dashboard's browser test..."; \
		{ $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { $$sudo apt-get update -q >/dev/null && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; } || \
		echo "make: installing chromium failed (see apt-get above); the dashboard's browser test will skip, and fail in CI" >&2; \
	fi

.PHONY: db db-stop
db: ## print the database URL: DATABASE_URL if reachable, else start/reuse the local cluster in .tmp/
	@deploy/local-postgres.sh url

db-stop: ## stop the local PostgreSQL cluster (deploy/local-postgres.sh status|stop|destroy)
	@deploy/local-postgres.sh stop

vet: ## go vet and gofmt
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

lint: vet ## static checks (vet + gofmt)

bench: ## benchmarks: verifier throughput, API ingest, end-to-end cleaning with 1 and 2 worker processes
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./verifier/...
	@url=$$(deploy/local-postgres.sh url) || exit 1; \
	TOUCHLINE_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -bench Ingest -benchtime 3x ./internal/server && \
	TOUCHLINE_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -bench EndToEnd -benchtime 1x -timeout 30m ./cmd/touchline

fuzz: ## fuzz the address parser for 30s
	$(GO) test -run '^$$' -fuzz FuzzParseAddress -fuzztime 30s ./verifier

clean: ## remove build output
	rm -rf bin $(OUT)
