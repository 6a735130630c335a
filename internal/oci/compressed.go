package oci

import (
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Archives compressed as a whole (ARCHITECTURE.md, "Archive rules"):
// `docker save IMAGE | gzip > image.tar.gz` and its zstd and bzip2
// equivalents. docker load (moby's DecompressStream), podman load and
// skopeo copy docker-archive: (containers/image AutoDecompress) and
// oci-archive: (containers/storage's Untar) decompress such a file and read
// the tar inside; so does the scanner: the decompressed stream is the
// archive, under the same rules, while the whole-file digest (tardigest)
// stays the sha256 of the file as given. The file is still read once: the
// file reader hashes the compressed bytes, a decoder goroutine decompresses
// them, and the tar reader reads what it decompresses. Offsets recorded for
// OpenBlob and for deferred layers are offsets in the decompressed stream;
// reading there again decompresses the file again from its start
// (decodedAt; OpenBlob spills the blobs once, spill.go).
//
// xz is refused with the command that decompresses it: its decoder
// allocates whatever dictionary the stream declares (up to 1.5 GiB; xz -9
// uses 64 MiB), beyond the scan's memory budget, and docker itself runs the
// xz program for it.

const (
	// maxArchiveRatio bounds how far a compressed archive may expand: the
	// decompressed stream may hold at most maxArchiveRatio × the file's
	// size plus maxArchiveSlack bytes, so that a file of a few MB cannot
	// cost minutes of decompression and hashing. `docker save | gzip`
	// archives expand 2–5×; one beyond the bound is refused with the
	// command that decompresses it (the tar is then read as it is).
	maxArchiveRatio = 128
	maxArchiveSlack = 64 << 20
	// decodedChunks and decodedChunkSize size the buffers in flight from
	// the decoder goroutine to the tar reader.
	decodedChunks    = 4
	decodedChunkSize = 1 << 20
)

// wholeDecompresses reports whether the scanner reads an archive compressed
// as a whole with c.
func (c Compression) wholeDecompresses() bool {
	return c == CompressionGzip || c == CompressionZstd || c == CompressionBzip2
}

// decompressCommand is the command that decompresses a file compressed
// with c, for errors.
func (c Compression) decompressCommand() string {
	switch c {
	case CompressionGzip:
		return "gunzip"
	case CompressionZstd:
		return "zstd -d"
	case CompressionXz:
		return "xz -d"
	case CompressionBzip2:
		return "bunzip2"
	}
	return ""
}

// archiveCompression sniffs how the file f is compressed as a whole.
func archiveCompression(f io.ReaderAt) Compression {
	var b [16]byte
	n, _ := f.ReadAt(b[:], 0)
	return sniff(b[:n])
}

// openWhole returns a decoder of compression c reading r, closed by the
// returned function.
func openWhole(c Compression, r io.Reader) (io.Reader, func(), error) {
	switch c {
	case CompressionGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case CompressionZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(1<<62))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case CompressionBzip2:
		return bzip2.NewReader(r), func() {}, nil
	}
	return nil, nil, fmt.Errorf("archives compressed with %s are not read", c)
}

// errExpands is the decoder's error when the stream passes its bound.
var errExpands = errors.New("decompresses beyond its bound")

// decodeError is a failure of the decoder of an archive compressed as a
// whole (other than a truncated stream, which is io.ErrUnexpectedEOF).
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// asDecodeError wraps a decoder's error: a clean end and a truncation stay
// what they are.
func asDecodeError(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errExpands) {
		return err
	}
	return &decodeError{err: err}
}

// decodedStream is the tar reader's source for a compressed archive: a
// goroutine decompresses the file reader's bytes into pooled buffers, which
// Read hands out in order. The decoder's last error (io.EOF at a clean end)
// comes after the last buffer.
type decodedStream struct {
	q     chan decodedChunk
	free  chan []byte
	stop  chan struct{}
	done  chan struct{}
	cur   decodedChunk
	off   int
	read  int64 // bytes handed out
	err   error
	once  sync.Once
	limit int64
}

