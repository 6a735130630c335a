#!/bin/sh
# fallback-cost.sh — what the fallback tag costs a run of the action: wall
# time and registry requests per run, on olareg (referrers API, no tag) and on
# ggcr, distribution v3 and docker-registry 2.8 (the sha256-<hex> fallback tag).
#
#   bench/fallback-cost.sh [N]            # N=3 runs per registry, this work tree
#   BASE=main bench/fallback-cost.sh 3    # the same, interleaved with BASE's code
#
# Each measurement is internal/cli's TestRunCost (OCI_ATTEST_RUN_COST=1): the
# action in the runner's shape (keyless signing by the local Sigstore stack
# with a timestamp authority, push-image of testdata/archives/docker25.tar to
# a repository of its own, default inputs; OCI_ATTEST_RUN_COST_SETTLE sets
# fallback-settle, where the code has it), each registry behind a fault
# proxy without faults that counts requests. With BASE, BASE's tree is
# exported with git archive (no worktree is created), TestRunCost's file is
# copied into it, and rounds alternate: BASE, then this tree, N times.
# Prints every RUNCOST line and a table of medians (min–max).
set -eu
n=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
go test -c -o "$tmp/after.test" ./internal/cli/
trees="after"
if [ -n "${BASE:-}" ]; then
	echo "BASE $BASE is $(git rev-parse --short "$BASE"); this tree is $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' with uncommitted changes')"
	mkdir "$tmp/base"
	git archive "$BASE" | tar -x -C "$tmp/base"
	cp internal/cli/runcost_test.go "$tmp/base/internal/cli/"
	(cd "$tmp/base" && go test -c -o "$tmp/before.test" ./internal/cli/)
	trees="before after"
fi
out="$tmp/lines"
: >"$out"
i=1
while [ "$i" -le "$n" ]; do
	for tree in $trees; do
		dir="$root/internal/cli"
		[ "$tree" = before ] && dir="$tmp/base/internal/cli"
		(cd "$dir" && OCI_ATTEST_RUN_COST=1 "$tmp/$tree.test" -test.run '^TestRunCost$' -test.count=1 2>&1) |
			grep '^RUNCOST' | sed "s/^RUNCOST /RUNCOST tree=$tree round=$i /" | tee -a "$out"
	done
	i=$((i + 1))
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
    rows.setdefault((f["tree"], f["registry"]), []).append(f)
def stat(xs):
    xs = [float(x) for x in xs]
    return f"{statistics.median(xs)/1000:.2f} s ({min(xs)/1000:.2f}–{max(xs)/1000:.2f})"
def med(xs):
    return statistics.median(float(x) for x in xs)
print("| tree | registry | runs | wall per run, median (min–max) | more than olareg (medians) | requests | fallback-tag requests | first to last tag request, median |")
print("|---|---|---:|---|---:|---:|---:|---:|")
for (tree, reg), fs in sorted(rows.items(), key=lambda kv: (kv[0][0] != "before", kv[0][0], ["olareg", "ggcr", "distribution", "docker-registry"].index(kv[0][1]))):
    base = med(f["wall_ms"] for f in rows[(tree, "olareg")])
    more = med(f["wall_ms"] for f in fs) - base
    print(f"| {tree} | {reg} | {len(fs)} | {stat([f['wall_ms'] for f in fs])} | {more/1000:+.2f} s | {med(f['requests'] for f in fs):.0f} | {med(f['tag_requests'] for f in fs):.0f} | {med(f['tag_ms'] for f in fs)/1000:.2f} s |")
PY
