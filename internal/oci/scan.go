package oci

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// ScanOptions configure Scan. The zero value is the default.
type ScanOptions struct {
	// Progress, when set, is called about every ProgressInterval with the
	// bytes read so far and the file's size. It is called from Scan's
	// goroutine.
	Progress func(read, total int64)
	// ProgressInterval is how often Progress is called; default 2s.
	ProgressInterval time.Duration
	// MaxJSONSize bounds any JSON entry kept in memory (manifest.json,
	// index.json, configs, image manifests); default 32 MiB. A larger
	// entry that has to be parsed is an ErrTooLarge error naming it. All
	// JSON-looking entries kept together are bounded by 2 × MaxJSONSize;
	// beyond that they are streamed like any other entry (and are an
	// ErrTooLarge error only if they turn out to be needed).
	MaxJSONSize int64
	// MaxRatio bounds how much a gzip or zstd entry may expand: its
	// decompressed size may not exceed MaxRatio × its stored size or
	// 256 MiB, whichever is larger; default 1024 (about the most gzip can
	// reach). Decompression streams whatever the limit, so memory stays
	// bounded; the limit only stops a bomb from running for ever.
	MaxRatio int64
}

const defaultMaxJSONSize = 32 << 20

func (o ScanOptions) maxJSON() int64 {
	if o.MaxJSONSize > 0 {
		return o.MaxJSONSize
	}
	return defaultMaxJSONSize
}

func (o ScanOptions) maxRatio() int64 {
	if o.MaxRatio > 0 {
		return o.MaxRatio
	}
	return 1024
}

// Scan reads the image archive at path in one sequential pass and returns
// what it holds, checked for consistency (ARCHITECTURE.md "Data flow",
// "Archive rules"):
// the sha256 of the whole file, of every entry, the diffIDs of gzip and zstd
// layers, manifest.json or index.json with every image they name, blobs
// hashing to their names, and diffIDs equal to each config's rootfs.diff_ids.
//
// Memory stays bounded whatever the archive's size: only JSON entries are
// kept, everything else is streamed. The whole-file hash runs in its own
// goroutine beside entry hashing, and decompression in another.
//
// Errors wrap the sentinels of errors.go and name the archive and the entry.
func Scan(ctx context.Context, path string, opts ScanOptions) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening image archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening image archive: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fail(path, "", "%w: %s is not a regular file", ErrNotArchive, path)
	}
	s := &scanner{path: path, opts: opts, t: &table{path: path, byName: map[string]*entry{}}}
	size, sum, err := s.pass(ctx, f, st.Size())
	if err != nil {
		return nil, err
	}
	a, err := s.t.interpret(opts)
	if err != nil {
		return nil, err
	}
	a.Path, a.Size, a.TarDigest = path, size, sum
	return a, nil
}

// scanner holds the state of one pass.
type scanner struct {
	path     string
	opts     ScanOptions
	t        *table
	jsonKept int64
	free     chan []byte
	decs     decoders
}

// pass reads the file once, recording every entry.
func (s *scanner) pass(ctx context.Context, f io.Reader, total int64) (int64, digest.Digest, error) {
	fr, fh := newFileReader(ctx, f, total, s.opts)
	defer fr.close(fh)
	defer s.decs.close()
	s.free = make(chan []byte, entryBufCount)
	for range entryBufCount {
		s.free <- make([]byte, entryBufSize)
	}
	tr := tar.NewReader(fr)
	count := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, "", s.readErr(ctx, fr, "", count, err)
		}
		count++
		if err := s.record(ctx, tr, fr, hdr); err != nil {
			return 0, "", err
		}
	}
	if count == 0 {
		return 0, "", s.readErr(ctx, fr, "", 0, io.EOF)
	}
	nonZero, err := fr.drain()
	if err != nil {
		return 0, "", s.readErr(ctx, fr, "", count, err)
	}
	if nonZero {
		return 0, "", fail(s.path, "", "%w: data follows the end of the tar archive", ErrNotArchive)
	}
	fr.close(fh)
	return fr.read, digest.NewDigest(digest.SHA256, fh.h), nil
}

// readErr turns an error from the tar reader into a Scan error.
func (s *scanner) readErr(ctx context.Context, fr *fileReader, name string, count int, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("reading image archive %q: %w", s.path, ctx.Err())
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("reading image archive %q: %w", s.path, err)
	}
	if count == 0 {
		what := "it is not a tar archive"
		switch sniff(fr.peekFirst()) {
		case CompressionGzip:
			what = "it is gzip-compressed; decompress it first (gunzip)"
		case CompressionZstd:
			what = "it is zstd-compressed; decompress it first (zstd -d)"
		}
		switch {
		case fr.read == 0:
			what = "the file is empty"
		case errors.Is(err, io.EOF):
			what = "it is a tar archive without entries"
		}
		return fail(s.path, "", "%w: %s", ErrNotArchive, what)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fail(s.path, name, "%w: the file ends after %d bytes, inside a tar entry; re-create or re-download it", ErrTruncated, fr.read)
	}
	return fail(s.path, name, "%w: reading the tar stream after %d entries: %v", ErrNotArchive, count, err)
}

