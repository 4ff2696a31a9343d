#!/usr/bin/env bash
# goaccess-baseline.sh: GoAccess's parse rate of API Gateway access-log lines
# (seed format, one JSON object per line), the baseline that PRODUCT.md
# section 8 states the ingest target against.
#
# Usage: scripts/goaccess-baseline.sh [--runs N] [--core N] [--parse-only] FILE
#
# Runs Debian's goaccess on FILE pinned to one core, RUNS times (default 3),
# and prints the fastest run as one line on stdout:
#   goaccess_lines_per_sec=51234 lines=1000000 seconds=19.518 cpu_seconds=19.3 version=1.7 panels=default runs=3 core=0
# Per-run figures go to stderr. Wall seconds are reported as measured: nothing
# is subtracted (start-up, reading the file and writing the small JSON summary
# are all inside the time).
#
# Every run must parse every line: goaccess's own total/valid/failed counts
# are read back from its JSON output and the script exits non-zero, saying
# why, unless total == valid == the number of lines in FILE and failed == 0.
#
# --panels: by default goaccess does what it does for a user, filling its
# default panels while it parses (its "[PARSING] N/s" rate). --parse-only
# ignores every panel, so goaccess only reads, tokenises and validates each
# line: a faster, stricter baseline. Either way the output is the JSON
# report to a temporary file (measured no slower than --process-and-exit or
# CSV; it is where the counts come from).
set -euo pipefail

# The seed format's keys mapped to goaccess specifiers. Keys goaccess has no
# specifier for (apiId, requestId, caller, principalId, ...) are left out of
# the map; goaccess's JSON reader skips them. requestTime is CLF with zone,
# read as one date-time (%x) so the +0000 offset is honoured.
LOG_FORMAT='{"ip":"%h","requestTime":"%x","protocol":"%H","httpMethod":"%m","resourcePath":"%U","requestHostHeader":"%v","requestUserAgentHeader":"%u","status":"%s","responseLength":"%b","durationMs":"%L","user":"%e"}'
DATETIME_FORMAT='%d/%b/%Y:%H:%M:%S %z'
ALL_PANELS=(VISITORS REQUESTS REQUESTS_STATIC NOT_FOUND HOSTS OS BROWSERS
	VISIT_TIMES VIRTUAL_HOSTS REFERRERS REFERRING_SITES KEYPHRASES STATUS_CODES
	REMOTE_USER CACHE_STATUS GEO_LOCATION MIME_TYPE TLS_TYPE)

die() {
	echo "goaccess-baseline: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

runs=3
core=0
panels=default
file=
while [[ $# -gt 0 ]]; do
	case $1 in
	--runs) runs=${2:?--runs needs a value}; shift 2 ;;
	--core) core=${2:?--core needs a value}; shift 2 ;;
	--parse-only) panels=none; shift ;;
	-h | --help) usage ;;
	-*) die "unknown flag $1" ;;
	*) [[ -z $file ]] || die "one FILE only"; file=$1; shift ;;
	esac
done
[[ -n $file ]] || usage
[[ -f $file && -r $file ]] || die "cannot read $file"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got $runs"
[[ $core =~ ^[0-9]+$ ]] || die "--core must be a CPU number, got $core"

if ! command -v goaccess >/dev/null 2>&1; then
	echo "goaccess-baseline: installing goaccess" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Another engineer's apt-get may hold the lock: wait for it rather than fail.
	apt-get -o DPkg::Lock::Timeout=600 install -y goaccess >&2 ||
		{ apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
			apt-get -o DPkg::Lock::Timeout=600 install -y goaccess >&2; } ||
		die "apt-get install goaccess failed"
fi
command -v taskset >/dev/null 2>&1 || die "taskset (util-linux) is missing"

# "GoAccess - 1.7." -> 1.7
version=$(goaccess --version | sed -n '1s/^GoAccess - \([0-9][0-9.]*[0-9]\).*/\1/p')
[[ -n $version ]] || die "cannot read goaccess --version"

# Lines as goaccess counts them: a final line without a newline counts too.
lines=$(awk 'END { print NR }' "$file")
((lines > 0)) || die "$file has no lines"

panel_args=()
if [[ $panels == none ]]; then
	for p in "${ALL_PANELS[@]}"; do panel_args+=("--ignore-panel=$p"); done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count KEY prints the integer that goaccess's JSON summary holds for KEY.
count() {
	grep -o "\"$1\": *[0-9]*" "$work/report.json" | head -n1 | grep -o '[0-9]*$'
}

best_wall='' best_cpu=''
for ((i = 1; i <= runs; i++)); do
	rm -f "$work/report.json" "$work/invalid.txt"
	TIMEFORMAT='%3R %3U %3S'
	# Only the time report reaches $work/time; goaccess's own stderr goes to a
	# file so that it cannot mix with it.
	if ! { time taskset -c "$core" goaccess "$file" \
		--no-global-config --no-progress --no-parsing-spinner \
		--log-format="$LOG_FORMAT" --datetime-format="$DATETIME_FORMAT" \
		"${panel_args[@]}" \
		--invalid-requests="$work/invalid.txt" \
		-o "$work/report.json" >"$work/stdout" 2>"$work/stderr"; } 2>"$work/time"; then
		cat "$work/stderr" >&2
		die "run $i: goaccess failed (see its messages above)"
	fi
	read -r wall usr sys <"$work/time"

	total=$(count total_requests) || die "run $i: no total_requests in goaccess output"
	valid=$(count valid_requests) || die "run $i: no valid_requests in goaccess output"
	failed=$(count failed_requests) || die "run $i: no failed_requests in goaccess output"
	if ((failed != 0 || valid != lines || total != lines)); then
		echo "first invalid lines:" >&2
		head -n 3 "$work/invalid.txt" 2>/dev/null | cut -c1-300 >&2 || true
		die "run $i: goaccess did not parse every line: lines=$lines total=$total valid=$valid failed=$failed"
	fi

	cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
	echo "run $i: seconds=$wall cpu_seconds=$cpu lines=$lines valid=$valid failed=$failed" >&2
	if [[ -z $best_wall ]] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
		best_wall=$wall best_cpu=$cpu
	fi
done

rate=$(awk -v n="$lines" -v s="$best_wall" 'BEGIN { if (s <= 0) exit 1; printf "%d", n / s }') ||
	die "run too short to time (seconds=$best_wall): use more lines"
echo "goaccess_lines_per_sec=$rate lines=$lines seconds=$best_wall cpu_seconds=$best_cpu version=$version panels=$panels runs=$runs core=$core"
