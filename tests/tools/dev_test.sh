#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/dev, the README's commands, as a new user meets them:
#  1. `tools/dev run` first (tests off in build/), then `tools/dev test`: the test stage must turn
#     the tests back on, not trust the cached option;
#  2. a stage whose ctest ran no test must fail, not print "no summary" and pass.
# Usage: dev_test.sh SCRATCH_DIR
set -uo pipefail
scratch=${1:?usage: dev_test.sh SCRATCH_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../tools/dev
source "$here/../../tools/dev"
set +e
passes=0 failures=0
check() {  # description, command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; passes=$((passes + 1)); else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
rm -rf "$scratch" && mkdir -p "$scratch"

# 1. run's configuration, then test's, in one folder (configure only: no build needed).
configure "$scratch/build" "${RUN_OPTIONS[@]}" || { echo "FAILED: configure with RUN_OPTIONS"; exit 1; }
check "run stage configures the tests off" grep -q '^WEIR_BUILD_TESTS:BOOL=OFF' "$scratch/build/CMakeCache.txt"
configure "$scratch/build" "${TEST_OPTIONS[@]}" || { echo "FAILED: configure with TEST_OPTIONS"; exit 1; }
check "test stage turns the tests on after run" grep -q '^WEIR_BUILD_TESTS:BOOL=ON' "$scratch/build/CMakeCache.txt"
check "test stage turns warnings into errors (our build)" grep -q '^WEIR_WERROR:BOOL=ON' "$scratch/build/CMakeCache.txt"
check "test stage's ctest finds tests" test -n "$(cd "$scratch/build" && ctest -N | grep -E '^ +Test +#')"

# 2. A folder whose ctest has no test at all.
mkdir -p "$scratch/empty"
echo "# no tests" > "$scratch/empty/CTestTestfile.cmake"
run_ctest "empty" "$scratch/empty" >"$scratch/empty.log" 2>&1
rc=$?
check "a stage that ran no test fails (rc=$rc)" test "$rc" -ne 0
check "its summary says so" test "${summary[-1]}" = "empty: FAILED, no test ran"

# The same with a filter that matches nothing (ctest -R nothing-matches).
run_ctest "filtered" "$scratch/build" -R '^no-such-test$' >"$scratch/filtered.log" 2>&1
rc=$?
check "a label or filter that selects no test fails (rc=$rc)" test "$rc" -ne 0

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
