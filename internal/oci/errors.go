package oci

import (
	"errors"
	"fmt"
)

// Sentinel errors. Scan wraps them with the archive path and the entry at
// fault; check them with errors.Is.
var (
	// ErrNotArchive is returned by Scan when the file is not an uncompressed
	// tar archive, or is a tar archive with neither manifest.json nor
	// index.json (so not an image archive).
	ErrNotArchive = errors.New("not an image archive")
	// ErrTruncated is returned by Scan when the file ends in the middle of a
	// tar header or entry.
	ErrTruncated = errors.New("archive is truncated")
	// ErrUnsafePath is returned by Scan when an entry name or link target is
	// absolute, contains "..", or would resolve outside the archive.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrLinkLoop is returned by Scan when resolving a named path follows
	// symbolic or hard links in a loop (or more than 40 of them).
	ErrLinkLoop = errors.New("link loop")
	// ErrMissingBlob is returned by Scan when manifest.json or an OCI index
	// or manifest names a path or blob that is not in the archive.
	ErrMissingBlob = errors.New("missing from the archive")
	// ErrNotFile is returned by Scan when a named path is a directory or
	// another non-regular entry instead of a file.
	ErrNotFile = errors.New("not a regular file")
	// ErrDuplicateEntry is returned by Scan when the archive holds two
	// entries with the same name (which one a tool extracts is ambiguous).
	ErrDuplicateEntry = errors.New("duplicate entry")
	// ErrDigestMismatch is returned by Scan when a blob named by its digest
	// (blobs/<alg>/<hex>, <hex>.tar, <hex>.json, <hex>.tar.gz, sha256:<hex>)
	// does not hash to that digest, or when a descriptor's digest or size
	// does not match the blob it points to.
	ErrDigestMismatch = errors.New("content does not match its digest")
	// ErrDiffIDMismatch is returned by Scan when the computed digests of the
	// uncompressed layers differ from the config's rootfs.diff_ids.
	ErrDiffIDMismatch = errors.New("layer diffIDs do not match the config's rootfs.diff_ids")
	// ErrCorruptLayer is returned by Scan when a gzip or zstd layer cannot be
	// decompressed (truncated or corrupt stream, trailing data, or a zstd
	// window larger than the decoder allows).
	ErrCorruptLayer = errors.New("corrupt compressed layer")
	// ErrUnsupportedCompression is returned by Scan when a layer is
	// compressed with xz or bzip2: docker loads such layers but containerd's
	// importer does not, so they are refused.
	ErrUnsupportedCompression = errors.New("unsupported layer compression")
	// ErrTooLarge is returned by Scan when a JSON entry that must be parsed
	// exceeds ScanOptions.MaxJSONSize, the archive has too many entries, an
	// image more than ScanOptions.MaxTags tags, or manifest.json or
	// index.json lists too many images and layers.
	ErrTooLarge = errors.New("too large")
	// ErrBadManifest is returned by Scan when manifest.json, index.json, an
	// image manifest or an image config is empty, not valid JSON, or lacks a
	// required field.
	ErrBadManifest = errors.New("invalid manifest")
	// ErrNoImages is returned by Scan when manifest.json or index.json lists
	// no image (for example manifest.json is "[]").
	ErrNoImages = errors.New("archive holds no image")
	// ErrAmbiguous is returned by Scan when real loaders would read
	// different images, or different bytes, from the archive (docs/archives.md,
	// "Archive rules"): index.json and manifest.json of a Docker ≥25
	// archive describe different images or tags; an entry is written
	// through a symbolic link, or replaces a directory earlier entries are
	// in; a hard link names a symbolic link, a directory, or an entry that
	// is not earlier in the archive; a symbolic link's target has ".."
	// after a name; a tar header's mode bits say another file type than
	// its typeflag; or one tag is claimed by two different images.
	ErrAmbiguous = errors.New("archive is ambiguous: real loaders would read it differently")
	// ErrNotLayer is returned by Scan when a layer, once decompressed, is
	// not a tar stream that Go's archive/tar (which docker, containerd and
	// containers/storage apply layers with) reads to its end.
	ErrNotLayer = errors.New("layer is not a tar stream")
)

// archiveError is the error Scan returns: it names the archive, the entry
// (when there is one) and wraps a sentinel.
type archiveError struct {
	path  string
	entry string
	err   error
}

// maxErrorName is how much of an entry name an error quotes.
const maxErrorName = 256

func (e *archiveError) Error() string {
	if e.entry == "" {
		return fmt.Sprintf("reading image archive %q: %v", e.path, e.err)
	}
	entry := e.entry
	if len(entry) > maxErrorName {
		entry = fmt.Sprintf("%s… (%d bytes)", entry[:maxErrorName], len(entry))
	}
	return fmt.Sprintf("reading image archive %q: entry %q: %v", e.path, entry, e.err)
}

func (e *archiveError) Unwrap() error { return e.err }

// fail builds an archiveError whose message is format (which should wrap a
// sentinel with %w).
func fail(path, entry, format string, args ...any) error {
	return &archiveError{path: path, entry: entry, err: fmt.Errorf(format, args...)}
}
