package oci

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const (
	// entryBufSize is the size of the buffers an entry's bytes are copied
	// into (and handed to the decompressor in).
	entryBufSize = 256 << 10
	// entryBufCount bounds the buffers in flight to the decompressor.
	entryBufCount = 6
	// passRatio bounds what decompressing an entry may cost during the pass:
	// passRatio × (its stored size + its 512-byte header) decompressed bytes,
	// so about passRatio × the file's size for the whole pass, whatever the
	// entries are. Real layers rarely expand more than 5×; one that expands
	// further is deferred: decompressed after the pass, from its bytes read
	// again, and only if an image uses it as a layer (ARCHITECTURE.md,
	// "Limits and budgets").
	passRatio = 16
	// passMinSize is the smallest compressed entry the pass decompresses;
	// smaller ones are deferred at once. A decoder produces output a block
	// at a time (zstd: up to 128 KiB), so a tiny entry would cost far more
	// than its budget; deferring them keeps the pass's decompression within
	// about (passRatio + 2) × the file's size.
	passMinSize = 64 << 10
	// maxZstdWindow bounds the zstd window (and so the decoder's memory).
	// Container tooling uses windows of 8 MiB or less.
	maxZstdWindow = 32 << 20
)

// The magic numbers that start a gzip member, a zstd frame, an xz stream
// and a bzip2 stream ("BZh", a block size digit, then the first block's
// magic or the end-of-stream magic of an empty stream).
const (
	gzipMagic  = "\x1f\x8b"
	zstdMagic  = "\x28\xb5\x2f\xfd"
	xzMagic    = "\xfd7zXZ\x00"
	bzip2Magic = "BZh"
)

// sniff tells the compression of a stream from its first bytes.
func sniff(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, []byte(gzipMagic)):
		return CompressionGzip
	case bytes.HasPrefix(b, []byte(zstdMagic)):
		return CompressionZstd
	case bytes.HasPrefix(b, []byte(xzMagic)):
		return CompressionXz
	case len(b) >= 10 && bytes.HasPrefix(b, []byte(bzip2Magic)) && b[3] >= '1' && b[3] <= '9' &&
		(string(b[4:10]) == "\x31\x41\x59\x26\x53\x59" || string(b[4:10]) == "\x17\x72\x45\x38\x50\x90"):
		return CompressionBzip2
	}
	return CompressionNone
}

// decompresses reports whether the scanner decompresses layers stored with c
// (containerd's importer applies only gzip and zstd layers).
func (c Compression) decompresses() bool {
	return c == CompressionGzip || c == CompressionZstd
}

// unsupported is the error for a layer stored with a compression the
// scanner recognises but does not read.
func (c Compression) unsupported() error {
	return fmt.Errorf("%w: %s-compressed layer: containerd cannot load it; re-save the image with gzip or zstd layers (or uncompressed)", ErrUnsupportedCompression, c)
}

// decompressResult is what a decompressor found.
type decompressResult struct {
	// diff is the sha256 of the decompressed bytes, when ok.
	diff [sha256.Size]byte
	ok   bool
	size int64
	// deferred says the stream expanded beyond the limit: decompression
	// stopped there, and diff and err say nothing.
	deferred bool
	err      error // wraps ErrCorruptLayer, or is the layer checker's error
}

// decoders are the gzip and zstd decoders of one scan, reused from entry to
// entry (a zstd decoder allocates its window once). Only one decompressor
// runs at a time.
type decoders struct {
	gzip *gzip.Reader
	zstd *zstd.Decoder
	// out are the buffers of decompressed bytes, reused too.
	out [][]byte
}

