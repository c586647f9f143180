# The two set-up commands (README): `make demo` and `make test`. Each installs what it
# needs: Debian packages (as root, else a clear message), a venv in .venv, the package.
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := fluidsynth fluid-soundfont-gm timgm6mb-soundfont festival festvox-kallpc16k \
                megaglest-data openttd-opensfx
PYTEST_ARGS ?=

.PHONY: demo test install system-packages
demo: install
	$(VENV)/bin/msvae demo --config configs/demo.yaml

test: install
	bash tests/suite.sh $(PY) $(PYTEST_ARGS)

install: system-packages $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[corpus,embedded,dev]'
	touch $@

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "msvae: missing Debian packages: $$missing"; \
	  echo "msvae: run as root: apt-get install -y $$missing"; exit 1; fi; \
	echo "installing Debian packages: $$missing"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing
