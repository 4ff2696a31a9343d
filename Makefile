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

.PHONY: all build test unit fuzz-short fuzz demo bench vet clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatescope

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal deploy scripts)" || { gofmt -l cmd internal deploy scripts; echo "gofmt needed"; exit 1; }

# test: vet, every package's tests, then each fuzz target briefly.
test: vet unit fuzz-short

unit:
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
	rm -rf bin
