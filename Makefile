# Set-up and everyday commands. `make run` and `make test` work on a fresh machine:
# they create .venv and install what they need first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/intercom-app serve

# Browser tests drive Debian's Chromium; install it when it is missing and we may.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null; \
		else \
			echo "NOTE: /usr/bin/chromium is missing and this user cannot install it; browser tests will be skipped"; \
		fi; \
	fi

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The ingest and memory benchmarks drive the service with Debian's wrk, and the instructions
# benchmark counts with valgrind; install them when missing and we may.
bench: $(STAMP)
	@if ! command -v wrk >/dev/null || ! command -v valgrind >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk valgrind >/dev/null; \
		else \
			echo "NOTE: wrk or valgrind is missing and this user cannot install it; the benchmarks that need it will fail"; \
		fi; \
	fi
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache
