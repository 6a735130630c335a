package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// ScanOptions configure Scan. The zero value is the default.
type ScanOptions struct {
	// Progress, when set, is called about every ProgressInterval with the
	// bytes read so far and the file's size. It is called from Scan's
	// goroutine.
	Progress func(read, total int64)
	// LayerProgress, when set, is called about every ProgressInterval while
	// a layer is decompressed after the pass (one that expands more than 64
	// times its stored size: see the package documentation), with the
	// layer's entry name, the stored bytes read of its size, and the bytes
	// decompressed so far. It is called from Scan's goroutine.
	LayerProgress func(entry string, read, size, decompressed int64)
	// ProgressInterval is how often Progress and LayerProgress are called;
	// default 2s.
	ProgressInterval time.Duration
	// MaxJSONSize bounds any JSON entry kept in memory (manifest.json,
	// index.json, configs, image manifests); default 32 MiB (manifest.json
	// and index.json are also bounded at 8 MiB). A larger entry that has to
	// be parsed is an ErrTooLarge error naming it. All
	// JSON-looking entries kept together are bounded by 2 × MaxJSONSize;
	// beyond that they are streamed like any other entry (and are an
	// ErrTooLarge error only if they turn out to be needed).
	MaxJSONSize int64
	// MaxTags bounds the RepoTags of one manifest.json entry; default 1024.
	// More is an ErrTooLarge error: every tag becomes a subject of the
	// statement.
	MaxTags int

	// TempDir is where OpenBlob of an archive compressed as a whole keeps
	// the blobs it decompressed (an unlinked file, released by Close).
	// Empty: the system's temporary directory.
	TempDir string

	// afterPass, when set, runs between the pass and the interpretation
	// (tests change the file there).
	afterPass func()
}

const (
	defaultMaxJSONSize = 32 << 20
	defaultMaxTags     = 1024
	// maxManifestNames bounds the images, tags and layer paths manifest.json
	// lists, all entries together (and so the memory the parsed manifest
	// and the images take).
	maxManifestNames = 1 << 16
	// maxImageList bounds manifest.json and index.json (with
	// ScanOptions.MaxJSONSize, when lower), which are kept and parsed: a
	// statement holds manifest.json (or an OCI layout's index.json) twice
	// and may have 2 MiB (attest.MaxStatementSize), so a larger one could
	// never be attested, and parsing one of 8 MiB stays inside the memory
	// budget.
	maxImageList = 8 << 20
)

func (o ScanOptions) maxJSON() int64 {
	if o.MaxJSONSize > 0 {
		return o.MaxJSONSize
	}
	return defaultMaxJSONSize
}

func (o ScanOptions) maxTags() int {
	if o.MaxTags > 0 {
		return o.MaxTags
	}
	return defaultMaxTags
}

func (o ScanOptions) interval() time.Duration {
	if o.ProgressInterval > 0 {
		return o.ProgressInterval
	}
	return 2 * time.Second
}

// Scan reads the image archive at path in one sequential pass and returns
// what it holds, checked for consistency (ARCHITECTURE.md, "Data flow" and
// "Archive rules"): the sha256 of the whole file, of every entry, the
// diffIDs of gzip and zstd layers, manifest.json or index.json with every
// image they name, blobs hashing to their names, and diffIDs equal to each
// config's rootfs.diff_ids.
//
// Memory stays bounded whatever the archive's size: only JSON entries are
// kept, everything else is streamed. The whole-file hash runs in its own
// goroutine beside entry hashing, and decompression in another. A layer
// that expands beyond the pass's budget is decompressed after the pass, from
// its bytes read again at the offset the pass recorded.
//
// Errors wrap the sentinels of errors.go and name the archive and the entry.
func Scan(ctx context.Context, path string, opts ScanOptions) (*Archive, error) {
	a, _, err := scan(ctx, path, opts)
	return a, err
}

// scanStats is what a scan cost (for tests: cost classes are tested by
// counting, not timing).
type scanStats struct {
	// decompressed counts decompressed bytes, in the pass and after it.
	decompressed atomic.Int64
	// deferred counts the entries whose decompression the pass deferred.
	deferred int
	// inflated counts the deferred entries decompressed after the pass, and
	// reread the stored bytes read again for them.
	inflated int
	reread   int64
	// work is what reading the archive's structure cost (work.go).
	work work
}

func scan(ctx context.Context, path string, opts ScanOptions) (*Archive, *scanStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening image archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("opening image archive: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fail(path, "", "%w: %s is not a regular file", ErrNotArchive, path)
	}
	s := &scanner{ctx: ctx, path: path, opts: opts, file: f, stats: &scanStats{}}
	switch c := archiveCompression(f); {
	case c.wholeDecompresses():
		s.whole = c
		s.file = &decodedAt{f: f, size: st.Size(), c: c}
		defer s.file.(*decodedAt).release()
	case c != CompressionNone:
		return nil, nil, fail(path, "", "%w: it is %s-compressed, which the reader does not decompress (an xz decoder takes whatever memory the stream asks for); decompress it first (%s) and pass the tar", ErrNotArchive, c, c.decompressCommand())
	}
	s.t = &table{path: path, byName: map[string]*entry{}, inflate: s.inflate}
	defer s.decs.close()
	defer func() { s.stats.work = s.t.work }()
	size, sum, err := s.pass(ctx, f, st.Size())
	if err != nil {
		return nil, s.stats, err
	}
	if opts.afterPass != nil {
		opts.afterPass()
	}
	a, err := s.t.interpret(opts)
	if err != nil {
		return nil, s.stats, err
	}
	a.Path, a.Size, a.TarDigest, a.Compression = path, size, sum, CompressionNone
	if s.whole != "" {
		a.Compression = s.whole
		a.tempDir, a.spill = opts.TempDir, &spill{}
	}
	return a, s.stats, nil
}

// scanner holds the state of one scan.
type scanner struct {
	ctx  context.Context
	path string
	opts ScanOptions
	// file reads the archive at offsets: the file, or its decompressed
	// stream when it is compressed as a whole (whole, compressed.go).
	file     io.ReaderAt
	whole    Compression
	src      tarSource
	t        *table
	jsonKept int64
	free     chan []byte
	decs     decoders
	stats    *scanStats
	h        hash.Hash
}

// tarSource is what the tar reader reads: the file, or the decompressed
// stream of a file compressed as a whole.
type tarSource interface {
	io.Reader
	// consumed is the offset of the next byte Read returns.
	consumed() int64
	// drain reads the rest after the tar end marker: whether any of it was
	// not zero.
	drain() (bool, error)
}

// pass reads the file once, recording every entry.
func (s *scanner) pass(ctx context.Context, f io.Reader, total int64) (int64, digest.Digest, error) {
	fr, fh := newFileReader(ctx, f, total, s.opts)
	s.src = fr
	var ds *decodedStream
	if s.whole != "" {
		ds = newDecodedStream(s.whole, fr, maxArchiveRatio*total+maxArchiveSlack)
		s.src = ds
	}
	defer func() {
		fr.close(fh)
		if ds != nil {
			ds.close()
		}
	}()
	s.free = make(chan []byte, entryBufCount)
	for range entryBufCount {
		s.free <- make([]byte, entryBufSize)
	}
	tr := tar.NewReader(s.src)
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
	nonZero, err := s.src.drain()
	if err != nil {
		return 0, "", s.readErr(ctx, fr, "", count, err)
	}
	if nonZero {
		return 0, "", fail(s.path, "", "%w: data follows the end of the tar archive", ErrNotArchive)
	}
	if ds != nil {
		// The decoder read the compressed stream to its end; the rest of
		// the file, if any, is hashed (and must not be there).
		if rest, err := fr.drain(); err != nil || rest {
			return 0, "", fail(s.path, "", "%w: data follows the end of the %s stream", ErrNotArchive, s.whole)
		}
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
	if err := s.decodeErr(err, fr.read); err != nil {
		return err
	}
	if count == 0 {
		what := "it is not a tar archive"
		if s.whole != "" {
			what = fmt.Sprintf("it is %s-compressed, and what it decompresses to is not a tar archive", s.whole)
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

// decodeErr is the Scan error for a failure of the decoder of an archive
// compressed as a whole (nil for any other error).
func (s *scanner) decodeErr(err error, read int64) error {
	if s.whole == "" {
		return nil
	}
	if errors.Is(err, errExpands) {
		return fail(s.path, "", "%w: it is %s-compressed and decompresses to more than %d times its size: decompress it first (%s) and pass the tar", ErrTooLarge, s.whole, maxArchiveRatio, s.whole.decompressCommand())
	}
	var de *decodeError
	if errors.As(err, &de) {
		return fail(s.path, "", "%w: its %s stream is corrupt after %d bytes of the file: %v; re-create or re-download it", ErrNotArchive, s.whole, read, de.err)
	}
	return nil
}

// record reads one entry's content and records what it found.
func (s *scanner) record(ctx context.Context, tr *tar.Reader, fr *fileReader, hdr *tar.Header) error {
	if root(hdr.Name) {
		// The directory being extracted into ("./", as tar -C DIR . writes
		// it): extractors skip it (go-archive's Unpack) or set its mode
		// (GNU tar), lexical readers never look it up. Anything else there
		// would replace the root.
		if hdr.Typeflag != tar.TypeDir {
			return fail(s.path, hdr.Name, "%w: a %s at the archive's root, where only the root directory may be", ErrUnsafePath, kindOf(&entry{typ: hdr.Typeflag}))
		}
		return nil
	}
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
