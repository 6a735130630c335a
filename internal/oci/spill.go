package oci

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// spill is the blobs of an archive compressed as a whole, decompressed
// once — the first time OpenBlob needs one — into an unlinked temporary
// file: a push reads its blobs in whatever order and as many at once as the
// registry client likes, and each would otherwise decompress the file again
// from its start. So a push from a compressed archive reads it a second
// time, once (BENCHMARKS.md, "Compressed archives").
type spill struct {
	once sync.Once
	f    *os.File
	// at is where each blob (by its offset in the decompressed stream)
	// starts in f.
	at  map[int64]int64
	err error
}

// spilled decompresses the blobs into the spill file, once.
func (a *Archive) spilled() error {
	a.spill.once.Do(func() {
		a.spill.f, a.spill.at, a.spill.err = a.decompressBlobs()
	})
	return a.spill.err
}

// decompressBlobs reads the file again, decompressing it, and copies every
// blob OpenBlob serves into an unlinked temporary file. The blobs are
// checked against their digests when OpenBlob's readers read them.
func (a *Archive) decompressBlobs() (*os.File, map[int64]int64, error) {
	src, err := os.Open(a.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading image archive again: %w", err)
	}
	defer src.Close()
	if st, err := src.Stat(); err != nil || st.Size() != a.Size {
		return nil, nil, fail(a.Path, "", "%w: the file is not the %d bytes it was when it was read: it changed since", ErrDigestMismatch, a.Size)
	}
	tmp, err := os.CreateTemp(a.tempDir, "oci-attest-blobs-*")
	if err != nil {
		return nil, nil, fmt.Errorf("decompressing the blobs of %s: %w", a.Path, err)
	}
	// Unlinked at once: the space is freed when the file is closed (Close)
	// or the process ends, whatever happens in between.
	os.Remove(tmp.Name())
	at, err := a.copyBlobs(src, tmp)
	if err != nil {
		tmp.Close()
		return nil, nil, fmt.Errorf("decompressing the blobs of %s: %w", a.Path, err)
	}
	return tmp, at, nil
}

// copyBlobs decompresses src and copies each blob, in stream order, to dst.
func (a *Archive) copyBlobs(src io.Reader, dst io.Writer) (map[int64]int64, error) {
	var bs []blobAt
	for _, b := range a.blobs {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(x, y blobAt) int { return int(min(max(x.offset-y.offset, -1), 1)) })
	dec, closeDec, err := openWhole(a.Compression, bufio.NewReaderSize(src, 1<<20))
	if err != nil {
		return nil, err
	}
	defer closeDec()
	at := map[int64]int64{}
	var pos, out int64
	for _, b := range bs {
		if _, done := at[b.offset]; done {
			continue
		}
		if _, err := io.CopyN(io.Discard, dec, b.offset-pos); err != nil {
			return nil, err
		}
		if _, err := io.CopyN(dst, dec, b.size); err != nil {
			return nil, err
		}
		at[b.offset], pos, out = out, b.offset+b.size, out+b.size
	}
	return at, nil
}

// Close releases what OpenBlob keeps of an archive compressed as a whole
// (its decompressed blobs); call it after the last OpenBlob reader is
// closed. It does nothing for other archives.
func (a *Archive) Close() error {
	if a == nil || a.spill == nil || a.spill.f == nil {
		return nil
	}
	return a.spill.f.Close()
}
