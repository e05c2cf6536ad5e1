# Thin wrapper over CMake: the README's commands.
#   make run      build, then run the seed's echo server on UDP 9999
#   make test     install missing Debian packages (when root), build, run every test on both backends
#   make test-asan, make test-valgrind   the suite under sanitizers / valgrind
#   make install  (PREFIX=/usr/local) library, header, pkg-config file, the dgram tool
#   make test-tsan  every C test under ThreadSanitizer (for the threaded parts)
#   make fuzz     build the libFuzzer targets (clang) and run each for FUZZ_SECONDS (20)
#   make soak     the soak (tests/soak) for SOAK_SECONDS (60); see docs/reliability.md
#   make bench    install the peers (when root), build bench/ and print the table (docs/performance.md)
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# What the build and the tests need, by Debian package name.
DEB_PACKAGES = cmake make gcc clang pkg-config libcmocka-dev python3-twisted socat valgrind iproute2 dnsmasq-base procps libclang-rt-14-dev libinih-dev ethtool

.PHONY: all build run test test-asan test-valgrind test-clang test-tsan fuzz soak deps install clean bench

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing missing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing Debian packages (run as root to install): $$missing"; \
	  fi; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/tools/dgram echo --port 9999

test: deps
	$(MAKE) build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: deps
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DDGRAM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

test-clang: deps
	$(MAKE) test BUILD=build-clang CMAKE_FLAGS="-DCMAKE_C_COMPILER=clang"

test-valgrind: deps
	$(MAKE) test BUILD=build-valgrind CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Debug '-DDGRAM_TEST_WRAPPER=valgrind;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite,indirect,possible;--track-fds=no;--quiet'"

install: build
	cmake --install $(BUILD)

# ThreadSanitizer cannot be combined with ASan: a build of its own. It is for
# the threaded parts (call_from_thread, the worker pool, names, signals), but
# every C test runs: they are quick, and any of them may start the pool.
TSAN_TESTS = $(patsubst tests/test_%.c,%,$(wildcard tests/test_*.c))
TSAN_BUILD ?= build-tsan
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DDGRAM_TSAN=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(addprefix test_,$(TSAN_TESTS))
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(JOBS) \
	  -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))\.'

FUZZ_SECONDS ?= 20
FUZZ_BUILD ?= build-fuzz
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DDGRAM_FUZZ=ON -DDGRAM_TESTS=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_addr fuzz_repr fuzz_args fuzz_port
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

SOAK_SECONDS ?= 60
soak: deps
	$(MAKE) build
	SOAK_SECONDS=$(SOAK_SECONDS) $(BUILD)/tests/soak/soak

# The benchmark's peers and tools; an optimised build of its own.
BENCH_BUILD ?= build-bench
BENCH_PACKAGES = cmake make gcc pkg-config libuv1-dev libevent-dev python3-twisted valgrind util-linux
BENCH_ARGS ?=

bench:
	$(MAKE) deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDGRAM_BENCH=ON -DDGRAM_TESTS=OFF
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target dgram_bench
	/usr/bin/python3 bench/run.py --build $(BENCH_BUILD) --out $(BENCH_BUILD)/bench-report.md $(BENCH_ARGS)

clean:
	rm -rf build build-asan build-clang build-valgrind build-tsan build-fuzz build-bench
