package oci

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"hash"
	"io"
	"math"
)

// content hashes a regular entry's bytes, decompresses and hashes them if
// they are gzip or zstd (within the pass's budget), and keeps them if they
// are JSON. It records the offset of the entry's data in the file.
func (s *scanner) content(ctx context.Context, tr *tar.Reader, fr *fileReader, e *entry) error {
	e.offset = s.src.consumed()
	named := isNamedJSON(e.name)
	if maxJSON := s.opts.maxJSON(); named && e.size > maxJSON {
		return fail(s.path, e.name, "%w: %d bytes, more than the %d-byte limit for JSON", ErrTooLarge, e.size, maxJSON)
	}
	if (e.name == "manifest.json" || e.name == "index.json") && e.size > maxImageList {
		return fail(s.path, e.name, "%w: %d bytes, more than the %d bytes manifest.json and index.json may have (README \"Limits\"); save fewer images in one archive", ErrTooLarge, e.size, maxImageList)
	}
	buf := <-s.free
	head := buf[:min(int64(len(buf)), e.size)]
	if _, err := io.ReadFull(tr, head); err != nil {
		s.free <- buf
		return s.readErr(ctx, fr, e.name, 1, err)
	}
	h := s.hasher()
	h.Write(head)
	e.compression = sniff(head)
	var err error
	switch {
	case s.keepsJSON(e, named, head):
		err = s.keepJSON(tr, e, buf, head, h)
	case !e.compression.decompresses() || e.size < passMinSize:
		// Uncompressed; or a compression no importer of ours reads (xz,
		// bzip2: refused if an image uses it as a layer); or a compressed
		// entry too small to be worth decompressing now (decompressing
		// costs at least a zstd block, up to 128 KiB, whatever the entry's
		// size): deferred, decompressed after the pass if it is a layer.
		err = s.hashStored(tr, e, buf, head, h)
	default:
		err = s.decompressInPass(tr, e, head, h)
	}
	if err != nil {
		return s.readErr(ctx, fr, e.name, 1, err)
	}
	return nil
}

// keepsJSON reports whether the entry, whose first bytes are head, is JSON
// to keep: a named JSON file, or an uncompressed entry that looks like JSON
// while the scan's JSON budget (MaxJSONSize each, twice that in all) lasts.
// One that looks like JSON beyond the budget is marked jsonDropped.
func (s *scanner) keepsJSON(e *entry, named bool, head []byte) bool {
	if e.compression != CompressionNone || (!named && !looksJSON(head)) {
		return false
	}
	maxJSON := s.opts.maxJSON()
	if named || (e.size <= maxJSON && s.jsonKept+e.size <= 2*maxJSON) {
		return true
	}
	e.jsonDropped = true
	return false
}

// keepJSON keeps a JSON entry's bytes: head (read into buf, and hashed by
// h), then the rest. It returns the tar reader's error.
func (s *scanner) keepJSON(tr *tar.Reader, e *entry, buf, head []byte, h hash.Hash) error {
	s.jsonKept += e.size
	e.json = make([]byte, e.size)
	copy(e.json, head)
	s.free <- buf
	if _, err := io.ReadFull(tr, e.json[len(head):]); err != nil {
		return err
	}
	h.Write(e.json[len(head):])
	h.Sum(e.sum[:0])
	e.setDiff(e.sum)
	return nil
}

// hashStored hashes an entry's stored bytes without decompressing them —
// head (read into buf, and hashed by h), then the rest — and checks that
// an uncompressed one is a tar stream. A compressed one is deferred. It
// returns the tar reader's error.
func (s *scanner) hashStored(tr *tar.Reader, e *entry, buf, head []byte, h hash.Hash) error {
	hh := h
	var tc *tarCheck
	if e.compression == CompressionNone {
		tc = newTarCheck() // archive rules: a layer must be a tar stream
		tc.feed(head)
		hh = tarCheckHash{h, tc}
	}
	err := copyHash(hh, tr, buf[:cap(buf)], e.size-int64(len(head)))
	s.free <- buf
	if tc != nil {
		if notTar := tc.Close(); notTar != nil {
			e.notTar = notTarError(CompressionNone, notTar)
		}
	}
	if err != nil {
		return err
	}
	h.Sum(e.sum[:0])
	switch {
	case e.compression == CompressionNone:
		e.setDiff(e.sum)
	case e.compression.decompresses():
		e.deferred = true
		s.stats.deferred++
	}
	return nil
}

// decompressInPass hashes a compressed entry's stored bytes — head
// (hashed by h), then the rest — while a decompressor hashes what they
// decompress to, within the pass's budget: beyond it, the entry is
// deferred. It returns the tar reader's error.
func (s *scanner) decompressInPass(tr *tar.Reader, e *entry, head []byte, h hash.Hash) error {
	d := startDecompressor(&s.decs, e.compression, passBudget(e.size), s.free, &s.stats.decompressed)
	d.send(head)
	for left := e.size - int64(len(head)); left > 0; {
		b := <-s.free
		b = b[:min(int64(len(b)), left)]
		if _, err := io.ReadFull(tr, b); err != nil {
			s.free <- b[:cap(b)]
			d.finish()
			return err
		}
		h.Write(b)
		left -= int64(len(b))
		d.send(b)
	}
	res := d.finish()
	h.Sum(e.sum[:0])
	e.decompressErr, e.deferred = res.err, res.deferred
	if res.ok {
		e.setDiff(res.diff)
	}
	if e.deferred {
		s.stats.deferred++
	}
	return nil
}

// hasher returns the scan's sha256 hasher for an entry's stored bytes,
// reset (one hasher for every entry: an archive may have 65536).
func (s *scanner) hasher() hash.Hash {
	if s.h == nil {
		s.h = sha256.New()
	}
	s.h.Reset()
	return s.h
}

// passBudget is how many decompressed bytes an entry of size stored bytes
// (at least passMinSize) may cost during the pass: passRatio × its share of
// the file.
func passBudget(size int64) int64 {
	if size >= math.MaxInt64/passRatio-512 {
		return math.MaxInt64 - 1
	}
	return passRatio * (size + 512)
}

// copyHash hashes the next n bytes of r using buf.
func copyHash(h hash.Hash, r io.Reader, buf []byte, n int64) error {
	for n > 0 {
		b := buf[:min(int64(len(buf)), n)]
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		h.Write(b)
		n -= int64(len(b))
	}
	return nil
}

// isNamedJSON reports whether name is one of the JSON files an archive is
// read through; they are always kept (up to MaxJSONSize).
func isNamedJSON(name string) bool {
	switch name {
	case "manifest.json", "index.json", "oci-layout", "repositories":
		return true
	}
	return false
}

// looksJSON reports whether b starts like a JSON object or array.
func looksJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}
