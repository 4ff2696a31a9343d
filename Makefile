# Gatescope's build. The two commands a fresh machine needs: `make demo`
# and `make test`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN := bin/gatescope
# How long each fuzz target runs: briefly in `make test`, longer in `make fuzz`.
FUZZTIME ?= 5s
LONG_FUZZTIME ?= 2m

.PHONY: all build test unit fuzz-short fuzz demo bench vet clean web web-test

all: build

# web: the dashboard (web/), built by npm (Vite) into web/dist/app, which
# web/embed.go embeds into the binary. npm ci runs again only when the lock
# file changes; the build only when a source changes.
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SRC := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web/dist/app/index.html: $(WEB_DEPS) $(WEB_SRC)
	cd web && npm run build

web: web/dist/app/index.html

# web-test: the dashboard's unit tests (Vitest).
web-test: $(WEB_DEPS)
	cd web && npm test

build: web
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatescope

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal deploy scripts web/*.go)" || { gofmt -l cmd internal deploy scripts web/*.go; echo "gofmt needed"; exit 1; }

# test: vet, the dashboard's unit tests, every package's tests (the browser
# test in web/ among them, on the built dashboard), then each fuzz target
# briefly.
test: vet web-test unit fuzz-short

unit: web
	$(GO) test -count=1 -timeout 20m ./...

fuzz-short:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

fuzz:
	FUZZTIME=$(LONG_FUZZTIME) scripts/fuzz.sh

demo: build
	$(BIN) demo

# bench: the ingest benchmark side by side with GoAccess parsing the same
# lines, then the package benchmarks.
bench: build
	scripts/bench.sh

clean:
	rm -rf bin web/dist/app

# reliability: the full crash, overload, hostile-input, isolation, TLS and
# soak runs of internal/reliability (docs/reliability.md), each printing
# its figures. `make test` runs short versions of the same tests (in
# `unit`) and prints their figures at the end. Knobs: GATESCOPE_CRASH_KILLS,
# GATESCOPE_CRASH_SEED, GATESCOPE_OVERLOAD_DURATION, GATESCOPE_SOAK_DURATION.
export GATESCOPE_FIGURES ?= $(CURDIR)/bin/reliability-figures.txt
RELIABILITY_TESTS := TestCrashSafety|TestGracefulShutdown|TestOverload|TestSlowClients|TestHostileInput|TestIsolationAndSecrets|TestTLS|TestACME|TestSoak

.PHONY: reliability reliability-figures reliability-figures-reset

reliability: reliability-figures-reset
	set -o pipefail; GATESCOPE_RELIABILITY=full $(GO) test -count=1 -v -timeout 60m -run '^($(RELIABILITY_TESTS))$$' ./internal/reliability/ \
		| grep -E '^(--- |PASS|FAIL|ok|panic)|FIGURES|_test.go'
	@$(MAKE) --no-print-directory reliability-figures

reliability-figures-reset:
	@mkdir -p $(dir $(GATESCOPE_FIGURES)) && rm -f $(GATESCOPE_FIGURES)

reliability-figures:
	@if [ -f $(GATESCOPE_FIGURES) ]; then echo "Reliability figures:"; cat $(GATESCOPE_FIGURES); fi

unit: reliability-figures-reset
test: reliability-figures
