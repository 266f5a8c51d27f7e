# Entry points; README.md names `make demo` and `make test`.
.PHONY: setup demo test test-fast lint ci clean

VENV := .venv
RB := $(VENV)/bin/radrbench
DEMO_DIR ?= demo

setup:
	@./scripts/setup.sh

demo: setup
	$(RB) data demo --out $(DEMO_DIR)/bench
	$(RB) data validate $(DEMO_DIR)/bench
	$(RB) data stats $(DEMO_DIR)/bench

# pytest exits 5 when it collected no tests: that must fail, not pass silently.
test: setup
	@$(VENV)/bin/python -m pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$code

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(DEMO_DIR) runs .pytest_cache .mypy_cache .ruff_cache
