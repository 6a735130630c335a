// Package oci reads saved container image archives — docker save (legacy and
// ≥25), podman/buildah/skopeo docker-archive, crane/ggcr tarballs and
// OCI-layout archives — in one sequential pass with constant memory, and
// checks that they are internally consistent and that every real loader
// (docker, containerd, containers/image, go-containerregistry) reads the
// same images from them (ARCHITECTURE.md "Data flow", "Archive rules";
// docs/archives.md "Archive rules").
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
//     different images (agree.go; ErrAmbiguous);
//   - xz and bzip2 layers, which containerd cannot load, are refused
//     (ErrUnsupportedCompression).
//
// Cost (ARCHITECTURE.md, "Limits and budgets"): memory stays bounded
// whatever the archive's size, and time follows the bytes read plus the
// bytes the images' layers decompress to. The file is read in 1 MiB chunks,
// 8 in flight; JSON entries are kept up to ScanOptions.MaxJSONSize each
// (32 MiB; manifest.json and index.json 8 MiB) and 2 × MaxJSONSize in
// total; 65536 entries at most;
// manifest.json lists at most 65536 images, tags and layer paths in all,
// and ScanOptions.MaxTags (1024) tags per image; zstd windows up to 32 MiB.
//
// Decompression is paid only for layers: the pass records every entry's
// data offset and decompresses each gzip or zstd entry of 64 KiB or more
// only up to 16 times its share of the file (its stored size plus its
// header), and smaller ones not at all, so that the pass decompresses about
// 16 × the file's size at most whatever the entries are (manifest.json may
// come last, so the pass cannot know which entries are layers). An entry
// that does not finish within that is deferred; after the pass, if an
// image uses it as a layer, its stored bytes are read again at the recorded
// offset, checked against the digest the pass computed, and decompressed to
// the end, whatever the ratio (a layer of 1 GiB of zeros stores in 1 MiB),
// with progress through ScanOptions.LayerProgress. A deferred entry no image
// uses costs nothing more.
//
// An archive compressed as a whole with gzip, zstd or bzip2 (docker save |
// gzip) is read through its decoder, in the same one read: the decompressed
// stream is the archive, under the same rules, and TarDigest stays the
// digest of the file as given (compressed.go). xz is refused with the
// command that decompresses it.
//
// Select picks the image to attest among several, and Find is Select
// without its fallback; every Image knows its Platform and the ImageIndex it
// came from, for multi-platform archives (ARCHITECTURE.md, "Multi-platform
// and multi-image"); an Index records what it leads to that the archive
// lacks (Index.Lacks). Archive.OpenBlob reads an image's config, layers and
// stored manifest, and what an index leads to, again, from the offsets the
// scan recorded, checked against the digests it computed (a push sends
// exactly what was attested).
//
// The package is silent: it never logs. Progress is reported through
// ScanOptions.Progress and ScanOptions.LayerProgress.
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
	// CompressionXz and CompressionBzip2 are recognised only to be refused
	// as layers (ErrUnsupportedCompression); no Layer has them.
	CompressionXz    Compression = "xz"
	CompressionBzip2 Compression = "bzip2"
)

// Archive is what one pass over an image archive yields.
type Archive struct {
	// Path is the file that was read.
	Path string
	// Size is the number of bytes read (the file's size).
	Size int64
	// TarDigest is the sha256 of the whole file (compressed, when the file
	// is compressed as a whole).
	TarDigest digest.Digest
	// Compression is how the file is compressed as a whole: CompressionNone
	// for a tar, else gzip, zstd or bzip2 (the decompressed stream is the
	// archive).
	Compression Compression
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
	// Referrers are the manifests index.json lists (directly, or in a
	// referrers index named sha256-<hex>) whose subject is one of Images'
	// manifests or image indexes: attestations that travel with the
	// images; at most 1024, ReferrersOmitted counts the others.
	Referrers        []Referrer
	ReferrersOmitted int

	// blobs locates the images' configs, layers and stored manifests in the
	// file (in its decompressed stream when it is compressed), by digest
	// (OpenBlob).
	blobs map[digest.Digest]blobAt
	// spill holds the blobs of a compressed archive once OpenBlob needed
	// them (spill.go); tempDir is where (ScanOptions.TempDir).
	spill   *spill
	tempDir string
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
