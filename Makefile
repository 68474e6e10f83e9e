# robustmq: one binary, three roles. `make run` starts a standalone node, `make test` runs the default suite.
GO      ?= go
BIN     := bin/robustmq
CONFIG  ?=
PKGS    := ./...
# The default suite must stay well under CI's budget; soak/chaos/bench runs live behind their own targets.
TEST_TIMEOUT ?= 15m

.PHONY: build run test fmt vet lint perf soak proto cluster clean

build:
	$(GO) build -o $(BIN) ./cmd/robustmq

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

perf: build
	@echo "no benchmarks yet"

soak:
	@echo "no soak tests yet"

clean:
	rm -rf bin data
