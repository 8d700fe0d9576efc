# Pantau: everything a fresh Debian machine needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# Debian packages the tests run for real (broker, Prometheus, Alertmanager, usb.ids, a browser;
# nats-server, the HA broker, with mkpasswd from whois for its account hashes).
DEB_PACKAGES := mosquitto prometheus prometheus-alertmanager usbutils hwdata chromium \
                nats-server whois
DEB_BINARIES := /usr/sbin/mosquitto /usr/bin/promtool /usr/bin/amtool /usr/share/misc/usb.ids \
                /usr/bin/prometheus-alertmanager /usr/bin/chromium /usr/sbin/nats-server \
                /usr/bin/mkpasswd

.PHONY: test test-hil test-install dist demo lint deps venv system-deps clean

test: deps
	$(PY) -m pytest -q -m "not hil and not install" tests

# The agent in a QEMU guest with hot-plugged emulated USB devices (tests/hil/).
# Set-up is cached under /var/cache/pantau-hil; skips only where QEMU cannot be installed.
test-hil: deps
	$(PY) -m pytest -q -m hil -s tests/hil

# dist/: pantau-agent and pantau-collector .debs (Python dependencies bundled in
# /opt/pantau/<role>, built for Debian 12's python3.11) and the offline station
# bundle (a wheelhouse for CPython 3.11 and 3.12). deploy/packaging/build.py says how.
dist: deps
	$(call need-debs,$(DIST_DEB_PACKAGES))
	$(PY) deploy/packaging/build.py

# The packages in a fresh Debian 12 root (mmdebstrap, cached in /var/cache/pantau-install),
# the install docs' shell blocks run as written (tests/install). Needs root.
test-install: dist
	$(call need-debs,$(INSTALL_TEST_DEB_PACKAGES))
	$(PY) -m pytest -q -m install -s tests/install

# The central stack (Mosquitto, collector, Prometheus, Alertmanager) and a
# simulated Medan fleet on private loopback ports. DEMO_ARGS="--time-scale 0.1" for faster alerts;
# HA=1: a Prometheus pair and a 2-node Alertmanager cluster (stack/central_ha.py, docs/ha.md).
demo: deps
	$(PY) -m stack.demo $(if $(HA),--ha) $(DEMO_ARGS)

# ruff, mypy (strict) and the import contracts of pyproject.toml (the architecture).
lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Debian packages `make dist` needs: Debian's Python 3.11 for the bundled
# environments, strip for their C extensions, help2man for the manual pages.
DIST_DEB_PACKAGES := python3.11-venv binutils help2man
# ... and `make test-install`: the Debian root, lintian, the argv tracer.
INSTALL_TEST_DEB_PACKAGES := mmdebstrap dpkg-dev lintian strace

# $(call need-debs,PACKAGE...): apt-get install those dpkg does not list as installed.
define need-debs
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps: system-deps $(VENV)/.installed

system-deps:
	@missing=0; for b in $(DEB_BINARIES); do [ -e $$b ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  echo "installing Debian packages: $(DEB_PACKAGES)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	fi

# The suite runs against the pinned runtime versions that `make dist` ships.
$(VENV)/.installed: pyproject.toml deploy/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c deploy/constraints.txt -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Long runs, not in CI (tests/fuzz, tests/load; figures in docs/reliability.md).
.PHONY: fuzz soak
FUZZ_COUNT ?= 1000000
FUZZ_PIPELINE_SECONDS ?= 600
SOAK_STATIONS ?= 2000
SOAK_MINUTES ?= 30

fuzz: deps
	$(PY) -m tests.fuzz.run_fuzz --count $(FUZZ_COUNT) --workers 2 --pipeline-seconds $(FUZZ_PIPELINE_SECONDS)

soak: deps
	$(PY) -m tests.load.soak --stations $(SOAK_STATIONS) --minutes $(SOAK_MINUTES)
