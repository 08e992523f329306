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
INBOUND_LISTEN ?= 127.0.0.1:2525
# The demo's inbound SMTP certificate: self-signed, made once by Go's own
# generate_cert.go (no openssl needed).
DEMO_TLS := .tmp/demo-tls
# What make run serves with. TestREADME (cmd/touchline) starts the same,
# with $(LISTEN) and $(INBOUND_LISTEN) on free ports and $(DEMO_TLS) a
# pair of its own, and runs the README's shell blocks against it.
RUN_ARGS = serve --sim --listen $(LISTEN) --inbound-listen $(INBOUND_LISTEN) --inbound-tls-cert $(DEMO_TLS)/cert.pem --inbound-tls-key $(DEMO_TLS)/key.pem --demo-upload examples/prospects.csv

$(DEMO_TLS)/cert.pem:
	@mkdir -p $(DEMO_TLS) && cd $(DEMO_TLS) && \
	$(GO) run "$$($(GO) env GOROOT)/src/crypto/tls/generate_cert.go" --host localhost,127.0.0.1,in.touchline-demo.test --ecdsa-curve P256 --duration 8760h 2>/dev/null && \
	echo "make run: made a self-signed certificate for the demo's inbound SMTP server in $(DEMO_TLS)"

run: build $(DEMO_TLS)/cert.pem ## the server on the simulated mail world: database up, migrate, serve, upload examples/prospects.csv
	@url=$$(deploy/local-postgres.sh url) || { echo "make run: no database (see above)" >&2; exit 1; }; \
	DATABASE_URL="$$url" ./$(BIN) migrate && \
	echo "Starting touchline serve --sim on $(LISTEN), inbound SMTP on $(INBOUND_LISTEN) (Ctrl-C stops it)..." && \
	DATABASE_URL="$$url" ./$(BIN) $(RUN_ARGS)

demo: build ## no database: clean examples/prospects.csv with the CLI against the simulated world and score it
	@mkdir -p $(OUT)
	./$(BIN) demo --list examples/prospects.csv --answers examples/prospects.answers.csv --output $(OUT)/prospects.cleaned.csv

test: test-plan vet chromium mailservers ## go vet, then every test with the race detector (database: DATABASE_URL, else a throwaway local cluster)
	@url=$$(deploy/local-postgres.sh url) || { echo "make test: no database (see above)" >&2; exit 1; }; \
	echo "TOUCHLINE_TEST_DATABASE_URL=$$url $(GO) test -race -count=1 ./..."; \
	TOUCHLINE_TEST_DATABASE_URL="$$url" $(GO) test -race -count=1 ./...

# What make test is about to do, before it does it.
.PHONY: test-plan
test-plan:
	@echo "make test: 1. go vet and gofmt"; \
	if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then \
		echo "           2. chromium is here: nothing to install"; \
	else \
		echo "           2. install Debian's chromium with apt-get (about 100 MB; a few minutes, once): the"; \
		echo "              dashboard's tests drive it headless to check the pages as a browser runs them"; \
	fi; \
	echo "           3. PostgreSQL: DATABASE_URL if it answers, else a throwaway cluster in .tmp/postgres"; \
	echo "           4. every package's tests with the race detector, the README's session among them"

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
