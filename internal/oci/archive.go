// Package oci reads saved container image archives — docker save (legacy and
// ≥25), podman/buildah/skopeo docker-archive, crane/ggcr tarballs and
// OCI-layout archives — in one sequential pass with constant memory, and
// checks that they are internally consistent and that every real loader
// (docker, containerd, containers/image, go-containerregistry) reads the
// same images from them (ARCHITECTURE.md "Data flow", "Archive rules";
// README "Archive rules").
//
// What Scan checks (any failure is an error wrapping a sentinel of
// errors.go, naming the archive and the entry; never a partial result):
//   - entry names and link targets stay inside the archive (no absolute
//     paths, no ".."), no two entries share a name, no sparse entries;
//   - the entries, placed in archive order into the tree an extractor
//     builds (tree.go), mean the same to extractors and to lexical readers:
//     no entry is written through a symbolic link or replaces a directory
//     earlier entries are in, every hard link names an earlier regular
//     file, no symbolic link target has ".." after a name, and no header's
//     mode type bits disagree with its typeflag (ErrAmbiguous);
//   - every path manifest.json or an OCI index names exists, resolved as
//     open(2) would in that tree (symbolic links component by component,
//     at most 40, loops refused; linear in the bytes walked), and is a file;
//   - every path that claims a digest by its form (blobs/sha256/<hex>,
//     <hex>.tar, <hex>.tar.gz, <hex>.json, sha256:<hex>), including links
//     so named and directories a ".../blobs/sha256" path reaches through
//     links, reads content hashing to it — a layer named <hex>.tar or
//     <hex>.tar.gz may carry its stored digest or its diffID — and OCI
//     descriptors match their blobs' digest and size;
//   - gzip and zstd layers (sniffed from their first bytes) decompress
//     cleanly with nothing after the stream, every layer is a tar stream
//     Go's archive/tar reads to its end (ErrNotLayer, tarcheck.go), and the
//     diffIDs equal the config's rootfs.diff_ids, in order;
//   - a Docker ≥25 archive's index.json and manifest.json describe the
//     same images with the same names, and no tag is claimed by two
//     different images (agree.go; ErrAmbiguous).
//
// Limits (memory stays bounded whatever the archive's size): the file is
// read in 1 MiB chunks, 8 in flight; JSON entries are kept up to
// ScanOptions.MaxJSONSize each (32 MiB) and 2 × MaxJSONSize in total;
// 131072 entries at most; a compressed layer may expand to
// max(MaxRatio × stored size, 256 MiB) (MaxRatio 1024 by default, about
// gzip's maximum) — beyond that it is an ErrDecompressionBomb, so that a
// bomb costs bounded time as well as bounded memory; zstd windows up to
// 32 MiB. A gzip- or zstd-compressed archive as a whole is refused with the
// command that decompresses it.
//
// Select picks the image to attest among several; Find is Select without
// its fallback. Every Image knows its Platform and the ImageIndex it came
// from, for multi-platform archives (ARCHITECTURE.md, "Multi-platform and
// multi-image").
//
// The package is silent: it never logs. Progress is reported through
// ScanOptions.Progress.
package oci

import (
	digest "github.com/opencontainers/go-digest"
)

// Format names the layout an archive was recognised as.
type Format string

const (
	// FormatDocker is an archive with a top-level manifest.json (docker save,
	// podman, skopeo docker-archive, crane). Docker ≥25 archives also carry
	// index.json and oci-layout; they are still FormatDocker.
	FormatDocker Format = "docker-archive"
	// FormatOCILayout is an OCI image-layout archive without manifest.json
	// (skopeo oci-archive, podman --format oci-archive, buildx type=oci).
	FormatOCILayout Format = "oci-layout"
)

// Compression names how a layer is stored in the archive, as sniffed from
// its first bytes (never from its name).
type Compression string

// Compressions recognised by the scanner.
const (
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
	CompressionZstd Compression = "zstd"
)

// Archive is what one pass over an image archive yields.
type Archive struct {
	// Path is the file that was read.
	Path string
	// Size is the number of bytes read (the file's size).
	Size int64
	// TarDigest is the sha256 of the whole file.
	TarDigest digest.Digest
	// Format is the layout the archive was recognised as.
	Format Format
	// ManifestRaw is manifest.json's bytes exactly as stored, or index.json's
	// bytes for a FormatOCILayout archive.
	ManifestRaw []byte
	// Manifest is every manifest.json entry with exactly the keys Config,
	// RepoTags and Layers; for FormatOCILayout it is derived from index.json
	// (Config/Layers as blobs/<alg>/<hex> paths, RepoTags from the
	// org.opencontainers.image.ref.name / io.containerd.image.name annotations).
	Manifest []ManifestEntry
	// Images holds one Image per Manifest entry, in the same order.
	Images []Image
}

// ManifestEntry is one entry of a docker-archive manifest.json, with exactly
// the keys the oci attestor predicate records (ARCHITECTURE.md "The
// predicate and the statement").
type ManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Image is one image of an archive, with everything computed and checked.
type Image struct {
	// Index is the position of the image's entry in Archive.Manifest.
	Index int
	// RepoTags are the tags recorded for the image (may be empty).
	RepoTags []string
	// ConfigPath is the archive path of the config blob.
	ConfigPath string
	// ImageID is the sha256 of the config blob's bytes (Docker's image ID).
	ImageID digest.Digest
	// ConfigRaw is the config blob's bytes.
	ConfigRaw []byte
	// Layers are the image's layers in manifest order (repeats allowed).
	Layers []Layer
	// DiffIDs are the computed digests of the uncompressed layers, in order;
	// they have been checked against the config's rootfs.diff_ids.
	DiffIDs []digest.Digest
	// ManifestDigest and ManifestRaw are the OCI/Docker image manifest stored
	// in the archive, when there is one (OCI layouts, Docker ≥25 archives);
	// empty otherwise.
	ManifestDigest digest.Digest
	ManifestRaw    []byte
	// ManifestMediaType is the media type of ManifestRaw, when present.
	ManifestMediaType string
	// Platform is the image's platform: the platform of the image index
	// descriptor that lists it, else its config's os, architecture and
	// variant; zero when neither names one.
	Platform Platform
	// ImageIndex is the image index index.json names and the image was
	// reached through (a multi-platform image; ARCHITECTURE.md "Multi-platform and
	// multi-image"); nil when index.json names the image's manifest itself
	// or there is no index.json.
	ImageIndex *Index
}

// Layer is one layer of an image as stored in the archive.
type Layer struct {
	// Path is the archive path the manifest names (before link resolution).
	Path string
	// Digest is the sha256 of the bytes as stored (compressed if compressed).
	Digest digest.Digest
	// Size is the stored size in bytes.
	Size int64
	// DiffID is the sha256 of the uncompressed tar stream.
	DiffID digest.Digest
	// Compression is how the layer is stored.
	Compression Compression
}
