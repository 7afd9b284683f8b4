#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target (draft, frontmatter, mime, csv, token, form, returned) for FUZZ_SECONDS (default 60)
# under libFuzzer, coverage-guided, starting from Fuzz/corpus/<target>/. New inputs it finds go
# to .build-fuzz/corpus/<target>/, a crashing input to .build-fuzz/crashes/<target>-crash-*.
# If the libFuzzer build does not work on this machine, the plain mutation loop runs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
seconds=${FUZZ_SECONDS:-60}
targets=(draft frontmatter mime csv token form returned image)
log=.build-fuzz/build.log
mkdir -p .build-fuzz/crashes
echo "Building hogmail-fuzz with libFuzzer (-sanitize=fuzzer) into .build-fuzz/ …"
if "$SWIFT" build -c release --product hogmail-fuzz --build-path .build-fuzz \
     -Xswiftc -sanitize=fuzzer -Xswiftc -DHOGMAIL_LIBFUZZER >"$log" 2>&1; then
  for target in "${targets[@]}"; do
    mkdir -p ".build-fuzz/corpus/$target"
    echo "== $target: ${seconds} s"
    # Swift's own crash reporter would take the signal from libFuzzer, which saves the input.
    status=0
    SWIFT_BACKTRACE=enable=no HOGMAIL_FUZZ_TARGET=$target .build-fuzz/release/hogmail-fuzz ".build-fuzz/corpus/$target" "Fuzz/corpus/$target" \
      -max_total_time="$seconds" -max_len=65536 -artifact_prefix=".build-fuzz/crashes/$target-" -print_final_stats=1 \
      >".build-fuzz/$target.log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|.*Fatal error)" ".build-fuzz/$target.log" || true
    if [ "$status" -ne 0 ]; then
      echo "fuzz: $target crashed (exit $status); the input is in .build-fuzz/crashes/, the log in .build-fuzz/$target.log. Make it a regression test." >&2
      exit 1
    fi
  done
else
  echo "The libFuzzer build failed (see $log); running the plain mutation loop instead."
  "$SWIFT" build -c release --product hogmail-fuzz
  for target in "${targets[@]}"; do
    .build/release/hogmail-fuzz "$target" "Fuzz/corpus/$target" "$seconds"
  done
fi
echo "fuzz: every target ran ${seconds} s without a crash."
