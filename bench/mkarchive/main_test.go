package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// TestArchiveIsConsistent reads the archive back with archive/tar and checks
// what a scanner checks: the config's diff_ids are the digests of the
// uncompressed layers, the config is named by its digest, and manifest.json
// names every layer.
func TestArchiveIsConsistent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		compress string
		layers   int
	}{
		{"none", 1},
		{"none", 3},
		{"gzip", 3},
	}
	for _, tt := range tests {
		t.Run(tt.compress+"/"+strconv.Itoa(tt.layers), func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "a.tar")
			args := []string{"-size", "3MiB", "-layers", strconv.Itoa(tt.layers), "-compress", tt.compress,
				"-file-size", "300KiB", "-out", out}
			if err := run(context.Background(), args, io.Discard); err != nil {
				t.Fatalf("run(%q) = %v", args, err)
			}
			entries := readTar(t, out)

			var manifest []manifestEntry
			if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil {
				t.Fatalf("parsing manifest.json: %v", err)
			}
			if len(manifest) != 1 || len(manifest[0].Layers) != tt.layers {
				t.Fatalf("manifest.json = %+v, want one entry with %d layers", manifest, tt.layers)
			}
			m := manifest[0]
			if diff := cmp.Diff([]string{"bench.local/archive:latest"}, m.RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}
			cfgRaw := entries[m.Config]
			sum := sha256.Sum256(cfgRaw)
			if want := hex.EncodeToString(sum[:]) + ".json"; m.Config != want {
				t.Errorf("Config = %q, want %q (the config's digest)", m.Config, want)
			}
			var cfg config
			if err := json.Unmarshal(cfgRaw, &cfg); err != nil {
				t.Fatalf("parsing config: %v", err)
			}
			var got []string
			var total int64
			for _, l := range m.Layers {
				data, ok := entries[l]
				if !ok {
					t.Fatalf("layer %s missing from the archive", l)
				}
				isGzip := bytes.HasPrefix(data, []byte{0x1f, 0x8b})
				if isGzip != (tt.compress == "gzip") {
					t.Errorf("layer %s: gzip = %v, want %v", l, isGzip, tt.compress == "gzip")
				}
				if isGzip {
					zr, err := gzip.NewReader(bytes.NewReader(data))
					if err != nil {
						t.Fatalf("layer %s: %v", l, err)
					}
					if data, err = io.ReadAll(zr); err != nil {
						t.Fatalf("layer %s: %v", l, err)
					}
				}
				total += int64(len(data))
				n := len(readTarBytes(t, data))
				if n == 0 {
					t.Errorf("layer %s holds no files", l)
				}
				s := sha256.Sum256(data)
				got = append(got, "sha256:"+hex.EncodeToString(s[:]))
			}
			if diff := cmp.Diff(cfg.RootFS.DiffIDs, got); diff != "" {
				t.Errorf("rootfs.diff_ids vs computed diffIDs (-config +computed):\n%s", diff)
			}
			if total > 3<<20 || total < 3<<20-int64(tt.layers)*1024 {
				t.Errorf("uncompressed layer bytes = %d, want about %d", total, 3<<20)
			}
			if _, ok := entries["repositories"]; !ok {
				t.Error("repositories file missing")
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var sums []string
	for _, name := range []string{"a.tar", "b.tar"} {
		out := filepath.Join(dir, name)
		if err := run(context.Background(), []string{"-size", "1MiB", "-layers", "2", "-compress", "gzip", "-out", out}, io.Discard); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(s[:]))
	}
	if sums[0] != sums[1] {
		t.Errorf("two runs with the same seed differ: %s vs %s", sums[0], sums[1])
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-size", "1MiB"}, "missing -out"},
		{[]string{"-out", "x", "-compress", "zstd"}, "invalid -compress"},
		{[]string{"-out", "x", "-size", "lots"}, "parsing -size"},
		{[]string{"-out", "x", "-layers", "0"}, "invalid -layers"},
		{[]string{"-out", "x", "-tag", "registry:5000/repo"}, "invalid -tag"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"1GiB", 1 << 30},
		{"512MiB", 512 << 20},
		{"1.5GiB", 3 << 29},
		{"1GB", 1e9},
		{"100k", 100 << 10},
		{"4096", 4096},
	}
	for _, tt := range tests {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}

func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readTarBytes(t, b)
}

func readTarBytes(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	entries := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		entries[h.Name] = data
	}
}

// TestOCIMultiPlatform: -layout oci writes an OCI image layout of a
// multi-platform index that the archive reader accepts whole (digests,
// sizes, diffIDs, the archive rules), one image per platform with its share
// of the layers, and that skopeo reads as an index.
func TestOCIMultiPlatform(t *testing.T) {
	t.Parallel()
	for _, compress := range []string{"none", "gzip"} {
		t.Run(compress, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "multi.tar")
			args := []string{"-layout", "oci", "-platforms", "2", "-size", "3MiB", "-layers", "4", "-compress", compress, "-file-size", "300KiB", "-out", out}
			if err := run(context.Background(), args, io.Discard); err != nil {
				t.Fatalf("run(%q) = %v", args, err)
			}
			a, err := oci.Scan(context.Background(), out, oci.ScanOptions{})
			if err != nil {
				t.Fatalf("oci.Scan() = %v", err)
			}
			if len(a.Images) != 2 {
				t.Fatalf("%d images, want 2", len(a.Images))
			}
			for i, want := range []string{"linux/amd64", "linux/arm64"} {
				img := a.Images[i]
				if img.Platform.String() != want || img.ImageIndex == nil || len(img.DiffIDs) != 2 || img.RepoTags[0] != "bench.local/archive:latest" {
					t.Errorf("image %d: platform %s, index %v, %d layers, tags %v; want %s under the index with 2 layers", i, img.Platform, img.ImageIndex != nil, len(img.DiffIDs), img.RepoTags, want)
				}
			}
			skopeo, err := exec.LookPath("skopeo")
			if err != nil {
				t.Skip("skopeo is not installed")
			}
			raw, err := exec.Command(skopeo, "inspect", "--raw", "oci-archive:"+out).Output()
			var idx struct {
				Manifests []struct {
					Digest string `json:"digest"`
				} `json:"manifests"`
			}
			if err != nil || json.Unmarshal(raw, &idx) != nil || len(idx.Manifests) != 2 || idx.Manifests[1].Digest != a.Images[1].ManifestDigest.String() {
				t.Errorf("skopeo inspect --raw = %s, %v; want the index of both platforms", raw, err)
			}
		})
	}
}

func TestOCIBadFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-out", "x", "-platforms", "2"}, "needs -layout oci"},
		{[]string{"-out", "x", "-layout", "oci", "-platforms", "3", "-layers", "8"}, "not a multiple"},
		{[]string{"-out", "x", "-layout", "zip"}, "invalid -layout"},
	} {
		if err := run(context.Background(), tt.args, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want %q", tt.args, err, tt.want)
		}
	}
}
