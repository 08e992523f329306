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

run: build ## the server on the simulated mail world: database up, migrate, serve, upload examples/prospects.csv
	@url=$$(deploy/local-postgres.sh url) || { echo "make run: no database (see above)" >&2; exit 1; }; \
	DATABASE_URL="$$url" ./$(BIN) migrate && \
	echo "Starting touchline serve --sim on $(LISTEN) (Ctrl-C stops it)..." && \
	DATABASE_URL="$$url" ./$(BIN) serve --sim --listen $(LISTEN) --demo-upload examples/prospects.csv

demo: build ## no database: clean examples/prospects.csv with the CLI against the simulated world and score it
	@mkdir -p $(OUT)
	./$(BIN) demo --list examples/prospects.csv --answers examples/prospects.answers.csv --output $(OUT)/prospects.cleaned.csv

test: vet chromium mailservers ## go vet, then every test with the race detector (database: DATABASE_URL, else a throwaway local cluster)
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
		{ $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium >/dev/null 2>&1 || \
		  { $$sudo apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium >/dev/null; }; } || \
		echo "make: installing chromium failed (see apt-get above); the dashboard's browser test will skip, and fail in CI" >&2; \
	fi

# The real-mail tests (internal/realmail) run Debian's Postfix and Dovecot
# as private instances on loopback ports, with their own configuration.
# Quiet when they are there; otherwise installed as root, or with sudo
# when that needs no password, else a warning (the tests then skip, and
# fail in CI). Postfix is installed unconfigured and the system services
# the packages start are stopped and disabled: nothing is left on 25 or 143.
MAILSERVER_PKGS := postfix dovecot-imapd dovecot-lmtpd
.PHONY: mailservers
mailservers: ## install Debian's postfix and dovecot for the real-mail tests, when missing
	@if [ ! -x /usr/lib/postfix/sbin/master ] || [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/lmtp ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
		else echo "make: postfix and dovecot are missing and cannot be installed here (not root, no passwordless sudo); the real-mail tests (internal/realmail) will skip, and fail in CI. Install them with: sudo apt-get install -y $(MAILSERVER_PKGS)" >&2; exit 0; fi; \
		echo "make: installing $(MAILSERVER_PKGS) (Debian packages) for the real-mail tests, in which Touchline sends through Postfix, reads its DSNs and polls Dovecot over IMAP; the tests run their own instances, so the system services are left stopped and disabled..."; \
		echo "postfix postfix/main_mailer_type select No configuration" | $$sudo debconf-set-selections 2>/dev/null; \
		if { $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 $(MAILSERVER_PKGS) >/dev/null 2>&1 || \
		  { $$sudo apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 $(MAILSERVER_PKGS) >/dev/null; }; }; then \
			if [ -d /run/systemd/system ]; then $$sudo systemctl disable --now -q postfix dovecot >/dev/null 2>&1 || true; \
			else for s in postfix dovecot; do $$sudo service $$s stop >/dev/null 2>&1 || true; done; fi; \
		else echo "make: installing $(MAILSERVER_PKGS) failed (see apt-get above); the real-mail tests will skip, and fail in CI" >&2; fi; \
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
	$(GO) test -run '^$$' -bench CleanList -benchtime 1x ./internal/cli
	@url=$$(deploy/local-postgres.sh url) || exit 1; \
	TOUCHLINE_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -bench Ingest -benchtime 3x ./internal/server && \
	TOUCHLINE_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -bench EndToEnd -benchtime 1x -timeout 30m ./cmd/touchline

# Every parser of outside input that has a fuzz target: `package Target`.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	verifier:FuzzParseAddress verifier:FuzzReadReply \
	verifier/domaincheck:FuzzSPFRecord verifier/domaincheck:FuzzDMARCRecord \
	internal/inbound:FuzzSMTPSession internal/inbound/classify:FuzzClassify \
	internal/listfile:FuzzReader internal/dkimkey:FuzzParsePrivateKey internal/dkimkey:FuzzValidSelector \
	sequencer:FuzzCompile sequencer/template:FuzzParse \
	sequencer/calendar:FuzzParseDelay sequencer/calendar:FuzzParseClock sequencer/calendar:FuzzParseDate sequencer/calendar:FuzzWindow \
	sequencer/message:FuzzBuild sequencer/message:FuzzParseReturnPath sequencer/message:FuzzParseUnsubscribeToken

fuzz: ## run every fuzz target for FUZZTIME each (default 30s): addresses, SMTP replies and sessions, SPF/DMARC, CSV, cadences, templates, tokens
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name ./$$pkg ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg; \
	done

clean: ## remove build output
	rm -rf bin $(OUT)
