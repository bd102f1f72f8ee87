PYTHON ?= .venv/bin/python

.PHONY: notebooks test

notebooks:  ## re-execute every notebook in place (stored outputs are checked by nbval)
	$(PYTHON) scripts/run_notebooks.py

test:  ## the README test command
	$(PYTHON) -m pytest -n 2 --dist loadfile tests notebooks --nbval-lax --nbval-current-env
