# Two entry points on a fresh machine (Python 3.10+):
#   make demo   create .venv, install, build the demo release, verify it, write its preview PNG
#   make test   create .venv, install with test extras, run the whole test suite
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@# The demo is reproducible, so an earlier demo release is simply rebuilt (releases are immutable).
	rm -rf releases/demo
	$(VENV)/bin/corrupter run configs/demo.yaml
	$(VENV)/bin/corrupter verify releases/demo/1.0.0
	$(VENV)/bin/corrupter preview releases/demo/1.0.0 --out releases/demo-preview.png
	@echo "release: releases/demo/1.0.0   preview: releases/demo-preview.png"

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	OMP_NUM_THREADS=1 $(PY) bench/bench_ops.py
	$(PY) bench/bench_worker.py
	$(PY) bench/bench_job.py

clean:
	rm -rf releases build *.egg-info
