package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestProgressLines: large archives log progress (bytes, percentage, MB/s)
// while they are hashed; the threshold is lowered so a small archive shows it.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	var out logReporter
	_, err := ReadArchives(context.Background(), []string{filepath.Join(testdataDir, "archives", "multi-image.tar")}, ReadOptions{ProgressThreshold: -1, ProgressInterval: time.Nanosecond}, &out)
	if err != nil {
		t.Fatalf("ReadArchives() error = %v", err)
	}
	if !regexp.MustCompile(`hashing: [0-9.]+ [KMG]?i?B of [0-9.]+ KiB \([0-9]+%\), [0-9]+ MB/s`).MatchString(out.String()) {
		t.Errorf("log has no progress line:\n%s", out.String())
	}
}

// TestLayerProgressLines: a layer decompressed after the read (a small
// archive may hold a layer of many GiB of zeros) logs its progress, however
// small the archive.
func TestLayerProgressLines(t *testing.T) {
	t.Parallel()
	stored, diffID := ocitest.ZerosLayer(128<<20, oci.CompressionZstd)
	path := filepath.Join(t.TempDir(), "zeros.tar")
	if err := os.WriteFile(path, ocitest.Tar(ocitest.DockerArchive("localhost/zeros:v1", ocitest.StoredLayer{Path: "l/layer.tar", Stored: stored, DiffID: diffID})), 0o600); err != nil {
		t.Fatal(err)
	}
	var out logReporter
	archives, err := ReadArchives(context.Background(), []string{path}, ReadOptions{ProgressInterval: time.Nanosecond}, &out)
	if err != nil || len(archives[0].Images) != 1 {
		t.Fatalf("ReadArchives() = %v, error %v; want one image", archives, err)
	}
	if got := archives[0].Images[0].DiffIDs[0].String(); got != diffID {
		t.Errorf("diffID %s, want %s", got, diffID)
	}
	if !regexp.MustCompile(`decompressing layer l/layer.tar: [0-9.]+ [KMG]?i?B of [0-9.]+ KiB read, [0-9.]+ [KMG]?i?B decompressed`).MatchString(out.String()) {
		t.Errorf("log has no layer progress line:\n%.2000s", out.String())
	}
}
