#!/usr/bin/env bash
# Backquotes in printf formats below are markdown, not command substitutions.
# shellcheck disable=SC2016
# bench/archive.sh — the archive benchmark of ARCHITECTURE.md, "Limits and budgets".
#
# Makes a docker-save-style archive of uncompressed (random) layers, one of
# gzip layers (semi-compressible text, about SIZE uncompressed), and a
# multi-platform OCI layout (buildx type=oci shape: an index of 2 platform
# images sharing the LAYERS uncompressed layers and SIZE bytes) under
# bench/out/, then measures in the same run, N rounds each, median reported:
#   openssl   openssl dgst -sha256 FILE                      (the yardstick)
#   ours      bench/out/oci-attest --subject-path FILE --dry-run   (the CLI)
#   scan      bench/out/scan FILE    (oci.Scan alone: no CLI start-up)
#   witness   go-witness v0.8.0 product + oci attestors (bench/witness)
#   gzip only:
#   pipeline  for each layer: tar xO -f FILE L | gzip -dc | openssl dgst -sha256
#   1-pass    tar xO -f FILE L1..Ln | gzip -dc | openssl dgst -sha256
# and checks that our predicate and go-witness's agree on tardigest, imageid,
# diffids and manifestdigest (and that tardigest equals openssl's digest);
# on the multi-platform archive (which go-witness cannot read: no
# manifest.json) that the dry run wrote one statement per platform, each
# with openssl's tardigest. A disagreement is a hard failure (exit 1).
#
# Environment:
#   N=5          rounds (the tools run round-robin, so drift hits all alike)
#   SIZE=1GiB    uncompressed layer bytes per archive;  LAYERS=8
#   CACHE=warm   warm: the archive is read once before every round so every
#                tool reads from the page cache (default: CPU-bound, and it
#                does not disturb the other users of a shared machine);
#                cold: sync + drop the page cache before every run (root).
#   KINDS="plain gzip multi"   which archives to measure.
#   REGEN=1      regenerate the archives even if they exist.
#   STRICT=1     exit 3 when a budget is missed.
#   NICE=-10     run the measured commands at this nice level (negative needs
#                root): on a shared, busy machine it takes the CPU back from
#                the other users' work for the few minutes of the run, which
#                approximates an idle machine. Off by default; the report says.
#   QUIET=L      before each round wait (up to 3 min) until the 1-minute load
#                average is below L; the rounds' loads go into the report.
# Output: a markdown report on stdout, also written to bench/out/results.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
N=${N:-5}
SIZE=${SIZE:-1GiB}
LAYERS=${LAYERS:-8}
CACHE=${CACHE:-warm}
TIME=/usr/bin/time
mkdir -p "$OUT/res"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'archive.sh: %s\n' "$*" >&2; exit 1; }

[ -x "$TIME" ] || die "GNU time is missing: apt-get install -y time"
for t in openssl tar gzip jq go; do command -v "$t" >/dev/null || die "$t is missing"; done
case $CACHE in
warm) ;;
cold) { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null ||
	die "CACHE=cold needs to write /proc/sys/vm/drop_caches (root); use CACHE=warm" ;;
*) die "CACHE=$CACHE: use warm or cold" ;;
esac

# --- build -------------------------------------------------------------------
log "building bench/out/{mkarchive,scan,witness} ..."
rm -f "$OUT/mkarchive" "$OUT/scan" "$OUT/witness" "$OUT/oci-attest"
go build -o "$OUT/mkarchive" ./bench/mkarchive
go build -o "$OUT/scan" ./bench/scan || die "bench/scan does not build (is oci.Scan there yet?)"
(cd bench/witness && GONOSUMDB=github.com/in-toto/go-witness GOFLAGS=-mod=mod go build -o "$OUT/witness" .)

# The CLI's dry run, once main.go can do it. STMT_FLAG is used when the CLI
# can write the statement to a file; otherwise its stdout must be the statement.
CLI=
STMT_FLAG=0
if [ -f main.go ] && go build -o "$OUT/oci-attest" . 2>"$OUT/res/cli-build.err"; then
	probe=testdata/archives/docker25.tar
	if "$OUT/oci-attest" --subject-path "$probe" --dry-run --statement-path "$OUT/res/probe.json" >/dev/null 2>&1 &&
		jq -e .predicate.tardigest.sha256 "$OUT/res/probe.json" >/dev/null 2>&1; then
		CLI=$OUT/oci-attest STMT_FLAG=1
	elif "$OUT/oci-attest" --subject-path "$probe" --dry-run 2>/dev/null | jq -e .predicate.tardigest.sha256 >/dev/null 2>&1; then
		CLI=$OUT/oci-attest
	fi
fi
[ -n "$CLI" ] || log "note: the CLI dry run does not work yet; measuring bench/out/scan (oci.Scan) only"

