# Thin wrapper over CMake: the README's commands.
#   make run      build, then run the seed's echo server on UDP 9999
#   make test     install missing Debian packages (when root), build, run every test on both backends
#   make test-asan, make test-valgrind   the suite under sanitizers / valgrind
#   make install  (PREFIX=/usr/local) library, header, pkg-config file, the dgram tool
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# What the build and the tests need, by Debian package name.
DEB_PACKAGES = cmake make gcc clang pkg-config libcmocka-dev python3-twisted socat valgrind iproute2 dnsmasq-base procps

.PHONY: all build run test test-asan test-valgrind test-clang deps install clean

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

clean:
	rm -rf build build-asan build-clang build-valgrind
