package oci

import (
	"crypto/sha256"
	"fmt"
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
	sr := io.NewSectionReader(s.file, e.offset, e.size)
	h := sha256.New()
	d := startDecompressor(&s.decs, e.compression, noLimit, s.free, &s.stats.decompressed)
	tick := time.NewTicker(s.opts.interval())
	defer tick.Stop()
	var read int64
	report := func() {
		if p := s.opts.LayerProgress; p != nil {
			p(e.name, read, e.size, d.out.Load())
		}
	}
	var rerr error
feed:
	for read < e.size {
		var b []byte
	wait:
		for {
			select {
			case b = <-s.free:
				break wait
			case <-tick.C:
				report()
			case <-s.ctx.Done():
				rerr = s.ctx.Err()
				break feed
			}
		}
		b = b[:min(int64(len(b)), e.size-read)]
		if _, err := io.ReadFull(sr, b); err != nil {
			s.free <- b[:cap(b)]
			rerr = err
			break
		}
		h.Write(b)
		read += int64(len(b))
		s.stats.reread += int64(len(b))
		for sent := false; !sent; {
			select {
			case d.in <- b:
				sent = true
			case <-tick.C:
				report()
			case <-s.ctx.Done():
				s.free <- b[:cap(b)]
				rerr = s.ctx.Err()
				break feed
			}
		}
	}
	if rerr != nil {
		d.abort()
	}
	close(d.in)
	var res decompressResult
	for done, cancelled := false, s.ctx.Done(); !done; {
		select {
		case res = <-d.res:
			done = true
		case <-tick.C:
			report()
		case <-cancelled:
			d.abort()
			cancelled = nil
		}
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("reading image archive %q: %w", s.path, err)
	}
	if rerr != nil {
		return fail(s.path, e.name, "%w: reading the entry again after the pass: %v; the file changed while it was read", ErrDigestMismatch, rerr)
	}
	var sum [sha256.Size]byte
	if h.Sum(sum[:0]); sum != e.sum {
		return fail(s.path, e.name, "%w: read again after the pass, the entry hashes to %s, not %s: the file changed while it was read", ErrDigestMismatch, sha256Digest(sum), e.digest())
	}
	e.deferred = false
	e.decompressErr = res.err
	if res.ok {
		e.setDiff(res.diff)
	}
	return nil
}