# --- archives ----------------------------------------------------------------
# One folder per archive: the go-witness product attestor records every file
# of its working directory and the oci attestor takes the first tar it finds.
PLAIN=$OUT/plain/archive.tar
GZIP=$OUT/gzip/archive.tar
MULTI=$OUT/multi/archive.tar
KINDS=${KINDS:-plain gzip multi}
make_archive() { # file compress [more mkarchive flags]
	local file=$1 params="-size $SIZE -layers $LAYERS -compress $2${3:+ $3}" stamp
	stamp=$OUT/$(basename "$(dirname "$file")").params
	if [ -z "${REGEN:-}" ] && [ -f "$file" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$params" ]; then
		log "reusing $file ($params)"
		return
	fi
	rm -rf "$(dirname "$file")" && mkdir -p "$(dirname "$file")"
	log "making $file ($params) ..."
	# shellcheck disable=SC2086
	"$OUT/mkarchive" $params -out "$file" >&2
	echo "$params" >"$stamp"
}
case " $KINDS " in *" plain "*) make_archive "$PLAIN" none ;; esac
case " $KINDS " in *" gzip "*) make_archive "$GZIP" gzip ;; esac
case " $KINDS " in *" multi "*) make_archive "$MULTI" none "-layout oci -platforms 2" ;; esac

layers_of() { tar xOf "$1" manifest.json | jq -r '.[0].Layers[]'; }

# --- measurement -------------------------------------------------------------
# Each tool is a label; cmd_<label> FILE runs it with stdout to a file.
cmd_openssl() { openssl dgst -sha256 "$1"; }
cmd_ours() {
	if [ "$STMT_FLAG" = 1 ]; then
		# the statement of .../plain/archive.tar goes to res/ours-stmt-plain.json
		"$CLI" --subject-path "$1" --dry-run --statement-path "$OUT/res/ours-stmt-$(basename "$(dirname "$1")").json"
	else
		"$CLI" --subject-path "$1" --dry-run
	fi
}
cmd_scan() { "$OUT/scan" "$1"; }
cmd_witness() { "$OUT/witness" -archive "$1"; }
cmd_pipeline() {
	local l
	for l in $(layers_of "$1"); do tar xO -f "$1" "$l" | gzip -dc | openssl dgst -sha256; done
}
cmd_onepass() { # shellcheck disable=SC2046
	tar xO -f "$1" $(layers_of "$1") | gzip -dc | openssl dgst -sha256
}
# The commands as the report prints them.
declare -A SHOW=(
	[openssl]='openssl dgst -sha256 FILE'
	[ours]="bench/out/oci-attest --subject-path FILE --dry-run$([ "$STMT_FLAG" = 1 ] && echo ' --statement-path S')"
	[scan]='bench/out/scan FILE'
	[witness]='bench/out/witness -archive FILE'
	[pipeline]='for L in layers: tar xO -f FILE L \| gzip -dc \| openssl dgst -sha256'
	[onepass]='tar xO -f FILE L1 … L8 \| gzip -dc \| openssl dgst -sha256'
)
export -f cmd_openssl cmd_ours cmd_scan cmd_witness cmd_pipeline cmd_onepass layers_of
export CLI STMT_FLAG OUT

# run_once KIND LABEL FILE: one timed run; appends "wall rss user sys" to
# res/KIND-LABEL.runs.
run_once() {
	local kind=$1 label=$2 file=$3
	if [ "$CACHE" = cold ]; then
		sync && echo 3 >/proc/sys/vm/drop_caches
	fi
	# GNU time's %M is the peak RSS of the largest process it waited for
	# (for a pipeline: its biggest member, not the sum).
	${NICE:+nice -n "$NICE"} "$TIME" -f '%e %M %U %S' -o "$OUT/res/time" bash -c 'cmd_'"$label"' "$1"' _ "$file" \
		>"$OUT/res/$kind-$label.out" 2>"$OUT/res/$kind-$label.err" ||
		die "$label on $file failed: $(cat "$OUT/res/time" "$OUT/res/$kind-$label.err")"
	tail -n1 "$OUT/res/time" >>"$OUT/res/$kind-$label.runs"
}

