# edgerun — build, test and measure. `make help` lists the targets.

SHELL     := /bin/bash
GO        ?= go
SHARED    ?= $(abspath ../shared)
ANCHORS_DIR ?= $(or $(TMPDIR),/tmp)/anchors
export ANCHORS_DIR
FUZZTIME  ?= 60s
CROSS     := linux/arm64 linux/arm linux/riscv64 android/arm64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: help build test test-short vet peers fuzz cross demo clean test-oracle train-demo \
	qemu-deps capi-deps test-arm64 test-armv7 test-capi capi capi-arm64 ort-setup test-ort \
	bochs-deps test-avx512

help:
	@echo "make build    build bin/edgerun (pure Go, CGO_ENABLED=0)"
	@echo "make demo     the demo model (models/demo): adapter A, hot-swap to B, merge B, one bench line"
	@echo "make test     everything CI runs: peers set-up, go vet, go test -race ./..."
	@echo "make fuzz     run every fuzz target for FUZZTIME each (default $(FUZZTIME))"
	@echo "make cross    cross-compile bin/edgerun for $(CROSS) and print the binary sizes"
	@echo "make test-arm64 / test-armv7   the unit tests under qemu-user (installs qemu-user-static)"
	@echo "make test-avx512  the AVX-512 kernels under the Bochs emulator (installs bochs)"
	@echo "make test-capi  build the C library (c-shared, c-archive) and run the C test under valgrind"
	@echo "make train-demo  retrain models/demo with gomlx (tools/train; deterministic seeds; ~15 min on 2 quiet cores, ~60 on busy ones)"
	@echo "make test-oracle  edgerun's logits against the gomlx reference (tools/oracle, nested module)"
	@echo "make peers    install llama.cpp (prebuilt, from npm) under ANCHORS_DIR for the agreement tests"
	@echo "make ort-setup  fetch ONNX Runtime $(ORT_VERSION) (npm onnxruntime-node, --ignore-scripts) into $(ORT_DIR)/"
	@echo "make test-ort   the ONNX Runtime backend tests (cgo, -tags ort) against that library"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/edgerun ./cmd/edgerun

# demo: the project's own demo model (NF4 base + two QLoRA adapters, see
# models/demo/MODEL_CARD.md): generate with adapter A, hot-swap to B in the same session,
# merge B and generate again, then one bench line. Offline, seconds.
demo: build
	./bin/edgerun demo -m models/demo

# The agreement tests compare against llama.cpp: install it (idempotent, ~1 min the
# first time) from npm through the project's shared anchor script.
peers:
	SKIP_SMOKE=1 bash $(SHARED)/tools/anchors/setup-llamacpp.sh

vet:
	$(GO) vet ./...

test: peers vet
	EDGERUN_REQUIRE_PEERS=1 $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory test-oracle
	$(MAKE) --no-print-directory cross test-capi test-ort test-arm64 test-armv7 test-avx512

# test-oracle: the gomlx reference forward pass (LoRA, DoRA, NF4 dequantized in the
# graph) against edgerun's logits on stories260K and the demo model, tolerance 1e-4,
# plus the trainer's unit tests (corpus, tokenizer).
# tools/ is a nested module so the runtime module never depends on gomlx.
test-oracle:
	cd tools && $(GO) vet ./... && $(GO) test -count=1 ./...

# train-demo: retrain the committed demo model (tokenizer, NF4 base, two QLoRA adapters,
# LoRA-vs-QLoRA comparison) with gomlx's pure-Go backend, from fixed seeds, at low
# priority. Scratch files (the float32 base) go to bin/train.
train-demo:
	cd tools && $(GO) build -o ../bin/train-demo ./train
	nice -n 10 ./bin/train-demo -out models/demo -work bin/train

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

# cross: the pure-Go CLI for every target board/OS, with its size. When the kernels
# carry assembly (any .s file under int4/ or kernels/), the arm64 and amd64 builds are
# repeated with -tags purego so the generic fallback keeps compiling too.
HAS_ASM = $(shell find int4 kernels -name '*.s' 2>/dev/null | head -1)

