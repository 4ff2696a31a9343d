#!/usr/bin/env bash
# Runs every fuzz target in the module for $FUZZTIME each (go test takes one
# target per run). Fails on the first target that finds a crash.
#
# Go's fuzzing coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is mid-call on a busy
# machine: nothing was found and no failing input was written. Such a run is
# repeated once; a second failure of any kind, or any run that wrote a
# failing input, fails the script.
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
	for attempt in 1 2; do
		out=$(mktemp)
		if "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" 2>&1 | tee "$out"; then
			rm -f "$out"
			break
		fi
		if [[ $attempt == 1 ]] && ! grep -q 'Failing input written' "$out" &&
			grep -q '^    context deadline exceeded$' "$out"; then
			echo "fuzz.sh: $name stopped on the coordinator's deadline with nothing found; running it again"
			rm -f "$out"
			continue
		fi
		rm -f "$out"
		status=1
		break 2
	done
done < <(grep -r --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' cmd internal scripts | sort)
exit $status
