#!/usr/bin/env bash
# Fuzzes for a bounded time (default 60 s in all) with clang's libFuzzer:
#   job_file_fuzzer        the job-file parser (two thirds of the time), from the kept corpus;
#   damaged_output_fuzzer  real outputs with bytes flipped in their data, read as inspect, verify and
#                          resume read them (one third).
# First replays every kept regression input (each once crashed a target; named after it).
# Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
build=build/fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DTASKFARM_FUZZ=ON -DTASKFARM_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target job_file_fuzzer damaged_output_fuzzer >/dev/null
export ASAN_OPTIONS=detect_leaks=0
mkdir -p tests/fuzz/regressions

fuzz() {  # NAME SECONDS [CORPUS]
  local name=$1 time=$2 corpus=${3:-}
  local fuzzer=$build/tests/fuzz/$name
  local regressions
  regressions=$(find tests/fuzz/regressions -type f -name "$name-*" 2>/dev/null || true)
  if [[ $name == job_file_fuzzer ]]; then  # its older inputs carry libFuzzer's default names
    regressions=$(find tests/fuzz/regressions -type f ! -name README.md ! -name "damaged_output_fuzzer-*")
  fi
  if [[ -n "$regressions" ]]; then
    # shellcheck disable=SC2086
    "$fuzzer" -runs=1 $regressions 2>&1 | tail -1
  fi
  local work
  work=$(mktemp -d)
  # New inputs go to a scratch directory; the kept corpus only changes by hand.
  local status=0
  # shellcheck disable=SC2086
  "$fuzzer" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="tests/fuzz/regressions/$name-" "$work" $corpus >"$work.log" 2>&1 || status=$?
  echo "$name:"
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done|artifact_prefix)" "$work.log" || true
  if [[ $status -ne 0 ]]; then
    tail -40 "$work.log"
    echo "$name: failure (exit $status); the input is saved under tests/fuzz/regressions/" >&2
  fi
  rm -rf "$work" "$work.log"
  return "$status"
}

status=0
fuzz job_file_fuzzer $((seconds * 2 / 3)) tests/fuzz/corpus || status=$?
fuzz damaged_output_fuzzer $((seconds - seconds * 2 / 3)) || status=$?
exit "$status"
