package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// Binding by layers, not only by config (ARCHITECTURE.md "Registry:
// resolve, bind, push"): a manifest that reuses the archive's config over
// other layers has the archive's image ID, but go-containerregistry
// consumers run its layers.

// layerReads bounds the registry layers read at once.
const layerReads = 4

// LayerCheck says how SameLayers found a manifest's layers to be the
// archive image's.
type LayerCheck struct {
	// Same counts the layers whose blob is the archive's (equal digests:
	// as stored, or the uncompressed layer itself).
	Same int
	// Read counts the layers read from the registry and decompressed to
	// the archive's diffID (re-compressed by the tool that pushed them).
	Read int
	// Bytes is how many bytes were read.
	Bytes int64
}

// SameLayers checks that the image manifest raw, of repository, is the
// archive image img: its config digest is img's image ID, and its layers
// are img's, in order — the same blobs where the digests are equal (the
// blob as the archive stores it, or the uncompressed layer), and otherwise
// blobs that decompress (gzip, zstd or none) to img's diffID, as an image
// re-compressed by skopeo, buildx or crane does. Each such layer is read
// once, streamed, layerReads at a time, and must also hash to its
// descriptor's digest and size; the first that differs stops the others.
// A manifest whose layers are others is an error wrapping ErrBinding that
// names a layer that differs.
func (c *Client) SameLayers(ctx context.Context, repository ref.Reference, raw []byte, img *oci.Image) (LayerCheck, error) {
	ctx, rp := c.repository(ctx, repository, auth.ActionPull)
	return rp.sameLayers(ctx, raw, img)
}

// sameLayers is SameLayers in r.
func (r repo) sameLayers(ctx context.Context, raw []byte, img *oci.Image) (LayerCheck, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return LayerCheck{}, fmt.Errorf("parsing image manifest: %w", err)
	}
	at := "manifest " + digest.FromBytes(raw).String()
	if m.Config.Digest != img.ImageID {
		return LayerCheck{}, fmt.Errorf("%w: %s has config %s, but the archive's image ID is %s", ErrBinding, at, m.Config.Digest, img.ImageID)
	}
	if len(m.Layers) != len(img.DiffIDs) || len(img.Layers) != len(img.DiffIDs) {
		return LayerCheck{}, fmt.Errorf("%w: %s has %d layers, but the archive's image %s has %d: the registry image runs other files than the archive's", ErrBinding, at, len(m.Layers), img.ImageID, len(img.DiffIDs))
	}
	var res LayerCheck
	var read, bytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(layerReads)
	for i, l := range m.Layers {
		if l.Digest == img.Layers[i].Digest || l.Digest == img.DiffIDs[i] {
			res.Same++
			continue
		}
		g.Go(func() error {
			n, err := r.layerDiffID(gctx, l, img.DiffIDs[i])
			read.Add(1)
			bytes.Add(n)
			if err != nil {
				return fmt.Errorf("%s layer %d (%s): %w", at, i, l.Digest, err)
			}
			return nil
		})
	}
	err := g.Wait()
	res.Read, res.Bytes = int(read.Load()), bytes.Load()
	return res, err
}

// layerDiffID reads the layer blob d and checks that it is d (size and
// digest) and decompresses to diffID. It returns the bytes read.
func (r repo) layerDiffID(ctx context.Context, d ocispec.Descriptor, diffID digest.Digest) (int64, error) {
	if err := d.Digest.Validate(); err != nil || d.Size < 0 {
		return 0, fmt.Errorf("%w: invalid layer descriptor (digest %q, size %d)", ErrBinding, d.Digest, d.Size)
	}
	what := fmt.Sprintf("fetching blob %s@%s", r.name(), d.Digest)
	resp, err := r.do(ctx, http.MethodGet, r.url("blobs/"+d.Digest.String()), nil, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(what, resp)
	}
	got, err := oci.ReadLayer(io.LimitReader(resp.Body, d.Size+1))
	switch {
	case errors.Is(err, oci.ErrCorruptLayer) || errors.Is(err, oci.ErrUnsupportedCompression):
		return got.Size, fmt.Errorf("%w: %w", ErrBinding, err)
	case err != nil:
		return got.Size, fmt.Errorf("%s: %w", what, err)
	case got.Size != d.Size || got.Stored != d.Digest:
		return got.Size, fmt.Errorf("%s: the registry served %d bytes with digest %s, not the %d bytes of %s", what, got.Size, got.Stored, d.Size, d.Digest)
	case got.DiffID != diffID:
		return got.Size, fmt.Errorf("%w: it decompresses (%s) to %s, but the archive's diffID is %s: the registry image runs other files than the archive's", ErrBinding, got.Compression, got.DiffID, diffID)
	}
	return got.Size, nil
}
