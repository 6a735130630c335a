#!/usr/bin/env bash
# bench/crafted.sh — the cost benchmarks of issue 9 (classes 6 and 7, entry
# counts): crafted archives that are small to store but expensive to read,
# and the 1 GiB-of-zeros layer that must be attested, not refused.
#
# Writes the archives with bench/mkarchive under bench/out/crafted/ (never
# committed), then runs, once each, with GNU time:
#   scan   bench/out/scan FILE                (oci.Scan + predicate)
#   ours   bench/out/oci-attest --subject-path FILE --dry-run --statement-path S
# and, when BASE is set to a directory holding scan and oci-attest binaries
# built from an older commit, the same with those ("before"). Prints a
# markdown table: wall, CPU (user+sys), peak RSS, outcome (ok, or the error's
# sentinel text), statement size.
#
#   BASE=/tmp/base bench/crafted.sh
#
# To build BASE from a commit:
#   git worktree add /tmp/base-tree COMMIT && (cd /tmp/base-tree &&
#     go build -o /tmp/base/oci-attest . && go build -o /tmp/base/scan ./bench/scan)
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=bench/out/crafted
TIME=/usr/bin/time
mkdir -p "$OUT"
[ -x "$TIME" ] || { echo "crafted.sh: GNU time is missing: apt-get install -y time" >&2; exit 1; }

go build -o bench/out/mkarchive ./bench/mkarchive
go build -o bench/out/scan ./bench/scan
go build -o bench/out/oci-attest .

# name|mkarchive flags|what it is
CASES=(
	"zstd-frames|-size 4KiB -layers 1 -junk-zstd-entries 30 -junk-zstd-frames 257|30 unreferenced entries of 257 zstd frames of 1 MiB of zeros (11.5 KB each)"
	"zstd-frames-large|-size 4KiB -layers 1 -junk-zstd-entries 30 -junk-zstd-frames 2000|30 unreferenced entries of 2000 zstd frames (90 KB each, 2000 MiB each decompressed)"
	"tiny-zstd|-size 4KiB -layers 1 -junk-zstd-entries 65000 -junk-zstd-frames 1|65,000 unreferenced entries of one zstd frame of 1 MiB of zeros"
	"zeros-1g|-size 1GiB -layers 1 -file-size 1GiB -compress gzip -level 9 -zeros|one layer: a 1 GiB file of zeros, gzip -9 (attested)"
	"tags-600k|-size 4KiB -layers 1 -tags 600000|one image with 600,000 RepoTags"
	"tags-1024|-size 4KiB -layers 1 -tags 1024|one image with 1024 RepoTags (the limit)"
	"images-5000|-size 64KiB -layers 8 -file-size 4KiB -images 5000|manifest.json lists the image 5000 times (3.7 MB)"
	"manifest-8m|-size 4KiB -layers 1 -images 11800 -tag-pad 480|manifest.json of 8 MB: 11,800 entries with 500-byte tags"
	"manifest-22m|-size 4KiB -layers 1 -images 32000 -tag-pad 480|manifest.json of 22 MB"
	"entries-65k|-size 4KiB -layers 1 -junk-entries 65000|65,000 unreferenced empty files"
	"entries-131k|-size 4KiB -layers 1 -junk-entries 131000|131,000 unreferenced empty files"
)

run() { # label binary-dir file -> "wall cpu rss outcome stmt"
	local label=$1 dir=$2 file=$3 cmd stmt
	stmt=$OUT/stmt-$label.json
	rm -f "$stmt"
	if [ "$label" = scan ] || [ "$label" = scan-before ]; then
		cmd=("$dir/scan" "$file")
	else
		cmd=("$dir/oci-attest" --subject-path "$file" --dry-run --statement-path "$stmt")
	fi
	local outcome=ok
	"$TIME" -f '%e %U %S %M' -o "$OUT/time" "${cmd[@]}" >/dev/null 2>"$OUT/err" || outcome=$(grep -o -E 'too large|statement too large|unsupported layer compression|decompression bomb|content does not match its digest|layer diffIDs do not match' "$OUT/err" | head -1)
	[ -n "$outcome" ] || outcome="error: $(tail -c 120 "$OUT/err")"
	local size=—
	[ -f "$stmt" ] && size=$(stat -c %s "$stmt")
	# GNU time puts "Command exited with non-zero status N" first on failure.
	tail -n1 "$OUT/time" | awk -v o="$outcome" -v s="$size" '{printf "%s|%.2f|%.1f|%s|%s\n", $1, $2 + $3, $4 / 1024, o, s}'
}

rm -f "$OUT/legend"
printf '## Crafted archives: %s\n\n' "$(date -u +'%Y-%m-%d %H:%M UTC')"
printf -- '- commit %s; machine: %s × %s; load average %s\n' "$(git rev-parse --short HEAD)" "$(nproc)" \
	"$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" "$(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${BASE:-}" ] && printf -- '- before: binaries in %s\n' "$BASE"
printf '\n| archive | size (bytes) | tool | wall (s) | CPU (s) | peak RSS (MiB) | outcome | statement (bytes) |\n'
printf '|---|---:|---|---:|---:|---:|---|---:|\n'
for c in "${CASES[@]}"; do
	IFS='|' read -r name _ what <<<"$c"
	# shellcheck disable=SC2016 # backquotes are markdown
	printf -- '- `%s`: %s\n' "$name" "$what" >>"$OUT/legend"
done
for c in "${CASES[@]}"; do
	IFS='|' read -r name flags _ <<<"$c"
	file=$OUT/$name.tar
	if [ ! -f "$file" ] || [ "$(cat "$file.flags" 2>/dev/null)" != "$flags" ]; then
		# shellcheck disable=SC2086 # flags are words
		bench/out/mkarchive $flags -out "$file" >/dev/null
		echo "$flags" >"$file.flags"
	fi
	labels="scan ours"
	[ -n "${BASE:-}" ] && labels="scan-before scan ours-before ours"
	for label in $labels; do
		dir=bench/out
		case $label in *-before) dir=$BASE ;; esac
		IFS='|' read -r wall cpu rss outcome stmt <<<"$(run "$label" "$dir" "$file")"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(stat -c %s "$file")" "$label" "$wall" "$cpu" "$rss" "$outcome" "$stmt"
	done
done
printf '\n'
cat "$OUT/legend"
