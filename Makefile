# ksight - top-level build.
#   make            build the BPF probes, their skeletons and build/ksight
#   make run        build, then run the agent in the foreground with the default config
#   make test       build, then run every test (unit + root BPF tests) through ctest
#   make test-asan  the unit tests built with ASan + UBSan (build-asan/)
#   make package    build, then $(BUILD)/package/ksight_<version>_<arch>.deb (packaging/)
#   make lint       clang-format / clang-tidy checks
#   make bench      overhead / throughput / start-up vs syscount and bpftrace (root, ~10 min;
#                   QUICK=1 for a short development run); writes docs/benchmarks.md
# A new probe is a new folder bpf/probes/<probe>/ with <probe>.bpf.c: no edit here.

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CLANG ?= clang
BPFTOOL ?= bpftool
JOBS ?= $(shell nproc)

# Architecture switch: vmlinux/<arch>/vmlinux.h and __TARGET_ARCH_<arch>.
UNAME_M := $(shell uname -m)
ARCH ?= $(if $(filter aarch64,$(UNAME_M)),arm64,x86)

PROBES := $(notdir $(patsubst %/,%,$(dir $(wildcard bpf/probes/*/*.bpf.c))))
BPF_OBJS := $(foreach p,$(PROBES),$(BUILD)/bpf/$(p).bpf.o)
SKELS := $(foreach p,$(PROBES),$(BUILD)/skel/$(p).skel.h)
BPF_COMMON := $(wildcard bpf/include/*.h) vmlinux/$(ARCH)/vmlinux.h
BPF_CFLAGS := -target bpf -g -O2 -Wall -Werror -Wno-unused-function \
	-D__TARGET_ARCH_$(ARCH) -Ibpf/include -Ivmlinux/$(ARCH)

.PHONY: all deps test-deps bpf agent run test test-unit test-asan test-bpf test-kernels package bench lint format clean
.DELETE_ON_ERROR:

all: agent

# Install what is missing (tools/install-deps.sh is idempotent and quick when all is there).
deps:
	@tools/install-deps.sh build
test-deps:
	@tools/install-deps.sh test

$(BUILD)/bpf $(BUILD)/skel:
	@mkdir -p $@

define BPF_RULES
$(BUILD)/bpf/$(1).bpf.o: bpf/probes/$(1)/$(1).bpf.c $(wildcard bpf/probes/$(1)/*.h) $(BPF_COMMON) | $(BUILD)/bpf deps
	$$(CLANG) $$(BPF_CFLAGS) -Ibpf/probes/$(1) -c $$< -o $$@
$(BUILD)/skel/$(1).skel.h: $(BUILD)/bpf/$(1).bpf.o | $(BUILD)/skel
	$$(BPFTOOL) gen skeleton $$< name ks_$(1) > $$@.tmp && mv $$@.tmp $$@
endef
$(foreach p,$(PROBES),$(eval $(call BPF_RULES,$(p))))

bpf: $(SKELS)

$(BUILD)/CMakeCache.txt: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKSIGHT_SKEL_DIR=$(abspath $(BUILD)/skel) \
		$(CMAKE_FLAGS) >/dev/null

agent: $(SKELS) $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: agent
	$(BUILD)/ksight run --output - $(ARGS)

# The kernel matrix's tables (check x kernel, probe x kernel), when this run made them.
VM_TABLE = if [ -f $(BUILD)/vm/results/table.txt ] && [ $(BUILD)/vm/results/table.txt -nt $(BUILD)/.ctest-start ]; then \
	echo "== kernel matrix ($(BUILD)/vm/results/table.txt)"; cat $(BUILD)/vm/results/table.txt; fi

test: test-deps agent
	@tools/install-deps.sh vm
	@touch $(BUILD)/.ctest-start
	cd $(BUILD) && ctest --output-on-failure --timeout 600 $(CTEST_ARGS); rc=$$?; cd $(CURDIR) && $(VM_TABLE); exit $$rc

test-unit: test-deps agent
	cd $(BUILD) && ctest --output-on-failure -L unit $(CTEST_ARGS)

test-bpf: test-deps agent
	cd $(BUILD) && ctest --output-on-failure -L bpf $(CTEST_ARGS)

# The pure (unit) tests under AddressSanitizer + UBSan, in their own build directory.
test-asan: test-deps
	$(MAKE) BUILD=$(BUILD)-asan CMAKE_FLAGS=-DKSIGHT_SANITIZE=ON test-unit

# The kernel matrix alone: Debian's 5.10, 6.1, 6.12, 7.x kernels under QEMU plus this host.
test-kernels: test-deps agent
	@tools/install-deps.sh vm
	@touch $(BUILD)/.ctest-start
	cd $(BUILD) && ctest --output-on-failure -L vm $(CTEST_ARGS); rc=$$?; cd $(CURDIR) && $(VM_TABLE); exit $$rc

# The .deb (dpkg-deb, no debhelper): packaging/deb/build-deb.sh; its test is `ctest -L package`.
package: test-deps agent
	packaging/deb/build-deb.sh $(BUILD)

# Benchmarks (not part of `make test`): bench/run.py drives the hammer, the tracers and the report.
BENCH_BIN := $(BUILD)/bench/ks-hammer $(BUILD)/bench/ks-empty $(BUILD)/bench/empty.bpf.o
$(BUILD)/bench:
	@mkdir -p $@
$(BUILD)/bench/ks-hammer: bench/hammer.c | $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<
$(BUILD)/bench/ks-empty: bench/empty_loader.c | $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lbpf
$(BUILD)/bench/empty.bpf.o: bench/empty.bpf.c vmlinux/$(ARCH)/vmlinux.h | $(BUILD)/bench
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bench: agent
	@tools/install-deps.sh bench
	$(MAKE) --no-print-directory $(BENCH_BIN)
	cmake --build $(BUILD) --target ksight_identity_bench
	python3 bench/run.py --build $(BUILD) $(if $(QUICK),--quick) $(BENCH_ARGS)

lint: agent
	@tools/install-deps.sh lint
	@tools/lint.sh

format:
	@tools/lint.sh --fix

clean:
	rm -rf $(BUILD)