LABELS_plain="openssl ours scan witness"
LABELS_gzip="openssl ours scan witness pipeline onepass"
LABELS_multi="openssl ours scan"
[ -n "$CLI" ] || { LABELS_plain=${LABELS_plain/ours /}; LABELS_gzip=${LABELS_gzip/ours /}; LABELS_multi=${LABELS_multi/ours /}; }
rm -f "$OUT"/res/*.runs "$OUT"/res/*.statement.json
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ROUND_LOADS=()
for kind in $KINDS; do
	file=$PLAIN labels=$LABELS_plain
	[ "$kind" = gzip ] && file=$GZIP labels=$LABELS_gzip
	[ "$kind" = multi ] && file=$MULTI labels=$LABELS_multi
	log "measuring $kind ($N rounds, cache $CACHE): $labels"
	for ((i = 1; i <= N; i++)); do
		if [ -n "${QUIET:-}" ]; then
			for ((w = 0; w < 36; w++)); do
				awk -v q="$QUIET" '{exit !($1 < q)}' /proc/loadavg && break
				sleep 5
			done
		fi
		ROUND_LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
		[ "$CACHE" = warm ] && cat "$file" >/dev/null
		for label in $labels; do run_once "$kind" "$label" "$file"; done
	done
done

# --- predicates agree ----------------------------------------------------------
# jq fields compared: tardigest, imageid, diffids, manifestdigest (required),
# imagetags and manifestraw (reported too).
FIELDS='{tardigest: .tardigest.sha256, imageid: .imageid.sha256, diffids: [.diffids[].sha256],
  manifestdigest: .manifestdigest.sha256, imagetags: .imagetags, manifestraw: .manifestraw}'
check() { # kind
	local kind=$1 ours witness ssl
	witness=$(jq -S "$FIELDS" "$OUT/res/$kind-witness.out") || die "go-witness output on $kind is not JSON"
	ssl=$(sed -n 's/.*= //p' "$OUT/res/$kind-openssl.out")
	[ "$(jq -r .tardigest <<<"$witness")" = "$ssl" ] || die "$kind: go-witness tardigest != openssl dgst ($ssl)"
	local srcs="scan"
	[ -n "$CLI" ] && srcs="ours scan"
	for src in $srcs; do
		local in=$OUT/res/$kind-$src.out
		if [ "$src" = ours ]; then
			[ "$STMT_FLAG" = 1 ] && in=$OUT/res/ours-stmt-$kind.json
			ours=$(jq -S ".predicate | $FIELDS" "$in") || die "our dry run on $kind gave no statement JSON"
		else
			ours=$(jq -S "$FIELDS" "$in") || die "bench/out/scan on $kind gave no JSON"
		fi
		if [ "$ours" != "$witness" ]; then
			log "PREDICATE MISMATCH on $kind between $src and go-witness v0.8.0:"
			diff <(echo "$witness") <(echo "$ours") >&2 || true
			die "$kind: $src's predicate differs from go-witness's (see diff above: < go-witness, > $src)"
		fi
		log "$kind: $src's tardigest, imageid, diffids, manifestdigest, imagetags, manifestraw equal go-witness's"
	done
	[ "$(jq -r '.diffids | length' <<<"$witness")" = "$LAYERS" ] || die "$kind: expected $LAYERS diffids"
}
# The multi-platform archive: one statement per platform (statement-path
# holds the first, the other is beside it), each with openssl's tardigest.
check_multi() {
	local ssl n=0 f
	ssl=$(sed -n 's/.*= //p' "$OUT/res/multi-openssl.out")
	if [ -z "$CLI" ] || [ "$STMT_FLAG" != 1 ]; then
		log "multi: no CLI dry run to check"
		return
	fi
	for f in "$OUT/res/ours-stmt-multi.json" "$OUT"/res/[0-9a-f]*.statement.json; do
		[ -f "$f" ] || continue
		[ "$(jq -r .predicate.tardigest.sha256 "$f")" = "$ssl" ] || die "multi: $f's tardigest != openssl dgst ($ssl)"
		n=$((n + 1))
	done
	[ "$n" = 2 ] || die "multi: the dry run wrote $n statements, want one per platform (2)"
	log "multi: 2 statements, one per platform, each with openssl's tardigest"
}
for kind in $KINDS; do
	case $kind in
	multi) check_multi ;;
	*) check "$kind" ;;
	esac
done

# --- report ------------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
summ() { # kind label -> "median_wall min max peak_rss_kib median_cpu"
	local f=$OUT/res/$1-$2.runs
	printf '%s %s %s %s %s\n' "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f1 "$f" | sort -g | head -1)" \
		"$(cut -d' ' -f1 "$f" | sort -g | tail -1)" "$(cut -d' ' -f2 "$f" | sort -g | tail -1)" \
		"$(awk '{printf "%.2f\n", $3 + $4}' "$f" | median)"
}
MISSES=()
report() { # kind file labels
	local kind=$1 file=$2 labels=$3 base
	base=$(summ "$kind" openssl | cut -d' ' -f1)
	printf '\n### %s: `%s`, %s bytes (%s layers%s)\n\n' "$kind" "${file#"$ROOT"/}" "$(stat -c %s "$file" 2>/dev/null || wc -c <"$file")" "$LAYERS" \
		"$([ "$kind" = gzip ] && echo ", gzip, $SIZE uncompressed")$([ "$kind" = multi ] && echo ", OCI layout: an index of 2 platform images")"
	printf '| tool | median wall (s) | min–max (s) | × openssl | median CPU user+sys (s) | peak RSS (MiB) | command |\n'
	printf '|---|---:|---:|---:|---:|---:|---|\n'
	for label in $labels; do
		read -r med lo hi rss cpu <<<"$(summ "$kind" "$label")"
		printf '| %s | %s | %s–%s | %s | %s | %s | `%s` |\n' "$label" "$med" "$lo" "$hi" \
			"$(awk -v a="$med" -v b="$base" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')" "$cpu" \
			"$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')" "${SHOW[$label]}"
	done
}
budget() {
	local who=ours
	[ -n "$CLI" ] || who=scan
	local pm pr gm gr ssl pipe one mm mr mssl
	printf '\n### Budgets (ARCHITECTURE.md, "Limits and budgets"), checked on `%s`\n\n' "$who"
	line() { # ok text
		if [ "$1" = 1 ]; then printf -- '- met: %s\n' "$2"; else printf -- '- **MISSED**: %s\n' "$2"; MISSES+=("$2"); fi
	}
	case " $KINDS " in *" plain "*)
		read -r pm _ _ pr _ <<<"$(summ plain $who)"
		ssl=$(summ plain openssl | cut -d' ' -f1)
		line "$(awk -v a="$pm" -v b="$ssl" 'BEGIN {print (a <= 1.25 * b)}')" \
			"uncompressed wall ${pm} s ≤ 1.25 × openssl ${ssl} s = $(awk -v b="$ssl" 'BEGIN {printf "%.2f", 1.25 * b}') s"
		line "$((pr <= 65536))" "peak RSS on the uncompressed archive $((pr / 1024)) MiB ≤ 64 MiB"
		;;
	esac
	case " $KINDS " in *" gzip "*)
		read -r gm _ _ gr _ <<<"$(summ gzip $who)"
		pipe=$(summ gzip pipeline | cut -d' ' -f1)
		one=$(summ gzip onepass | cut -d' ' -f1)
		line "$((gr <= 65536))" "peak RSS on the gzip archive $((gr / 1024)) MiB ≤ 64 MiB"
		line "$(awk -v a="$gm" -v b="$pipe" 'BEGIN {print (a <= b)}')" \
			"gzip wall ${gm} s ≤ per-layer pipeline ${pipe} s"
		printf -- '- (for reference) gzip wall %s s vs one-pass pipeline %s s\n' "$gm" "$one"
		;;
	esac
	case " $KINDS " in *" multi "*)
		read -r mm _ _ mr _ <<<"$(summ multi $who)"
		mssl=$(summ multi openssl | cut -d' ' -f1)
		line "$(awk -v a="$mm" -v b="$mssl" 'BEGIN {print (a <= 1.25 * b)}')" \
			"multi-platform (2 platforms, uncompressed) wall ${mm} s ≤ 1.25 × openssl ${mssl} s = $(awk -v b="$mssl" 'BEGIN {printf "%.2f", 1.25 * b}') s"
		line "$((mr <= 65536))" "peak RSS on the multi-platform archive $((mr / 1024)) MiB ≤ 64 MiB"
		;;
	esac
}
{
	printf '## Results: %s, N=%s, page cache %s\n\n' "$(date -u +'%Y-%m-%d %H:%M UTC')" "$N" "$CACHE"
	printf -- '- commit %s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"$(git diff --quiet HEAD -- . 2>/dev/null || echo ' with uncommitted changes in the work tree (built as is)')"
	printf -- '- machine: %s × %s, %s, %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" \
		"$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)" "$(uname -r)"
	printf -- '- %s; %s; %s; %s\n' "$(go version | cut -d' ' -f3)" "$(openssl version | cut -d' ' -f1-2)" \
		"$(tar --version | head -1)" "$(gzip --version | head -1)"
	printf -- '- load average before: %s; at the end: %s (1/5/15 min; the cores are shared with other users)\n' "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf -- '- 1-minute load at the start of each round: %s\n' "${ROUND_LOADS[*]}"
	printf -- '- measured commands ran at nice %s\n' "${NICE:-0 (default)}"
	[ -n "$CLI" ] || printf -- '- the CLI dry run did not work at this commit: `scan` (oci.Scan + predicate) stands in for it\n'
	for kind in $KINDS; do
		case $kind in
		plain) report plain "$PLAIN" "$LABELS_plain" ;;
		gzip) report gzip "$GZIP" "$LABELS_gzip" ;;
		multi) report multi "$MULTI" "$LABELS_multi" ;;
		esac
	done
	budget
} >"$OUT/results.md"
cat "$OUT/results.md"
if [ ${#MISSES[@]} -gt 0 ] && [ -n "${STRICT:-}" ]; then exit 3; fi
