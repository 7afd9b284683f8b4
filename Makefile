# The two commands of the README: `make run` and `make test`. Each installs what
# it needs on a fresh Debian machine, so CI and a new developer start the same way.
SHELL := /bin/bash
SWIFT ?= $(shell command -v swift || echo /opt/swift/usr/bin/swift)
DEBIAN_PACKAGES := libcurl4-openssl-dev libssl-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libsqlite3-dev libxml2-dev pkg-config python3
# Only for `make test`: the browser the preview test drives, the spam filter that checks the
# sample emails, Python's venv for the test servers, systemd-analyze for the unit files, nginx
# in front of `hogmail serve`, man/openssl for the install test, and Java for the Nu Html
# Checker of the client test (its vnu.jar comes from PyPI), PostgreSQL for the store's second
# engine (scripts/with-postgres.sh runs a private server for the tests; the system's own
# cluster is never started). Postfix, for the bounce
# tests' private instance (Tests/servers/postfix_bounces.py), comes from
# scripts/install-postfix-tools.sh: preseeded "No configuration", the system's own never started.
BLOCKING_SUITES := KillResumeTests|PostfixBounceTests|SharedSendKillTests
TEST_DEBIAN_PACKAGES := chromium chromium-driver spamassassin python3-venv systemd nginx man-db openssl curl default-jre-headless postgresql
BENCH_PYTHON := .bench/venv/bin/python
# The tests' python3 is the project's own venv (scripts/install-python-test-deps.sh).
TEST_PATH := $(CURDIR)/.venv/bin:$(PATH)

# `make install`: one self-contained binary (resources compiled in, Swift's runtime linked
# statically), its man page and shell completions. Built in a folder of its own, since a
# static build's objects cannot be linked into the tests.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_CONFIGURATION ?= release
INSTALL_BUILD := .build-install
INSTALLED_FILES := bin/hogmail share/man/man1/hogmail.1 share/bash-completion/completions/hogmail \
	share/zsh/site-functions/_hogmail share/fish/vendor_completions.d/hogmail.fish

.PHONY: run test build deps bench fuzz clean install uninstall

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
	@bash scripts/install-postfix-tools.sh
	@bash scripts/install-python-test-deps.sh
	$(SWIFT) build
	# Four runs. The delivery tests wait for real servers and processes by blocking (reading a
	# server's READY line, usleep, waitUntilExit) on the test process's two cooperative threads;
	# run beside the HTTP server tests, a slow stretch of theirs starved those for a minute and
	# their requests hit the server's deadlines (CI, 2026-12-03). The kill and Postfix suites,
	# the longest blockers, run on their own.
	# The store, send and server suites run on SQLite and on a private PostgreSQL
	# (scripts/with-postgres.sh); a missing server fails them instead of skipping.
	PATH="$(TEST_PATH)" HOGMAIL_REQUIRE_POSTGRES=1 bash scripts/with-postgres.sh $(SWIFT) test --filter 'HogMailDeliveryTests\.' --skip '$(BLOCKING_SUITES)'
	PATH="$(TEST_PATH)" $(SWIFT) test --filter 'KillResumeTests|PostfixBounceTests'
	# Two senders and 5,000 messages: beside Postfix's bounce test it starved Postfix of the CPU
	# its DSNs need within the test's wait (CI, 2026-12-03), so it runs on its own.
	PATH="$(TEST_PATH)" HOGMAIL_REQUIRE_POSTGRES=1 bash scripts/with-postgres.sh $(SWIFT) test --filter 'SharedSendKillTests'
	PATH="$(TEST_PATH)" HOGMAIL_REQUIRE_POSTGRES=1 bash scripts/with-postgres.sh $(SWIFT) test --skip 'HogMailDeliveryTests\.'
	@PATH="$(TEST_PATH)" bash scripts/check-sample-output.sh
	@for target in draft frontmatter mime csv token form returned image; do .build/debug/hogmail-fuzz $$target Fuzz/corpus/$$target 5 1 || exit 1; done
	PATH="$(TEST_PATH)" python3 Tests/browser/preview_test.py .build/debug/hogmail
	PATH="$(TEST_PATH)" python3 Tests/browser/clients_test.py .build/debug/hogmail
	@PATH="$(TEST_PATH)" bash scripts/install-test.sh

install: deps
	$(SWIFT) build -c $(INSTALL_CONFIGURATION) --static-swift-stdlib --product hogmail --scratch-path $(INSTALL_BUILD)
	$(SWIFT) package generate-manual --configuration debug --date "$$(git log -1 --format=%cs 2>/dev/null || date +%F)"
	@bash scripts/install.sh "$(DESTDIR)$(PREFIX)" "$(INSTALL_BUILD)/$(INSTALL_CONFIGURATION)/hogmail" .build/plugins/GenerateManual/outputs/hogmail/hogmail.1

# Removes exactly what `make install` put there.
uninstall:
	cd "$(DESTDIR)$(PREFIX)" && rm -f $(INSTALLED_FILES)

bench: deps
	@bash scripts/bench.sh

# Each fuzz target for FUZZ_SECONDS (default 60) under libFuzzer.
fuzz: deps
	@bash scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz .build-install out .bench .venv
