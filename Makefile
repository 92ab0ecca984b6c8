# dcops — two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's own Python when there is one: snmpsim can then drop root to nobody.
BASE_PYTHON := $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
# What the tests drive for real: net-snmp tools and agent, Prometheus (and promtool).
APT_TEST := python3-venv snmp snmpd prometheus chromium fonts-noto-cjk victoria-metrics prometheus-alertmanager
APT_DEMO := python3-venv

.PHONY: demo test bench lint venv apt-test apt-demo clean

# What `make demo` needs; `make test` adds the test tools, the extranet lab (Ansible, fake-switches).
DEMO_EXTRAS := lab,panel,alerts,collect
TEST_EXTRAS := $(DEMO_EXTRAS),test,extranet

$(VENV)/.created:
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	touch $@

$(VENV)/.installed-demo: pyproject.toml $(VENV)/.created
	$(PY) -m pip install -q -e ".[$(DEMO_EXTRAS)]"
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.created
	$(PY) -m pip install -q -e ".[$(TEST_EXTRAS)]"
	$(PY) -m pip install -q --no-deps fake-switches==1.5.0
	touch $@ $(VENV)/.installed-demo

venv: $(VENV)/.installed

# Install missing Debian packages when we can (root); otherwise say what is missing.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages (run as root or install them): $$missing"; \
	  fi; \
	fi
endef

apt-test:
	$(call apt_install,$(APT_TEST))

apt-demo:
	$(call apt_install,$(APT_DEMO))

demo: apt-demo $(VENV)/.installed-demo
	$(VENV)/bin/dcops demo

test: apt-test venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: apt-test venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
