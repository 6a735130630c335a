package oci_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestScanDecompressionBomb checks that a zstd layer expanding far beyond
// its size is refused, while memory stays bounded (the layer is streamed).
// It does not run in parallel so that the allocation count is its own.
func TestScanDecompressionBomb(t *testing.T) {
	const n = 300 << 20 // 300 MiB of zeros: a few KiB of zstd
	archive := zeroLayer(t, n, oci.CompressionZstd)
	if len(archive) > 1<<20 {
		t.Fatalf("bomb archive is %d bytes", len(archive))
	}
	path := writeTemp(t, "bomb.tar", archive)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, oci.ErrDecompressionBomb) || !strings.Contains(err.Error(), "/layer.tar") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Scan() error = %v, want ErrDecompressionBomb naming the layer", err)
	}
	t.Logf("Scan() error: %v", err)
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
