package oci

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"time"
)

// inflate decompresses an entry the pass deferred, once an image turns out
// to use it as a layer: it reads the entry's stored bytes again at the
// offset the pass recorded, checks that they hash to the digest the pass
// computed, and decompresses them to the end, whatever their ratio (memory
// stays constant; time follows the decompressed bytes, reported through
// ScanOptions.LayerProgress).
func (s *scanner) inflate(e *entry) error {
	if !e.deferred {
		return nil
	}
	s.stats.inflated++
	in := &inflation{s: s, e: e, h: sha256.New(), tick: time.NewTicker(s.opts.interval())}
	in.d = startDecompressor(&s.decs, e.compression, noLimit, s.free, &s.stats.decompressed)
	defer in.tick.Stop()
	rerr := in.feed(io.NewSectionReader(s.file, e.offset, e.size))
	if rerr != nil {
		in.d.abort()
	}
	close(in.d.in)
	res := in.result()
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("reading image archive %q: %w", s.path, err)
	}
	if rerr != nil {
		return fail(s.path, e.name, "%w: reading the entry again after the pass: %v; the file changed while it was read", ErrDigestMismatch, rerr)
	}
	var sum [sha256.Size]byte
	if in.h.Sum(sum[:0]); sum != e.sum {
		return fail(s.path, e.name, "%w: read again after the pass, the entry hashes to %s, not %s: the file changed while it was read", ErrDigestMismatch, sha256Digest(sum), e.digest())
	}
	e.deferred = false
	e.decompressErr = res.err
	if res.ok {
		e.setDiff(res.diff)
	}
	return nil
}

// inflation is a deferred entry being decompressed after the pass, its
// progress reported on every tick while it waits for a buffer, for the
// decompressor, or for the result.
type inflation struct {
	s    *scanner
	e    *entry
	d    *decompressor
	h    hash.Hash // of the stored bytes read again
	tick *time.Ticker
	read int64 // stored bytes read again so far
}

// report reports the inflation's progress to ScanOptions.LayerProgress.
func (in *inflation) report() {
	if p := in.s.opts.LayerProgress; p != nil {
		p(in.e.name, in.read, in.e.size, in.d.out.Load())
	}
}

// feed reads the entry's stored bytes again from sr, hashes them and hands
// them to the decompressor, until they end, a read fails or the scan is
// cancelled (the error).
func (in *inflation) feed(sr io.Reader) error {
	for in.read < in.e.size {
		b, err := in.buffer()
		if err != nil {
			return err
		}
		b = b[:min(int64(len(b)), in.e.size-in.read)]
		if _, err := io.ReadFull(sr, b); err != nil {
			in.s.free <- b[:cap(b)]
			return err
		}
		in.h.Write(b)
		in.read += int64(len(b))
		in.s.stats.reread += int64(len(b))
		if err := in.send(b); err != nil {
			return err
		}
	}
	return nil
}

// buffer waits for a free buffer; an error when the scan is cancelled.
func (in *inflation) buffer() ([]byte, error) {
	for {
		select {
		case b := <-in.s.free:
			return b, nil
		case <-in.tick.C:
			in.report()
		case <-in.s.ctx.Done():
			return nil, in.s.ctx.Err()
		}
	}
}

// send hands b to the decompressor; when the scan is cancelled first, it
// returns b to the pool and the error.
func (in *inflation) send(b []byte) error {
	for {
		select {
		case in.d.in <- b:
			return nil
		case <-in.tick.C:
			in.report()
		case <-in.s.ctx.Done():
			in.s.free <- b[:cap(b)]
			return in.s.ctx.Err()
		}
	}
}

// result waits for the decompressor's result once its input is closed; a
// cancelled scan aborts it.
func (in *inflation) result() decompressResult {
	for cancelled := in.s.ctx.Done(); ; {
		select {
		case res := <-in.d.res:
			return res
		case <-in.tick.C:
			in.report()
		case <-cancelled:
			in.d.abort()
			cancelled = nil
		}
	}
}
