# The two commands of the README's Quick start, plus the pieces they are made of.
.PHONY: tour test setup bench

tour:   ## set up and open the tour notebook in JupyterLab
	bash scripts/tour.sh

test:   ## set up and run every test (front end, Python, browser end to end)
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

bench:  ## print the benchmark ratios
	.venv/bin/python benchmarks/bench_affinity.py
	.venv/bin/python benchmarks/bench_streaming.py
