package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// The archive as go-containerregistry's remote writer reads it (push.go):
// manifests, indexes and configs byte for byte, so the registry's digests
// are the archive's, and every blob read in place through
// oci.Archive.OpenBlob (at the offsets the scan recorded, checked against
// its digests as it is read). There is no second tar parser.

// archiveIndex is an image index stored in the archive, as a v1.ImageIndex:
// its children are read from the archive when the writer asks for them.
type archiveIndex struct {
	a         *oci.Archive
	raw       []byte
	mediaType types.MediaType
}

var _ v1.ImageIndex = (*archiveIndex)(nil)

func (x *archiveIndex) MediaType() (types.MediaType, error) { return x.mediaType, nil }
func (x *archiveIndex) RawManifest() ([]byte, error)        { return x.raw, nil }
func (x *archiveIndex) Digest() (v1.Hash, error)            { return partial.Digest(x) }
func (x *archiveIndex) Size() (int64, error)                { return partial.Size(x) }
func (x *archiveIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

// child is the index entry for h and the bytes of the manifest it names.
func (x *archiveIndex) child(h v1.Hash) (v1.Descriptor, []byte, error) {
	m, err := x.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	for _, d := range m.Manifests {
		if d.Digest == h {
			raw, err := readBlob(x.a, h, maxManifestSize)
			return d, raw, err
		}
	}
	return v1.Descriptor{}, nil, fmt.Errorf("%s is not in the index", h)
}

// Image is the image manifest h the index lists (a platform image, a buildx
// attestation manifest), with its config and layers.
func (x *archiveIndex) Image(h v1.Hash) (v1.Image, error) {
	d, raw, err := x.child(h)
	if err != nil {
		return nil, err
	}
	img, err := newArchiveImage(x.a, raw, d.MediaType, nil)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	if img.config, err = readBlob(x.a, img.manifest.Config.Digest, maxBlobSize); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(img)
}

// ImageIndex is the nested index h the index lists.
func (x *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, raw, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return &archiveIndex{a: x.a, raw: raw, mediaType: d.MediaType}, nil
}

// archiveFetcher is an oci.Fetcher over the blobs of an archive's image
// index (what oci.Selectable reads of it before it is pushed).
type archiveFetcher struct{ a *oci.Archive }

func (f archiveFetcher) Manifest(_ context.Context, d ocispec.Descriptor) ([]byte, error) {
	return readBlob(f.a, hash(d.Digest), maxManifestSize)
}

func (f archiveFetcher) Blob(_ context.Context, d ocispec.Descriptor) ([]byte, error) {
	return readBlob(f.a, hash(d.Digest), maxManifestSize)
}

// archiveImage is an image manifest's bytes and its config's, as
// go-containerregistry's partial package wants them; its layers are read
// from the archive.
type archiveImage struct {
	a         *oci.Archive
	raw       []byte
	mediaType types.MediaType
	config    []byte
	manifest  *v1.Manifest
	layers    map[v1.Hash]v1.Descriptor
}

// newArchiveImage is the image of manifest raw (of media type mt) and
// config, whose layers are blobs of a.
func newArchiveImage(a *oci.Archive, raw []byte, mt types.MediaType, config []byte) (*archiveImage, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	img := &archiveImage{a: a, raw: raw, mediaType: mt, config: config, manifest: m, layers: map[v1.Hash]v1.Descriptor{}}
	for _, d := range m.Layers {
		img.layers[d.Digest] = d
	}
	return img, nil
}

func (i *archiveImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *archiveImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *archiveImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

// LayerByDigest is the layer h of the manifest, as the archive stores it.
func (i *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d, ok := i.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s is not in the image's manifest", h)
	}
	return &archiveLayer{a: i.a, desc: d}, nil
}

// archiveLayer is a layer as stored in the archive (compressed or not).
type archiveLayer struct {
	a    *oci.Archive
	desc v1.Descriptor
}

func (l *archiveLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *archiveLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *archiveLayer) Compressed() (io.ReadCloser, error)  { return openBlob(l.a, l.desc.Digest) }

// openBlob opens blob h of a, checked against h as it is read.
func openBlob(a *oci.Archive, h v1.Hash) (io.ReadCloser, error) {
	rc, _, err := a.OpenBlob(digest.Digest(h.String()))
	return rc, err
}

// readBlob reads a small blob (a manifest, a config) of a, at most limit
// bytes.
func readBlob(a *oci.Archive, h v1.Hash, limit int64) ([]byte, error) {
	rc, err := openBlob(a, h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", h, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", h, limit)
	}
	return raw, nil
}

