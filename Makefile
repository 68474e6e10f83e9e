# robustmq: one binary, three roles. `make run` starts a standalone node, `make test` runs the default suite.
GO      ?= go
BIN     := bin/robustmq
CONFIG  ?=
PKGS    := ./...
# The default suite must stay well under CI's budget; soak/chaos/bench runs live behind their own targets.
TEST_TIMEOUT ?= 15m
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X robustmq/server/node.Commit=$(COMMIT)

.PHONY: build run test fmt vet lint perf soak proto cluster clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/robustmq

run: build
	./$(BIN) start $(if $(CONFIG),--config $(CONFIG))

test: build vet
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# perf runs every package benchmark; each prints its own same-run baseline (raw disk, memcpy, plain net echo,
# map lookup, global lock) beside the engine it judges, so read ratios, not absolute numbers. Output is kept
# in data/perf/bench.txt for benchstat. PERF_BENCH narrows it (e.g. PERF_BENCH=BenchmarkEcho).
PERF_PKGS      ?= ./netpoll/ ./segment/ ./shard/... ./codec/... ./server/message/... ./server/mqtt/ ./server/kafka/ ./raftgroups/...
PERF_BENCH     ?= .
PERF_BENCHTIME ?= 1s
perf: build
	@mkdir -p data/perf
	$(GO) test -run '^$$' -bench '$(PERF_BENCH)' -benchtime $(PERF_BENCHTIME) -benchmem $(PERF_PKGS) | tee data/perf/bench.txt

soak:
	ROBUSTMQ_SOAK=1 $(GO) test -race -timeout 60m -run 'TestCrash$$' -v ./segment/

# proto regenerates server/pb from its .proto files (the generated code is committed; CI does not run this).
# protoc comes from Debian's protobuf-compiler; the Go plugins are pinned and installed into bin/.
PROTOC_GEN_GO      := v1.36.12
PROTOC_GEN_GO_GRPC := v1.6.2
proto:
	@command -v protoc >/dev/null || { apt-get update && apt-get install -y protobuf-compiler; }
	@bin/protoc-gen-go --version 2>/dev/null | grep -qx 'protoc-gen-go $(PROTOC_GEN_GO)' || \
		GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO)
	@bin/protoc-gen-go-grpc --version 2>/dev/null | grep -qx 'protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC:v%=%)' || \
		GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC)
	cd server/pb && PATH=$(CURDIR)/bin:$$PATH protoc --proto_path=. \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative *.proto

# cluster starts the 3-node cluster of config/cluster/server-{1,2,3}.toml on loopback in the background (logs and
# pids in data/cluster-N.{log,pid}); `curl -s 127.0.0.1:58080/api/cluster/raft` shows the groups; stop with
# `kill $$(cat data/cluster-*.pid)`.
cluster: build
	@mkdir -p data
	@for i in 1 2 3; do ./$(BIN) start --config config/cluster/server-$$i.toml >data/cluster-$$i.log 2>&1 & echo $$! >data/cluster-$$i.pid; done
	@echo "cluster starting: nodes' admin on :58080 :58082 :58083; logs data/cluster-N.log; stop: kill \$$(cat data/cluster-*.pid)"

clean:
	rm -rf bin data
