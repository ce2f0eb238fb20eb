# edgerun — build, test and measure. `make help` lists the targets.

GO        ?= go
SHARED    ?= $(abspath ../shared)
ANCHORS_DIR ?= $(or $(TMPDIR),/tmp)/anchors
export ANCHORS_DIR
FUZZTIME  ?= 60s
CROSS     := linux/arm64 linux/arm linux/riscv64 android/arm64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: help build test test-short vet peers fuzz cross demo clean

help:
	@echo "make build    build bin/edgerun (pure Go, CGO_ENABLED=0)"
	@echo "make demo     run the built-in demo model"
	@echo "make test     everything CI runs: peers set-up, go vet, go test -race ./..."
	@echo "make fuzz     run every fuzz target for FUZZTIME each (default $(FUZZTIME))"
	@echo "make cross    cross-compile bin/edgerun for $(CROSS)"
	@echo "make peers    install llama.cpp (prebuilt, from npm) under ANCHORS_DIR for the agreement tests"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/edgerun ./cmd/edgerun

demo: build
	./bin/edgerun run -p "Once upon a time" -n 32 --seed 1

# The agreement tests compare against llama.cpp: install it (idempotent, ~1 min the
# first time) from npm through the project's shared anchor script.
peers:
	SKIP_SMOKE=1 bash $(SHARED)/tools/anchors/setup-llamacpp.sh

vet:
	$(GO) vet ./...

test: peers vet
	EDGERUN_REQUIRE_PEERS=1 $(GO) test -race -count=1 ./...

# test-short: the unit tests alone, without the llama.cpp set-up.
test-short:
	$(GO) test -count=1 ./...

FUZZ_TARGETS := $(shell grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . | sed 's/func //' | sort -u)

fuzz:
	@for f in $(FUZZ_TARGETS); do \
		pkg=$$(grep -rlE --include='*_test.go' "^func $$f\(" . | head -1 | xargs dirname); \
		echo "== $$f ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

cross:
	@for p in $(CROSS); do \
		os=$${p%/*}; arch=$${p#*/}; out=bin/edgerun-$$os-$$arch; \
		[ $$os = windows ] && out=$$out.exe; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=7 $(GO) build -trimpath -ldflags='-s -w' -o $$out ./cmd/edgerun || exit 1; \
		printf '%-28s %8d bytes\n' $$out $$(stat -c %s $$out); \
	done

clean:
	rm -rf bin

# bench-quick: the CI smoke of `edgerun bench` (seconds on stories260K; full runs:
# bin/edgerun bench -m MODEL -p 64 -n 32 -r 5 -o md --svg bench.svg).
.PHONY: bench-quick
bench-quick: build
	./bin/edgerun bench -m $(SHARED)/models/stories260K/stories260K.gguf --quick