// imageOf is img, an image of a, for pushing: with its stored manifest when
// the archive has one, else with a manifest over its layers as stored
// (imageManifest). Either way the manifest names img's config and only
// layers the scan read.
func imageOf(a *oci.Archive, img *oci.Image) (*archiveImage, error) {
	raw, mt := img.ManifestRaw, storedMediaType(img)
	if len(raw) == 0 {
		var err error
		if raw, mt, err = imageManifest(img); err != nil {
			return nil, err
		}
	}
	ai, err := newArchiveImage(a, raw, mt, img.ConfigRaw)
	if err != nil {
		return nil, fmt.Errorf("reading the archive's image manifest: %w", err)
	}
	if ai.manifest.Config.Digest.String() != img.ImageID.String() {
		return nil, fmt.Errorf("the archive's image manifest names config %s, not the image ID %s", ai.manifest.Config.Digest, img.ImageID)
	}
	scanned := map[digest.Digest]oci.Layer{}
	for _, l := range img.Layers {
		scanned[l.Digest] = l
	}
	for _, d := range ai.manifest.Layers {
		if l, ok := scanned[digest.Digest(d.Digest.String())]; !ok || l.Size != d.Size {
			return nil, fmt.Errorf("the archive's image manifest names layer %s (%d bytes), which is not a layer the scan read", d.Digest, d.Size)
		}
	}
	return ai, nil
}

// imageManifest is the manifest for an image the archive stores none for
// (legacy docker save, podman, crane): Docker schema 2 over its layers as
// stored — gzip as rootfs.diff.tar.gzip, uncompressed as rootfs.diff.tar —
// or OCI when a layer is zstd (Docker schema 2 has no zstd media type).
func imageManifest(img *oci.Image) ([]byte, types.MediaType, error) {
	useOCI := false
	for _, l := range img.Layers {
		useOCI = useOCI || l.Compression == oci.CompressionZstd
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(img.ConfigRaw)), Digest: hash(img.ImageID)},
	}
	if useOCI {
		m.MediaType, m.Config.MediaType = types.OCIManifestSchema1, types.OCIConfigJSON
	}
	for _, l := range img.Layers {
		mt, err := layerMediaType(l.Compression, useOCI)
		if err != nil {
			return nil, "", fmt.Errorf("layer %s: %w", l.Path, err)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Size: l.Size, Digest: hash(l.Digest)})
	}
	raw, err := json.Marshal(m)
	return raw, m.MediaType, err
}

// layerMediaType is the media type of a layer stored with compression c, in
// a Docker schema 2 manifest or (ociManifest) an OCI one.
func layerMediaType(c oci.Compression, ociManifest bool) (types.MediaType, error) {
	switch {
	case c == oci.CompressionNone && ociManifest:
		return types.OCIUncompressedLayer, nil
	case c == oci.CompressionNone:
		return types.DockerUncompressedLayer, nil
	case c == oci.CompressionGzip && ociManifest:
		return types.OCILayer, nil
	case c == oci.CompressionGzip:
		return types.DockerLayer, nil
	case c == oci.CompressionZstd:
		return types.OCILayerZStd, nil
	}
	return "", fmt.Errorf("no media type for %s layers", c)
}

// storedMediaType is the media type of img's stored manifest.
func storedMediaType(img *oci.Image) types.MediaType {
	if img.ManifestMediaType != "" {
		return types.MediaType(img.ManifestMediaType)
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(img.ManifestRaw, &m); err != nil || m.MediaType == "" {
		return types.OCIManifestSchema1 // the OCI default for a manifest without mediaType
	}
	return types.MediaType(m.MediaType)
}

// hash is d as go-containerregistry's hash.
func hash(d digest.Digest) v1.Hash {
	return v1.Hash{Algorithm: d.Algorithm().String(), Hex: d.Encoded()}
}
