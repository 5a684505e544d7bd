# Sluice make targets. `make test` needs Go, Java 17+ and Maven (it fetches and
# runs a real Apache Kafka broker); `make test-short` and `make demo` need Go only.

SHELL := /bin/bash
GO ?= go
BROKERS ?= 1
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all test test-short test-fault kafka-up kafka-down kafka-status demo bench bench-quick bench-go lint

all: test-short

# Unit and integration tests against a real 1-broker cluster plus the fault
# tests against a real 3-broker cluster; both are stopped afterwards.
test:
	scripts/test.sh all

# Everything against the in-process kfake cluster; no broker, no Java.
test-short:
	$(GO) test -race -short -count=1 ./...

# Only the fault tests (TestFault*), against the 3-broker cluster.
test-fault:
	scripts/test.sh fault

# The exactly-once system test (eostest/, modelled on Kafka's StreamsEosTest)
# on the 3-broker cluster, started here if it is not running: a few minutes
# of kill -9s, scaling and a broker bounce under exactly_once_v2, then the
# verifier; plus the check that the verifier catches at_least_once. Logs go
# to eostest/work/<run>/. EOS_DURATION=10m for the long run; EOS_GUARANTEE,
# EOS_RATE, EOS_KILL_EVERY, EOS_COMMIT_INTERVAL and EOS_SEED shape it (see
# eostest/harness). test-eos-short is one 1-minute exactly_once_v2 run.
.PHONY: test-eos test-eos-short
test-eos:
	EOS_TEST=1 scripts/test.sh fault -run '^TestEOS' ./eostest/harness

test-eos-short:
	EOS_TEST=1 EOS_DURATION=$${EOS_DURATION:-60s} scripts/test.sh fault -run '^TestEOS$$' ./eostest/harness

# The conformance harness (conformance/): every case's topology on Java
# Kafka Streams 4.4.0 and on Sluice, on backlog and paced input, under
# at_least_once and exactly_once_v2, plus the migration cases; writes
# conformance/RESULTS.md and fails on a difference not listed in
# conformance/known-diffs.txt. Needs Java 17+ and Maven; uses the 1-broker
# cluster (started here if it is not running). A bounded subset is part of
# `make test`. Extra driver flags go in CONFORM_FLAGS (-cases, -shapes, ...).
.PHONY: test-conformance
test-conformance:
	GO=$(GO) conformance/run.sh full $(CONFORM_FLAGS)

# Start / stop a test cluster by hand: make kafka-up BROKERS=3
kafka-up:
	scripts/kafka.sh up --brokers $(BROKERS)

kafka-down:
	scripts/kafka.sh down --brokers $(BROKERS)

kafka-status:
	scripts/kafka.sh status

# The word-count example on the embedded cluster.
demo:
	$(GO) run ./examples/wordcount -input examples/wordcount/testdata/input.txt

# The side-by-side benchmark (franz-go ceiling, Sluice, Java Kafka Streams) on
# the real 1-broker cluster, started here if it is not running (and then
# stopped again); writes BENCHMARKS.md and bench/results/. Needs Java 17+ and
# Maven. bench-quick is the short run (a minute or two); extra harness flags
# go in BENCH_FLAGS, e.g. make bench BENCH_FLAGS='-runs 5 -profile'.
# BASELINE=<commit> adds the word count of that commit's build as a contender.
bench:
	GO=$(GO) bench/run.sh $(BENCH_FLAGS)

bench-quick:
	GO=$(GO) bench/run.sh -quick $(BENCH_FLAGS)

# The Go micro-benchmarks of every package (no broker).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# gofmt, go vet, and staticcheck when it can be fetched from the module proxy.
lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -version >/dev/null 2>&1; then \
		echo "staticcheck $(STATICCHECK_VERSION) ./..."; \
		$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...; \
	else \
		echo "lint: staticcheck $(STATICCHECK_VERSION) could not be fetched; skipped"; \
	fi
