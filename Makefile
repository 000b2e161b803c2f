# The two commands of the README's Quick start, plus the pieces they are made of.
.PHONY: tour test setup bench

tour:   ## set up and open the tour notebook in JupyterLab
	bash scripts/tour.sh

test:   ## set up and run every test (front end, Python, browser end to end)
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

PYTHON ?= .venv/bin/python
BENCH ?=

bench:  ## every ratio in one table (benchmarks/results/bench.json) and the scaling curves (docs/images/bench-*.png)
	$(PYTHON) benchmarks/run_all.py $(BENCH)
	$(PYTHON) benchmarks/curves.py $(filter-out --no-browser,$(BENCH))