type decodedChunk struct {
	b   []byte
	err error
}

// newDecodedStream starts decompressing src (compression c) into a
// stream of at most limit bytes.
func newDecodedStream(c Compression, src io.Reader, limit int64) *decodedStream {
	d := &decodedStream{
		q: make(chan decodedChunk, decodedChunks), free: make(chan []byte, decodedChunks),
		stop: make(chan struct{}), done: make(chan struct{}), limit: limit,
	}
	for range decodedChunks {
		d.free <- make([]byte, decodedChunkSize)
	}
	go d.run(c, src)
	return d
}

// run decompresses until the stream ends, fails, passes the limit or is
// stopped.
func (d *decodedStream) run(c Compression, src io.Reader) {
	defer close(d.done)
	dec, closeDec, err := openWhole(c, src)
	if err != nil {
		d.send(decodedChunk{err: asDecodeError(err)})
		return
	}
	defer closeDec()
	var n int64
	for {
		var b []byte
		select {
		case b = <-d.free:
		case <-d.stop:
			return
		}
		m, err := fill(dec, b)
		n += int64(m)
		if n > d.limit {
			err = errExpands
		}
		err = asDecodeError(err)
		if !d.send(decodedChunk{b: b[:m], err: err}) || err != nil {
			return
		}
	}
}

// send queues a chunk; false once the stream is stopped.
func (d *decodedStream) send(c decodedChunk) bool {
	select {
	case d.q <- c:
		return true
	case <-d.stop:
		return false
	}
}

// Read implements io.Reader for the tar reader.
func (d *decodedStream) Read(p []byte) (int, error) {
	for d.off == len(d.cur.b) {
		if d.err != nil {
			return 0, d.err
		}
		if d.cur.b != nil {
			d.free <- d.cur.b[:cap(d.cur.b)]
		}
		d.cur, d.off = <-d.q, 0
		d.err = d.cur.err
	}
	n := copy(p, d.cur.b[d.off:])
	d.off += n
	d.read += int64(n)
	return n, nil
}

// consumed is the number of decompressed bytes handed out so far: right
// after the tar reader's Next, the stream offset of the entry's data.
func (d *decodedStream) consumed() int64 { return d.read }

// drain reads the rest of the stream after the tar end marker and reports
// whether any of it was not zero; the error is the decoder's (nil at a
// clean end).
func (d *decodedStream) drain() (nonZero bool, err error) {
	var buf [32 << 10]byte
	for {
		n, err := d.Read(buf[:])
		for _, b := range buf[:n] {
			if b != 0 {
				nonZero = true
				break
			}
		}
		if errors.Is(err, io.EOF) {
			return nonZero, nil
		}
		if err != nil {
			return nonZero, err
		}
	}
}

// close stops the decoder goroutine and waits for it. It is safe to call
// more than once.
func (d *decodedStream) close() {
	d.once.Do(func() {
		close(d.stop)
		<-d.done
	})
}

// decodedAt reads the decompressed stream of a compressed archive at
// offsets, for the deferred layers decompressed after the pass: reading at
// an offset at or after the last read's end goes on decompressing; reading
// before it starts again from the file's start.
type decodedAt struct {
	f     *os.File
	size  int64
	c     Compression
	mu    sync.Mutex
	dec   io.Reader
	close func()
	pos   int64
}

// ReadAt implements io.ReaderAt.
func (d *decodedAt) ReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil || off < d.pos {
		d.release()
		dec, closeDec, err := openWhole(d.c, io.NewSectionReader(d.f, 0, d.size))
		if err != nil {
			return 0, err
		}
		d.dec, d.close, d.pos = dec, closeDec, 0
	}
	if off > d.pos {
		n, err := io.CopyN(io.Discard, d.dec, off-d.pos)
		d.pos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(d.dec, p)
	d.pos += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// release closes the current decoder.
func (d *decodedAt) release() {
	if d.close != nil {
		d.close()
	}
	d.dec, d.close = nil, nil
}
