# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-test

.PHONY: demo test lint serve vendor vendor-check bench bench-users bench-endpoints bench-big readme fuzz compare clean

## One venv; a stamp per set of extras, so `make serve` installs only what serving needs and `make test` after it
## still adds the test extra.
$(VENV)/.installed-serve: EXTRAS :=
$(VENV)/.installed-demo: EXTRAS := [embedded]
$(VENV)/.installed-test: EXTRAS := [test]
$(VENV)/.installed-%: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("engagement-svc needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.$(EXTRAS)'
	touch $@

## The dashboard's chart library is committed (engagement_svc/dashboard/static/vendor/, package data), so no
## install needs npm. `make vendor` refreshes it from the npm packages pinned in web/package-lock.json (after a
## bump there) and records each file's sha256 in web/vendor.json; `make vendor-check` downloads the pinned
## tarballs again, checks them against the lockfile's integrity and compares every byte. Both need npm.
vendor vendor-check: $(STAMP)
	@command -v npm >/dev/null || { echo "npm is needed to fetch the pinned chart library: apt-get install npm"; exit 1; }
	$(VENV)/bin/python web/vendor.py $(if $(filter vendor,$@),update,check)

## Debian's Chromium for the browser tests (Playwright drives it; it cannot download browsers here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	else echo "The browser tests need Debian's chromium: run 'sudo apt-get install chromium' and try again"; exit 1; fi

## Debian's prometheus package for the alert and dashboard tests: promtool (check and unit-test the rules) and
## prometheus (a real one scraping the service). On a host running systemd the package also starts its own
## prometheus service on :9090 (`systemctl disable --now prometheus` stops it; the tests run their own).
PROMTOOL := /usr/bin/promtool
$(PROMTOOL):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; }; \
	else echo "The Prometheus tests need Debian's prometheus package (promtool, prometheus): run 'sudo apt-get install prometheus' and try again"; exit 1; fi

## Run the service on an embedded mongod seeded with a demo Rocket.Chat dataset; prints curl lines.
demo: $(VENV)/.installed-demo
	$(VENV)/bin/engagement-svc demo

## Run the whole test suite against a real mongod (started by the tests, or ENGAGEMENT_TEST_MONGO_URL).
test: $(STAMP) $(CHROMIUM) $(PROMTOOL) lint
	@echo "The suite takes about 8-10 minutes on 2 cores; each test is named as it runs."
	$(VENV)/bin/python -m pytest -v

## Lint, format and type checks (part of `make test`).
lint: $(STAMP)
	$(VENV)/bin/ruff check engagement_svc tests bench web
	$(VENV)/bin/ruff format --check engagement_svc tests bench web
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy web/vendor.py

## Benchmark (not a test): prints figures and writes bench/results/latest.json. BENCH_ARGS passes options (e.g.
## --parts rooms: issue 25's figures only); BASELINE=<git revision> also measures that revision's code A/B in the
## same run.
bench: $(STAMP)
ifdef BASELINE
	rm -rf .baseline && git worktree prune && git worktree add --detach .baseline $(BASELINE)
	$(VENV)/bin/python -m bench.run --baseline .baseline $(BENCH_ARGS); status=$$?; git worktree remove --force .baseline; exit $$status
else
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)
endif

## Origin, top five and the channel list (and its CSV): raw, peer, cold, warm, freshness. ENDPOINTS_ARGS passes
## options (default 1,000,000 messages / 400 days / 5,000 rooms); figures in bench/results/endpoints-*.json.
bench-endpoints: $(STAMP)
	$(VENV)/bin/python -m bench.endpoints $(ENDPOINTS_ARGS)

## The users tab's benchmark (100,000 users, 3,000,000 logins over 400 days by default; USERS_ARGS passes
## options); figures in bench/results/users.json.
bench-users: $(STAMP)
	$(VENV)/bin/python -m bench.users $(USERS_ARGS)

## The big-server run: 20,000,000 messages, 100,000 users, 50,000 rooms and 5,000,000 logins over 730 days (made
## once in bench/data, resumable; about 30 min and 15 GB), the first start's backfill, every endpoint warm and
## cold. BIG_ARGS passes options; figures in bench/results/big.json.
bench-big: $(STAMP)
	$(VENV)/bin/python -m bench.big $(BIG_ARGS)

## Run against the Rocket.Chat MongoDB named by MONGO_URL.
serve: $(VENV)/.installed-serve
	$(VENV)/bin/engagement-svc serve

## Rewrite the README's settings table from engagement_svc/settings.py (a test keeps them equal).
readme: $(STAMP)
	$(VENV)/bin/python -c 'from engagement_svc.settings import update_readme; update_readme("README.md")'

## Replay the hostile-input cases and fuzz the API from its OpenAPI file with many more examples.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=2000 $(VENV)/bin/python -m pytest tests/api/test_hostile.py tests/api/test_openapi.py

## Every answer of this checkout against an older revision's, byte for byte (BASELINE=<git revision>): all nine
## endpoints, JSON and CSV, each bots choice; COMPARE_ARGS passes options (python -m bench.compare --help).
compare: $(STAMP)
	rm -rf .baseline && git worktree prune && git worktree add --detach .baseline $(BASELINE)
	$(VENV)/bin/python -m bench.compare .baseline; status=$$?; git worktree remove --force .baseline; exit $$status

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
