PYTHON ?= python3

.PHONY: install test lint typecheck docs bench check

install:
	$(PYTHON) -m pip install -e '.[dev]'

test:
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check gradcheck tests bench examples conftest.py
	lint-imports  # the dependency rule: contracts in setup.cfg, see docs/contributing.md

typecheck:
	$(PYTHON) -m mypy

docs:
	$(PYTHON) -m mkdocs build --strict --site-dir site

bench:
	$(PYTHON) -m pip install -q -e '.[bench]'
	$(PYTHON) bench/run.py
	$(PYTHON) bench/accuracy.py
	$(PYTHON) bench/scale.py
	$(PYTHON) bench/truth.py
	$(PYTHON) bench/user_code.py
	$(PYTHON) bench/interactive.py

check: lint test docs
