package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// source is what Verify reads from a registry.
type source interface {
	// resolve returns the manifest image's digest or tag names and its
	// descriptor, without binding it to anything.
	resolve(ctx context.Context, image ref.Reference) ([]byte, ocispec.Descriptor, error)
	// referrers lists the referrers of subject and says where they were
	// found ("api" or "tag:sha256-…").
	referrers(ctx context.Context, repository ref.Reference, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, string, error)
	// bundle fetches the Sigstore bundle of the referrer d of subject.
	bundle(ctx context.Context, repository ref.Reference, d, subject ocispec.Descriptor) ([]byte, error)
	// selectable reads the index raw as the runtimes read it.
	selectable(ctx context.Context, repository ref.Reference, raw []byte) (*oci.Selection, error)
}

// clientSource reads through a registry.Client.
type clientSource struct{ c *registry.Client }

var _ source = clientSource{}

func (r clientSource) resolve(ctx context.Context, image ref.Reference) ([]byte, ocispec.Descriptor, error) {
	at := image.Oras().Reference
	if at == "" {
		return nil, ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", image, registry.ErrNoReference)
	}
	raw, desc, err := r.c.FetchManifest(ctx, image.Repo(), at)
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", image, err)
	}
	return raw, desc, nil
}

func (r clientSource) selectable(ctx context.Context, repository ref.Reference, raw []byte) (*oci.Selection, error) {
	return r.c.Selectable(ctx, repository, raw)
}

func (r clientSource) referrers(ctx context.Context, repository ref.Reference, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, string, error) {
	return r.c.Referrers(ctx, repository, subject, artifactType)
}

func (r clientSource) bundle(ctx context.Context, repository ref.Reference, d, subject ocispec.Descriptor) ([]byte, error) {
	raw, desc, err := r.c.FetchManifest(ctx, repository, d.Digest.String())
	if err != nil {
		return nil, fetchError(err)
	}
	layer, err := bundleLayer(raw, desc, subject)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", d.Digest, err)
	}
	b, err := r.c.FetchBlob(ctx, repository, layer)
	if err != nil {
		return nil, fetchError(err)
	}
	return b, nil
}

// fetchError marks a failure to read a referrer as errRegistry unless the
// registry answered that it does not exist (a dangling fallback-tag entry is
// a rejected attestation, not a failure to verify).
func fetchError(err error) error {
	if errors.Is(err, registry.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w: %w", errRegistry, err)
}

// bundleLayer checks that raw is an artifact manifest of a Sigstore bundle
// that refers to subject, and returns its bundle layer.
func bundleLayer(raw []byte, desc, subject ocispec.Descriptor) (ocispec.Descriptor, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return ocispec.Descriptor{}, fmt.Errorf("media type %q is not an OCI image manifest", desc.MediaType)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("parsing the manifest: %w", err)
	}
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType
	}
	if at != registry.BundleMediaType {
		return ocispec.Descriptor{}, fmt.Errorf("the manifest's artifact type is %q, not a Sigstore bundle", at)
	}
	if m.Subject == nil || m.Subject.Digest != subject.Digest {
		got := "none"
		if m.Subject != nil {
			got = m.Subject.Digest.String()
		}
		return ocispec.Descriptor{}, fmt.Errorf("the manifest's subject is %s, not the image %s", got, subject.Digest)
	}
	var found []ocispec.Descriptor
	for _, l := range m.Layers {
		if strings.HasPrefix(l.MediaType, "application/vnd.dev.sigstore.bundle") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return ocispec.Descriptor{}, fmt.Errorf("the manifest has %d Sigstore bundle layers, want 1", len(found))
	}
	return found[0], nil
}
