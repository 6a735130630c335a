#!/usr/bin/env bash
# Backquotes in printf formats below are markdown, not command substitutions.
# shellcheck disable=SC2016
# bench/compressed.sh — what an archive compressed as a whole costs (issue 26
# item 4): attesting it (one read, decompressed in the pass) and push-image
# from it (the blobs are decompressed once more into a temporary file).
#
# Makes a legacy docker-save archive of LAYERS uncompressed layers of
# semi-compressible text (SIZE bytes; mkarchive -text: gzip shrinks it to
# about a third, as it does docker save of real images) with bench/mkarchive, compresses it with gzip (default level)
# and zstd (default level), starts a distribution registry on loopback, and
# measures N rounds, round-robin, median reported:
#   openssl      openssl dgst -sha256 FILE.tar          (the yardstick)
#   openssl.gz   openssl dgst -sha256 FILE.tar.gz
#   gunzip       gzip -dc FILE.tar.gz | openssl dgst -sha256
#   dry.tar|gz|zst   oci-attest --subject-path F --dry-run
#   push.tar|gz      oci-attest --subject-path F --push-image (a fresh
#                    repository each run, key-signed, referrers-mode api)
# Environment: N=3, SIZE=512MiB, LAYERS=4, QUIET=L (wait for a 1-minute load
# below L before each round).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/compressed
N=${N:-3}
SIZE=${SIZE:-512MiB}
LAYERS=${LAYERS:-4}
TIME=/usr/bin/time
mkdir -p "$OUT/res"
log() { printf '%s\n' "$*" >&2; }
die() { printf 'compressed.sh: %s\n' "$*" >&2; exit 1; }
[ -x "$TIME" ] || die "GNU time is missing: apt-get install -y time"
for t in openssl gzip zstd go curl; do command -v "$t" >/dev/null || die "$t is missing"; done
REGISTRY=$(go env GOPATH)/bin/registry
[ -x "$REGISTRY" ] || die "no distribution registry: go run ./internal/testenv/cmd/installtools"

log "building ..."
go build -o "$OUT/mkarchive" ./bench/mkarchive
go build -o "$OUT/oci-attest" .
TAR=$OUT/archive.tar
params="-size $SIZE -layers $LAYERS -compress none -text"
if [ ! -f "$TAR" ] || [ "$(cat "$OUT/params" 2>/dev/null)" != "$params" ]; then
	log "making $TAR ($params) ..."
	# shellcheck disable=SC2086
	"$OUT/mkarchive" $params -out "$TAR" >&2
	gzip -c "$TAR" >"$TAR.gz"
	zstd -q -c "$TAR" >"$TAR.zst"
	echo "$params" >"$OUT/params"
fi

PORT=$((20000 + RANDOM % 20000))
rm -rf "$OUT/registry" && mkdir -p "$OUT/registry"
cat >"$OUT/registry/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $OUT/registry/data}}
http: {addr: 127.0.0.1:$PORT}
EOF
OTEL_TRACES_EXPORTER=none OTEL_SDK_DISABLED=true "$REGISTRY" serve "$OUT/registry/config.yml" >"$OUT/registry/log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.2; done

run=0
push() { # FILE
	run=$((run + 1))
	"$OUT/oci-attest" --subject-path "$1" --subject-name "127.0.0.1:$PORT/bench/run$run:v1" --push-image \
		--signing-key ephemeral --referrers-mode api --github-attestations=false --show-summary=false \
		--bundle-path "$OUT/res/bundle.json"
}
cmd() {
	case $1 in
	openssl) openssl dgst -sha256 "$TAR" ;;
	openssl.gz) openssl dgst -sha256 "$TAR.gz" ;;
	gunzip) gzip -dc "$TAR.gz" | openssl dgst -sha256 ;;
	dry.tar) "$OUT/oci-attest" --subject-path "$TAR" --dry-run ;;
	dry.gz) "$OUT/oci-attest" --subject-path "$TAR.gz" --dry-run ;;
	dry.zst) "$OUT/oci-attest" --subject-path "$TAR.zst" --dry-run ;;
	push.tar) push "$TAR" ;;
	push.gz) push "$TAR.gz" ;;
	esac
}
TOOLS="openssl openssl.gz gunzip dry.tar dry.gz dry.zst push.tar push.gz"
declare -A WALL CPU RSS
for r in $(seq "$N"); do
	if [ -n "${QUIET:-}" ]; then
		for _ in $(seq 90); do awk -v q="$QUIET" '{exit !($1 < q)}' /proc/loadavg && break; sleep 2; done
	fi
	log "round $r (load $(cut -d' ' -f1 /proc/loadavg))"
	for t in $TOOLS; do
		export -f cmd push
		export OUT TAR PORT run
		$TIME -f '%e %U %S %M' -o "$OUT/res/time" bash -c "cmd $t" >/dev/null 2>"$OUT/res/$t.err" || die "$t failed: $(tail -3 "$OUT/res/$t.err")"
		run=$((run + 1))
		read -r e u s m <"$OUT/res/time"
		WALL[$t]+="$e "
		CPU[$t]+="$(echo "$u + $s" | bc | sed 's/^\./0./') "
		RSS[$t]=$(( m > ${RSS[$t]:-0} ? m : ${RSS[$t]:-0} ))
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '| run | file (bytes) | wall (s, median of %d) | CPU (s) | peak RSS (MiB) |\n|---|---:|---:|---:|---:|\n' "$N"
for t in $TOOLS; do
	case $t in *.gz | gunzip) f=$TAR.gz ;; *.zst) f=$TAR.zst ;; *) f=$TAR ;; esac
	printf '| %s | %s | %s | %s | %.1f |\n' "$t" "$(stat -c %s "$f")" "$(echo "${WALL[$t]}" | median)" "$(echo "${CPU[$t]}" | median)" "$(echo "${RSS[$t]} / 1024" | bc -l)"
done
