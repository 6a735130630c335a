package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// PushImage pushes image img of the scanned archive a (read from
// archivePath) to the tag of to and returns the pushed manifest's
// descriptor.
//
// It pushes exactly the bytes the scan read and attested: the config and
// every layer come from a.OpenBlob, which reads them again at the offsets
// the scan recorded and fails if they no longer hash to the scan's digests
// (the registry checks each upload's digest too). There is no second tar
// parser.
//
// An image whose manifest is stored in the archive (OCI layouts, Docker ≥25
// archives) is pushed with exactly that manifest, so it keeps its digest.
// Other archives (legacy docker save, podman, crane) get a Docker schema 2
// manifest over their layers as stored: gzip layers as
// application/vnd.docker.image.rootfs.diff.tar.gzip, uncompressed ones
// uncompressed, as application/vnd.docker.image.rootfs.diff.tar (docker,
// containerd and podman pull both). Pushing them uncompressed is what keeps
// the pushed layer the attested bytes, with the attested digest (its
// diffID); gzipping on the fly would cost CPU twice (once for the digest,
// once for the upload) and give a manifest digest that depends on the
// compressor's version. The cost is upload size. An archive with a zstd
// layer gets an OCI image manifest instead (Docker schema 2 has no zstd
// media type). The config bytes are never rewritten, so the image ID —
// what binding checks — is the archive's. go-containerregistry's remote
// writer uploads, over this Client's credentials, retries and plain-HTTP
// policy.
func (c *Client) PushImage(ctx context.Context, archivePath string, a *oci.Archive, img *oci.Image, to ref.Reference) (ocispec.Descriptor, error) {
	if to.Tag == "" {
		return ocispec.Descriptor{}, fmt.Errorf("pushing image to %s: %w", to, ErrNoTag)
	}
	if img == nil || a == nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing image to %s: no image selected from the archive", to)
	}
	what := fmt.Sprintf("pushing image %s from %s to %s", img.ImageID, archivePath, to)
	if a.Path != archivePath {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the image was scanned from %s", what, a.Path)
	}
	if digest.FromBytes(img.ConfigRaw) != img.ImageID {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the image's config %s does not hash to the image ID %s", what, digest.FromBytes(img.ConfigRaw), img.ImageID)
	}
	core, err := newImageCore(a, img)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	v1img, err := partial.CompressedToImage(core)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}

	target, ropts, err := c.remoteTarget(ctx, to)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := remote.Write(target, v1img, ropts...); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, redactedError{err})
	}
	return ocispec.Descriptor{MediaType: string(core.mediaType), Digest: digest.FromBytes(core.manifest), Size: int64(len(core.manifest))}, nil
}

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip implements http.RoundTripper.
func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// imageCore is the image as go-containerregistry's partial package wants
// it: the manifest and config bytes, and the layers by digest, each read
// through Archive.OpenBlob.
type imageCore struct {
	manifest  []byte
	mediaType types.MediaType
	config    []byte
	layers    map[v1.Hash]*archiveLayer
}

func (c *imageCore) RawConfigFile() ([]byte, error)      { return c.config, nil }
func (c *imageCore) RawManifest() ([]byte, error)        { return c.manifest, nil }
func (c *imageCore) MediaType() (types.MediaType, error) { return c.mediaType, nil }

func (c *imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, ok := c.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s is not in the archive's image", h)
	}
	return l, nil
}

// archiveLayer is a layer as stored in the archive.
type archiveLayer struct {
	a    *oci.Archive
	desc v1.Descriptor
}

func (l *archiveLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *archiveLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed returns the layer's stored bytes (compressed or not), checked
// against its digest as they are read.
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	rc, _, err := l.a.OpenBlob(digest.Digest(l.desc.Digest.String()))
	return rc, err
}

// newImageCore assembles img for pushing: its stored manifest when the
// archive has one, else a manifest built from the scan.
func newImageCore(a *oci.Archive, img *oci.Image) (*imageCore, error) {
	core := &imageCore{config: img.ConfigRaw, layers: map[v1.Hash]*archiveLayer{}}
	scanned := map[digest.Digest]oci.Layer{}
	for _, l := range img.Layers {
		scanned[l.Digest] = l
	}
	if len(img.ManifestRaw) > 0 {
		m, err := v1.ParseManifest(bytes.NewReader(img.ManifestRaw))
		if err != nil {
			return nil, fmt.Errorf("reading the archive's image manifest: %w", err)
		}
		if m.Config.Digest.String() != img.ImageID.String() {
			return nil, fmt.Errorf("the archive's image manifest names config %s, not the image ID %s", m.Config.Digest, img.ImageID)
		}
		for _, d := range m.Layers {
			l, ok := scanned[digest.Digest(d.Digest.String())]
			if !ok || l.Size != d.Size {
				return nil, fmt.Errorf("the archive's image manifest names layer %s (%d bytes), which is not a layer the scan read", d.Digest, d.Size)
			}
			core.layers[d.Digest] = &archiveLayer{a: a, desc: d}
		}
		core.manifest, core.mediaType = img.ManifestRaw, storedMediaType(img)
		return core, nil
	}
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
			return nil, fmt.Errorf("layer %s: %w", l.Path, err)
		}
		d := v1.Descriptor{MediaType: mt, Size: l.Size, Digest: hash(l.Digest)}
		m.Layers = append(m.Layers, d)
		core.layers[d.Digest] = &archiveLayer{a: a, desc: d}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	core.manifest, core.mediaType = raw, m.MediaType
	return core, nil
}

// layerMediaType is the media type of a layer stored with compression c, in
// a Docker schema 2 manifest or (oci) an OCI one.
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
