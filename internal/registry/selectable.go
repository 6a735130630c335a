package registry

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// Selectable reads the image index raw, of repository, as containerd and
// go-containerregistry resolve it (oci.Selectable; ARCHITECTURE.md
// "Multi-platform and multi-image"), fetching what it leads to — nested
// indexes, and the manifest and config of an entry without platform —
// from the repository.
func (c *Client) Selectable(ctx context.Context, repository ref.Reference, raw []byte) (*oci.Selection, error) {
	ctx, rp := c.repository(ctx, repository, auth.ActionPull)
	return oci.Selectable(ctx, raw, indexFetcher{rp})
}

// indexFetcher is an oci.Fetcher over one repository.
type indexFetcher struct{ rp repo }

func (f indexFetcher) Manifest(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	m, err := f.rp.getManifest(ctx, d.Digest.String())
	if err != nil {
		return nil, err
	}
	return m.Raw, nil
}

func (f indexFetcher) Blob(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	return f.rp.getBlob(ctx, d)
}