// record reads one entry's content and records what it found.
func (s *scanner) record(ctx context.Context, tr *tar.Reader, fr *fileReader, hdr *tar.Header) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return fail(s.path, hdr.Name, "%w", err)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			// A sparse entry's holes read as zeros without being in the
			// file: its size could be anything. Image archives have none.
			return fail(s.path, hdr.Name, "%w: sparse file entries are not supported", ErrNotArchive)
		}
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX global metadata, not a file
	}
	if err := headerType(hdr); err != nil { // archive rules (tree.go)
		return fail(s.path, hdr.Name, "%w", err)
	}
	e := &entry{name: name, typ: hdr.Typeflag, size: hdr.Size}
	switch {
	case e.regular():
		if err := s.content(ctx, tr, fr, e); err != nil {
			return err
		}
	case hdr.Typeflag == tar.TypeSymlink:
		if e.linkname, err = symlinkTarget(name, hdr.Linkname); err != nil {
			return fail(s.path, hdr.Name, "%w", err)
		}
	case hdr.Typeflag == tar.TypeLink:
		if e.linkname, err = cleanName(hdr.Linkname); err != nil {
			return fail(s.path, hdr.Name, "hard link target %q: %w", hdr.Linkname, err)
		}
	}
	return s.t.add(e)
}

// content hashes a regular entry's bytes, decompresses and hashes them if
// they are gzip or zstd, and keeps them if they are JSON.
func (s *scanner) content(ctx context.Context, tr *tar.Reader, fr *fileReader, e *entry) error {
	maxJSON := s.opts.maxJSON()
	named := isNamedJSON(e.name)
	if named && e.size > maxJSON {
		return fail(s.path, e.name, "%w: %d bytes, more than the %d-byte limit for JSON", ErrTooLarge, e.size, maxJSON)
	}
	buf := <-s.free
	head := buf[:min(int64(len(buf)), e.size)]
	if _, err := io.ReadFull(tr, head); err != nil {
		s.free <- buf
		return s.readErr(ctx, fr, e.name, 1, err)
	}
	h := sha256.New()
	h.Write(head)
	e.compression = sniff(head)
	if e.compression == CompressionNone && (named || looksJSON(head)) {
		if named || (e.size <= maxJSON && s.jsonKept+e.size <= 2*maxJSON) {
			s.jsonKept += e.size
			e.json = make([]byte, e.size)
			copy(e.json, head)
			s.free <- buf
			if _, err := io.ReadFull(tr, e.json[len(head):]); err != nil {
				return s.readErr(ctx, fr, e.name, 1, err)
			}
			h.Write(e.json[len(head):])
			e.digest = digest.NewDigest(digest.SHA256, h)
			e.diffID = e.digest
			return nil
		}
		e.jsonDropped = true
	}
	if e.compression == CompressionNone {
		tc := newTarCheck() // archive rules: a layer must be a tar stream
		tc.feed(head)
		err := copyHash(tarCheckHash{h, tc}, tr, buf[:cap(buf)], e.size-int64(len(head)))
		s.free <- buf
		if notTar := tc.Close(); notTar != nil {
			e.notTar = notTarError(CompressionNone, notTar)
		}
		if err != nil {
			return s.readErr(ctx, fr, e.name, 1, err)
		}
		e.digest = digest.NewDigest(digest.SHA256, h)
		e.diffID = e.digest
		return nil
	}
	limit := max(s.opts.maxRatio()*e.size, minBombLimit)
	if e.size > 0 && limit/e.size < s.opts.maxRatio() { // overflow
		limit = 1<<63 - 1
	}
	d := startDecompressor(&s.decs, e.compression, limit, s.free)
	d.send(head)
	for left := e.size - int64(len(head)); left > 0; {
		b := <-s.free
		b = b[:min(int64(len(b)), left)]
		if _, err := io.ReadFull(tr, b); err != nil {
			s.free <- b[:cap(b)]
			d.finish()
			return s.readErr(ctx, fr, e.name, 1, err)
		}
		h.Write(b)
		left -= int64(len(b))
		d.send(b)
	}
	res := d.finish()
	e.digest = digest.NewDigest(digest.SHA256, h)
	e.diffID, e.decompressErr = res.diffID, res.err
	return nil
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
