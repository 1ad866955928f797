# Thin wrapper over CMake/CTest: the README's commands.
#   make run    deps, build, demo CA in ./data on first run, serve EST on 127.0.0.1:8443
#   make test   deps, ASan+UBSan build, the whole CTest suite
#   make bench  release build, benchmarks, one table (and RA enrollment: bench/ra)
#   make fuzz   clang libFuzzer build, each target for FUZZ_SECONDS
#   make install / make deb   install the release build (DESTDIR, PREFIX) / a .deb
JOBS ?= $(shell nproc)
DATA ?= data
LISTEN ?= 127.0.0.1:8443
FUZZ_SECONDS ?= 30
PREFIX ?= /usr/local

.PHONY: all deps build run test bench fuzz install deb clean

all: build

deps:
	@bash scripts/deps

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESTKIT_SANITIZE=OFF -DESTKIT_FUZZ=OFF >/dev/null
	@cmake --build build -j $(JOBS)

run: build
	@bash scripts/run-demo build $(DATA) $(LISTEN)

test: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DESTKIT_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash bench/run build
	@bash bench/ra build

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DESTKIT_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@bash fuzz/run build-fuzz $(FUZZ_SECONDS)

install: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESTKIT_SANITIZE=OFF -DESTKIT_FUZZ=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build -j $(JOBS)
	@cmake --install build

deb: deps
	@cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESTKIT_SANITIZE=OFF \
	  -DESTKIT_FUZZ=OFF -DESTKIT_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build build-deb -j $(JOBS)
	@cd build-deb && cpack -G DEB
	@ls build-deb/*.deb

clean:
	rm -rf build build-asan build-fuzz build-deb
