# The two commands of the quick start: `make demo` and `make test`. Both install what they need.
.PHONY: demo test deps lint typecheck unit lab image clean-image bench bench-quick clean-lab

deps:
	@scripts/install-deps.sh

demo: deps
	@bin/vipgate demo $(DEMO_FLAGS)

test: deps
	npx tsx src/dataplane/xdp/build.ts
	npx eslint .
	npx tsc --noEmit -p .
	node scripts/run-tests.mjs unit
	scripts/build-image.sh
	node scripts/run-tests.mjs lab

lint: deps
	npx eslint .

typecheck: deps
	npx tsc --noEmit -p .

unit: deps
	node scripts/run-tests.mjs unit

lab: deps
	node scripts/run-tests.mjs lab

# The container image (build/image/vipgate-<version>.oci.tar); does nothing when it is up to date.
image: deps
	@scripts/build-image.sh

# Removes the image, its caches and this checkout's container storage (podman unmounts it first).
clean-image:
	@eval "$$(scripts/containers-env.sh)" && podman system reset --force >/dev/null 2>&1; rm -rf build/image build/containers

bench: deps
	npx tsx bench/run.ts

bench-quick: deps
	npx tsx bench/run.ts --quick

clean-lab:
	@bin/vipgate lab down --all
