# kijabi: everything a fresh Debian 12 machine needs, as root.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= /var/lib/kijabi
DEB_PACKAGES := python3-venv ca-certificates sqlite3 containerd runc containernetworking-plugins busybox-static iptables nftables iproute2 util-linux etcd-server etcd-client docker-registry

.PHONY: deps venv run test lint typecheck layers check bench clean

# Debian packages, installed only when one is missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		for s in etcd docker-registry; do systemctl disable --now $$s >/dev/null 2>&1 || true; done; \
	fi

$(VENV)/.installed: pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	ln -sf $(abspath $(VENV))/bin/kijabi /usr/local/bin/kijabi
	touch $@

venv: deps $(VENV)/.installed

# Start a one-node cluster on the embedded store (Ctrl-C stops it).
run: venv
	$(VENV)/bin/kijabi server --data-dir $(DATA_DIR)

lint: venv
	$(VENV)/bin/ruff check kijabi tests bench

typecheck: venv
	$(VENV)/bin/mypy kijabi

layers: venv
	$(VENV)/bin/lint-imports

check: lint typecheck layers

test: venv check
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

bench: venv
	$(PY) bench/apiserver.py

clean:
	rm -rf $(VENV) build *.egg-info
