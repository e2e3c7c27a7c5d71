# Two commands on a fresh machine: `make book` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
# this machine's pip config names local index folders that may be absent: drop that noise only
QUIET  := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# axe-core, the accessibility checker tests/test_book.py runs in Chromium (package.json)
AXE    := node_modules/axe-core/axe.min.js

.PHONY: book test exercises solutions verify serve lint clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip $(QUIET)
	$(BIN)/pip install --quiet -r requirements.txt $(QUIET)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e . $(QUIET)
	touch $(STAMP)

book: $(STAMP)                  ## build the HTML book into _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || { echo "make: npm not found; install Node.js (apt-get install npm) for the accessibility test"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(AXE)

# Two pytest workers (pytest-xdist), each taking whole test files (module fixtures such as
# the book build run once): the book builds on one core while the grading tests run on the
# other.
test: $(STAMP) $(AXE)           ## the whole test suite (book build and grading pipeline included)
	$(BIN)/ruff check cnncourse tests
	$(BIN)/python -m pytest -n 2 --dist loadfile

exercises: $(STAMP)             ## student versions of every problem set into exercises/release
	$(BIN)/cnncourse release

solutions: $(STAMP)             ## executed solution notebooks into exercises/solutions
	$(BIN)/cnncourse solutions

verify: $(STAMP)                ## source full marks, release zero, every mutant loses points
	$(BIN)/cnncourse verify --workers 2

# The course lab (cnncourse/lab, results/): every experiment whose results are missing or
# stale, in two processes of one torch thread each, then the check. LAB_HALF holds half the
# lab's CPU time (325 of 668 CPU-min, measured by scripts/lab_cost.py; the README lists each
# experiment's), dependencies first; the other process runs the rest: about 5.7 hours. A
# stopped run resumes where it stopped; `make lab-again` deletes results/ and re-runs all.
LAB_HALF := roadmap classic_sweep classic
.PHONY: lab lab-again lab-half lab-rest
lab: $(STAMP)                   ## run the course lab's missing experiments (hours), then check
	$(MAKE) -j2 lab-half lab-rest
	$(BIN)/cnncourse lab check

lab-half: $(STAMP)
	$(BIN)/cnncourse lab run $(LAB_HALF)

lab-rest: $(STAMP)
	$(BIN)/cnncourse lab run all --skip $(LAB_HALF)

lab-again: $(STAMP)             ## delete results/ and re-run the whole lab
	rm -rf results
	$(MAKE) lab

.PHONY: interactive
interactive: $(STAMP)           ## the interactive figures' weights and static fallbacks, from results/
	$(BIN)/python -m cnncourse.interactive.export
	$(BIN)/python scripts/interactive_fallbacks.py

.PHONY: jupyter
jupyter: $(STAMP)               ## JupyterLab on exercises/: nbgrader's Formgrader and Assignment List
	$(BIN)/cnncourse jupyter

serve: book                     ## open the built book on http://localhost:8000
	$(BIN)/python -m http.server --directory _build/html 8000

lint: $(STAMP)
	$(BIN)/ruff check cnncourse tests

clean:
	rm -rf _build exercises/release exercises/autograded exercises/feedback exercises/solutions exercises/reports exercises/gradebook.db
