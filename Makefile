# make install: .venv with the project and its test tools; make run: serve the demo hotline;
# make test: the whole suite. Each target installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: install run test lint bench clean espeak chromium graphviz

install: $(STAMP) espeak chromium graphviz

# pyttsx3 loads libespeak-ng.so.1 through ctypes; espeak-ng brings the voices and the CLI.
# Installed from apt when missing and we are root; otherwise the exact command is printed.
espeak:
	@if ldconfig -p 2>/dev/null | grep -q 'libespeak-ng\.so\.1' && command -v espeak-ng >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing espeak-ng for prompt audio (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q libespeak-ng1 espeak-ng >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q libespeak-ng1 espeak-ng >/dev/null; } || \
		echo "apt-get could not install espeak-ng; run: apt-get install libespeak-ng1 espeak-ng"; \
	else \
		echo "Prompt audio needs espeak-ng; install it with:"; \
		echo "    sudo apt-get install libespeak-ng1 espeak-ng"; \
		echo "Until then the hotline speaks with Twilio <Say> text."; \
	fi

# The softphone's browser tests drive Debian's chromium with Playwright (no browser download);
# the CJK fonts make the page's Chinese readable in screenshots.
chromium:
	@if command -v chromium >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium for the softphone's browser tests (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium fonts-noto-cjk >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null; } || \
		echo "apt-get could not install chromium; run: apt-get install chromium fonts-noto-cjk"; \
	else \
		echo "The softphone's browser tests need chromium; install it with:"; \
		echo "    sudo apt-get install chromium fonts-noto-cjk"; \
		echo "Until then those tests are skipped (CI fails instead)."; \
	fi

# `menu graph --format svg|png` runs Graphviz's dot (mermaid and dot text need nothing);
# fonts-noto-cjk draws the menu's Chinese instead of empty boxes.
graphviz:
	@if command -v dot >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing graphviz for menu pictures (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q graphviz fonts-noto-cjk >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q graphviz fonts-noto-cjk >/dev/null; } || \
		echo "apt-get could not install graphviz; run: apt-get install graphviz fonts-noto-cjk"; \
	else \
		echo "Menu pictures in SVG or PNG need Graphviz; install it with:"; \
		echo "    sudo apt-get install graphviz fonts-noto-cjk"; \
		echo "Until then use menu graph --format mermaid or dot (the SVG/PNG tests are skipped; CI fails)."; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || \
		{ echo "python3-venv is missing: apt-get install python3-venv"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo's read-backs tell their text (X-Prompt-Text), so `calls run --url` can check them.
# QA batches against the demo come from one machine and one number: no rate limits here
# (a deployment keeps the defaults; see README "Settings").
run: export IVR_AUDIO_TEXT ?= 1
run: export IVR_RATE_LIMIT_CALLER ?= off
run: export IVR_RATE_LIMIT_ADDRESS ?= off
run: export IVR_SOFTPHONE ?= 1
run: install
	$(BIN)/python run_ivr.py pin-key new --if-missing
	$(BIN)/python run_ivr.py db upgrade
	$(BIN)/python run_ivr.py demo-data --load-if-empty
	$(BIN)/python run_ivr.py prompts render || echo "Prompt audio not rendered: prompts are spoken with <Say>."
	$(BIN)/python run_ivr.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check ivr store tests benchmarks run_ivr.py
	$(BIN)/ruff format --check ivr store tests benchmarks run_ivr.py

bench: install
	$(BIN)/python benchmarks/bench_all.py
	$(BIN)/python benchmarks/profile_step.py
	$(BIN)/python benchmarks/inprocess_call.py --calls 50
	$(BIN)/python benchmarks/prompt_audio.py --calls 30 --json benchmarks/prompt_audio.json
	$(BIN)/python benchmarks/menu_check.py --json benchmarks/menu_check.json
	$(BIN)/python benchmarks/import_city.py --json benchmarks/import_city.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
