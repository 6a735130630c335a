package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// zeroLayer returns the legacy archive with its first layer replaced by c
// applied to n zero bytes.
func zeroLayer(t *testing.T, n int, c oci.Compression) []byte {
	t.Helper()
	es, i := legacyLayer(t)
	es[i].Body = ocitest.Compress(make([]byte, n), c)
	return ocitest.Tar(es)
}

// TestScanReferencedBombDecompressed checks that a layer expanding far
// beyond any ratio — 300 zstd frames of 1 MiB of zeros each (a decoder reads
// concatenated frames as one stream): 300 MiB from a few KiB — is
// decompressed to its end, because an image uses it, while memory stays
// bounded (the layer is streamed). Its diffID is then that of 300 MiB of
// zeros, which is not the config's. It does not run in parallel so that the
// allocation count is its own.
func TestScanReferencedBombDecompressed(t *testing.T) {
	es, i := legacyLayer(t)
	es[i].Body = bytes.Repeat(ocitest.Compress(make([]byte, 1<<20), oci.CompressionZstd), 300)
	archive := ocitest.Tar(es)
	if len(archive) > 1<<20 {
		t.Fatalf("bomb archive is %d bytes", len(archive))
	}
	zeros := sha256.New()
	for range 300 {
		zeros.Write(make([]byte, 1<<20))
	}
	want := digest.NewDigest(digest.SHA256, zeros)
	path := writeTemp(t, "bomb.tar", archive)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, oci.ErrDiffIDMismatch) || !strings.Contains(err.Error(), "decompresses to "+string(want)) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Scan() error = %v, want ErrDiffIDMismatch: layer 0 decompresses to %s (300 MiB of zeros)", err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("Scan() allocated %d MiB decompressing a bomb; want it streamed (< 64 MiB)", alloc>>20)
	}
}

// TestScanLargeRatioWithinLimit checks that a highly compressible layer
// within the ratio limit is accepted (its diffID is then wrong here, which
// proves it was decompressed to the end).
func TestScanLargeRatioWithinLimit(t *testing.T) {
	t.Parallel()
	path := writeTemp(t, "zeros.tar", zeroLayer(t, 8<<20, oci.CompressionZstd))
	_, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if !errors.Is(err, oci.ErrDiffIDMismatch) {
		t.Fatalf("Scan() error = %v, want ErrDiffIDMismatch (decompressed fully, not a bomb)", err)
	}
}

// bigArchive is a docker25 archive with an 8 MiB layer of pseudo-random
// bytes, so scanning it takes several chunks.
func bigArchive(t *testing.T) string {
	t.Helper()
	body := make([]byte, 8<<20)
	x := uint64(1)
	for i := range body {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		body[i] = byte(x)
	}
	b, err := ocitest.Build(ocitest.Docker25, ocitest.Image{RepoTags: []string{"big:1"}, Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "big", Content: string(body)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "big.tar", b)
}

// TestScanContextCancel checks that Scan stops when its context is
// cancelled, before and during the pass.
func TestScanContextCancel(t *testing.T) {
	t.Parallel()
	path := bigArchive(t)
	t.Run("before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := oci.Scan(ctx, path, oci.ScanOptions{}); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Scan() error = %v, want context.Canceled naming the archive", err)
		}
	})
	t.Run("during", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var calls atomic.Int32
		opts := oci.ScanOptions{ProgressInterval: time.Nanosecond, Progress: func(read, total int64) {
			if calls.Add(1) == 2 {
				cancel()
			}
		}}
		_, err := oci.Scan(ctx, path, opts)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Scan() error = %v, want context.Canceled", err)
		}
		if c := calls.Load(); c > 3 {
			t.Errorf("Progress called %d times after cancel; Scan did not stop", c)
		}
	})
}

// TestScanProgress checks that Progress reports the bytes read and the size.
func TestScanProgress(t *testing.T) {
	t.Parallel()
	path := bigArchive(t)
	var last, total int64
	calls := 0
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{ProgressInterval: time.Nanosecond, Progress: func(r, tot int64) {
		if r < last {
			t.Errorf("Progress(%d) after Progress(%d)", r, last)
		}
		last, total = r, tot
		calls++
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 2 || total != a.Size || last > a.Size || last < a.Size/2 {
		t.Errorf("Progress: %d calls, last %d of %d; archive is %d bytes", calls, last, total, a.Size)
	}
}

// TestScanMemoryConstant scans an archive with a 256 MiB layer and checks
// that Scan allocates a small, fixed amount: layers are streamed, never
// buffered. The layer is zeros stored as a hole, so the test writes little.
// It does not run in parallel so that the allocation count is its own.
func TestScanMemoryConstant(t *testing.T) {
	const size = 256 << 20
	zeros := make([]byte, 1<<20)
	h := sha256.New()
	for range size / len(zeros) {
		h.Write(zeros)
	}
	diffID := digest.NewDigest(digest.SHA256, h)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + string(diffID) + `"]}}`)
	layerName := "blobs/sha256/" + diffID.Encoded()
	cfgName := "blobs/sha256/" + sha(cfg).Encoded()
	path := filepath.Join(t.TempDir(), "big.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range []ocitest.Entry{
		{Name: cfgName, Body: cfg},
		{Name: "manifest.json", Body: []byte(`[{"Config":"` + cfgName + `","RepoTags":null,"Layers":["` + layerName + `"]}]`)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: e.Name, Size: int64(len(e.Body)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.Body)
	}
	if err := tw.WriteHeader(&tar.Header{Name: layerName, Size: size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(off + size + 1024); err != nil { // the layer, then two zero blocks
		t.Fatal(err)
	}
	f.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if a.Images[0].DiffIDs[0] != diffID || a.Images[0].RepoTags != nil {
		t.Errorf("Scan() diffID %s RepoTags %#v; want %s, nil", a.Images[0].DiffIDs[0], a.Images[0].RepoTags, diffID)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24<<20 {
		t.Errorf("Scan() of a %d MiB archive allocated %d MiB; want < 24 MiB (streamed)", a.Size>>20, alloc>>20)
	} else {
		t.Logf("Scan() of a %d MiB archive allocated %.1f MiB", a.Size>>20, float64(alloc)/(1<<20))
	}
}

// TestScanJSONBudget checks that JSON-looking entries kept in memory are
// bounded in total (2 × MaxJSONSize): past the budget they are streamed, and
// one that is then needed (here the config) is an ErrTooLarge naming it.
func TestScanJSONBudget(t *testing.T) {
	t.Parallel()
	es := goodEntries(t, "podman.tar")
	for i := range 4 {
		// Sorted before the config: "0…" < any hex config name.
		es = append([]ocitest.Entry{{Name: fmt.Sprintf("0000-junk-%d.json", i), Body: []byte(`{"junk":"` + strings.Repeat("x", 800) + `"}`)}}, es...)
	}
	path := writeTemp(t, "budget.tar", ocitest.Tar(es))
	_, err := oci.Scan(context.Background(), path, oci.ScanOptions{MaxJSONSize: 1024})
	if !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), "image config") {
		t.Fatalf("Scan() error = %v, want ErrTooLarge naming the image config", err)
	}
	if _, err := oci.Scan(context.Background(), path, oci.ScanOptions{}); err != nil {
		t.Fatalf("Scan() with the default budget: %v", err)
	}
}
