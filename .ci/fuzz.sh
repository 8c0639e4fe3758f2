#!/usr/bin/env bash
# Runs each fuzz target on a fixed number of inputs and prints how many it
# tried and how long that took. A failure fails the run, and Go keeps the
# failing input under the package's testdata/fuzz for the test to replay.
#
# The bound is a count of inputs (-fuzztime Nx), not a time: Go 1.26's
# fuzzing coordinator fails a run whose worker got no CPU at a -fuzztime
# deadline ("context deadline exceeded", no failing input; golang/go#75804),
# which a busy CI machine does. A count only makes a busy run take longer.
# Each count is at least what 20 s of fuzzing tried on an idle machine.
#
# Environment:
#   FUZZ_INPUTS  inputs for every target instead of its own count, such as
#                FUZZ_INPUTS=2000 for a quick local run
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

# package  target  inputs; then what 20 s of fuzzing (-fuzztime 20s) tried
# in a few runs on an idle 2-core machine
targets=(
  "discover FuzzAnswers 400000"       # 170,000 to 352,000
  "discover FuzzRecord 400000"        # 145,000 to 223,000
  "templates FuzzShellQuote 200000"   # 159,000 to 190,000
  "templates FuzzJSONFormat 350000"   # 175,000 to 338,000
  "cmd/portenv FuzzDockerShim 450000" # 382,000 to 417,000
)
if [ -n "${FUZZ_INPUTS:-}" ] && ! [[ $FUZZ_INPUTS =~ ^[1-9][0-9]*$ ]]; then
  echo "FUZZ_INPUTS=$FUZZ_INPUTS: give a positive number of inputs" >&2
  exit 2
fi
# One worker a processor, as go test gives by default, except where a
# package sets GOMAXPROCS itself: cmd/portenv's binary runs on one
# (internal/oneproc), which would leave its target one worker.
workers=$(nproc)
for entry in "${targets[@]}"; do
  read -r pkg name inputs <<<"$entry"
  inputs=${FUZZ_INPUTS:-$inputs}
  start=$(date +%s%N)
  out=$(go test -parallel "$workers" -run '^$' -fuzz "^$name\$" -fuzztime "${inputs}x" "./$pkg" 2>&1) || { echo "$out"; exit 1; }
  ms=$((($(date +%s%N) - start) / 1000000))
  if grep -q 'no fuzz tests to fuzz' <<<"$out"; then
    echo "$out"
    echo "$name ($pkg): no such fuzz target"
    exit 1
  fi
  # Inputs tried: the last count Go printed, which is only the baseline's
  # when a small FUZZ_INPUTS ends the run before fuzzing starts.
  execs=$(grep -oE 'execs: [0-9]+|baseline coverage: [0-9]+' <<<"$out" | tail -1 | grep -oE '[0-9]+$' || true)
  printf '%s (%s): %s inputs in %d.%ds\n' "$name" "$pkg" "${execs:-?}" $((ms / 1000)) $((ms % 1000 / 100))
done
