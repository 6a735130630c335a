package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// PushImage pushes image img of the archive at archivePath to the tag of to
// and returns the pushed manifest's descriptor.
//
// An image whose manifest is stored in the archive (OCI layouts, Docker ≥25
// archives) is pushed with exactly that manifest, so it keeps its digest; its
// blobs are read in place from the archive. Other archives (legacy docker
// save, podman, crane) go through go-containerregistry's tarball reader,
// which compresses uncompressed layers with gzip; the config — and so the
// image ID — is unchanged either way. go-containerregistry's remote writer
// uploads, over this Client's credentials, retries and plain-HTTP policy.
func (c *Client) PushImage(ctx context.Context, archivePath string, a *oci.Archive, img *oci.Image, to ref.Reference) (ocispec.Descriptor, error) {
	if to.Tag == "" {
		return ocispec.Descriptor{}, fmt.Errorf("pushing image to %s: %w", to, ErrNoTag)
	}
	if img == nil || a == nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing image to %s: no image selected from the archive", to)
	}
	what := fmt.Sprintf("pushing image %s from %s to %s", img.ImageID, archivePath, to)
	var v1img v1.Image
	var err error
	if len(img.ManifestRaw) > 0 {
		v1img, err = storedImage(archivePath, img)
	} else {
		v1img, err = builtImage(archivePath, img)
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	cfg, err := v1img.ConfigName()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: reading the image's config: %w", what, err)
	}
	if cfg.String() != img.ImageID.String() {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the image's config %s does not hash to the image ID %s", what, cfg, img.ImageID)
	}

	target, ropts, err := c.remoteTarget(ctx, to)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := remote.Write(target, v1img, ropts...); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	raw, err := v1img.RawManifest()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	mt, err := v1img.MediaType()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}, nil
}

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip implements http.RoundTripper.
func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// builtImage is a docker-archive image without a stored manifest (legacy
// docker save, podman, crane): a Docker schema 2 manifest over the
// archive's config bytes and its layers as go-containerregistry's tarball
// layer reader yields them (gzip kept, uncompressed layers gzipped). Layers
// are read in place, following the archive's symlinks and hard links.
func builtImage(archivePath string, img *oci.Image) (v1.Image, error) {
	ix, err := indexTar(archivePath)
	if err != nil {
		return nil, err
	}
	core := &builtCore{config: img.ConfigRaw, layers: map[v1.Hash]v1.Layer{}}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config: v1.Descriptor{
			MediaType: types.DockerConfigJSON,
			Size:      int64(len(img.ConfigRaw)),
			Digest:    v1.Hash{Algorithm: img.ImageID.Algorithm().String(), Hex: img.ImageID.Encoded()},
		},
	}
	for _, l := range img.Layers {
		p := l.Path
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return openInTar(archivePath, ix, p) })
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", p, err)
		}
		d, err := partial.Descriptor(layer)
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", p, err)
		}
		m.Layers = append(m.Layers, *d)
		core.layers[d.Digest] = layer
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	core.manifest = raw
	return partial.CompressedToImage(core)
}

type builtCore struct {
	config, manifest []byte
	layers           map[v1.Hash]v1.Layer
}

func (b *builtCore) RawConfigFile() ([]byte, error) { return b.config, nil }
func (b *builtCore) RawManifest() ([]byte, error)   { return b.manifest, nil }
func (b *builtCore) MediaType() (types.MediaType, error) {
	return types.DockerManifestSchema2, nil
}

func (b *builtCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, ok := b.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s is not in the image", h)
	}
	return l, nil
}

// storedImage is the image as stored in the archive: its own manifest bytes,
// config bytes and blobs, read in place.
func storedImage(archivePath string, img *oci.Image) (v1.Image, error) {
	ix, err := indexTar(archivePath)
	if err != nil {
		return nil, err
	}
	layers := map[string]string{} // digest → archive path
	for _, l := range img.Layers {
		layers[l.Digest.String()] = l.Path
	}
	return partial.CompressedToImage(&storedCore{path: archivePath, ix: ix, img: img, layers: layers})
}

