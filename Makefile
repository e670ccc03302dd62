# court-gateway: everything a fresh machine needs is installed from here (Python 3.11, make, git).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint sims bench soak load-sqlite edge-bench fuzz cluster-test install clean web

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("court-gateway needs Python 3.11, found " + sys.version.split()[0]) if sys.version_info[:2] != (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/court-gateway demo

sims: $(STAMP)
	$(BIN)/court-gateway sims

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "installing wrk (the load tool) with apt-get"; \
		apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(BIN)/python -m bench.run

# the embedded SQLite store under concurrent GraphQL writes with every core busy (LOAD_SECONDS, LOAD_CLIENTS, LOAD_HOGS)
load-sqlite: $(STAMP)
	$(BIN)/python -m bench.sqlite_load

# what hostile documents (1 MB, 10 MB, 400 KB case number, 1,000 distinct ones) cost a gateway process
edge-bench: $(STAMP)
	$(BIN)/python -m bench.edge

# schema-generated queries and mutations as six kinds of caller (FUZZ_QUERIES, FUZZ_MUTATIONS, FUZZ_SEED)
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz

# the reference web client: npm installs its locked tools, type-checks and rebuilds clients/web/dist (committed,
# so `make demo` and the tests never need npm)
web:
	cd clients/web && npm ci --no-audit --no-fund && npm run check && npm run build

# three `court-gateway serve` replicas behind HAProxy on PostgreSQL and Redis (db 7 unless
# GATEWAY_TEST_REDIS_URL says otherwise), a replica SIGKILLed and a court down under mixed traffic: prints its figures
cluster-test: $(STAMP)
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { echo "installing haproxy (the load balancer) with apt-get"; \
		apt-get install -y -qq haproxy >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq haproxy; }; }
	GATEWAY_TEST_POSTGRES_URL=$${GATEWAY_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
	GATEWAY_TEST_REDIS_URL=$${GATEWAY_TEST_REDIS_URL:-redis://127.0.0.1:6379/7} \
	$(BIN)/python -m tests.cluster

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

# minutes of mixed reads and writes with court faults on a schedule: RSS, errors, latency (SOAK_SECONDS, SOAK_RPS)
soak: $(STAMP)
	$(BIN)/python -m bench.soak
