# billbridge: two commands.
#   make run   set up .venv and start the app (on the embedded ConnectWise sandbox unless CW_SITE is set)
#   make test  set up .venv with the test extras and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test sandbox bench clean help

help:
	@echo "make run    - set up .venv and start billbridge on http://127.0.0.1:$(PORT)"
	@echo "make test   - set up .venv (with test extras) and run pytest"
	@echo "make sandbox - run the ConnectWise sandbox alone in the foreground"
	@echo "make bench  - run the benchmark scripts in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes; the stamp files record what was installed.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@mkdir -p data
	$(BIN)/python -m streamlit run app.py --server.port=$(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

sandbox: $(VENV)/.installed-run
	$(BIN)/billbridge sandbox

bench: $(VENV)/.installed-test
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