type storedCore struct {
	path   string
	ix     map[string]tarEntry
	img    *oci.Image
	layers map[string]string
}

func (s *storedCore) RawConfigFile() ([]byte, error) { return s.img.ConfigRaw, nil }
func (s *storedCore) RawManifest() ([]byte, error)   { return s.img.ManifestRaw, nil }
func (s *storedCore) MediaType() (types.MediaType, error) {
	if s.img.ManifestMediaType != "" {
		return types.MediaType(s.img.ManifestMediaType), nil
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(s.img.ManifestRaw, &m); err != nil || m.MediaType == "" {
		return types.OCIManifestSchema1, nil //nolint:nilerr // the OCI default for a manifest without mediaType
	}
	return types.MediaType(m.MediaType), nil
}

func (s *storedCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	p, ok := s.layers[h.String()]
	if !ok {
		return nil, fmt.Errorf("layer %s is not in the archive's image", h)
	}
	m, err := v1.ParseManifest(bytes.NewReader(s.img.ManifestRaw))
	if err != nil {
		return nil, err
	}
	for _, d := range m.Layers {
		if d.Digest == h {
			return &storedLayer{core: s, path: p, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the stored manifest", h)
}

type storedLayer struct {
	core *storedCore
	path string
	desc v1.Descriptor
}

func (l *storedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	return openInTar(l.core.path, l.core.ix, l.path)
}

// tarEntry is an archive entry and the offset of its data.
type tarEntry struct {
	hdr *tar.Header
	off int64
}

// indexTar records every entry of the tar at p with its data offset
// (archive/tar reads headers block by block, so the file position after
// Next is the start of the data).
func indexTar(p string) (map[string]tarEntry, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	ix := map[string]tarEntry{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ix, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive %s: %w", p, err)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("reading archive %s: %w", p, err)
		}
		ix[cleanTarName(hdr.Name)] = tarEntry{hdr: hdr, off: off}
	}
}

func cleanTarName(n string) string {
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}

// openInTar opens the regular file name of the tar at p, following
// symlinks (relative to their directory) and hard links (archive paths),
// also where they are parent directories of the path, as the scanner does.
func openInTar(p string, ix map[string]tarEntry, name string) (io.ReadCloser, error) {
	n := cleanTarName(name)
	for hops := 0; ; hops++ {
		if hops > 40 { // the scanner's bound
			return nil, fmt.Errorf("archive entry %s: too many links", name)
		}
		e, ok := ix[n]
		if !ok {
			if alt, ok := throughLinkedDir(ix, n); ok {
				n = alt
				continue
			}
			return nil, fmt.Errorf("archive entry %s is missing", n)
		}
		h := e.hdr
		switch h.Typeflag {
		case tar.TypeSymlink:
			// Resolves a link inside the archive's own entry table; nothing
			// is extracted to disk.
			n = cleanTarName(path.Join(path.Dir(n), h.Linkname)) //nolint:gosec // G305: see above

			continue
		case tar.TypeLink:
			n = cleanTarName(h.Linkname)
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("archive entry %s is not a regular file", n)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.NewSectionReader(f, e.off, h.Size), f}, nil
	}
}

// throughLinkedDir rewrites n when one of its parent directories is a link
// ("a/b/c" with "a" a symlink to "x" is "x/b/c").
func throughLinkedDir(ix map[string]tarEntry, n string) (string, bool) {
	for i := 0; i < len(n); i++ {
		if n[i] != '/' {
			continue
		}
		e, ok := ix[n[:i]]
		if !ok {
			continue
		}
		switch e.hdr.Typeflag {
		case tar.TypeSymlink:
			return cleanTarName(path.Join(path.Dir(n[:i]), e.hdr.Linkname, n[i+1:])), true //nolint:gosec // G305: archive paths only, nothing is extracted
		case tar.TypeLink:
			return cleanTarName(path.Join(e.hdr.Linkname, n[i+1:])), true //nolint:gosec // G305: as above
		}
	}
	return "", false
}