func (d *decoders) close() {
	if d.zstd != nil {
		d.zstd.Close()
		d.zstd = nil
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
	// stop, closed by abort, makes the decompressor give up.
	stop     chan struct{}
	stopOnce sync.Once
	// out counts the decompressed bytes so far (for progress).
	out atomic.Int64
	// total, when set, also counts them (the scan's total, for tests).
	total *atomic.Int64
}

// noLimit is the limit of a decompression that runs to the end.
const noLimit = -1

// startDecompressor starts decompressing a stream of compression c; once its
// output passes limit bytes (unless limit is noLimit) it stops and reports
// the entry deferred. Buffers sent on in are returned to free once consumed.
// total, when not nil, counts the decompressed bytes too.
func startDecompressor(decs *decoders, c Compression, limit int64, free chan []byte, total *atomic.Int64) *decompressor {
	d := &decompressor{in: make(chan []byte, entryBufCount-2), free: free, res: make(chan decompressResult, 1), stop: make(chan struct{}), total: total}
	go d.run(decs, c, limit)
	return d
}

// send hands a buffer of stored bytes to the decompressor.
func (d *decompressor) send(b []byte) { d.in <- b }

// abort makes the decompressor stop soon (its result is then meaningless);
// the feeder must still close in. It may be called more than once.
func (d *decompressor) abort() { d.stopOnce.Do(func() { close(d.stop) }) }

// errAborted is what an aborted decompressor's reader returns.
var errAborted = errors.New("decompression aborted")

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

// run decompresses the stream sent on d.in, hashing the output and
// checking that it is a tar stream, and sends the result on d.res.
func (d *decompressor) run(decs *decoders, c Compression, limit int64) {
	cr := &chanReader{in: d.in, free: d.free, stop: d.stop}
	res := decompressResult{}
	defer func() {
		cr.drain()
		d.res <- res
	}()
	dec, err := decs.open(c, cr)
	if err != nil {
		res.err = corruptLayer(c, err)
		return
	}
	o := startOutputHasher(decs)
	res.size, res.deferred, err = d.pump(dec, o, limit)
	notTar := o.close(decs)
	switch {
	case res.deferred:
		return
	case err != nil:
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			res.err = fmt.Errorf("%w: %s stream is truncated", ErrCorruptLayer, c)
		} else {
			res.err = corruptLayer(c, err)
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
	o.h.Sum(res.diff[:0])
	res.ok = true
}

// corruptLayer is the error of a decoder of compression c that failed
// with err.
func corruptLayer(c Compression, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrCorruptLayer, c, strings.TrimPrefix(err.Error(), string(c)+": "))
}

// pump decompresses from dec into the output hasher's buffers until the
// stream ends (a nil error), the decoder fails (its error) or, unless limit
// is noLimit, the output passes limit bytes (deferred). n is the output's
// size.
func (d *decompressor) pump(dec io.Reader, o *outputHasher, limit int64) (n int64, deferred bool, err error) {
	for {
		b := <-o.free
		if limit != noLimit {
			// Read no more than one byte past the limit.
			b = b[:min(int64(len(b)), limit-n+1)]
		}
		m, rerr := fill(dec, b)
		n += int64(m)
		d.out.Store(n)
		if d.total != nil {
			d.total.Add(int64(m))
		}
		o.q <- b[:m]
		if limit != noLimit && n > limit {
			return n, true, nil
		}
		if errors.Is(rerr, io.EOF) {
			return n, false, nil
		}
		if rerr != nil {
			return n, false, rerr
		}
	}
}

// outputHasher hashes decompressed bytes in its own goroutine, handed to it
// in pooled buffers, and feeds them to the tar-stream check (a layer must be
// a tar stream, ARCHITECTURE.md "Archive rules").
type outputHasher struct {
	free   chan []byte // buffers to decompress into
	q      chan []byte // buffers of decompressed bytes to hash
	h      hash.Hash
	tc     *tarCheck
	hashed chan struct{} // closed once q is closed and hashed
}

// startOutputHasher starts an output hasher with the buffers decs keeps
// (new ones the first time).
func startOutputHasher(decs *decoders) *outputHasher {
	o := &outputHasher{
		free: make(chan []byte, outBufCount), q: make(chan []byte, outBufCount),
		h: sha256.New(), tc: newTarCheck(), hashed: make(chan struct{}),
	}
	for range outBufCount {
		if n := len(decs.out); n > 0 {
			o.free <- decs.out[n-1]
			decs.out = decs.out[:n-1]
		} else {
			o.free <- make([]byte, outBufSize)
		}
	}
	go func() {
		defer close(o.hashed)
		for b := range o.q {
			o.h.Write(b)
			o.tc.feed(b)
			o.free <- b[:cap(b)]
		}
	}()
	return o
}

// close waits until every buffer is hashed, gives the buffers back to
// decs, and returns the tar check's verdict. The check is always closed,
// so that its reader goroutine ends; its verdict counts only for a stream
// that ended cleanly.
func (o *outputHasher) close(decs *decoders) error {
	close(o.q)
	<-o.hashed
	notTar := o.tc.Close()
	for range outBufCount {
		decs.out = append(decs.out, <-o.free)
	}
	return notTar
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
	stop chan struct{}
	cur  []byte
	full []byte
	eof  bool
}

func (r *chanReader) Read(p []byte) (int, error) {
	select {
	case <-r.stop:
		return 0, errAborted
	default:
	}
	for len(r.cur) == 0 {
		if r.full != nil {
			r.free <- r.full[:cap(r.full)]
			r.full = nil
		}
		if r.eof {
			return 0, io.EOF
		}
		var b []byte
		var ok bool
		select {
		case b, ok = <-r.in:
		case <-r.stop:
			return 0, errAborted
		}
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
