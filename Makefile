# confpool top-level Makefile: thin wrapper over CMake + ctest.
#   make demo   install what is missing, build, run the demo scenario
#   make check  install what is missing, build, run every test under
#               AddressSanitizer + UndefinedBehaviorSanitizer, the C tests
#               also plainly (the script tests, tests/cli/*.sh, label
#               "script", drive whole stacks: once, sanitized, is enough and
#               halves their time; `make check-plain CHECK_PLAIN_ALL=1` runs
#               them plainly too), the threaded tests under ThreadSanitizer
#               (check-tsan) and the fuzz smoke; a test skipped for a
#               missing tool fails here (CP_TEST_NO_SKIP=1)
#   make bench  build and run the benchmarks under bench/
#   make fuzz   build the libFuzzer targets with clang (build-fuzz/)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build check check-plain check-asan check-tsan check-fuzz demo bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)

FUZZ_SECONDS ?= 5

check:
	@scripts/install-deps.sh check
	$(MAKE) --no-print-directory check-plain check-asan check-tsan check-fuzz

check-plain:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)
	cd build && CP_TEST_NO_SKIP=1 ctest --output-on-failure -j $(JOBS) $(if $(CHECK_PLAIN_ALL),,-LE script)

check-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCP_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && CP_TEST_NO_SKIP=1 ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer over the tests whose code runs on several threads: the
# shared SNP verifier and its caches (test-snp-verify-mt), the HTTP server
# and the service skeleton's workers, the JWKS cache, attestd's and kbsd's
# worker threads, the KDS client's shared cache, the control plane's
# reconciler, store, node endpoints and local backend (test-nodes, with the
# agent it boots).  Only these targets are built (a few minutes); a report
# fails the test (halt_on_error).
TSAN_TESTS ?= test-snp-verify-mt test-ecfb-mt test-jwks-cache test-httpd test-service test-attestd test-kbsd test-kds-client \
	test-nodes
check-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCP_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS) confpool-agent
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -R '^($(subst $(eval) ,|,$(strip $(TSAN_TESTS))))$$'

# Build the libFuzzer targets with clang and run each for FUZZ_SECONDS over its corpus.
check-fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCP_FUZZ=ON -DCP_SANITIZE=ON -DCP_WERROR=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz-all
	scripts/fuzz-smoke.sh build-fuzz $(FUZZ_SECONDS)

demo:
	@scripts/install-deps.sh demo
	$(MAKE) --no-print-directory build
	scripts/demo.sh
	scripts/demo-pool.sh

bench: build
	@scripts/install-deps.sh bench
	scripts/bench.sh

fuzz:
	@scripts/install-deps.sh fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCP_FUZZ=ON -DCP_SANITIZE=ON -DCP_WERROR=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf build build-asan build-tsan build-fuzz
