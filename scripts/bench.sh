#!/usr/bin/env bash
# bench.sh: `make bench`. The ingest benchmark side by side with GoAccess
# parsing the same lines, both pinned to one core, then the ratio; then the
# store's load benchmark.
#
# env: BENCH_LINES (default 300000) lines to generate; BENCH_CORE (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BENCH_LINES:-300000}
core=${BENCH_CORE:-0}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
lines=$dir/lines.jsonl

echo "== generating $n seed-format lines"
go run ./scripts/genlines -n "$n" -seed 1 -o "$lines"

echo "== GoAccess parsing them (one core)"
goaccess=$(scripts/goaccess-baseline.sh --core "$core" "$lines")
echo "$goaccess"

echo "== Gatescope ingesting them: gzip Firehose bodies over loopback HTTP to rows committed in DuckDB (one core)"
# tee to a file, not /dev/stderr: reopening /dev/stderr truncates it when
# make's output is redirected to a file, losing what was printed before.
GATESCOPE_BENCH_LINES=$lines GOMAXPROCS=1 taskset -c "$core" \
	go test -run '^$' -bench '^BenchmarkIngest$' -benchtime 1x -count 3 ./internal/firehose/ | tee "$dir/ingest.txt"
out=$(<"$dir/ingest.txt")

# Both sides as lines (events) per CPU-second: per core, whatever else the
# machine is doing. GoAccess's cpu_seconds is user+sys of its process.
ga_lines=$(sed -E 's/.*lines=([0-9]+).*/\1/' <<<"$goaccess")
ga_cpu=$(sed -E 's/.*cpu_seconds=([0-9.]+).*/\1/' <<<"$goaccess")
gs_best=$(grep -oE '[0-9.]+ events/cpu-s' <<<"$out" | sort -n | tail -1 | cut -d' ' -f1)
awk -v l="$ga_lines" -v c="$ga_cpu" -v g="$gs_best" 'BEGIN {
	ga = l / c
	printf "\ngoaccess: %.0f lines per CPU-second\ngatescope: %.0f events per CPU-second (best of 3)\nratio: %.2fx (target: 5x)\n", ga, g, g / ga
}'

echo "== store load benchmark"
go test -run '^$' -bench '^BenchmarkLoad$' -benchtime 1x ./internal/store/duckdb/
