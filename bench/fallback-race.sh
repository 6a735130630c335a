#!/bin/sh
# fallback-race.sh — run the 16-process fallback-tag race N times and count
# lost entries (ARCHITECTURE.md, "The fallback tag": the goal is 0 lost in every trial).
#
#   bench/fallback-race.sh [TRIALS] [WRITERS]
#
# Each trial starts a fresh go-containerregistry registry (no referrers API)
# and WRITERS separate processes that attach distinct bundles to one subject
# at the same instant; the final sha256-<hex> index must hold every entry.
# OCI_ATTEST_RACE_SETTLE sets the settle delay (default 1s); OCI_ATTEST_RACE_REGISTRY
# picks the registry: ggcr (in-process, default), distribution or docker-registry;
# OCI_ATTEST_RACE_NAIVE=1 runs the control (one read-merge-write, no protocol);
# OCI_ATTEST_RACE_VERIFY_READS=1 the ablation with one verification read.
set -eu
trials=${1:-10}
writers=${2:-16}
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/push.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./internal/registry/
total_lost=0
total_failed=0
bad=0
i=1
while [ "$i" -le "$trials" ]; do
	start=$(date +%s.%N)
	out=$(OCI_ATTEST_RACE_WRITERS=$writers "$bin" -test.run '^TestFallbackConcurrentProcesses$' -test.v -test.count=1 2>&1 || true)
	end=$(date +%s.%N)
	line=$(printf '%s\n' "$out" | grep -o 'RESULT .*' | tail -1)
	if [ -z "$line" ]; then
		printf '%s\n' "$out" | tail -20
		echo "trial $i: no result"
		bad=$((bad + 1))
	else
		lost=$(printf '%s' "$line" | sed 's/.*lost=\([0-9]*\).*/\1/')
		failed=$(printf '%s' "$line" | sed 's/.*failed=\([0-9]*\).*/\1/')
		total_lost=$((total_lost + lost))
		total_failed=$((total_failed + failed))
		[ "$lost" -eq 0 ] && [ "$failed" -eq 0 ] || bad=$((bad + 1))
		printf 'trial %d: %s wall=%.1fs\n' "$i" "$line" "$(echo "$end - $start" | bc)"
	fi
	i=$((i + 1))
done
echo "trials=$trials writers=$writers lost_entries=$total_lost failed_writers=$total_failed bad_trials=$bad"
[ "$bad" -eq 0 ]
