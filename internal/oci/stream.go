package oci

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"sync/atomic"
	"time"
)

const (
	// chunkSize is the size of one read from the archive file.
	chunkSize = 1 << 20
	// chunkCount is how many chunks may be in flight between the reader
	// and the whole-file hasher (memory: chunkCount × chunkSize).
	chunkCount = 4
)

// chunk is a pooled buffer of file bytes shared by the tar reader and the
// whole-file hasher; it goes back to the pool when both are done with it.
type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
	free chan *chunk
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.free <- c
	}
}

// fileReader reads the archive file once, in chunks. Every chunk goes both
// to the whole-file hasher (its own goroutine) and to whoever reads from
// fileReader (the tar reader): the tar reader consumes exactly the bytes
// that are hashed.
type fileReader struct {
	ctx      context.Context
	f        io.Reader
	free     chan *chunk
	hashq    chan *chunk
	cur      *chunk
	off      int
	read     int64
	total    int64
	err      error
	progress func(read, total int64)
	interval time.Duration
	last     time.Time
	closed   bool
}

// fileHasher is the goroutine that hashes every chunk fileReader reads.
type fileHasher struct {
	h    hash.Hash
	done chan struct{}
}

func newFileReader(ctx context.Context, f io.Reader, total int64, opts ScanOptions) (*fileReader, *fileHasher) {
	r := &fileReader{
		ctx:      ctx,
		f:        f,
		free:     make(chan *chunk, chunkCount),
		hashq:    make(chan *chunk, chunkCount),
		total:    total,
		progress: opts.Progress,
		interval: opts.ProgressInterval,
		last:     time.Now(),
	}
	if r.interval <= 0 {
		r.interval = 2 * time.Second
	}
	for range chunkCount {
		r.free <- &chunk{buf: make([]byte, chunkSize), free: r.free}
	}
	fh := &fileHasher{h: sha256.New(), done: make(chan struct{})}
	go func() {
		defer close(fh.done)
		for c := range r.hashq {
			fh.h.Write(c.buf[:c.n])
			c.release()
		}
	}()
	return r, fh
}

// Read implements io.Reader for the tar reader.
func (r *fileReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.cur == nil || r.off == r.cur.n {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur.buf[r.off:r.cur.n])
	r.off += n
	return n, nil
}

// next reads the next chunk from the file and hands it to the hasher.
func (r *fileReader) next() error {
	if r.cur != nil {
		r.cur.release()
		r.cur = nil
	}
	if r.err != nil {
		return r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return err
	}
	var c *chunk
	select {
	case c = <-r.free:
	case <-r.ctx.Done():
		r.err = r.ctx.Err()
		return r.err
	}
	n, err := io.ReadFull(r.f, c.buf)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	if err != nil {
		r.err = err
	}
	if n == 0 {
		c.free <- c
		return r.err
	}
	c.n = n
	c.refs.Store(2)
	r.hashq <- c
	r.cur, r.off = c, 0
	r.read += int64(n)
	if r.progress != nil {
		if now := time.Now(); now.Sub(r.last) >= r.interval {
			r.last = now
			r.progress(r.read, r.total)
		}
	}
	return nil
}

// drain reads the rest of the file (after the tar end marker) so that the
// whole file is hashed, and reports whether any of it was not zero.
func (r *fileReader) drain() (nonZero bool, err error) {
	for {
		if r.cur != nil {
			for _, b := range r.cur.buf[r.off:r.cur.n] {
				if b != 0 {
					nonZero = true
					break
				}
			}
			r.off = r.cur.n
		}
		if err := r.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nonZero, nil
			}
			return nonZero, err
		}
	}
}

// close stops the hasher goroutine and waits for it. It is safe to call
// more than once.
func (r *fileReader) close(fh *fileHasher) {
	if r.closed {
		return
	}
	r.closed = true
	if r.cur != nil {
		r.cur.release()
		r.cur = nil
	}
	close(r.hashq)
	<-fh.done
}

// peekFirst returns the first bytes of the current chunk when it is the
// file's first chunk (for telling compressed archives apart).
func (r *fileReader) peekFirst() []byte {
	if r.cur == nil || r.read != int64(r.cur.n) {
		return nil
	}
	return r.cur.buf[:min(r.cur.n, 8)]
}
