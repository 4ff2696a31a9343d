#!/usr/bin/env bash
# Runs every fuzz target in the module for $FUZZTIME each (go test takes one
# target per run). Fails on the first target that finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-5s}
GO=${GO:-go}
status=0
# grep prints "file:func FuzzX(f *testing.F) {"; no line numbers, so the
# text after the first colon is the declaration.
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
	[[ $name == Fuzz* ]] || { echo "fuzz.sh: cannot read a target from: $line" >&2; exit 1; }
	pkg=./$(dirname "$file")
	echo "fuzz $pkg $name ($FUZZTIME)"
	if ! "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"; then
		status=1
		break
	fi
done < <(grep -r --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' cmd internal scripts | sort)
exit $status
