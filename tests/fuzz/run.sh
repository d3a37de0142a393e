#!/usr/bin/env bash
# Fuzzes the job-file parser for a bounded time (default 60 s) with clang's libFuzzer, starting from
# the kept corpus; first replays every kept regression input (each once crashed the parser).
# Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
build=build/fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DTASKFARM_FUZZ=ON -DTASKFARM_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target job_file_fuzzer >/dev/null
fuzzer=$build/tests/fuzz/job_file_fuzzer
export ASAN_OPTIONS=detect_leaks=0
mkdir -p tests/fuzz/regressions
regressions=$(find tests/fuzz/regressions -type f ! -name README.md)
if [[ -n "$regressions" ]]; then
  # shellcheck disable=SC2086
  "$fuzzer" -runs=1 $regressions 2>&1 | tail -1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# New inputs go to a scratch directory; the kept corpus only changes by hand.
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix=tests/fuzz/regressions/ "$work" tests/fuzz/corpus >"$work.log" 2>&1 || status=$?
grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done|artifact_prefix)" "$work.log" || true
if [[ $status -ne 0 ]]; then
  tail -40 "$work.log"
  echo "job_file_fuzzer: failure (exit $status); the input is saved under tests/fuzz/regressions/" >&2
fi
rm -f "$work.log"
exit "$status"
