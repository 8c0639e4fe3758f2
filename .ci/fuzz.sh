#!/usr/bin/env bash
# Runs each fuzz target for a bounded time and prints how many inputs it
# tried. A failure fails the run, and Go keeps the failing input under the
# package's testdata/fuzz for the test to replay.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
fuzztime=${FUZZTIME:-20s}
for target in discover:FuzzAnswers templates:FuzzShellQuote templates:FuzzJSONFormat; do
  pkg=${target%%:*} name=${target##*:}
  out=$(go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "./$pkg" 2>&1) || { echo "$out"; exit 1; }
  execs=$(printf '%s\n' "$out" | grep -o 'execs: [0-9]*' | tail -1)
  echo "$name ($pkg): ${execs#execs: } inputs in $fuzztime"
done
