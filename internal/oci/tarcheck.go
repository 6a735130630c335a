package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// tarCheck tells whether the bytes written to it are a tar stream that Go's
// archive/tar reads to its end marker (or to the end of the bytes): what
// docker (go-archive), containerd and containers/storage apply layers with.
// A layer that is not one cannot be applied by any of them (docs/archives.md,
// "Archive rules").
//
// Plain headers (USTAR or GNU magic, a valid checksum, clean octal
// numbers, a typeflag '0'–'7') are checked in place, exactly as
// archive/tar would read them, and their contents skipped. At the first
// other header (PAX, GNU long names, sparse, base-256 numbers, the end
// marker, anything doubtful) the rest of the stream, from that header on,
// goes to archive/tar's own reader in a goroutine: it skips entry
// contents through Seek, which the writer applies without handing those
// bytes over, so nothing is copied. feed never fails: the verdict is
// Close's.
type tarCheck struct {
	// The plain-header path (the writer's side).
	hdr  [512]byte
	hn   int   // bytes of hdr filled
	left int64 // bytes of content and padding still to skip
	slow bool  // the goroutine reads from here on

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
	return &tarCheck{}
}

// goSlow starts archive/tar's reader on the rest of the stream.
func (c *tarCheck) goSlow() {
	c.slow = true
	c.data, c.back, c.done = make(chan []byte), make(chan struct{}), make(chan struct{})
	go c.run()
}

func (c *tarCheck) run() {
	defer close(c.done)
	tr := tar.NewReader(c)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return // the end marker, or the stream ends between entries
		}
		if errors.Is(err, tar.ErrInsecurePath) {
			continue // only with GODEBUG=tarinsecurepath=0; the stream is tar
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

// feed checks p: plain headers here, the rest by the reader goroutine.
func (c *tarCheck) feed(p []byte) {
	for len(p) > 0 && !c.slow {
		if c.left > 0 {
			k := min(c.left, int64(len(p)))
			c.left -= k
			p = p[k:]
			continue
		}
		k := copy(c.hdr[c.hn:], p)
		c.hn += k
		p = p[k:]
		if c.hn < len(c.hdr) {
			return
		}
		c.hn = 0
		size, ok := plainHeader(&c.hdr)
		if !ok {
			c.goSlow()
			c.slowFeed(c.hdr[:])
			break
		}
		c.left = (size + 511) &^ 511
	}
	if c.slow {
		c.slowFeed(p)
	}
}

// slowFeed hands p to the reader goroutine and waits until it is done
// with it.
func (c *tarCheck) slowFeed(p []byte) {
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
	if !c.slow {
		if c.hn > 0 || c.left > 0 {
			return errors.New("the tar stream ends inside an entry")
		}
		return nil // the stream ends between entries: archive/tar reads it so
	}
	close(c.data)
	<-c.done
	return c.err
}

// plainHeader reports whether b is a header archive/tar reads without
// error and without looking further (USTAR or GNU, checksum right, every
// number it parses plain octal, typeflag '0'–'7', not star), and the
// content size that follows it.
func plainHeader(b *[512]byte) (int64, bool) {
	ustar := string(b[257:263]) == "ustar\x00" && string(b[263:265]) == "00"
	gnu := string(b[257:265]) == "ustar  \x00"
	if !ustar && !gnu || (ustar && string(b[508:512]) == "tar\x00") {
		return 0, false
	}
	if b[156] < '0' || b[156] > '7' {
		return 0, false
	}
	sum, ok := plainOctal(b[148:156])
	if !ok {
		return 0, false
	}
	// The sum of the bytes with the checksum field as spaces, unsigned
	// (the standard) or signed (some old writers), as archive/tar accepts.
	unsigned := int64(8 * ' ')
	for _, c := range b[:148] {
		unsigned += int64(c)
	}
	for _, c := range b[156:] {
		unsigned += int64(c)
	}
	if sum != unsigned {
		signed := int64(8 * ' ')
		for i, c := range b {
			if i < 148 || i >= 156 {
				signed += int64(int8(c))
			}
		}
		if sum != signed {
			return 0, false
		}
	}
	var size int64
	for _, f := range [][2]int{{100, 108}, {108, 116}, {116, 124}, {124, 136}, {136, 148}, {329, 337}, {337, 345}} {
		v, ok := plainOctal(b[f[0]:f[1]])
		if !ok {
			return 0, false
		}
		if f[0] == 124 {
			size = v
		}
	}
	switch b[156] {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return 0, true // header-only types: archive/tar skips no content
	}
	return size, true
}

// plainOctal parses a numeric field as archive/tar's parseOctal does
// (spaces and NULs trimmed at both ends, the rest up to a NUL in octal),
// accepting only what it accepts; base-256 fields are not plain.
func plainOctal(f []byte) (int64, bool) {
	if len(f) > 0 && f[0]&0x80 != 0 {
		return 0, false
	}
	f = bytes.Trim(f, " \x00")
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	var v int64
	for _, c := range f {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v<<3 | int64(c-'0')
	}
	return v, true
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