cross:
	@for p in $(CROSS); do \
		os=$${p%/*}; arch=$${p#*/}; out=bin/edgerun-$$os-$$arch; \
		[ $$os = windows ] && out=$$out.exe; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=7 $(GO) build -trimpath -ldflags='-s -w' -o $$out ./cmd/edgerun || exit 1; \
		printf '%-34s %9d bytes (%s)\n' $$out $$(stat -c %s $$out) "$$(du -h $$out | cut -f1)"; \
	done
	@if [ -n "$(HAS_ASM)" ]; then \
		for p in linux/arm64 linux/amd64; do \
			os=$${p%/*}; arch=$${p#*/}; out=bin/edgerun-$$os-$$arch-purego; \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -tags purego -trimpath -ldflags='-s -w' -o $$out ./cmd/edgerun || exit 1; \
			printf '%-34s %9d bytes (-tags purego)\n' $$out $$(stat -c %s $$out); \
		done; \
	else echo "cross: no assembly in int4/ or kernels/: no purego variant to check"; fi

# --- qemu-user runs of the unit tests (Debian's qemu-user-static) ---------------------
# Each package's test binary is cross-compiled (go test -c) and run from the package
# directory, so ../shared/models resolves as on the host. No -race (not under qemu),
# -test.short. The llama.cpp agreement tests need llama.cpp's x86 libraries: under qemu
# they skip (ANCHORS_DIR points nowhere, EDGERUN_REQUIRE_PEERS is cleared); they run on
# the host in `make test`.
QEMU_PKGS = $(shell $(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./... | grep -v '/capi$$')
QEMU_TMP ?= $(or $(TMPDIR),/tmp)/edgerun-qemu

apt-install = if ! command -v $(1) >/dev/null 2>&1; then \
	echo "installing $(2) (apt-get)"; \
	$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(2) >/dev/null 2>&1 || exit 1; fi
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

qemu-deps:
	@$(call apt-install,qemu-aarch64-static,qemu-user-static)

# --- the AVX-512 kernels under Bochs (kernels/bochs_amd64_test.go) -------------------
# QEMU does not emulate AVX-512 and this CPU may not have it; Bochs (CPU model
# tigerlake) does, as a whole PC: each test boots it from a disk image holding a small
# boot program (kernels/testdata/bochs/boot.S, assembled by binutils), the test binary
# and the test's memory, and compares the calls' outputs with the AVX2 kernels run
# natively. bochs-term only satisfies the package's GUI dependency; the tests use rfb.
bochs-deps:
	@$(call apt-install,bochs,--no-install-recommends bochs bochs-term bochsbios vgabios binutils)

test-avx512: bochs-deps
	EDGERUN_BOCHS=1 $(GO) test -count=1 -run Bochs ./kernels

# qemu-test GOARCH,GOARM,QEMU
define qemu-test
	@mkdir -p $(QEMU_TMP)
	@echo "== unit tests for linux/$(1)$(if $(2), GOARM=$(2)) under $(3) (-test.short)"
	@echo "   the llama.cpp agreement tests (runtime/peers_test.go) skip here: they run on the host only"
	@fail=0; for d in $(QEMU_PKGS); do \
		name=$$(basename $$d); bin=$(QEMU_TMP)/$$name-$(1).test; rm -f $$bin; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$(1) GOARM=$(2) $(GO) test -c -trimpath -o $$bin $$d || { fail=1; continue; }; \
		[ -f $$bin ] || continue; \
		start=$$(date +%s); \
		if (cd $$d && env -u EDGERUN_REQUIRE_PEERS ANCHORS_DIR=/nonexistent/qemu-run $(3) $$bin \
			-test.short -test.count=1 > $$bin.log 2>&1); then \
			echo "ok   $$d ($$(( $$(date +%s) - start ))s)"; \
		else cat $$bin.log; echo "FAIL $$d"; fail=1; fi; \
	done; exit $$fail
endef

# test-arm64 runs the kernels a second time on a core without the dot-product extension
# (qemu's cortex-a53: the "neon" implementation instead of "neon-dotprod").
test-arm64: qemu-deps
	$(call qemu-test,arm64,,qemu-aarch64-static)
	@echo "== kernels again under qemu-aarch64-static -cpu cortex-a53 (NEON without the dot product)"
	@cd kernels && start=$$(date +%s) && if qemu-aarch64-static -cpu cortex-a53 $(QEMU_TMP)/kernels-arm64.test \
		-test.short -test.count=1 > $(QEMU_TMP)/kernels-arm64-a53.log 2>&1; then \
		echo "ok   kernels, cortex-a53 ($$(( $$(date +%s) - start ))s)"; \
	else cat $(QEMU_TMP)/kernels-arm64-a53.log; echo "FAIL kernels, cortex-a53"; exit 1; fi

test-armv7: qemu-deps
	$(call qemu-test,arm,7,qemu-arm-static)

# --- C ABI ----------------------------------------------------------------------------
CAPI_OUT = bin/capi
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --suppressions=capi/test/go-runtime.supp

capi-deps:
	@$(call apt-install,gcc,gcc)
	@$(call apt-install,valgrind,valgrind)

capi: capi-deps
	@mkdir -p $(CAPI_OUT)
	CGO_ENABLED=1 $(GO) build -trimpath -buildmode=c-shared -o $(CAPI_OUT)/libedgerun.so ./capi
	CGO_ENABLED=1 $(GO) build -trimpath -buildmode=c-archive -o $(CAPI_OUT)/libedgerun.a ./capi
	@printf '%-34s %9d bytes\n' $(CAPI_OUT)/libedgerun.so $$(stat -c %s $(CAPI_OUT)/libedgerun.so) $(CAPI_OUT)/libedgerun.a $$(stat -c %s $(CAPI_OUT)/libedgerun.a)

# test-capi: the C test program against the shared library (under valgrind, with a
# suppression file for valgrind's false alarms inside the Go runtime) and against the
# static archive. mkadapter writes the LoRA adapter the test switches to.
CAPI_MODELS ?= $(or $(EDGERUN_MODELS),$(SHARED)/models)

test-capi: capi
	gcc -Wall -Wextra -Werror -std=c11 -O1 -g -Icapi -o $(CAPI_OUT)/capi_test capi/test/capi_test.c -L$(CAPI_OUT) -ledgerun -Wl,-rpath,'$$ORIGIN'
	gcc -Wall -Wextra -Werror -std=c11 -O1 -g -Icapi -o $(CAPI_OUT)/capi_test_static capi/test/capi_test.c $(CAPI_OUT)/libedgerun.a -lpthread -lm
	$(GO) run ./capi/test/mkadapter $(CAPI_MODELS)/stories260K/stories260K.gguf $(CAPI_OUT)/adapter
	$(CAPI_OUT)/capi_test_static $(CAPI_MODELS) $(CAPI_OUT)/adapter
	GODEBUG=asyncpreemptoff=1 valgrind -q $(VALGRIND_FLAGS) $(CAPI_OUT)/capi_test $(CAPI_MODELS) $(CAPI_OUT)/adapter 2>&1 \
		| grep -v -e 'DW_FORM' -e 'Serious error when reading debug info' -e 'When reading debug info from'; \
		exit $${PIPESTATUS[0]}

# capi-arm64: the C library cross-built for linux/arm64 with Debian's gcc-aarch64-linux-gnu,
# and the C test program run against it under qemu-aarch64 (without valgrind).
capi-arm64: qemu-deps
	@$(call apt-install,aarch64-linux-gnu-gcc,gcc-aarch64-linux-gnu)
	@mkdir -p $(CAPI_OUT)/arm64
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc $(GO) build -trimpath -buildmode=c-shared -o $(CAPI_OUT)/arm64/libedgerun.so ./capi
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc $(GO) build -trimpath -buildmode=c-archive -o $(CAPI_OUT)/arm64/libedgerun.a ./capi
	@printf '%-34s %9d bytes\n' $(CAPI_OUT)/arm64/libedgerun.so $$(stat -c %s $(CAPI_OUT)/arm64/libedgerun.so) $(CAPI_OUT)/arm64/libedgerun.a $$(stat -c %s $(CAPI_OUT)/arm64/libedgerun.a)
	aarch64-linux-gnu-gcc -Wall -Wextra -Werror -std=c11 -O1 -Icapi -o $(CAPI_OUT)/arm64/capi_test capi/test/capi_test.c $(CAPI_OUT)/arm64/libedgerun.a -lpthread -lm
	$(GO) run ./capi/test/mkadapter $(CAPI_MODELS)/stories260K/stories260K.gguf $(CAPI_OUT)/adapter
	qemu-aarch64-static -L /usr/aarch64-linux-gnu $(CAPI_OUT)/arm64/capi_test $(CAPI_MODELS) $(CAPI_OUT)/adapter

clean:
	rm -rf bin

# bench-quick: the CI smoke of `edgerun bench` (seconds on stories260K; full runs:
# bin/edgerun bench -m MODEL -p 64 -n 32 -r 5 -o md --svg bench.svg).
.PHONY: bench-quick
bench-quick: build
	./bin/edgerun bench -m $(SHARED)/models/stories260K/stories260K.gguf --quick

# --- ONNX Runtime backend (build tag ort, cgo) -------------------------------------------
# ort-setup: ONNX Runtime's CPU shared library from npm (onnxruntime-node; --ignore-scripts,
# its postinstall would fetch CUDA libraries), into the ignored folder $(ORT_DIR)/, with a
# link $(ORT_DIR)/libonnxruntime.so.1 where the runtime looks for it. Idempotent.
ORT_VERSION := 1.24.1
ORT_DIR     := .ort
ORT_ARCH     = $(if $(filter x86_64 amd64,$(shell uname -m)),x64,arm64)

ort-setup:
	@mkdir -p $(ORT_DIR)
	@cd $(ORT_DIR) && if node -e "process.exit(require('./node_modules/onnxruntime-node/package.json').version === '$(ORT_VERSION)' ? 0 : 1)" 2>/dev/null; then \
		echo "ort-setup: onnxruntime-node $(ORT_VERSION) already in $(ORT_DIR)"; \
	else \
		[ -f package.json ] || printf '{\n  "name": "edgerun-ort",\n  "private": true\n}\n' > package.json; \
		npm install --ignore-scripts --no-audit --no-fund --save-exact onnxruntime-node@$(ORT_VERSION) || exit 1; \
	fi
	@lib=node_modules/onnxruntime-node/bin/napi-v6/linux/$(ORT_ARCH)/libonnxruntime.so.1; \
		[ -f $(ORT_DIR)/$$lib ] || { echo "ort-setup: missing $(ORT_DIR)/$$lib" >&2; exit 1; }; \
		ln -sf $$lib $(ORT_DIR)/libonnxruntime.so.1; echo "ort-setup: $(ORT_DIR)/libonnxruntime.so.1 -> $$lib"

# test-ort: the ONNX Runtime tests (op vectors, packed weights, exported decoder vs the
# native backend, LoRA hot-swap) with cgo and -tags ort; they fail instead of skipping
# when the library is missing.
test-ort: ort-setup
	CGO_ENABLED=1 EDGERUN_REQUIRE_ORT=1 $(GO) test -tags ort -count=1 ./onnx/...
	CGO_ENABLED=1 EDGERUN_REQUIRE_ORT=1 $(GO) test -tags ort -count=1 -run 'ORT' ./runtime/ ./cmd/edgerun/ ./bench/
