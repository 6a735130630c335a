package oci

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

const (
	// entryBufSize is the size of the buffers an entry's bytes are copied
	// into (and handed to the decompressor in).
	entryBufSize = 256 << 10
	// entryBufCount bounds the buffers in flight to the decompressor.
	entryBufCount = 6
	// minBombLimit is the decompressed size every compressed entry may
	// reach whatever its ratio.
	minBombLimit = 256 << 20
	// maxZstdWindow bounds the zstd window (and so the decoder's memory).
	// Container tooling uses windows of 8 MiB or less.
	maxZstdWindow = 32 << 20
)

// The magic numbers that start a gzip member and a zstd frame.
const (
	gzipMagic = "\x1f\x8b"
	zstdMagic = "\x28\xb5\x2f\xfd"
)

// sniff tells the compression of a stream from its first bytes.
func sniff(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, []byte(gzipMagic)):
		return CompressionGzip
	case bytes.HasPrefix(b, []byte(zstdMagic)):
		return CompressionZstd
	}
	return CompressionNone
}

// decompressResult is what a decompressor found.
type decompressResult struct {
	diffID digest.Digest
	size   int64
	err    error // wraps ErrCorruptLayer or ErrDecompressionBomb
}

// decoders are the gzip and zstd decoders of one scan, reused from entry to
// entry (a zstd decoder allocates its window once). Only one decompressor
// runs at a time.
type decoders struct {
	gzip *gzip.Reader
	zstd *zstd.Decoder
}

func (d *decoders) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

// open returns a decoder of compression c reading r.
func (d *decoders) open(c Compression, r io.Reader) (io.Reader, error) {
	switch c {
	case CompressionGzip:
		if d.gzip == nil {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, err
			}
			d.gzip = zr
			return zr, nil
		}
		return d.gzip, d.gzip.Reset(r)
	case CompressionZstd:
		if d.zstd == nil {
			zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(1<<62))
			if err != nil {
				return nil, err
			}
			d.zstd = zr
			return zr, nil
		}
		return d.zstd, d.zstd.Reset(r)
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// decompressor decompresses one compressed entry in its own goroutine, fed
// with the entry's bytes in pooled buffers, and hashes the output in
// another (decompression and hashing then use both cores).
type decompressor struct {
	in   chan []byte
	free chan []byte
	res  chan decompressResult
}

// startDecompressor starts decompressing a stream of compression c whose
// decompressed size may not exceed limit. Buffers sent on in are returned to
// free once consumed.
func startDecompressor(decs *decoders, c Compression, limit int64, free chan []byte) *decompressor {
	d := &decompressor{in: make(chan []byte, entryBufCount-2), free: free, res: make(chan decompressResult, 1)}
	go d.run(decs, c, limit)
	return d
}

// send hands a buffer of stored bytes to the decompressor.
func (d *decompressor) send(b []byte) { d.in <- b }

// finish says the entry ended and waits for the result.
func (d *decompressor) finish() decompressResult {
	close(d.in)
	return <-d.res
}

// outBufCount and outBufSize size the buffers of decompressed bytes in
// flight to the output hasher.
const (
	outBufCount = 4
	outBufSize  = 256 << 10
)

func (d *decompressor) run(decs *decoders, c Compression, limit int64) {
	cr := &chanReader{in: d.in, free: d.free}
	res := decompressResult{}
	defer func() {
		cr.drain()
		d.res <- res
	}()
	dec, err := decs.open(c, cr)
	if err != nil {
		res.err = fmt.Errorf("%w: %s: %v", ErrCorruptLayer, c, strings.TrimPrefix(err.Error(), string(c)+": "))
		return
	}
	// The output hasher: decompressed bytes go to it in pooled buffers.
	outFree := make(chan []byte, outBufCount)
	for range outBufCount {
		outFree <- make([]byte, outBufSize)
	}
	outq := make(chan []byte, outBufCount)
	h := sha256.New()
	tc := newTarCheck() // archive rules: a layer must be a tar stream
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range outq {
			h.Write(b)
			tc.feed(b)
			outFree <- b[:cap(b)]
		}
	}()
	var n int64
	for {
		b := <-outFree
		m, rerr := fill(dec, b)
		n += int64(m)
		outq <- b[:m]
		if n > limit {
			err = fmt.Errorf("%w: %s stream expands beyond %d bytes, the most a layer of this stored size may expand to (README \"Limits\"): it is treated as a decompression bomb", ErrDecompressionBomb, c, limit)
			break
		}
		if errors.Is(rerr, io.EOF) {
			err = nil
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(outq)
	<-hashed
	notTar := tc.Close()
	res.size = n
	switch {
	case errors.Is(err, ErrDecompressionBomb):
		res.err = err
		return
	case err != nil:
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			res.err = fmt.Errorf("%w: %s stream is truncated", ErrCorruptLayer, c)
		} else {
			res.err = fmt.Errorf("%w: %s: %v", ErrCorruptLayer, c, strings.TrimPrefix(err.Error(), string(c)+": "))
		}
		return
	}
	if cr.rest() {
		res.err = fmt.Errorf("%w: data after the end of the %s stream", ErrCorruptLayer, c)
		return
	}
	if notTar != nil {
		res.err = notTarError(c, notTar)
		return
	}
	res.diffID = digest.NewDigest(digest.SHA256, h)
}

// fill reads from r until b is full or r fails; io.EOF means the stream
// ended cleanly (unlike io.ReadFull, a decoder's own io.ErrUnexpectedEOF
// stays distinct from a clean end).
func fill(r io.Reader, b []byte) (int, error) {
	m := 0
	for m < len(b) {
		k, err := r.Read(b[m:])
		m += k
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// chanReader reads the buffers sent on in.
type chanReader struct {
	in   chan []byte
	free chan []byte
	cur  []byte
	full []byte
	eof  bool
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.full != nil {
			r.free <- r.full[:cap(r.full)]
			r.full = nil
		}
		if r.eof {
			return 0, io.EOF
		}
		b, ok := <-r.in
		if !ok {
			r.eof = true
			return 0, io.EOF
		}
		r.full, r.cur = b, b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// rest reports whether any byte is left after the decompressor stopped.
func (r *chanReader) rest() bool {
	var b [4096]byte
	for {
		n, err := r.Read(b[:])
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// drain returns every remaining buffer to the pool until in is closed.
func (r *chanReader) drain() {
	if r.full != nil {
		r.free <- r.full[:cap(r.full)]
		r.full, r.cur = nil, nil
	}
	if r.eof {
		return
	}
	for b := range r.in {
		r.free <- b[:cap(b)]
	}
	r.eof = true
}
