# The two commands of the README's Quick start, and the pieces they are made of.
.PHONY: demo test setup lint typecheck pytest clean

demo: setup  ## set up and run the embedded platform at http://127.0.0.1:8000
	.venv/bin/joinedup demo

test:  ## set up (with the browser for the accessibility tests) and run every gate and test
	scripts/setup.sh --test
	scripts/test.sh

setup:
	scripts/setup.sh

lint: setup
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests

typecheck: setup
	.venv/bin/mypy

clean:
	rm -rf .venv .tools node_modules var .pytest_cache .mypy_cache .ruff_cache
