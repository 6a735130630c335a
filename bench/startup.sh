#!/usr/bin/env bash
# CLI start to first log line (ARCHITECTURE.md, "Limits and budgets": ≤ 50 ms). Measures, N times, the
# time from exec to the first line the CLI writes to stderr for a dry run on
# the bundled demo archive, and the whole run; prints the medians.
# Usage: bench/startup.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-31}
mkdir -p bench/out
go build -trimpath -o bench/out/oci-attest .
python3 - "$n" <<'PY'
import subprocess, sys, time, statistics
n = int(sys.argv[1])
first, total = [], []
for _ in range(n):
    t0 = time.perf_counter()
    p = subprocess.Popen(["bench/out/oci-attest", "--subject-path", "testdata/archives/docker25.tar", "--dry-run"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stderr.readline()
    first.append((time.perf_counter() - t0) * 1000)
    p.stderr.read(); p.wait()
    total.append((time.perf_counter() - t0) * 1000)
print(f"runs={n} first-log-line median={statistics.median(first):.1f} ms p90={sorted(first)[int(n*0.9)]:.1f} ms; "
      f"whole dry run median={statistics.median(total):.1f} ms")
PY
