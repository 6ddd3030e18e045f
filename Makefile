# The two commands of the README. Each creates .venv (Python 3.11 or newer) when missing;
# `run` installs feedlake, `test` adds the test tools (Spark, moto, avro, ruff, pytest).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-long bench profile format clean flink-deps test-flink

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

run: $(VENV)/.installed  ## the bundled sample drop and feed into ./lake, then what landed
	$(BIN)/feedlake run --lake lake
	$(BIN)/feedlake inspect --lake lake

test: $(VENV)/.installed-test  ## lint, format check and the tests, but for make test-long's and make test-flink's
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

flink-deps:  ## Flink 1.19.3 and Beam's Flink job server in .cache/flink (once: Java 17, Maven)
	PYTHON=$(PYTHON) deploy/flink/deps.sh .cache/flink

test-long: $(VENV)/.installed-test  ## the adversarial end-to-end suites make test leaves out (CI runs them)
	$(BIN)/pytest -m long

test-flink: $(VENV)/.installed-test flink-deps  ## feedlake on a local Flink cluster (minutes)
	$(BIN)/pytest -m flink tests/cluster

bench: $(VENV)/.installed-test  ## throughput and memory against the plain baseline (minutes)
	$(BIN)/python -m benchmarks.bench parse --articles 20000
	$(BIN)/python -m benchmarks.bench classify --articles 5000
	$(BIN)/python -m benchmarks.dedup_eval --articles 20000
	$(BIN)/python -m benchmarks.bench decide --articles 1000000
	$(BIN)/python -m benchmarks.bench staging --articles 20000
	$(BIN)/python -m benchmarks.run --articles 10000 50000 --repeat 3
	$(BIN)/python -m benchmarks.run --articles 1000 --repeat 5 --syscalls  # a daily drop
	$(BIN)/python -m benchmarks.run --articles 20000 --span-days 365 --repeat 3 --syscalls  # a year's backfill
	$(BIN)/python -m benchmarks.run --articles 200000 --repeat 1
	$(BIN)/python -m benchmarks.history --repeat 3

profile: $(VENV)/.installed-test  ## where a 20,000-article run spends its time: build/profile/feedlake.svg
	rm -rf build/profile
	$(BIN)/python -m benchmarks.corpus --articles 20000 --out build/profile/corpus
	$(BIN)/py-spy record --rate 50 --output build/profile/feedlake.svg -- \
		$(BIN)/feedlake run --drops build/profile/corpus/drops --lake build/profile/lake --quiet

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf lake .pytest_cache build *.egg-info
