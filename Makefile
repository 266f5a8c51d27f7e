# Entry points; README.md names `make demo` and `make test`.
.PHONY: setup demo train-demo test test-fast lint ci clean

VENV := .venv
RB := $(VENV)/bin/radrbench
DEMO_DIR ?= demo

setup:
	@./scripts/setup.sh

# The main job end to end on the bundled synthetic benchmark: generate and check the data,
# build the tiny offline Qwen2-VL, serve it with radrbench's transformers server on
# 127.0.0.1, evaluate it (outcome accuracy with CIs), judge its reasoning (RadRScore),
# re-score the run with the judge again to show the cached judging stage, evaluate it once more
# with the `direct` prompt profile, and build the leaderboard of the two runs.
DEMO_PORT ?= 8765
DEMO_LIMIT ?= 8
demo: setup
	$(RB) data demo --out $(DEMO_DIR)/bench
	$(RB) data validate $(DEMO_DIR)/bench
	$(RB) data stats $(DEMO_DIR)/bench
	$(RB) dev tiny-model --out $(DEMO_DIR)/tiny-qwen2-vl
	$(RB) eval --baseline tiny-qwen2-vl --engine transformers --model-path $(DEMO_DIR)/tiny-qwen2-vl \
		--port $(DEMO_PORT) --data $(DEMO_DIR)/bench --limit $(DEMO_LIMIT) \
		--out $(DEMO_DIR)/runs/tiny-qwen2-vl --judge offline
	$(RB) score $(DEMO_DIR)/runs/tiny-qwen2-vl --judge offline
	$(RB) eval --baseline tiny-qwen2-vl --engine transformers --model-path $(DEMO_DIR)/tiny-qwen2-vl \
		--port $(DEMO_PORT) --data $(DEMO_DIR)/bench --limit $(DEMO_LIMIT) --prompt-profile direct \
		--out $(DEMO_DIR)/runs/tiny-qwen2-vl-direct --judge offline
	$(RB) leaderboard add $(DEMO_DIR)/runs/tiny-qwen2-vl $(DEMO_DIR)/runs/tiny-qwen2-vl-direct \
		--results $(DEMO_DIR)/leaderboard/results
	$(RB) leaderboard build --results $(DEMO_DIR)/leaderboard/results --out $(DEMO_DIR)/leaderboard/site

# The toy reproduction on CPU: base -> SFT -> GRPO with the process reward, evaluated side by side.
train-demo: setup
	$(RB) train demo --out $(DEMO_DIR)/train

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
