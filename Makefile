# Touchline's front door. `make help` lists the targets.
GO      ?= go
BIN     := bin/touchline
OUT     := out
GOFLAGS ?=

.DEFAULT_GOAL := help

.PHONY: help build run test vet lint bench fuzz clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/touchline
	$(GO) build -o $(BIN) ./cmd/touchline

run: build ## offline demo: start the simulated mail world and clean examples/prospects.csv
	@mkdir -p $(OUT)
	./$(BIN) demo --list examples/prospects.csv --answers examples/prospects.answers.csv --output $(OUT)/prospects.cleaned.csv

test: vet ## go vet, then every test with the race detector
	$(GO) test -race -count=1 ./...

vet: ## go vet and gofmt
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

lint: vet ## static checks (vet + gofmt)

bench: ## benchmarks (verifier throughput against the simulated world)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./verifier/...

fuzz: ## fuzz the address parser for 30s
	$(GO) test -run '^$$' -fuzz FuzzParseAddress -fuzztime 30s ./verifier

clean: ## remove build output
	rm -rf bin $(OUT)
