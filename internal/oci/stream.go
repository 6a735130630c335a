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
	// chunkCount is how many chunks may be in flight between the file
	// reader, the whole-file hasher and the tar reader (memory: chunkCount ×
	// chunkSize). A deep pipeline keeps both cores busy on a loaded machine.
	chunkCount = 8
)

// chunk is a pooled buffer of file bytes shared by the tar reader and the
// whole-file hasher; it goes back to the pool when both are done with it.
type chunk struct {
	buf  []byte
	n    int
	err  error // set on the last chunk sent to the tar reader: why reading stopped
	refs atomic.Int32
	free chan *chunk
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.free <- c
	}
}

// fileReader reads the archive file once, in chunks, in its own goroutine.
// Every chunk goes both to the whole-file hasher (another goroutine) and to
// whoever reads from fileReader (the tar reader): the tar reader consumes
// exactly the bytes that are hashed. Three goroutines — read, hash the file,
// parse and hash entries — spread over two cores.
type fileReader struct {
	ctx      context.Context
	free     chan *chunk
	hashq    chan *chunk
	readq    chan *chunk
	stop     chan struct{}
	readDone chan struct{}
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

// errStopped is what Read returns once the reader was closed.
var errStopped = errors.New("archive reader closed")

// fileHasher is the goroutine that hashes every chunk fileReader reads.
type fileHasher struct {
	h    hash.Hash
	done chan struct{}
}

func newFileReader(ctx context.Context, f io.Reader, total int64, opts ScanOptions) (*fileReader, *fileHasher) {
	r := &fileReader{
		ctx:      ctx,
		free:     make(chan *chunk, chunkCount),
		hashq:    make(chan *chunk, chunkCount),
		readq:    make(chan *chunk, chunkCount),
		stop:     make(chan struct{}),
		readDone: make(chan struct{}),
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
	go r.readLoop(f)
	return r, fh
}

// readLoop reads the file into chunks until it ends, fails or is stopped.
// The last chunk sent to readq carries the reason reading stopped.
func (r *fileReader) readLoop(f io.Reader) {
	defer close(r.readDone)
	defer close(r.hashq)
	for {
		var c *chunk
		select {
		case c = <-r.free:
		case <-r.stop:
			return
		}
		n, err := io.ReadFull(f, c.buf)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		c.n, c.err = n, err
		if n > 0 {
			c.refs.Store(2)
			r.hashq <- c // never blocks: hashq holds every chunk there is
		} else {
			c.refs.Store(1)
		}
		select {
		case r.readq <- c:
		case <-r.stop:
			return
		}
		if err != nil {
			return
		}
	}
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

// next takes the next chunk from the read goroutine.
func (r *fileReader) next() error {
	if r.cur != nil {
		r.cur.release()
		r.cur = nil
	}
	for r.err == nil {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			break
		}
		var c *chunk
		select {
		case c = <-r.readq:
		case <-r.ctx.Done():
			r.err = r.ctx.Err()
			return r.err
		case <-r.stop:
			// closed: a decoder goroutine reading the file gives up.
			r.err = errStopped
			return r.err
		}
		if c.err != nil {
			r.err = c.err
		}
		if c.n == 0 {
			c.release()
			continue
		}
		r.cur, r.off = c, 0
		r.read += int64(c.n)
		if r.progress != nil {
			if now := time.Now(); now.Sub(r.last) >= r.interval {
				r.last = now
				r.progress(r.read, r.total)
			}
		}
		return nil
	}
	return r.err
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

// close stops the read and hash goroutines and waits for them. It is safe
// to call more than once.
func (r *fileReader) close(fh *fileHasher) {
	if r.closed {
		return
	}
	r.closed = true
	close(r.stop)
	<-r.readDone
	<-fh.done
}

// consumed is the number of file bytes handed out by Read so far: right
// after the tar reader's Next, the file offset of the entry's data.
func (r *fileReader) consumed() int64 {
	if r.cur == nil {
		return r.read
	}
	return r.read - int64(r.cur.n-r.off)
}
