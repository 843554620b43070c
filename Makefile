# Word of Mouth: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint bench clean translations

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the package metadata or the pinned versions change. constraints.txt holds the
# versions the tests passed with, so a fresh machine (and CI) installs exactly those.
$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@ $(VENV)/.installed

# After changing a dependency and seeing `make test` pass: pin what this .venv has.
.PHONY: constraints
constraints: $(VENV)/.installed-dev
	@{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -iv '^wordofmouth=='; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

# The demo LMS is on by default here; the base URL follows HOST and PORT unless set.
# The background worker runs beside the server, rebuilding recommendations a minute after the
# demo's people change something; both stop together.
run: export WOM_DEMO ?= 1
run: export WOM_BASE_URL ?= http://$(HOST):$(PORT)
run: export WOM_RECOMMEND_BUILD_MINUTES ?= 1
run: $(VENV)/.installed
	$(BIN)/wordofmouth db upgrade
	$(BIN)/wordofmouth demo seed
	@$(BIN)/wordofmouth worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(BIN)/wordofmouth run --host $(HOST) --port $(PORT)

# The URLs `make run` serves (same HOST, PORT and demo), for the LMS admin: `make urls PORT=5077`.
.PHONY: urls
urls: export WOM_DEMO ?= 1
urls: export WOM_BASE_URL ?= http://$(HOST):$(PORT)
urls: $(VENV)/.installed
	@$(BIN)/wordofmouth urls

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The LRS the tests talk to (tests/support/lrs.py): Learning Locker's statements service on Node.js,
# installed into the ignored .lrs/. Exact top-level version; no install scripts (none are needed).
LRS_VERSION := 5.0.1
LRS_PACKAGE := .lrs/node_modules/xapi-statements/package.json

.PHONY: lrs
lrs: $(LRS_PACKAGE)

$(LRS_PACKAGE):
	@command -v npm >/dev/null || { echo "npm (Node.js 20) is required to install the test LRS" >&2; exit 1; }
	npm install --prefix .lrs --no-audit --no-fund --no-save --ignore-scripts --engine-strict=false \
		--loglevel=error xapi-statements@$(LRS_VERSION)
	@test -f $@

# Try delivery by hand: `make run-lrs` here, then `WOM_LRS_ENDPOINT=http://127.0.0.1:8090/xAPI/ make run`
# in another shell. In-memory statements (gone when it stops), any credentials, 127.0.0.1 only.
LRS_PORT ?= 8090
.PHONY: run-lrs
run-lrs: $(LRS_PACKAGE)
	mkdir -p .lrs/run
	cd .lrs/run && env -i PATH="$$PATH" HOME="$$HOME" AUTH_REPO=test MODELS_REPO=memory STORAGE_REPO=local \
		EVENTS_REPO=test EXPRESS_PORT=$(LRS_PORT) FS_LOCAL_STORAGE_DIR=storage EXPRESS_MORGAN_DIRECTORY=access-logs \
		node --require ../../tests/support/lrs_loopback.cjs ../node_modules/xapi-statements/dist/index.js

test: lint $(LRS_PACKAGE)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Languages (README, "Languages"): extract the texts to messages.pot, merge them into the German
# and French catalogues, compile the .mo files. Commit the .po and .mo files (no build step at install).
TRANSLATIONS    := plugin/translations
BABEL_KEYWORDS  := -k InvalidFieldError:2 -k NotFoundError -k ConflictError -k ForbiddenError \
                   -k SessionExpiredError -k NotAuthorizedError
TRANSLATED_LANGS := de fr

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --sort-output \
		--project "Word of Mouth" --copyright-holder "Word of Mouth" -o $(TRANSLATIONS)/messages.pot .
	@for lang in $(TRANSLATED_LANGS); do \
		if [ -f $(TRANSLATIONS)/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$lang --ignore-pot-creation-date || exit 1; \
		else \
			$(BIN)/pybabel init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$lang || exit 1; \
		fi; \
	done
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
