#!/usr/bin/env bash
# What one run of the action costs before the release pins a prebuilt image
# (action.yml: image: Dockerfile, so every run builds the image) and after
# (image: docker://ghcr.io/…@sha256:…, so every run pulls it): the parts that
# can be measured on this machine (BENCHMARKS.md, "What a run of the action
# costs"). No Docker engine runs here, so:
#   image    the static binary, built as the Dockerfile builds it, for
#            linux/amd64 and linux/arm64: its size, and its size as a gzip -6
#            layer (what a pull transfers; buildx writes gzip layers), and the
#            time to unpack that layer (gzip -dc | tar -x), the local part of
#            a pull. distroless/static is not fetched (no Docker Hub or gcr.io
#            here): BENCHMARKS.md takes its size from its README.
#   build    the per-run build's own work, cold, as on a fresh runner:
#            `go mod download` into an empty module cache (the Dockerfile's
#            first RUN, through GOPROXY), then `go build` from an empty build
#            cache with the modules in place (its second RUN). N runs each
#            with hyperfine; the median, min and max.
#   golang   the Go distribution the build stage's golang image carries
#            ($(go env GOROOT)): its size, its gzip -6 size and the time to
#            unpack it, a lower bound of pulling golang:X-bookworm (which adds
#            Debian, git, gcc and more, not measured here).
# Usage: bench/per-run-build.sh [N]        (N=3)
#   QUIET=L  before each measurement wait (up to 3 min) for a 1-minute load < L
# Output: a markdown report on stdout and in bench/out/per-run-build.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
export GOTOOLCHAIN=local
command -v hyperfine >/dev/null || { echo "hyperfine is not installed: apt-get install hyperfine" >&2; exit 1; }
out=bench/out/per-run-build
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
ldflags="-s -w -X github.com/oci-attest/oci-attest/internal/cli.version=bench"

quiet() {
  [ -n "${QUIET:-}" ] || return 0
  for _ in $(seq 180); do
    awk -v q="$QUIET" '{exit !($1 < q)}' /proc/loadavg && return 0
    sleep 1
  done
}
# median FILE: hyperfine's median (min–max), in s, or in ms below 1 s.
median() {
  jq -r '.results[0] | [.median, .min, .max] as $v
    | if $v[0] < 1 then ($v | map(. * 1000 | round)) as $m | "\($m[0]) ms (\($m[1])–\($m[2]) ms)"
      else ($v | map(. * 10 | round / 10)) as $m | "\($m[0]) s (\($m[1])–\($m[2]) s)" end' "$1"
}
# cpu FILE: hyperfine's mean user + system CPU time, in s.
cpu() { jq -r '.results[0] | .user + .system | . * 10 | round / 10 | "\(.) s"' "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. The per-run build, cold. --prepare empties the cache before every run;
# the last run's module cache is the warm one the compile runs use.
mods=$work/gomodcache
quiet
hyperfine --runs "$n" --style basic --export-json "$out/mod-download.json" \
  --prepare "chmod -R u+w '$mods' 2>/dev/null; rm -rf '$mods'" \
  "GOMODCACHE='$mods' GOFLAGS='-mod=mod -modcacherw' go mod download" >&2
modules=$(find "$mods/cache/download" -name '*.zip' | wc -l)
modbytes=$(du -sb "$mods" | cut -f1)
gocache=$work/gocache
quiet
hyperfine --runs "$n" --style basic --export-json "$out/build.json" \
  --prepare "rm -rf '$gocache'" \
  "GOMODCACHE='$mods' GOCACHE='$gocache' GOFLAGS=-mod=readonly CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false -ldflags='$ldflags' -o '$work/oci-attest' ." >&2
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# 2. The image's own layer, per platform.
rows=()
for arch in amd64 arm64; do
  bin=$work/linux-$arch/oci-attest
  mkdir -p "$(dirname "$bin")"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$bin" .
  file "$bin" | grep -q 'statically linked' || { echo "linux/$arch binary is not static" >&2; exit 1; }
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$(dirname "$bin")" -cf "$work/layer-$arch.tar" oci-attest
  gzip -6 -n -c "$work/layer-$arch.tar" > "$work/layer-$arch.tar.gz"
  rows+=("| linux/$arch | $(stat -c %s "$bin") ($(mib "$(stat -c %s "$bin")")) | $(stat -c %s "$work/layer-$arch.tar.gz") ($(mib "$(stat -c %s "$work/layer-$arch.tar.gz")")) |")
done
mkdir -p "$work/unpack"
quiet
hyperfine --runs 11 --warmup 1 --style basic --export-json "$out/unpack.json" \
  --prepare "rm -rf '$work/unpack' && mkdir '$work/unpack'" \
  "gzip -dc '$work/layer-amd64.tar.gz' | tar -x -C '$work/unpack'" >&2

# 3. The Go distribution in the golang image: its size as a gzip layer and
# the time to unpack it, a lower bound of pulling the build stage's image.
goroot=$(go env GOROOT)
gorootbytes=$(du -sb "$goroot" | cut -f1)
tar -C "$(dirname "$goroot")" -cf - "$(basename "$goroot")" | gzip -6 -c > "$work/goroot.tar.gz"
gorootgz=$(stat -c %s "$work/goroot.tar.gz")
quiet
hyperfine --runs "$n" --style basic --export-json "$out/unpack-goroot.json" \
  --prepare "rm -rf '$work/unpack-goroot' && mkdir '$work/unpack-goroot'" \
  "gzip -dc '$work/goroot.tar.gz' | tar -x -C '$work/unpack-goroot'" >&2

# shellcheck disable=SC2016 # backticks are markdown
{
  printf '### Results: %s, N=%s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$n"
  printf -- '- commit %s%s; %s; GOPROXY=%s\n' "$(git rev-parse --short HEAD)" \
    "$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (uncommitted changes, built as is)')" "$(go version)" "$(go env GOPROXY)"
  printf -- '- %s cores; load average before: %s; after the build runs: %s; at the end: %s\n\n' \
    "$(nproc)" "$load0" "$load1" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '| per-run build step (cold) | wall, median (min–max) | CPU, user + sys (mean) |\n|---|---:|---:|\n'
  printf '| `go mod download`, empty module cache: %s module zips, %s on disk | %s | %s |\n' \
    "$modules" "$(mib "$modbytes")" "$(median "$out/mod-download.json")" "$(cpu "$out/mod-download.json")"
  printf '| `go build -trimpath …` (linux/amd64), empty build cache, modules present | %s | %s |\n\n' \
    "$(median "$out/build.json")" "$(cpu "$out/build.json")"
  printf '| image layer | binary, bytes | gzip -6 layer, bytes |\n|---|---:|---:|\n'
  printf '%s\n' "${rows[@]}"
  printf '\nUnpacking the linux/amd64 layer (`gzip -dc | tar -x`): %s (11 runs).\n\n' "$(median "$out/unpack.json")"
  printf 'The Go distribution (%s): %s, %s as a gzip -6 layer; unpacking it: %s.\n' \
    "$goroot" "$(mib "$gorootbytes")" "$(mib "$gorootgz")" "$(median "$out/unpack-goroot.json")"
} | tee "$out.md"
