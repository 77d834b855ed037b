# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
# torch 2.14.1 + torchvision 0.29.1 are the pair that import together on these machines.
TORCH   = torch==2.14.1 torchvision==0.29.1

.PHONY: demo test venv clean bench-quick gpu-data

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: venv
	$(PY) -m deepclust.demo

test: venv
	$(PY) -m pytest

bench-quick: venv
	$(VENV)/bin/deepclust bench gapdcec-table1 --profile quick --seeds 0 1 2

gpu-data:  # datasets for the one GPU call, see benchmarks/gpu/README.md
	bash benchmarks/gpu/prepare.sh

clean:
	rm -rf $(VENV) runs build *.egg-info .gpu-data
