# The two commands of the README: `make run` and `make test`. Each installs what
# it needs on a fresh Debian machine, so CI and a new developer start the same way.
SHELL := /bin/bash
SWIFT ?= $(shell command -v swift || echo /opt/swift/usr/bin/swift)
DEBIAN_PACKAGES := libcurl4-openssl-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libsqlite3-dev libxml2-dev pkg-config python3
# Only for `make test`: the browser the preview test drives, the spam filter that checks the sample emails.
TEST_DEBIAN_PACKAGES := chromium chromium-driver spamassassin
BENCH_PYTHON := .bench/venv/bin/python

.PHONY: run test build deps bench fuzz clean

deps:
	@bash scripts/install-deps.sh $(DEBIAN_PACKAGES)

build: deps
	$(SWIFT) build

# The editor's main job on the sample project in this repository.
run: build
	$(SWIFT) run hogmail build
	@echo "Open out/index.html for the archive, out/<issue>/email.html for each email."

test: deps
	@bash scripts/install-deps.sh $(TEST_DEBIAN_PACKAGES)
	@bash scripts/install-python-test-deps.sh
	$(SWIFT) build
	$(SWIFT) test
	@bash scripts/check-sample-output.sh
	@for target in draft frontmatter mime csv token; do .build/debug/hogmail-fuzz $$target Fuzz/corpus/$$target 5 1 || exit 1; done
	python3 Tests/browser/preview_test.py .build/debug/hogmail

bench: deps
	@bash scripts/bench.sh

# Each fuzz target for FUZZ_SECONDS (default 60) under libFuzzer.
fuzz: deps
	@bash scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz out .bench
