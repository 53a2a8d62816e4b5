# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint check venv messages clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 behövs (har %s)" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

check: test lint

# Web server and a Celery worker with beat on the serverless broker; Ctrl-C stops both.
# Beat's schedule file lies in the var folder (SSPF_VAR_DIR), set in sspf/settings.py.
demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@trap 'kill $$celery_pid 2>/dev/null; wait $$celery_pid 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/celery -A sspf worker --beat --loglevel INFO --concurrency 1 & celery_pid=$$!; \
	$(PY) manage.py runserver 127.0.0.1:8000

# Needs GNU gettext (msgfmt); the compiled catalogues are committed.
messages:
	$(PY) manage.py makemessages --locale en --ignore '.venv/*' --ignore 'var/*'
	$(PY) manage.py compilemessages --locale en --ignore '.venv/*'

clean-venv:
	rm -rf $(VENV)
