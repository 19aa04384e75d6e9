# Thresher: the two commands a new user runs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# As root (CI, containers) apt-get needs no sudo.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-dev postgres web chromium media-tools lint bench bench-media clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The demo runs curation (MinHash, language id...) and media (Pillow, PyAV): those extras too.
install: $(BIN)/python web
	$(BIN)/pip install -q -e '.[curate,media]'

install-dev: $(BIN)/python web
	$(BIN)/pip install -q -e '.[dev,train]'

## web: build the browser app (web/, Vite + Svelte) into the package, where `thresher serve` finds it
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

## chromium: Debian's Chromium, which the browser tests drive through Playwright
chromium:
	@if [ -x /usr/bin/chromium ]; then :; else \
		echo "installing Chromium (Debian package chromium)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

## demo: install, build a demo home (data of every kind, exports, annotation work, curation, evals), serve it
demo: install
	$(BIN)/thresher demo --out demo-out --serve

## test: install what the tests need (PostgreSQL server included) and run them
test: install-dev postgres chromium media-tools
	cd web && npm test --silent
	THRESHER_REQUIRE_POSTGRES=1 THRESHER_REQUIRE_BROWSER=1 $(BIN)/pytest

## postgres: Debian's PostgreSQL server package; the tests start their own cluster on a unix socket
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; else \
		echo "installing PostgreSQL (Debian package postgresql)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

## media-tools: Debian's espeak-ng, which the media tests use to make speech (nothing is downloaded)
media-tools:
	@if command -v espeak-ng >/dev/null 2>&1; then :; else \
		echo "installing espeak-ng (Debian package espeak-ng)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	fi

lint: install-dev
	cd web && npm run check --silent
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: install-dev postgres
	$(BIN)/python benchmarks/import_export.py

## bench-media: frame extraction and thumbnails against Debian's ffmpeg command line (benchmarks/media.py)
bench-media: install-dev
	@command -v ffmpeg >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null)
	$(BIN)/python benchmarks/media.py

clean:
	rm -rf demo-out test-artifacts .pytest_cache .mypy_cache .ruff_cache
