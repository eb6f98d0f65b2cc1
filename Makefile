# Two commands run the course on a fresh Debian machine:  make course  and  make test.
# Both set up what is missing (system packages, .venv, the package) and reuse what is there.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Tests build their tiny stand-ins inside the checkout, so a test run never touches a learner's data.
TEST_DATA ?= $(CURDIR)/.course_data

.PHONY: course test lab bench doctor setup sysdeps browserdeps clean

course: setup  ## build the offline stand-ins if the Hub is unreachable, run every notebook, print a summary
	$(PY) -m course_utils course

test: setup browserdeps  ## the whole test suite, offline, on tiny stand-ins (with a real-browser test)
	COURSE_MODE=offline COURSE_SIZE=tiny COURSE_DATA=$(TEST_DATA) $(PY) -m course_offline build --size tiny
	COURSE_MODE=offline COURSE_SIZE=tiny COURSE_DATA=$(TEST_DATA) $(PY) -m pytest

lab: setup  ## JupyterLab on the notebooks (offline: the local Hub of stand-ins is started first)
	$(PY) -m course_utils world
	$(PY) -m jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: setup  ## side-by-side speed and memory figures on the course-size stand-ins
	$(PY) benchmarks/run_all.py

doctor: setup
	$(PY) -m course_utils doctor

setup: sysdeps $(VENV)/.installed

sysdeps:
	@bash scripts/install_system_deps.sh

browserdeps:  ## headless Chromium + chromedriver for tests/test_browser.py (Debian packages; idempotent)
	@bash scripts/install_browser.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[cpu,lab,test,offline]"
	@touch $@

clean:  ## remove the virtual environment and test data (learners' stand-ins in $$COURSE_DATA stay)
	rm -rf $(VENV) $(TEST_DATA) out
