# The two commands of the README: `make study` and `make test`.
# Both create .venv with the project installed (pinned by requirements.lock) if missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := poli-eval
# The study file; CI renders real data with `make study STUDY=study-real.yml`.
STUDY ?= study.yml

.PHONY: study test clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (poli-eval)" >/dev/null
	touch $@

study: $(VENV)/.installed
	$(PY) -m evaluation study $(STUDY)

test: $(VENV)/.installed
	$(PY) -m pytest

clean:
	rm -rf build reports/_output data/default
