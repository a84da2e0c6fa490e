# Studio: `make run` sets up and runs everything; `make test` sets up and runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test lint bench setup clean cjk-font messages

# Compiled translations (locale/, README "Languages") are committed, so a fresh clone needs no
# gettext; a .po edited since its .mo is compiled again when gettext's msgfmt is installed.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	@if command -v msgfmt >/dev/null 2>&1; then \
	  echo "Compiling $<"; msgfmt --check -o $@ $<; \
	else echo "gettext's msgfmt is missing: keeping the committed $@ (install gettext to rebuild it)."; fi

$(VENV)/.installed: pyproject.toml
	@PYTHON_BIN=$$(scripts/find-python) || exit 1; \
	  [ -x $(PY) ] || { echo "Creating $(VENV) with $$PYTHON_BIN ($$($$PYTHON_BIN --version))"; $$PYTHON_BIN -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# .env holds SECRET_KEY (and maybe the encryption key derived from it), the database and
# .run/login the admin's password: each is created readable by its owner only (umask 077).
.env:
	@umask 077 && sed "s/^SECRET_KEY=.*/SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 50)/" .env.example > .env
	@echo "Wrote .env (a fresh SECRET_KEY; edit it to configure the studio)."

# Chinese prompts in the local renderer's captions need a CJK font (videos/rendering/fonts.py):
# Debian's fonts-wqy-microhei (about 5 MB; README, "Fonts") when none is found and this is root.
cjk-font: $(VENV)/.installed
	@if ! $(PY) -c "from videos.rendering.fonts import main; main()" >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's fonts-wqy-microhei for Chinese captions..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    (apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1)) \
	      || echo "Could not install fonts-wqy-microhei: captions will leave Chinese out and say so."; \
	  else echo "No CJK font and this is not root: captions will leave Chinese out (install fonts-wqy-microhei)."; fi; \
	fi

setup: $(VENV)/.installed .env cjk-font $(MO_FILES)
	umask 077 && $(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	@mkdir -p -m 700 .run
	@umask 077 && rm -f .run/login && $(PY) manage.py studio_setup | tee .run/login

run: setup
	@scripts/serve

test: $(VENV)/.installed-dev cjk-font $(MO_FILES)
	@if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) \
	      || echo "Could not install chromium: the browser tests will be skipped."; \
	  else echo "chromium is missing and this is not root: the browser tests will be skipped."; fi; \
	fi
	@# gettext's xgettext lets tests/test_i18n.py check that makemessages would find nothing new.
	@if ! command -v xgettext >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's gettext for the translation tests..."; \
	  (apt-get install -y -qq gettext >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq gettext >/dev/null 2>&1)) \
	    || echo "Could not install gettext: the makemessages check will be skipped."; \
	fi
	$(VENV)/bin/ruff check .
	STUDIO_READ_ENV_FILE=0 $(PY) -m pytest $(PYTEST_ARGS)
	@# Scale mode (PostgreSQL + django-q2 on Redis) when both answer; a failure there fails too.
	@if $(PY) -c "import socket; [socket.create_connection(('127.0.0.1', p), 1).close() for p in (5432, 6379)]" 2>/dev/null; then \
	  echo "== scale-mode tests on PostgreSQL and Redis (127.0.0.1)"; \
	  DATABASE_URL=postgres://postgres@127.0.0.1:5432/studio_scale_$$$$ REDIS_URL=redis://127.0.0.1:6379/15 \
	    STUDIO_Q_NAME=studio-scale-$$$$ STUDIO_READ_ENV_FILE=0 $(PY) -m pytest -m scale tests/scale; \
	else echo "scale-mode tests skipped: PostgreSQL/Redis not answering on 127.0.0.1"; fi

# After wrapping new strings: collect them into locale/*/django.po, translate, then `make`
# compiles the .mo (README, "Languages").
messages: $(VENV)/.installed
	STUDIO_READ_ENV_FILE=0 SECRET_KEY=makemessages $(PY) manage.py makemessages -l zh_Hans --no-obsolete \
	  --ignore=.venv --ignore=staticfiles --ignore=tests --ignore=bench --ignore=media
	@echo "Now translate the new (empty or fuzzy) entries in locale/zh_Hans/LC_MESSAGES/django.po, then run make setup or make test."

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed-dev
	@for script in bench/*.py; do echo "== $$script"; STUDIO_READ_ENV_FILE=0 $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
