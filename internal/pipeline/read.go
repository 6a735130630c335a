package pipeline

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/oci"
)

// defaultProgressThreshold is the archive size above which hashing progress
// is logged.
const defaultProgressThreshold = 256 << 20

// ReadArchives scans every archive once, as many at a time as there are
// cores: one scan is two hash streams and, for compressed layers, one
// inflate stream, so a second archive uses what the first leaves idle
// (BENCHMARKS.md). The first failure stops the others; an archive the reader
// refuses is a FieldError of "Archives".
func ReadArchives(ctx context.Context, paths []string, opts ReadOptions, rep Reporter) ([]*oci.Archive, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	archives := make([]*oci.Archive, len(paths))
	var mu sync.Mutex
	var first error
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				a, err := readArchive(ctx, paths[i], len(paths) > 1, opts, rep)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				archives[i] = a
				mu.Unlock()
			}
		}()
	}
	for i := range paths {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err() // the caller's context ended
	}
	return archives, first
}

// readArchive scans one archive (one read).
func readArchive(ctx context.Context, path string, several bool, o ReadOptions, rep Reporter) (*oci.Archive, error) {
	opts := oci.ScanOptions{ProgressInterval: o.ProgressInterval, TempDir: o.TempDir}
	threshold := int64(defaultProgressThreshold)
	if o.ProgressThreshold != 0 {
		threshold = o.ProgressThreshold
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > threshold {
		start := time.Now()
		what := "hashing"
		if several {
			what += " " + path
		}
		opts.Progress = func(read, total int64) {
			mbps := float64(read) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
			rep.Infof("%s: %s of %s (%d%%), %.0f MB/s", what, display.Bytes(read), display.Bytes(total), read*100/max(total, 1), mbps)
		}
	}
	// A small archive may hold a layer that expands to many GiB: its
	// decompression after the read logs progress whatever the file's size.
	opts.LayerProgress = func(entry string, read, size, decompressed int64) {
		rep.Infof("decompressing layer %s: %s of %s read, %s decompressed", entry, display.Bytes(read), display.Bytes(size), display.Bytes(decompressed))
	}
	a, err := oci.Scan(ctx, path, opts)
	if err != nil {
		return nil, archiveError(err)
	}
	if len(a.Images) == 0 {
		return nil, usage("Archives", "%s holds no image", path)
	}
	how := ""
	if a.Compression != oci.CompressionNone {
		how = ", " + string(a.Compression) + "-compressed"
	}
	rep.Infof("read %s archive %s (%s%s, %d image(s)), tar digest %s", a.Format, path, display.Bytes(a.Size), how, len(a.Images), a.TarDigest)
	return a, nil
}

// archiveError attributes an error of the archive reader to "Archives": an
// archive that is not what the reader accepts is the caller's to fix
// (Usage); a failure to read the file is not.
func archiveError(err error) error {
	var pe *os.PathError
	usage := !errors.As(err, &pe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	return &FieldError{Field: "Archives", Usage: usage, Err: err}
}
