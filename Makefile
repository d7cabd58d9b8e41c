# The two commands of the quick start: `make demo` and `make test`. Both install what they need.
.PHONY: demo test deps lint typecheck unit lab bench clean-lab

deps:
	@scripts/install-deps.sh

demo: deps
	@bin/vipgate demo $(DEMO_FLAGS)

test: deps
	npx eslint .
	npx tsc --noEmit -p .
	node scripts/run-tests.mjs unit
	node scripts/run-tests.mjs lab

lint: deps
	npx eslint .

typecheck: deps
	npx tsc --noEmit -p .

unit: deps
	node scripts/run-tests.mjs unit

lab: deps
	node scripts/run-tests.mjs lab

bench: deps
	npx tsx bench/run.ts

clean-lab:
	@bin/vipgate lab down --all
