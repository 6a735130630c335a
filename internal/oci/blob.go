package oci

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
)

// blobAt is where a blob's bytes are in the archive file.
type blobAt struct {
	name   string // the entry, for errors
	offset int64
	size   int64
}

// OpenBlob opens the bytes of blob d — the config, a layer as stored, or the
// stored image manifest of one of the archive's images, or any blob an image
// index of the archive leads to (nested indexes, attestation manifests and
// their layers: what Index.Lacks does not list) — reading the archive file
// again at the offset the scan recorded (of an archive compressed as a
// whole, from the blobs decompressed once into a temporary file: spill.go).
// It returns the blob's
// size. The reader checks what it reads against d: when the bytes read
// differ (the file changed since the scan), its last Read returns an error
// wrapping ErrDigestMismatch instead of io.EOF, so a consumer that reads to
// the end never takes other bytes for the blob. Close closes the file.
//
// Any other digest is an error wrapping ErrMissingBlob.
func (a *Archive) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	b, ok := a.blobs[d]
	if !ok {
		return nil, 0, fmt.Errorf("reading image archive %q: %w: %s is no config, layer or image manifest of its images, nor a blob its image indexes lead to", a.Path, ErrMissingBlob, d)
	}
	if a.spill != nil {
		if err := a.spilled(); err != nil {
			return nil, 0, err
		}
		r := io.NewSectionReader(a.spill.f, a.spill.at[b.offset], b.size)
		return &blobReader{r: r, h: sha256.New(), want: d, path: a.Path, name: b.name}, b.size, nil
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, 0, fmt.Errorf("reading image archive again: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("reading image archive again: %w", err)
	}
	if st.Size() != a.Size {
		f.Close()
		return nil, 0, fail(a.Path, b.name, "%w: the file is %d bytes, but was %d when it was read: it changed since", ErrDigestMismatch, st.Size(), a.Size)
	}
	return &blobReader{r: io.NewSectionReader(f, b.offset, b.size), f: f, h: sha256.New(), want: d, path: a.Path, name: b.name}, b.size, nil
}

// blobReader reads a blob from the archive file, checking its digest at the
// end.
type blobReader struct {
	r    io.Reader
	f    *os.File
	h    hash.Hash
	want digest.Digest
	path string
	name string
	err  error
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := digest.NewDigest(digest.SHA256, r.h); got != r.want {
			err = fail(r.path, r.name, "%w: read again, the blob hashes to %s, not %s: the file changed since it was read", ErrDigestMismatch, got, r.want)
		}
	}
	r.err = err
	return n, err
}

func (r *blobReader) Close() error {
	if r.f == nil {
		return nil // the spill file of a compressed archive stays open
	}
	return r.f.Close()
}
