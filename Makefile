# The two commands of the README: `make run` and `make test`. Both set everything up
# on first use (a virtualenv in .venv with the project and its tools).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov in a virtualenv of its own (see the scan extra in pyproject.toml)
SCAN_VENV := $(VENV)/checkov
SCAN_STAMP := $(SCAN_VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test check unit e2e token bench format clean browser console-deploy

$(STAMP): pyproject.toml layers/common/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

$(SCAN_STAMP): pyproject.toml $(STAMP)
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet $$($(BIN)/python -c \
	  'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["scan"])')
	@touch $(SCAN_STAMP)

## run: start the whole service locally (HTTP API :3000, AWS :4566, provider :8081);
## make run NO_DEMO=1: no demo agent and campaign; make run RESET=1: start with empty tables
NO_DEMO ?=
RESET ?=
run: $(STAMP)
	$(BIN)/python -m campaign_local $(if $(filter-out 0,$(NO_DEMO)),--no-demo) $(if $(filter-out 0,$(RESET)),--reset)

## test: offline checks of the template and state machine, then every test, on two
## workers (each starts its own local engine on free ports); make test WORKERS=0: in one
WORKERS ?= 2
test: $(STAMP) check browser
	$(BIN)/python -m pytest $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadfile)

## browser: Debian's chromium for the browser test, installed with apt when missing
## (Playwright drives it; nothing downloads a browser)
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH
browser:
	@test -x $(CHROMIUM_PATH) || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "Installing Debian's chromium (for tests/e2e/test_browser_cors.py)"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

## check: cfn-lint, sam validate (with its lint), the ASL validator, checkov, ruff and mypy;
## checkov fails on any finding not fixed or skipped with its reason in the resource's Metadata;
## mypy type-checks layers/ and functions/ ([tool.mypy] in pyproject.toml)
check: $(STAMP) $(SCAN_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint
	$(BIN)/statelint statemachine/*.asl.json
	$(SCAN_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download
	@# checkov leaves out the resources whose Condition is false with the parameters' defaults:
	@# the console's (DeployConsole) are scanned in a copy that turns it on.
	sed '/^  DeployConsole:$$/,/^    Default:/s/Default: "false"/Default: "true"/' template.yaml > $(VENV)/template-with-console.yaml
	! cmp -s template.yaml $(VENV)/template-with-console.yaml
	$(SCAN_VENV)/bin/checkov -f $(VENV)/template-with-console.yaml --framework cloudformation --quiet --compact --skip-download
	$(BIN)/ruff check .
	$(BIN)/mypy

## token: print a token the local engine accepts for a client: make token CLIENT=acme
CLIENT ?= demo-client
token: $(STAMP)
	@$(BIN)/python -m campaign_local token $(CLIENT)

## console-deploy: put console/ in a stack deployed with DeployConsole=true: config.json from the
## stack's outputs, the files uploaded, CloudFront refreshed (AWS credentials from the usual
## places): make console-deploy STACK=<stack name> [REGION=<region>] [DRY_RUN=1]
STACK ?=
REGION ?=
DRY_RUN ?=
console-deploy: $(STAMP)
	@test -n "$(STACK)" || { echo "usage: make console-deploy STACK=<stack name> [REGION=<region>]" >&2; exit 2; }
	$(BIN)/python -m campaign_deploy console --stack $(STACK) $(if $(REGION),--region $(REGION)) $(if $(filter-out 0,$(DRY_RUN)),--dry-run)

## bench: measure cost, request counts, pacing, cold start (in .bench/, not tracked);
## make bench RECORD=1 updates bench/results and docs/benchmarks.md
ONLY ?=
RECORD ?=
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(filter-out 0,$(RECORD)),--record) $(ONLY)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

e2e: $(STAMP) browser
	$(BIN)/python -m pytest tests/e2e

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .aws-sam
