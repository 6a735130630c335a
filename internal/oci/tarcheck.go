package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// tarCheck tells whether the bytes written to it are a tar stream that Go's
// archive/tar reads to its end marker (or to the end of the bytes): what
// docker (go-archive), containerd and containers/storage apply layers with.
// A layer that is not one cannot be applied by any of them (README "Archive
// rules").
//
// It runs archive/tar's reader in its own goroutine and hands it each
// written buffer; the reader skips entry contents through Seek, which the
// writer applies without handing those bytes over, so the cost is the
// headers only and nothing is copied. Write never fails: the verdict is
// Close's.
type tarCheck struct {
	data chan []byte   // Write → reader: bytes to read
	back chan struct{} // reader → Write: done with them
	done chan struct{} // closed when the reader has its verdict
	err  error         // the verdict, set before done is closed

	mu   sync.Mutex
	skip int64 // bytes the reader skipped and Write must drop

	// The reader goroutine's own state.
	cur     []byte
	holding bool
	pos     int64
	eof     bool
}

// newTarCheck starts a check; Close must be called to end it.
func newTarCheck() *tarCheck {
	c := &tarCheck{data: make(chan []byte), back: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *tarCheck) run() {
	defer close(c.done)
	tr := tar.NewReader(c)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return // the end marker, or the stream ends between entries
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("the tar stream ends inside an entry")
			}
			c.err = err
			return
		}
	}
}

// Write implements io.Writer; it never fails (see feed).
func (c *tarCheck) Write(p []byte) (int, error) {
	c.feed(p)
	return len(p), nil
}

// feed hands p to the reader and waits until it is done with it.
func (c *tarCheck) feed(p []byte) {
	for len(p) > 0 {
		c.mu.Lock()
		k := min(c.skip, int64(len(p)))
		c.skip -= k
		c.mu.Unlock()
		if p = p[k:]; len(p) == 0 {
			break
		}
		select {
		case c.data <- p:
		case <-c.done:
			return
		}
		select {
		case <-c.back:
		case <-c.done:
			return
		}
		p = nil // the reader consumed p (read it or skipped the rest)
	}
}

// Close says the stream ended and returns the verdict: nil, or why the
// bytes are not a tar stream.
func (c *tarCheck) Close() error {
	close(c.data)
	<-c.done
	return c.err
}

// Read implements io.Reader for the tar reader.
func (c *tarCheck) Read(b []byte) (int, error) {
	if len(c.cur) == 0 {
		if c.holding {
			c.holding = false
			c.back <- struct{}{}
		}
		if c.eof {
			return 0, io.EOF
		}
		p, ok := <-c.data
		if !ok {
			c.eof = true
			return 0, io.EOF
		}
		c.cur, c.holding = p, true
	}
	n := copy(b, c.cur)
	c.cur = c.cur[n:]
	c.pos += int64(n)
	return n, nil
}

// Seek implements relative seeks for the tar reader, which skips entry
// contents with Seek(n, io.SeekCurrent): the bytes in hand are dropped, the
// rest are left for Write to drop.
func (c *tarCheck) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || off < 0 {
		return c.pos, fmt.Errorf("tarCheck: unsupported seek %d, %d", off, whence)
	}
	k := min(off, int64(len(c.cur)))
	c.cur = c.cur[k:]
	if rest := off - k; rest > 0 {
		c.mu.Lock()
		c.skip += rest
		c.mu.Unlock()
	}
	c.pos += off
	return c.pos, nil
}

// tarCheckHash is a hash that also feeds a tarCheck.
type tarCheckHash struct {
	hash.Hash
	c *tarCheck
}

func (h tarCheckHash) Write(p []byte) (int, error) {
	h.Hash.Write(p)
	h.c.feed(p)
	return len(p), nil
}

// checkTarBytes checks b (a layer kept in memory) with a tarCheck.
func checkTarBytes(b []byte) error {
	c := newTarCheck()
	c.feed(b)
	return c.Close()
}

// notTarError is the error for a layer whose stream is not tar.
func notTarError(c Compression, err error) error {
	if c == CompressionNone {
		return fmt.Errorf("%w: %w; no loader can apply it: re-save the image with the tool that produced it", ErrNotLayer, err)
	}
	return fmt.Errorf("%w: decompressed from %s: %w; no loader can apply it: re-save the image with the tool that produced it", ErrNotLayer, c, err)
}
