package oci

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
)

// LayerDigests is what a layer blob is: the digest of its bytes as stored,
// their compression and the digest of the tar stream they decompress to
// (its diffID).
type LayerDigests struct {
	// Stored is the sha256 of the bytes as stored.
	Stored digest.Digest
	// Size is how many bytes are stored.
	Size int64
	// Compression is how they are compressed, sniffed from their first
	// bytes as containerd, docker and go-containerregistry sniff them.
	Compression Compression
	// DiffID is the sha256 of the uncompressed bytes.
	DiffID digest.Digest
}

// ReadLayer reads a layer blob from r to its end, once, in bounded memory
// (a zstd window up to 32 MiB), and returns its digests. Gzip and zstd are
// decompressed, anything else is taken as uncompressed — except xz and
// bzip2, which containerd cannot apply (ErrUnsupportedCompression). A
// stream that does not decompress cleanly to its end, or has bytes after
// it, wraps ErrCorruptLayer; an error of r is returned as it is.
func ReadLayer(r io.Reader) (LayerDigests, error) {
	stored := sha256.New()
	counted := &countingReader{r: r}
	br := bufio.NewReaderSize(io.TeeReader(counted, stored), 64<<10)
	head, err := br.Peek(10)
	if err != nil && !errors.Is(err, io.EOF) {
		return LayerDigests{}, err
	}
	out := LayerDigests{Compression: sniff(head)}
	var src io.Reader = br
	decs := &decoders{}
	defer decs.close()
	switch c := out.Compression; {
	case c.decompresses():
		if src, err = decs.open(c, br); err != nil {
			return LayerDigests{}, corrupt(c, err, counted)
		}
	case c != CompressionNone:
		return LayerDigests{}, c.unsupported()
	}
	diff := sha256.New()
	buf := make([]byte, 256<<10)
	if _, err := io.CopyBuffer(diff, src, buf); err != nil {
		return LayerDigests{}, corrupt(out.Compression, err, counted)
	}
	if out.Compression != CompressionNone {
		if n, err := io.CopyBuffer(io.Discard, br, buf); err != nil {
			return LayerDigests{}, err
		} else if n > 0 {
			return LayerDigests{}, fmt.Errorf("%w: %d bytes after the end of the %s stream", ErrCorruptLayer, n, out.Compression)
		}
	}
	out.Stored, out.Size, out.DiffID = digest.NewDigest(digest.SHA256, stored), counted.n, digest.NewDigest(digest.SHA256, diff)
	return out, nil
}

// corrupt is the error of a decompression that failed: r's own error when
// reading it failed, else ErrCorruptLayer.
func corrupt(c Compression, err error, r *countingReader) error {
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return r.err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s stream is truncated", ErrCorruptLayer, c)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorruptLayer, c, err)
}

// countingReader counts what it reads and keeps r's error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}
